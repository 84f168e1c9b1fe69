import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type IDestination, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type ILogGroup, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { lambdaBundling } from '../bundling';

export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface McpFunctionProps {
  /** Handler file under lambda/handlers. */
  readonly entry: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** The function's log group; one with `logRetention` is created when absent. */
  readonly logGroup?: ILogGroup;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /** Encrypts the created log group. @default - CloudWatch Logs' own encryption */
  readonly encryptionKey?: IKey;
  /** For asynchronous invocations: where failed events go after Lambda's retries. @default - none */
  readonly deadLetterQueue?: IQueue;
  readonly onFailure?: IDestination;
  /** Extra bundling steps (e.g. copying generated files next to the handler). */
  readonly commandHooks?: ICommandHooks;
}

/**
 * The one opinionated function used by every Lambda here: Node.js 22 on ARM64, bundled with the local esbuild
 * (no Docker) including a pinned AWS SDK (the runtime's copy can change under us; only its node credential chain
 * is swapped for the environment provider Lambda needs), ES module builds for tree-shaking, minified with source maps,
 * X-Ray tracing, an explicit log group with retention, a timeout and memory set on purpose.
 */
export class McpFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: ILogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: McpFunctionProps) {
    super(scope, id);
    this.logGroup =
      props.logGroup ??
      new LogGroup(this, 'Logs', {
        retention: props.logRetention ?? RetentionDays.ONE_YEAR,
        ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      });
    // Our own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group and nothing else.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${this.logGroup.logGroupArn}:*`],
      }),
    );
    // Shared with bench/cold-start.ts (lib/bundling.ts says why each setting is there).
    const bundling = lambdaBundling(PROJECT_ROOT);
    this.function = new NodejsFunction(this, 'Function', {
      role: this.role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 512,
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      ...(props.onFailure ? { onFailure: props.onFailure } : {}),
      bundling: {
        minify: bundling.minify,
        sourceMap: bundling.sourceMap,
        target: bundling.target,
        mainFields: [...bundling.mainFields],
        esbuildArgs: Object.fromEntries(
          Object.entries(bundling.alias).map(([name, path]) => [`--alias:${name}`, path]),
        ),
        format: OutputFormat.CJS,
        // esbuild's own default is info (a file-size summary and "⚡ Done in …" per function on every synth and
        // every CDK test); warnings and errors still print, and a failed build still fails synth.
        logLevel: LogLevel.WARNING,
        externalModules: [],
        forceDockerBundling: false,
        ...(props.commandHooks ? { commandHooks: props.commandHooks } : {}),
      },
    });
    const stack = Stack.of(this);
    Validations.of(this.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.logGroup.node.defaultChild as never)}.Arn>:*]`,
        reason:
          'Log streams are created by the Lambda runtime with names known only at run time; the grant is scoped to this function’s own log group.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions (added by tracing: ACTIVE).',
      },
    );
    Validations.of(this.function).acknowledge(
      {
        id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is pinned on purpose (DESIGN §5): the code is tested on Node 20/22 and moves runtime with the test matrix.',
      },
      {
        id: 'Serverless-LambdaLatestVersion',
        reason:
          'Node.js 22 is pinned on purpose (DESIGN §5): the code is tested on Node 20/22 and moves runtime with the test matrix.',
      },
    );
    if (props.deadLetterQueue === undefined) {
      Validations.of(this.function).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          'Invoked synchronously by the AgentCore Gateway (interceptor, Lambda target): there is no asynchronous event to park; failures are answered to the caller.',
      });
    }
  }
}
