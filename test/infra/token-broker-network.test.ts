import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import type { TokenBrokerProps } from '../../lib/token-broker-props.ts';
import { asArray, importEndpoint, newTestStack, policyStatements, TWO_CLIENTS } from './synth.ts';

function build(network: (stack: ReturnType<typeof newTestStack>, vpc: ec2.Vpc) => Partial<TokenBrokerProps>) {
  const stack = newTestStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const broker = new TokenBroker(stack, 'Broker', {
    config: TWO_CLIENTS,
    vpcEndpoints: [importEndpoint(stack)],
    ...network(stack, vpc),
  });
  return { stack, vpc, broker };
}

function brokerFunction(template: Template): Record<string, unknown> {
  const [fn] = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
    }),
  );
  return fn?.Properties as Record<string, unknown>;
}

describe('Construct: TokenBroker in a VPC (brokerNetwork)', () => {
  let template: Template;
  let stack: ReturnType<typeof newTestStack>;

  beforeAll(() => {
    let endpointGroup: ec2.SecurityGroup | undefined;
    ({ stack } = build((s, vpc) => {
      endpointGroup = new ec2.SecurityGroup(s, 'EndpointGroup', { vpc });
      return {
        brokerNetwork: {
          vpc,
          egress: [ec2.Peer.ipv4('10.20.0.0/16'), ec2.Peer.prefixList('pl-0123456789abcdef0'), endpointGroup],
        },
      };
    }));
    template = Template.fromStack(stack);
  });

  it("runs the function in the VPC's private subnets with a security group of its own", () => {
    const vpcConfig = brokerFunction(template).VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };

    expect(vpcConfig.SubnetIds).toHaveLength(2);
    expect(vpcConfig.SecurityGroupIds).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^BrokerSecurityGroup/), 'GroupId'] },
    ]);
  });

  it('lets nothing in, and out only HTTPS to each given peer: CIDR, prefix list, security group', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Token broker function'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [
        { CidrIp: '10.20.0.0/16', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() },
      ],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BrokerSecurityGroup'), 'GroupId'] },
      DestinationPrefixListId: 'pl-0123456789abcdef0',
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BrokerSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EndpointGroup'), 'GroupId'] },
      FromPort: 443,
      ToPort: 443,
    });
  });

  it("lets the function's role manage its network interfaces, the only wildcard besides X-Ray", () => {
    const wildcard = policyStatements(template.findResources('AWS::IAM::Policy')).filter((s) =>
      asArray(s.Resource).includes('*'),
    );

    expect(wildcard.flatMap((s) => asArray(s.Action)).sort()).toEqual(
      [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
  });
});

describe('Construct: TokenBroker brokerNetwork props', () => {
  it('uses the given security groups and subnets as they are', () => {
    const { stack } = build((s, vpc) => ({
      brokerNetwork: {
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(s, 'Own', 'sg-0123456789abcdef0')],
      },
    }));

    const template = Template.fromStack(stack);
    expect(brokerFunction(template).VpcConfig).toMatchObject({ SecurityGroupIds: ['sg-0123456789abcdef0'] });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
  });

  it('lets more egress be added through connections', () => {
    const { stack, broker } = build((_, vpc) => ({ brokerNetwork: { vpc } }));

    broker.connections.allowTo(ec2.Peer.ipv4('192.0.2.0/24'), ec2.Port.tcp(443));

    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '192.0.2.0/24', FromPort: 443 })],
    });
  });

  it('refuses egress together with its own security groups, naming the props', () => {
    expect(() =>
      build((s, vpc) => ({
        brokerNetwork: {
          vpc,
          securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(s, 'Own', 'sg-0123456789abcdef0')],
          egress: [ec2.Peer.anyIpv4()],
        },
      })),
    ).toThrow('Invalid props of Test/Broker: brokerNetwork.egress applies to the security group the construct creates');
  });

  it('has no connections outside a VPC', () => {
    const { broker } = build(() => ({}));

    expect(() => broker.connections).toThrow('Test/Broker: connections exist only for a broker in a VPC');
  });
});
