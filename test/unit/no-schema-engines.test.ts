import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchIsAuthorizedCommand,
  IsAuthorizedCommand,
  ValidationException,
  VerifiedPermissionsClient,
} from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import { AvpDecisionPoint } from '../../lambda/adapters/avp-decision-point';
import { CedarDecisionPoint } from '../../lambda/adapters/cedar-decision-point';
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { type AuthorizerSettings, authorizeOperation, callableTools } from '../../lambda/core/authorize';
import { callerFromClaims } from '../../lambda/core/caller';
import { discoveryRequest } from '../../lambda/core/cedar-request';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import type { McpOperation } from '../../lambda/core/mcp-operation';
import { POLICY_DIR } from '../helpers/harness';

/**
 * A tools/call of a tool with no action in the schema, on both engines. What each engine does with such a
 * request on its own (cedar-wasm: a default deny; Verified Permissions: whatever the store answers — an ALLOW
 * from a policy without an action scope, or a ValidationException, which became the generic "could not
 * decide") no longer matters: the decision path denies it first, with the same reason on both.
 */

/** The demo policies plus a policy without an action scope: it would allow any action, even an unknown one. */
function permissiveBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'no-schema-'));
  cpSync(POLICY_DIR, dir, { recursive: true });
  writeFileSync(
    join(dir, 'admins-everything.cedar'),
    '@id("admins-everything")\npermit (principal in McpIdentity::Role::"order-admin", action, resource);\n',
  );
  return loadPolicyBundle(dir);
}

const bundle = permissiveBundle();
const bob = callerFromClaims({ sub: 'bob', iss: 'https://idp', exp: 2000000000, roles: ['order-admin'] });
const unknownCall: McpOperation = {
  kind: 'tool-call',
  id: 1,
  tool: { full: 'billing___delete_invoice', target: 'billing', tool: 'delete_invoice' },
  arguments: { invoice_id: '1' },
};
const settings = (inputTypes?: AuthorizerSettings['model']['inputTypes']): AuthorizerSettings => ({
  model: {
    namespace: 'McpIdentity',
    resourceId: 'gateway',
    ...(inputTypes === undefined ? {} : { inputTypes }),
  },
  injection: DEFAULT_INJECTION,
  mode: 'enforce',
  catalog: bundle.catalog,
});
const DENIED = {
  decision: {
    kind: 'deny',
    code: 'policy',
    reason:
      "Denied: no policy permits bob to call the tool 'billing___delete_invoice': it has no entry in the Cedar schema. An operator adds it with `npx mcp-identity schema generate --from-url <gateway MCP URL> --target billing`, then writes a policy for it and deploys.",
    policies: [],
  },
  forward: false,
  enforced: true,
};

describe('local Cedar (cedar-wasm over policies/)', () => {
  const pdp = new CedarDecisionPoint(bundle);

  it('on its own answers a default deny for an action the schema lacks, whatever the policies', async () => {
    const answer = await pdp.isAuthorized(
      discoveryRequest(bob, 'billing___delete_invoice', settings().model),
    );
    expect(answer).toStrictEqual({ decision: 'deny', determiningPolicies: [], errors: [] });
  });

  it('without input types gave the generic default-deny reason (before: nothing said what to do)', async () => {
    const verdict = await authorizeOperation(bob, unknownCall, pdp, settings());
    expect(verdict.decision).toStrictEqual({
      kind: 'deny',
      code: 'policy',
      reason:
        "Denied: no policy permits bob to call the tool 'billing___delete_invoice' (denied by default).",
      policies: [],
    });
  });

  it('with the bundle’s input types, denies naming the tool and the command that adds it', async () => {
    expect(await authorizeOperation(bob, unknownCall, pdp, settings(bundle.inputTypes))).toStrictEqual(
      DENIED,
    );
  });
});

describe('Verified Permissions', () => {
  const avp = mockClient(VerifiedPermissionsClient);
  const pdp = new AvpDecisionPoint(new VerifiedPermissionsClient({ region: 'eu-west-1' }), {
    policyStoreId: 'PSEXAMPLEabcdefg111111',
    timeoutMs: 200,
  });
  beforeEach(() => avp.reset());
  afterAll(() => avp.restore());

  it('without input types sends the request, and a store that rejects it gives only "could not decide"', async () => {
    avp
      .on(IsAuthorizedCommand)
      .rejects(new ValidationException({ message: 'action not in schema', $metadata: {}, fieldList: [] }));

    const verdict = await authorizeOperation(bob, unknownCall, pdp, settings());

    expect(verdict.decision).toMatchObject({
      kind: 'error',
      reason: 'The authorization service could not decide this request, so it was denied.',
    });
    expect(avp).toHaveReceivedCommandTimes(IsAuthorizedCommand, 1);
  });

  it('with the input types, denies without a call, even if the store would allow it', async () => {
    avp
      .on(IsAuthorizedCommand)
      .resolves({ decision: 'ALLOW', determiningPolicies: [{ policyId: 'SP1' }], errors: [] });

    expect(await authorizeOperation(bob, unknownCall, pdp, settings(bundle.inputTypes))).toStrictEqual(
      DENIED,
    );
    expect(avp).not.toHaveReceivedCommand(IsAuthorizedCommand);
  });

  it('leaves unknown tools out of the BatchIsAuthorized of a tools/list (one cannot hide the whole list)', async () => {
    avp.on(BatchIsAuthorizedCommand).callsFake((input: { requests: { action: { actionId: string } }[] }) => ({
      results: input.requests.map((request) => ({
        request,
        decision: 'ALLOW',
        determiningPolicies: [],
        errors: [],
      })),
    }));

    const result = await callableTools(
      bob,
      ['orders___get_order', 'billing___delete_invoice'],
      pdp,
      settings(bundle.inputTypes),
    );

    expect(result).toStrictEqual({ callable: new Set(['orders___get_order']) });
    const sent = avp.commandCalls(BatchIsAuthorizedCommand)[0]?.args[0].input.requests ?? [];
    expect(sent.map((request) => request.action?.actionId)).toStrictEqual(['orders___get_order']);
  });
});
