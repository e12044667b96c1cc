import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_DIMENSION, METRICS_NAMESPACE } from '../lambda/shared/contract.ts';

/** The period of the broker's alarms and graphs. */
export const METRIC_PERIOD = Duration.minutes(5);

export interface BrokerMetricOptions {
  /** @default cloudwatch.Stats.SUM */
  readonly statistic?: string;
  /** Dimensions besides `service`. @default none */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** @default {@link METRIC_PERIOD} */
  readonly period?: Duration;
  readonly label?: string;
}

/**
 * The metrics one broker publishes (EMF, `lambda/broker/handler/telemetry.ts`): the namespace
 * and the `service` dimension come from the contract both sides import, so a rename changes
 * both; the service is the broker's own (`TokenBroker`'s `serviceName`), so two brokers in one
 * account and region do not share a metric.
 */
export class BrokerMetricSource {
  constructor(readonly service: string) {}

  metric(metricName: string, options: BrokerMetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [METRIC_DIMENSION.service]: this.service, ...options.dimensions },
      statistic: options.statistic ?? cloudwatch.Stats.SUM,
      period: options.period ?? METRIC_PERIOD,
      ...(options.label ? { label: options.label } : {}),
    });
  }

  /**
   * A graph line per value of `dimensions` (besides `service`) that the broker has published, for
   * dimensions whose values are not known at synth time (the authorization servers' host names).
   * `filter` narrows the search, e.g. `{ outcome: 'ok' }`.
   */
  search(
    metricName: string,
    dimensions: readonly string[],
    statistic: string,
    filter: Readonly<Record<string, string>> = {},
  ): cloudwatch.MathExpression {
    const schema = [METRICS_NAMESPACE, METRIC_DIMENSION.service, ...dimensions].join(',');
    const terms = Object.entries({ [METRIC_DIMENSION.service]: this.service, ...filter })
      .map(([name, value]) => `${name}="${value}"`)
      .join(' ');
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{${schema}} MetricName="${metricName}" ${terms}', '${statistic}', ${METRIC_PERIOD.toSeconds()})`,
      usingMetrics: {},
      // A dynamic label: each line is named by its values of `dimensions`.
      label: dimensions.map((d) => `\${PROP('Dim.${d}')}`).join(' '),
      period: METRIC_PERIOD,
    });
  }
}
