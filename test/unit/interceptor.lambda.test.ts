import { IsAuthorizedCommand, VerifiedPermissionsClient } from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../lambda/handlers/interceptor';
import { DevIssuer } from '../../local/dev-issuer';
import { toolCallEvent } from '../helpers/fixtures';
import { AUDIENCE } from '../helpers/harness';

/**
 * The Lambda entry point as deployed: configuration from env, Verified Permissions (mocked), log sink.
 * The entry point builds its dependencies once, on the first invocation that finds a valid configuration,
 * so the misconfigured case runs first.
 */
describe('Lambda handler (production wiring)', () => {
  const saved = { ...process.env };
  let issuer: DevIssuer;
  const avp = mockClient(VerifiedPermissionsClient);

  // Audit events go to stdout as one JSON line each (the log group the forwarder reads): captured here, so
  // the test output shows results, and checked.
  const stdout: string[] = [];
  beforeAll(async () => {
    issuer = await DevIssuer.start();
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await issuer.stop();
  });
  afterEach(() => {
    process.env = { ...saved };
    avp.reset();
  });

  it('refuses every request with 503 when misconfigured, without throwing', async () => {
    process.env.MCP_IDENTITY_ISSUER = issuer.issuer;
    const out = (await handler(toolCallEvent('x', 'orders___get_order', { order_id: '1' }))) as any;
    expect(out.mcp.transformedGatewayResponse.statusCode).toBe(503);
    expect(out.mcp.transformedGatewayRequest).toBeUndefined();
  });

  it('verifies, asks Verified Permissions and injects identity when configured', async () => {
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      MCP_IDENTITY_ISSUER: issuer.issuer,
      MCP_IDENTITY_AUDIENCE: AUDIENCE,
      MCP_IDENTITY_DISCOVERY_URL: issuer.discoveryUrl,
      MCP_IDENTITY_POLICY_STORE_ID: 'PSabc',
      MCP_IDENTITY_POLICY_CATALOG: JSON.stringify([
        { id: 'SP9', name: 'large-refunds-need-finance', reason: 'needs finance' },
      ]),
      MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
    });
    avp
      .on(IsAuthorizedCommand)
      .resolves({ decision: 'ALLOW', determiningPolicies: [{ policyId: 'SP1' }], errors: [] });
    const token = await issuer.sign({ sub: 'alice', roles: ['db-reader'], aud: AUDIENCE });
    const out = (await handler(toolCallEvent(token, 'orders___get_order', { order_id: '1' }))) as any;
    expect(out.mcp.transformedGatewayRequest.body.params.arguments).toEqual({
      order_id: '1',
      _caller_user: 'alice',
      _caller_roles: ['db-reader'],
    });
    expect(avp).toHaveReceivedCommandWith(IsAuthorizedCommand, { policyStoreId: 'PSabc' });
    const audit = stdout
      .map((line) => JSON.parse(line))
      .find((line) => line.message === 'mcp-identity audit event');
    expect(audit?.auditEvent).toMatchObject({
      eventName: 'orders___get_order',
      userIdentity: { principalId: 'alice' },
    });
  });

  it('names the policy from the stack catalogue when Verified Permissions denies', async () => {
    avp
      .on(IsAuthorizedCommand)
      .resolves({ decision: 'DENY', determiningPolicies: [{ policyId: 'SP9' }], errors: [] });
    const token = await issuer.sign({ sub: 'bob', roles: ['order-admin'], aud: AUDIENCE });
    const out = (await handler(
      toolCallEvent(token, 'orders___update_order', { order_id: '1', status: 'refunded', amount: 900 }),
    )) as any;
    expect(out.mcp.transformedGatewayResponse.body.result.content[0].text).toBe(
      "Denied by policy 'large-refunds-need-finance' (needs finance).",
    );
  });
});
