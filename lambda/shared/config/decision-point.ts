import { list, PREFIX, type SettingsReader } from './settings-reader';

/** Where the guard's Cedar decisions are made: Amazon Verified Permissions, or local policy files. */

/** `InterceptorConfig['decisionPoint']`. */
export type DecisionPointSettings =
  | {
      readonly kind: 'avp';
      readonly policyStoreId: string;
      readonly timeoutMs: number;
      /** `context.token` facts the deployed policies read (computed at synth); unknown means all. */
      readonly tokenReads: 'all' | ReadonlySet<string>;
    }
  | { readonly kind: 'local'; readonly policyDir: string };

/**
 * `DECISION_POINT` (`avp` or `local`), then `POLICY_STORE_ID` (required for avp), `POLICY_DIR` (required for
 * local), `AVP_TIMEOUT_MS` and `POLICY_TOKEN_READS`.
 */
export function readDecisionPoint(read: SettingsReader): DecisionPointSettings {
  const decisionPoint = read.oneOf('DECISION_POINT', ['avp', 'local'] as const, 'avp');
  const policyStoreId = read.raw('POLICY_STORE_ID');
  read.matching('POLICY_STORE_ID', policyStoreId, /^[a-zA-Z0-9-]{1,200}$/, 'is not a policy store id');
  const policyDir = read.raw('POLICY_DIR');
  const avpTimeoutMs = read.integer('AVP_TIMEOUT_MS', 1000);
  const tokenReads = policyTokenReads(read.raw('POLICY_TOKEN_READS'), (message) =>
    read.problem('POLICY_TOKEN_READS', message),
  );
  if (decisionPoint === 'avp' && policyStoreId === undefined)
    read.problem('POLICY_STORE_ID', `is required when ${PREFIX}DECISION_POINT is avp`);
  if (decisionPoint === 'local' && policyDir === undefined)
    read.problem('POLICY_DIR', `is required when ${PREFIX}DECISION_POINT is local`);
  return decisionPoint === 'avp'
    ? { kind: 'avp', policyStoreId: policyStoreId as string, timeoutMs: avpTimeoutMs, tokenReads }
    : { kind: 'local', policyDir: policyDir as string };
}

const TOKEN_FACTS = ['expiresAt', 'issuedAt', 'id'];

/**
 * `MCP_IDENTITY_POLICY_TOKEN_READS`: which `context.token` facts the deployed policies read — `all` (the safe
 * default: every fresh token is decided afresh), `none`, or a comma-separated list of facts.
 */
export function policyTokenReads(
  value: string | undefined,
  problem: (message: string) => void,
): 'all' | ReadonlySet<string> {
  if (value === undefined || value.trim() === 'all') return 'all';
  if (value.trim() === 'none') return new Set();
  const facts = list(value);
  const unknown = facts.filter((fact) => !TOKEN_FACTS.includes(fact));
  if (unknown.length > 0) {
    problem(`must be all, none or a list of ${TOKEN_FACTS.join(', ')} (got '${unknown.join(', ')}')`);
    return 'all';
  }
  return new Set(facts);
}
