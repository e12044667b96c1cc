import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../lambda/broker/core/config.ts';
import { serviceNameFrom } from '../../../../lambda/broker/handler/service-name.ts';
import { ENV, SERVICE_NAME } from '../../../../lambda/shared/contract.ts';

describe('Function: serviceNameFrom', () => {
  it.each([
    ['unset', {}],
    ['empty', { [ENV.powertoolsServiceName]: '' }],
  ])('is the default when %s', (_, env) => {
    expect(serviceNameFrom(env)).toBe(SERVICE_NAME);
  });

  it('takes the name the construct set', () => {
    expect(serviceNameFrom({ [ENV.powertoolsServiceName]: 'orders-broker.prod_2' })).toBe('orders-broker.prod_2');
  });

  it.each(['orders broker', '-orders', 'n'.repeat(65), 'orders/prod', 'ørders'])(
    'fails the cold start on %j, naming the variable',
    (name) => {
      // Act
      const read = () => serviceNameFrom({ [ENV.powertoolsServiceName]: name });

      // Assess
      expect(read).toThrow(ConfigError);
      expect(read).toThrow(`Invalid broker configuration: ${ENV.powertoolsServiceName} must be 1 to 64 letters`);
    },
  );
});
