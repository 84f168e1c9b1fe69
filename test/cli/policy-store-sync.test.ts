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
import { loadPolicyBundle } from '../../lambda/adapters/policy-files';
import { planPolicies } from '../../lib/policy-deployment';
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
        { policyStoreId: STORE, policyId: 'SP3', policyType: 'STATIC', name: byId('schema-readers').name },
        { policyStoreId: STORE, policyId: 'SP9', policyType: 'STATIC' },
      ],
    } as never);
  // The demo's schema-readers policy, deployed and in sync, like orders-readers.
  const schemaReaders = byId('schema-readers');
  avp.on(GetPolicyCommand, { policyId: 'SP3' }).resolves({
    policyId: 'SP3',
    name: schemaReaders.name,
    definition: { static: { statement: schemaReaders.statement, description: schemaReaders.description } },
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
    expect(state.policies.map((policy) => policy.policyId)).toEqual(['SP1', 'SP2', 'SP3', 'SP9']);
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

/** What push sent, in order: every write command with its exact input (reads left out). */
function writes(): [string, unknown][] {
  const reads = new Set([
    'GetPolicyStoreCommand',
    'GetSchemaCommand',
    'ListPoliciesCommand',
    'GetPolicyCommand',
  ]);
  return avp
    .calls()
    .map((call) => call.args[0] as { constructor: { name: string }; input: unknown })
    .filter((command) => !reads.has(command.constructor.name))
    .map((command) => [command.constructor.name, command.input]);
}

/** A store holding exactly the given policies (one ListPolicies page), the schema in sync. */
function mockPolicies(
  policies: readonly { policyId: string; name?: string; statement: string; description?: string }[],
) {
  avp.on(GetPolicyStoreCommand).resolves({ policyStoreId: STORE } as never);
  avp.on(GetSchemaCommand).resolves({ policyStoreId: STORE, schema: local.schemaJson } as never);
  avp.on(ListPoliciesCommand).resolves({
    policies: policies.map(({ policyId, name }) => ({
      policyStoreId: STORE,
      policyId,
      policyType: 'STATIC',
      ...(name === undefined ? {} : { name }),
    })),
  } as never);
  for (const { policyId, name, statement, description } of policies)
    avp.on(GetPolicyCommand, { policyId }).resolves({
      policyId,
      ...(name === undefined ? {} : { name }),
      definition: { static: { statement, ...(description === undefined ? {} : { description }) } },
    } as never);
}

/** The store as `cdk deploy` leaves it: every policy with the stack's name, statement and description. */
function stackDeployed() {
  const bundle = loadPolicyBundle(join(ROOT, 'policies'));
  return planPolicies(bundle.policies).map((planned, index) => ({
    policyId: `SPstack${index}`,
    name: planned.name,
    statement: planned.statement,
    description: planned.description,
  }));
}

const forbidAsPermit = (statement: string) => statement.replace(/^forbid/, 'permit');

describe('diff', () => {
  it('names policies exactly as the stack deploys them: name/<id>__<scope hash>', () => {
    const plan = planPolicies(loadPolicyBundle(join(ROOT, 'policies')).policies);
    expect(local.policies.map((policy) => [policy.id, policy.name])).toStrictEqual(
      plan.map((planned) => [planned.id, planned.name]),
    );
    for (const policy of local.policies) expect(policy.name).toMatch(/^name\/[A-Za-z0-9_-]+__[0-9a-f]{8}$/);
  });

  it('shows no differences against a store the CDK stack deployed (no spurious renames)', async () => {
    mockPolicies(stackDeployed());
    const diff = diffStore(local, await readStore(client, STORE));
    expect(diff.unchanged).toBe(local.policies.length);
    expect(describeDiff(diff)).toStrictEqual(['no differences']);
  });

  it('shows added, changed and removed policies and leaves in-sync ones alone', async () => {
    mockStore();
    const diff = diffStore(local, await readStore(client, STORE));
    expect(diff.schema).toBe('unchanged');
    expect(diff.unchanged).toBe(2);
    expect(diff.added.map((policy) => policy.id)).toEqual(['large-refunds-need-finance']);
    expect(diff.changed.map((change) => [change.local.id, change.what, change.replace])).toEqual([
      ['order-admins-update', ['statement', 'description', 'name'], true],
    ]);
    expect(diff.removed.map((policy) => policy.policyId)).toEqual(['SP9']);
    expect(describeDiff(diff)).toEqual([
      '+ large-refunds-need-finance',
      `~ order-admins-update: statement, description, name changed ((no name) → ${byId('order-admins-update').name}) — replaced: effect or principal/resource scope changed (new policy created first, then the old one deleted)`,
      '- hand-made (SP9)',
    ]);
  });

  it('treats a new name alone as an in-place rename, not a replacement', async () => {
    const readers = byId('orders-readers');
    mockPolicies([
      {
        policyId: 'SP1',
        name: 'name/orders-readers',
        statement: readers.statement,
        description: readers.description,
      },
    ]);
    const diff = diffStore(
      { schemaJson: local.schemaJson, policies: [readers] },
      await readStore(client, STORE),
    );
    expect(diff.changed.map((change) => [change.local.id, change.what, change.replace])).toStrictEqual([
      ['orders-readers', ['name'], false],
    ]);
    expect(describeDiff(diff)).toStrictEqual([
      `~ orders-readers: name changed (name/orders-readers → ${readers.name})`,
    ]);
  });

  it('matches a policy by a name of its id before its description, so an older push is recognised', async () => {
    const readers = byId('orders-readers');
    const admins = byId('order-admins-update');
    mockPolicies([
      // Described as another policy, but named after this one: the name wins.
      {
        policyId: 'SP1',
        name: 'name/orders-readers__00000000',
        statement: readers.statement,
        description: 'order-admins-update',
      },
      { policyId: 'SP2', statement: admins.statement, description: admins.description },
    ]);
    const diff = diffStore(
      { schemaJson: local.schemaJson, policies: [admins, readers] },
      await readStore(client, STORE),
    );
    expect(
      diff.changed.map((change) => [change.local.id, change.remote.policyId, change.what]),
    ).toStrictEqual([
      ['order-admins-update', 'SP2', ['name']],
      ['orders-readers', 'SP1', ['description', 'name']],
    ]);
    expect(diff.removed).toStrictEqual([]);
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
  it('applies schema first, then create, replace (create before delete), delete — with the exact inputs', async () => {
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
      'CreatePolicy order-admins-update (replaces SP2)',
      'DeletePolicy SP2 (order-admins-update, replaced)',
      'DeletePolicy SP9',
    ]);
    const refunds = byId('large-refunds-need-finance');
    const admins = byId('order-admins-update');
    expect(refunds.name).toMatch(/^name\/large-refunds-need-finance__[0-9a-f]{8}$/);
    expect(writes()).toStrictEqual([
      ['PutSchemaCommand', { policyStoreId: STORE, definition: { cedarJson: local.schemaJson } }],
      [
        'CreatePolicyCommand',
        {
          policyStoreId: STORE,
          name: refunds.name,
          definition: {
            static: {
              statement: refunds.statement,
              description: 'large-refunds-need-finance: refunds above 500 need the finance-approver role',
            },
          },
        },
      ],
      [
        'CreatePolicyCommand',
        {
          policyStoreId: STORE,
          name: admins.name,
          definition: { static: { statement: admins.statement, description: admins.description } },
        },
      ],
      ['DeletePolicyCommand', { policyStoreId: STORE, policyId: 'SP2' }],
      ['DeletePolicyCommand', { policyStoreId: STORE, policyId: 'SP9' }],
    ]);
    expect(refunds.statement).not.toContain('@id');
    expect(lines).toEqual(operations);
  });

  it('renames with UpdatePolicy (name only), never by delete and create', async () => {
    const readers = byId('orders-readers');
    mockPolicies([
      {
        policyId: 'SP1',
        name: 'name/orders-readers',
        statement: readers.statement,
        description: readers.description,
      },
    ]);
    avp.on(UpdatePolicyCommand).resolves({} as never);
    const { operations } = await pushStore(
      client,
      await readStore(client, STORE),
      { schemaJson: local.schemaJson, policies: [readers] },
      { dryRun: false, force: false },
    );
    expect(operations).toStrictEqual([`UpdatePolicy SP1 (orders-readers, renamed to ${readers.name})`]);
    expect(writes()).toStrictEqual([
      ['UpdatePolicyCommand', { policyStoreId: STORE, policyId: 'SP1', name: readers.name }],
    ]);
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
    expect(avp.commandCalls(UpdatePolicyCommand)[0]?.args[0].input).toStrictEqual({
      policyStoreId: STORE,
      policyId: 'SP1',
      definition: { static: { statement: readers.statement, description: readers.description } },
    });
  });

  it('updates the condition and the name in one UpdatePolicy', async () => {
    const readers = byId('orders-readers');
    mockPolicies([
      {
        policyId: 'SP1',
        name: 'name/orders-readers',
        statement: readers.statement.replace('db-reader', 'db-readers'),
        description: readers.description,
      },
    ]);
    avp.on(UpdatePolicyCommand).resolves({} as never);
    await pushStore(
      client,
      await readStore(client, STORE),
      { schemaJson: local.schemaJson, policies: [readers] },
      { dryRun: false, force: false },
    );
    expect(writes()).toStrictEqual([
      [
        'UpdatePolicyCommand',
        {
          policyStoreId: STORE,
          policyId: 'SP1',
          definition: { static: { statement: readers.statement, description: readers.description } },
          name: readers.name,
        },
      ],
    ]);
  });

  it('replaces a policy whose effect changed: the forbid is created before the old policy is deleted', async () => {
    const refunds = byId('large-refunds-need-finance');
    mockPolicies([
      {
        policyId: 'SPold',
        name: 'name/large-refunds-need-finance__0badc0de',
        statement: forbidAsPermit(refunds.statement),
        description: refunds.description,
      },
    ]);
    avp.on(CreatePolicyCommand).resolves({ policyId: 'SPnew' } as never);
    avp.on(DeletePolicyCommand).resolves({} as never);
    await pushStore(
      client,
      await readStore(client, STORE),
      { schemaJson: local.schemaJson, policies: [refunds] },
      { dryRun: false, force: false },
    );
    expect(writes()).toStrictEqual([
      [
        'CreatePolicyCommand',
        {
          policyStoreId: STORE,
          name: refunds.name,
          definition: { static: { statement: refunds.statement, description: refunds.description } },
        },
      ],
      ['DeletePolicyCommand', { policyStoreId: STORE, policyId: 'SPold' }],
    ]);
  });

  it('frees the name first when the policy to replace already holds the new name, so nothing collides', async () => {
    const refunds = byId('large-refunds-need-finance');
    mockPolicies([
      // A hand-made policy under the very name the folder's policy gets, with another effect.
      {
        policyId: 'SPold',
        name: refunds.name,
        statement: forbidAsPermit(refunds.statement),
        description: refunds.description,
      },
    ]);
    avp.on(UpdatePolicyCommand).resolves({} as never);
    avp.on(CreatePolicyCommand).resolves({ policyId: 'SPnew' } as never);
    avp.on(DeletePolicyCommand).resolves({} as never);
    const { operations } = await pushStore(
      client,
      await readStore(client, STORE),
      { schemaJson: local.schemaJson, policies: [refunds] },
      { dryRun: false, force: false },
    );
    expect(operations).toStrictEqual([
      'UpdatePolicy SPold (large-refunds-need-finance, name cleared before its replacement is created)',
      'CreatePolicy large-refunds-need-finance (replaces SPold)',
      'DeletePolicy SPold (large-refunds-need-finance, replaced)',
    ]);
    expect(writes()).toStrictEqual([
      ['UpdatePolicyCommand', { policyStoreId: STORE, policyId: 'SPold', name: '' }],
      [
        'CreatePolicyCommand',
        {
          policyStoreId: STORE,
          name: refunds.name,
          definition: { static: { statement: refunds.statement, description: refunds.description } },
        },
      ],
      ['DeletePolicyCommand', { policyStoreId: STORE, policyId: 'SPold' }],
    ]);
  });

  it('leaves both policies in the store, and says so, when the delete after a replacement fails', async () => {
    mockStore();
    avp.on(CreatePolicyCommand).resolves({ policyId: 'SPnew' } as never);
    avp
      .on(DeletePolicyCommand, { policyId: 'SP2' })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    avp.on(DeletePolicyCommand, { policyId: 'SP9' }).resolves({} as never);
    const pushing = pushStore(client, await readStore(client, STORE), local, { dryRun: false, force: false });
    await expect(pushing).rejects.toBeInstanceOf(PolicyStoreError);
    await expect(pushing).rejects.toThrow(
      'DeletePolicy SP2 (order-admins-update, replaced) failed (ThrottlingException: Rate exceeded); both the new policy SPnew and the old SP2 are in the store and both apply (a forbid stays in force): delete SP2, or push again to do it. 2 earlier operation(s) were applied and nothing after this one was attempted: run `policies diff` to see what is left, then push again.',
    );
    // Created, then the failed delete, then nothing: SP9 is not touched after the failure.
    expect(
      writes().map(([name, input]) => [
        name,
        (input as { policyId?: string; name?: string }).policyId ?? (input as { name?: string }).name,
      ]),
    ).toStrictEqual([
      ['CreatePolicyCommand', byId('large-refunds-need-finance').name],
      ['CreatePolicyCommand', byId('order-admins-update').name],
      ['DeletePolicyCommand', 'SP2'],
    ]);
  });

  it('deletes nothing, and says the old policy still applies, when creating the replacement fails', async () => {
    const refunds = byId('large-refunds-need-finance');
    mockPolicies([
      {
        policyId: 'SPold',
        name: 'name/large-refunds-need-finance__0badc0de',
        statement: forbidAsPermit(refunds.statement),
        description: refunds.description,
      },
    ]);
    avp
      .on(CreatePolicyCommand)
      .rejects(Object.assign(new Error('policy failed validation'), { name: 'ValidationException' }));
    avp.on(DeletePolicyCommand).resolves({} as never);
    await expect(
      pushStore(
        client,
        await readStore(client, STORE),
        { schemaJson: local.schemaJson, policies: [refunds] },
        { dryRun: false, force: false },
      ),
    ).rejects.toThrow(
      'CreatePolicy large-refunds-need-finance (replaces SPold) failed (ValidationException: policy failed validation); the old policy SPold is still in the store and still applies; nothing was deleted.',
    );
    expect(avp).toHaveReceivedCommandTimes(DeletePolicyCommand, 0);
  });

  it('finishes an interrupted replacement on the next push: the leftover old policy is deleted', async () => {
    const refunds = byId('large-refunds-need-finance');
    mockPolicies([
      // The state a failed delete leaves: the new forbid under its name, the old policy beside it.
      {
        policyId: 'SPnew',
        name: refunds.name,
        statement: refunds.statement,
        description: refunds.description,
      },
      {
        policyId: 'SPold',
        name: 'name/large-refunds-need-finance__0badc0de',
        statement: forbidAsPermit(refunds.statement),
        description: refunds.description,
      },
    ]);
    avp.on(DeletePolicyCommand).resolves({} as never);
    await pushStore(
      client,
      await readStore(client, STORE),
      { schemaJson: local.schemaJson, policies: [refunds] },
      { dryRun: false, force: false },
    );
    expect(writes()).toStrictEqual([['DeletePolicyCommand', { policyStoreId: STORE, policyId: 'SPold' }]]);
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
