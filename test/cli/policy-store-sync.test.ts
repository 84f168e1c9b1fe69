import { join } from 'node:path';
import {
  CreatePolicyCommand,
  DeletePolicyCommand,
  GetPolicyCommand,
  GetPolicyStoreCommand,
  GetSchemaCommand,
  ListPoliciesCommand,
  PutSchemaCommand,
  ResourceNotFoundException,
  UpdatePolicyCommand,
  VerifiedPermissionsClient,
} from '@aws-sdk/client-verifiedpermissions';
import { mockClient } from 'aws-sdk-client-mock';
import {
  describeDiff,
  diffStore,
  localPolicies,
  PolicyStoreError,
  pushStore,
  readStore,
} from '../../cli/policy-store-sync';
import { cli, ROOT } from './helpers';

const avp = mockClient(VerifiedPermissionsClient);
const client = new VerifiedPermissionsClient({ region: 'eu-west-1' });
const STORE = 'PSEXAMPLEabcdefg111111';
const local = localPolicies(join(ROOT, 'policies'));
const byId = (id: string) => {
  const policy = local.policies.find((candidate) => candidate.id === id);
  if (policy === undefined) throw new Error(id);
  return policy;
};

/** A store as AVP would return it: some policies in sync, one stale, one unknown. */
function mockStore(options: { tags?: Record<string, string>; schema?: string | null } = {}) {
  avp.on(GetPolicyStoreCommand).resolves({
    policyStoreId: STORE,
    arn: `arn:aws:verifiedpermissions::123456789012:policy-store/${STORE}`,
    ...(options.tags ? { tags: options.tags } : {}),
  } as never);
  if (options.schema === null)
    avp
      .on(GetSchemaCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'no schema', $metadata: {}, resources: [] } as never),
      );
  else
    avp
      .on(GetSchemaCommand)
      .resolves({ policyStoreId: STORE, schema: options.schema ?? local.schemaJson } as never);
  avp
    .on(ListPoliciesCommand)
    .resolvesOnce({
      policies: [
        { policyStoreId: STORE, policyId: 'SP1', policyType: 'STATIC', name: byId('orders-readers').name },
      ],
      nextToken: 'page-2',
    } as never)
    .resolves({
      policies: [
        { policyStoreId: STORE, policyId: 'SP2', policyType: 'STATIC' },
        { policyStoreId: STORE, policyId: 'SP9', policyType: 'STATIC' },
      ],
    } as never);
  const readers = byId('orders-readers');
  const admins = byId('order-admins-update');
  avp.on(GetPolicyCommand, { policyId: 'SP1' }).resolves({
    policyId: 'SP1',
    name: readers.name,
    definition: { static: { statement: readers.statement, description: readers.description } },
  } as never);
  avp.on(GetPolicyCommand, { policyId: 'SP2' }).resolves({
    policyId: 'SP2',
    definition: {
      static: {
        statement: admins.statement.replace('order-admin', 'order-admins'),
        description: `${admins.id}: older wording`,
      },
    },
  } as never);
  avp.on(GetPolicyCommand, { policyId: 'SP9' }).resolves({
    policyId: 'SP9',
    definition: {
      static: { statement: 'permit (principal, action, resource);', description: 'hand-made' },
    },
  } as never);
}

beforeEach(() => avp.reset());

describe('readStore', () => {
  it('pages through ListPolicies and reads each policy', async () => {
    mockStore();
    const state = await readStore(client, STORE);
    expect(state.policies.map((policy) => policy.policyId)).toEqual(['SP1', 'SP2', 'SP9']);
    expect(avp.commandCalls(GetPolicyStoreCommand)[0]?.args[0].input).toEqual({
      policyStoreId: STORE,
      tags: true,
    });
    expect(avp.commandCalls(ListPoliciesCommand).map((call) => call.args[0].input)).toEqual([
      { policyStoreId: STORE, maxResults: 50 },
      { policyStoreId: STORE, maxResults: 50, nextToken: 'page-2' },
    ]);
  });

  it('says clearly when the store does not exist', async () => {
    avp
      .on(GetPolicyStoreCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'not found', $metadata: {}, resources: [] } as never),
      );
    await expect(readStore(client, 'PSnope')).rejects.toThrow(
      new PolicyStoreError('policy store PSnope does not exist (check the id and the Region)'),
    );
  });
});

describe('diff', () => {
  it('shows added, changed and removed policies and leaves in-sync ones alone', async () => {
    mockStore();
    const diff = diffStore(local, await readStore(client, STORE));
    expect(diff.schema).toBe('unchanged');
    expect(diff.unchanged).toBe(1);
    expect(diff.added.map((policy) => policy.id)).toEqual(['large-refunds-need-finance']);
    expect(diff.changed.map((change) => [change.local.id, change.what, change.replace])).toEqual([
      ['order-admins-update', ['statement', 'description', 'name'], true],
    ]);
    expect(diff.removed.map((policy) => policy.policyId)).toEqual(['SP9']);
    expect(describeDiff(diff)).toEqual([
      '+ large-refunds-need-finance',
      '~ order-admins-update: statement, description, name changed (replaced: effect, scope or name changed)',
      '- hand-made (SP9)',
    ]);
  });

  it('notices a schema that differs or is missing', async () => {
    mockStore({ schema: JSON.stringify({ McpIdentity: { entityTypes: {}, actions: {} } }) });
    expect(diffStore(local, await readStore(client, STORE)).schema).toBe('changed');
    avp.reset();
    mockStore({ schema: null });
    expect(diffStore(local, await readStore(client, STORE)).schema).toBe('added');
  });
});

describe('push', () => {
  it('applies schema first, then create, update, delete — with the exact inputs', async () => {
    mockStore({ schema: null });
    avp.on(PutSchemaCommand).resolves({} as never);
    avp.on(CreatePolicyCommand).resolves({} as never);
    avp.on(DeletePolicyCommand).resolves({} as never);
    const lines: string[] = [];
    const { operations } = await pushStore(client, await readStore(client, STORE), local, {
      dryRun: false,
      force: false,
      onProgress: (line) => lines.push(line),
    });
    expect(operations).toEqual([
      'PutSchema',
      'CreatePolicy large-refunds-need-finance',
      'DeletePolicy SP2 (order-admins-update, replaced)',
      'CreatePolicy order-admins-update',
      'DeletePolicy SP9',
    ]);
    expect(avp.commandCalls(PutSchemaCommand)[0]?.args[0].input).toEqual({
      policyStoreId: STORE,
      definition: { cedarJson: local.schemaJson },
    });
    const refunds = byId('large-refunds-need-finance');
    expect(avp.commandCalls(CreatePolicyCommand)[0]?.args[0].input).toEqual({
      policyStoreId: STORE,
      name: 'name/large-refunds-need-finance',
      definition: {
        static: {
          statement: refunds.statement,
          description: 'large-refunds-need-finance: refunds above 500 need the finance-approver role',
        },
      },
    });
    expect(refunds.statement).not.toContain('@id');
    expect(avp.commandCalls(DeletePolicyCommand).map((call) => call.args[0].input.policyId)).toEqual([
      'SP2',
      'SP9',
    ]);
    expect(lines).toEqual(operations);
  });

  it('updates in place when only the condition or description changed', async () => {
    mockStore();
    const readers = byId('orders-readers');
    avp.on(GetPolicyCommand, { policyId: 'SP1' }).resolves({
      policyId: 'SP1',
      name: readers.name,
      definition: {
        static: {
          statement: readers.statement.replace('db-reader', 'db-readers'),
          description: readers.description,
        },
      },
    } as never);
    avp.on(UpdatePolicyCommand).resolves({} as never);
    avp.on(CreatePolicyCommand).resolves({} as never);
    avp.on(DeletePolicyCommand).resolves({} as never);
    await pushStore(client, await readStore(client, STORE), local, { dryRun: false, force: false });
    expect(avp.commandCalls(UpdatePolicyCommand)[0]?.args[0].input).toEqual({
      policyStoreId: STORE,
      policyId: 'SP1',
      definition: { static: { statement: readers.statement, description: readers.description } },
    });
  });

  it('changes nothing in a dry run', async () => {
    mockStore();
    const { operations } = await pushStore(client, await readStore(client, STORE), local, {
      dryRun: true,
      force: false,
    });
    expect(operations.length).toBeGreaterThan(0);
    expect(avp).toHaveReceivedCommandTimes(PutSchemaCommand, 0);
    expect(avp).toHaveReceivedCommandTimes(CreatePolicyCommand, 0);
    expect(avp).toHaveReceivedCommandTimes(UpdatePolicyCommand, 0);
    expect(avp).toHaveReceivedCommandTimes(DeletePolicyCommand, 0);
  });

  it('refuses a store the CDK stack manages unless forced, explaining drift', async () => {
    mockStore({
      tags: { 'aws:cloudformation:stack-name': 'McpIdentity', 'mcp-identity:managed-by': 'cloudformation' },
    });
    const state = await readStore(client, STORE);
    await expect(pushStore(client, state, local, { dryRun: false, force: false })).rejects.toThrow(
      /managed by CloudFormation stack McpIdentity\. Pushing here would drift/,
    );
    avp.on(CreatePolicyCommand).resolves({} as never);
    avp.on(DeletePolicyCommand).resolves({} as never);
    await expect(pushStore(client, state, local, { dryRun: false, force: true })).resolves.toMatchObject({
      operations: expect.any(Array),
    });
  });
});

describe('the CLI', () => {
  it('needs a Region for diff and push', () => {
    const result = cli(['policies', 'diff', '--store', STORE], { AWS_REGION: '', AWS_DEFAULT_REGION: '' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no AWS Region: pass --region or set AWS_REGION');
  });

  it('requires --store', () => {
    const result = cli(['policies', 'push']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("required option '--store <policy-store-id>' not specified");
  });
});
