import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { CfnPolicy, CfnPolicyStore } from 'aws-cdk-lib/aws-verifiedpermissions';
import { Construct } from 'constructs';
import {
  avpPolicyDefinition,
  avpSchemaJson,
  loadPolicyBundle,
  MANAGED_BY_TAG,
  type PolicyBundle,
} from '../../lambda/adapters/policy-files';

export interface PolicyStoreProps {
  /** Folder with schema.cedarschema and *.cedar files. */
  readonly policyDir: string;
  /** @default true */
  readonly deletionProtection?: boolean;
}

/**
 * The Verified Permissions policy store, STRICT validation, with the schema and every policy from policies/.
 * The folder is loaded and validated at synth with the real Cedar engine, so a bad policy fails `cdk synth`
 * naming the file and line.
 *
 * Written on the L1 resources rather than @cdklabs/cdk-verified-permissions: we already load and validate the
 * folder with cedar-wasm (the same engine the local stack runs), and the L2 would bring a second Cedar version
 * and its own idea of policy ids.
 */
export class McpPolicyStore extends Construct {
  readonly store: CfnPolicyStore;
  readonly bundle: PolicyBundle;
  readonly policies: readonly {
    readonly id: string;
    readonly reason?: string;
    readonly resource: CfnPolicy;
  }[];
  /** A folder with `input-types.json` (typed argument conversion for the interceptor), made at synth. */
  readonly generatedDir: string;

  constructor(scope: Construct, id: string, props: PolicyStoreProps) {
    super(scope, id);
    this.bundle = loadPolicyBundle(props.policyDir);

    this.store = new CfnPolicyStore(this, 'Store', {
      description: 'mcp-identity: who may call which MCP tool',
      validationSettings: { mode: 'STRICT' },
      schema: { cedarJson: avpSchemaJson(this.bundle.schemaText) },
      deletionProtection: { mode: props.deletionProtection === false ? 'DISABLED' : 'ENABLED' },
      // `mcp-identity policies push` refuses stores carrying this tag unless forced (they would drift).
      tags: [{ key: MANAGED_BY_TAG, value: 'cloudformation' }],
    });
    // Deletion protection is on, so CloudFormation could not delete it anyway: keep it on stack deletion.
    this.store.applyRemovalPolicy(RemovalPolicy.RETAIN);

    this.policies = this.bundle.policies.map((policy) => {
      const definition = avpPolicyDefinition(policy);
      // Named by the stable policy id, not by position: adding a file must not shift every policy.
      const resource = new CfnPolicy(this, `Policy-${policy.id}`, {
        policyStoreId: this.store.attrPolicyStoreId,
        name: definition.name,
        definition: { static: { statement: definition.statement, description: definition.description } },
      });
      // Referencing the store's id orders creation after the store, so the schema exists when AVP validates.
      return { id: policy.id, ...(policy.reason ? { reason: policy.reason } : {}), resource };
    });

    const base = join(tmpdir(), 'mcp-identity-synth');
    mkdirSync(base, { recursive: true });
    this.generatedDir = mkdtempSync(join(base, 'policy-'));
    writeFileSync(join(this.generatedDir, 'input-types.json'), JSON.stringify(this.bundle.inputTypes));
  }

  get policyStoreId(): string {
    return this.store.attrPolicyStoreId;
  }

  get policyStoreArn(): string {
    return this.store.attrArn;
  }

  /**
   * `{ id: <AVP policy id>, name, reason }` per policy, as a CloudFormation-resolved JSON string, so denials
   * name the policy file rather than an opaque id.
   */
  catalogJson(): string {
    return Stack.of(this).toJsonString(
      this.policies.map((policy) => ({
        id: policy.resource.attrPolicyId,
        name: policy.id,
        reason: policy.reason ?? '',
      })),
    );
  }

  /** `verifiedpermissions:IsAuthorized` (also what BatchIsAuthorized requires) on this store only. */
  grantIsAuthorized(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['verifiedpermissions:IsAuthorized'],
      resourceArns: [this.policyStoreArn],
    });
  }
}
