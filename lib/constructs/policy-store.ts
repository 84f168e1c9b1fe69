import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestedStack, RemovalPolicy } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { CfnPolicy, CfnPolicyStore } from 'aws-cdk-lib/aws-verifiedpermissions';
import { Construct } from 'constructs';
import { avpSchemaJson, MANAGED_BY_TAG } from '../../lambda/adapters/avp-policy-definitions';
import { loadPolicyBundle, type PolicyBundle } from '../../lambda/adapters/policy-files';
import { TOOL_PINS_FILE, toolPinsFileContent } from '../../lambda/adapters/tool-pin-store';
import { ConfigurationError } from '../../lambda/core/errors';
import { checkDeploymentLimits, type PlannedPolicy, planPolicies } from '../policy-deployment';

export interface PolicyStoreProps {
  /** Folder with schema.cedarschema and *.cedar files. */
  readonly policyDir: string;
  /** @default true */
  readonly deletionProtection?: boolean;
}

/** File name of the policy catalogue shipped next to the interceptor's handler. */
export const POLICY_CATALOG_FILE = 'policy-catalog.json';

/**
 * The Verified Permissions policy store, STRICT validation, with the schema and every policy from policies/.
 * The folder is loaded and validated at synth with the real Cedar engine, so a bad policy fails `cdk synth`
 * naming the file and line; every size limit on the way to a deployed stack is checked too (the same checks
 * `mcp-identity policies validate` runs).
 *
 * Policies live in nested stacks (see lib/policy-deployment.ts for why, and for when a policy is replaced
 * rather than updated). Written on the L1 resources rather than @cdklabs/cdk-verified-permissions: we already
 * load and validate the folder with cedar-wasm (the same engine the local stack runs), and the L2 would bring a
 * second Cedar version and its own idea of policy ids.
 */
export class McpPolicyStore extends Construct {
  readonly store: CfnPolicyStore;
  readonly bundle: PolicyBundle;
  readonly policies: readonly {
    readonly id: string;
    readonly reason?: string;
    readonly resource: CfnPolicy;
    readonly plan: PlannedPolicy;
  }[];
  /** The nested stacks holding the policies, by index. */
  readonly policyStacks: ReadonlyMap<number, NestedStack>;
  /**
   * A folder made at synth with `input-types.json` (typed argument conversion) and {@link POLICY_CATALOG_FILE}
   * (stable id → name, reason and Verified Permissions name), and `tool-pins.json` (pinned tool digests from
   * the schema), all copied next to the interceptor's handler.
   */
  readonly generatedDir: string;

  constructor(scope: Construct, id: string, props: PolicyStoreProps) {
    super(scope, id);
    this.bundle = loadPolicyBundle(props.policyDir);
    const schemaJson = avpSchemaJson(this.bundle.schemaText);
    const plan = planPolicies(this.bundle.policies);
    const errors = checkDeploymentLimits(plan, schemaJson).filter((finding) => finding.severity === 'error');
    if (errors.length > 0)
      throw new ConfigurationError(
        `policies/ cannot be deployed as it is (run \`npx mcp-identity policies validate\`): ${errors
          .map((error) =>
            error.policyId ? `${error.file} [${error.policyId}]: ${error.message}` : error.message,
          )
          .join('; ')}`,
      );

    this.store = new CfnPolicyStore(this, 'Store', {
      description: 'mcp-identity: who may call which MCP tool',
      validationSettings: { mode: 'STRICT' },
      schema: { cedarJson: schemaJson },
      deletionProtection: { mode: props.deletionProtection === false ? 'DISABLED' : 'ENABLED' },
      // `mcp-identity policies push` refuses stores carrying this tag unless forced (they would drift).
      tags: [{ key: MANAGED_BY_TAG, value: 'cloudformation' }],
    });
    // Deletion protection is on, so CloudFormation could not delete it anyway: keep it on stack deletion.
    this.store.applyRemovalPolicy(RemovalPolicy.RETAIN);

    const stacks = new Map<number, NestedStack>();
    const stackFor = (index: number): NestedStack => {
      let stack = stacks.get(index);
      if (stack === undefined) {
        const name = `Policies${String(index).padStart(2, '0')}`;
        stack = new NestedStack(this, name, {
          description: `mcp-identity: Verified Permissions policies, share ${index} (by a hash of the policy id)`,
        });
        stacks.set(index, stack);
      }
      return stack;
    };
    this.policies = plan.map((planned) => {
      // Construct id = stable id + scope hash: a new effect, principal or resource scope is a new logical id
      // (replacement: created first, the old one deleted at cleanup); action or condition edits update in place.
      // No DeletionPolicy/UpdateReplacePolicy: the replaced policy must really go, or it would keep deciding.
      const resource = new CfnPolicy(stackFor(planned.stack), `Policy-${planned.id}-${planned.scopeHash}`, {
        // Referencing the store's id orders creation after the store, so the schema exists when AVP validates.
        policyStoreId: this.store.attrPolicyStoreId,
        name: planned.name,
        definition: { static: { statement: planned.statement, description: planned.description } },
      });
      return {
        id: planned.id,
        ...(planned.reason ? { reason: planned.reason } : {}),
        resource,
        plan: planned,
      };
    });
    this.policyStacks = stacks;

    const base = join(tmpdir(), 'mcp-identity-synth');
    mkdirSync(base, { recursive: true });
    this.generatedDir = mkdtempSync(join(base, 'policy-'));
    writeFileSync(join(this.generatedDir, 'input-types.json'), JSON.stringify(this.bundle.inputTypes));
    writeFileSync(join(this.generatedDir, TOOL_PINS_FILE), toolPinsFileContent(this.bundle.toolPins));
    // The catalogue rides in the code asset, not in the environment (4 KB for all variables): it grows with
    // every policy. Keyed by stable id; `avpName` lets the interceptor map Verified Permissions ids to it.
    writeFileSync(
      join(this.generatedDir, POLICY_CATALOG_FILE),
      JSON.stringify(
        Object.fromEntries(
          plan.map((planned) => [
            planned.id,
            {
              name: planned.id,
              ...(planned.reason ? { reason: planned.reason } : {}),
              avpName: planned.name,
            },
          ]),
        ),
      ),
    );
  }

  get policyStoreId(): string {
    return this.store.attrPolicyStoreId;
  }

  get policyStoreArn(): string {
    return this.store.attrArn;
  }

  /** `verifiedpermissions:IsAuthorized` (also what BatchIsAuthorized requires) on this store only. */
  grantIsAuthorized(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['verifiedpermissions:IsAuthorized'],
      resourceArns: [this.policyStoreArn],
    });
  }

  /**
   * `verifiedpermissions:ListPolicies` on this store only: the interceptor maps the opaque policy ids that
   * IsAuthorized returns to stable ids (through the policies' names) once at cold start.
   */
  grantListPolicies(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['verifiedpermissions:ListPolicies'],
      resourceArns: [this.policyStoreArn],
    });
  }
}
