import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { StackConfigError } from '../lib/config';
import { loadStackConfig } from '../lib/config-source';
import { McpIdentityStack } from '../lib/mcp-identity-stack';
import { acknowledgeNagFindings } from '../lib/nag';

/**
 * CDK app entry: `npx cdk synth` / `npx cdk deploy`. Configuration: cdk.json context `mcpIdentity` with
 * mcp-identity.config.json (npx mcp-identity init) merged over it (lib/config-source.ts). The CDK CLI runs the
 * app in the folder of cdk.json, so that is the project folder.
 */
const app = new App();
try {
  const { config } = loadStackConfig({
    projectDir: process.cwd(),
    context: (key) => app.node.tryGetContext(key),
  });
  const stack = new McpIdentityStack(app, app.node.tryGetContext('stackName') ?? 'McpIdentity', {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  acknowledgeNagFindings(stack);
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true }),
  );
} catch (error) {
  if (error instanceof StackConfigError || (error as Error).name === 'ConfigurationError') {
    process.stderr.write(`\n${(error as Error).message}\n\n`);
    process.exit(1);
  }
  throw error;
}
