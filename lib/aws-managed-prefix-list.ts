import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** The id aws-cdk-lib gives the singleton function of `AwsCustomResource`. */
const AWS_CUSTOM_RESOURCE_SINGLETON = 'AWS679f53fac002430cb0da5b7982bd2287';

export interface AwsManagedPrefixListProps {
  /** The service of the prefix list `com.amazonaws.{region}.{service}`, e.g. `dynamodb`. */
  readonly service: string;
}

/**
 * The id of an AWS managed prefix list, looked up at deploy time: a security group rule towards
 * a gateway endpoint's service names the prefix list, and its id differs per region. A lookup at
 * deploy time, not a context lookup, so `cdk synth` needs no credentials.
 */
export class AwsManagedPrefixList extends Construct {
  readonly prefixListId: string;

  constructor(scope: Construct, id: string, props: AwsManagedPrefixListProps) {
    super(scope, id);
    const name = `com.amazonaws.${Stack.of(this).region}.${props.service}`;
    const call: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'DescribeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [name] }] },
      physicalResourceId: cr.PhysicalResourceId.of(name),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    };
    const lookup = new cr.AwsCustomResource(this, 'Lookup', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
      logGroup: new logs.LogGroup(this, 'Logs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.prefixListId = lookup.getResponseField('PrefixLists.0.PrefixListId');
    // The function behind every AwsCustomResource of the stack, a singleton at the stack's root.
    const provider = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_SINGLETON);
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "aws-cdk-lib's AwsCustomResource function writes its logs with the AWS managed basic execution policy; " +
          'it runs only during deployments, and only the SDK calls of its custom resources.',
      });
    }
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeManagedPrefixLists supports no resource ARN; the lookup only reads the id of an AWS managed ' +
        'prefix list.',
    });
  }
}
