import { MAX_ASSERTION_TTL_SECONDS } from '../../core/identity-assertion';
import {
  assertionHeaderProblem,
  DEFAULT_ASSERTION_HEADER,
  type IdentityDeliverySettings,
  TARGET_NAME,
  type TargetDelivery,
} from '../../core/identity-delivery';
import { isRecord, type SettingsReader } from './settings-reader';

/**
 * How each target receives the caller (`MCP_IDENTITY_TARGET_DELIVERY`: in the arguments, as a signed identity
 * assertion, or both) and the assertion signer's settings (`MCP_IDENTITY_ASSERTION_*`).
 */

/** The identity assertion's key, issuer and lifetime (`MCP_IDENTITY_ASSERTION_*`). */
export interface AssertionSigningConfig {
  /** The asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs, by key ARN. */
  readonly keyArn: string;
  /** The assertions' `iss`. */
  readonly issuer: string;
  /** 1 to 300. @default 300 */
  readonly ttlSeconds: number;
}

const KMS_KEY_ARN = /^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const DELIVERY_KEYS = ['arguments', 'assertion'];

/** One `MCP_IDENTITY_TARGET_DELIVERY` entry: exactly `{ "arguments": boolean, "assertion": boolean }`. */
function targetDelivery(value: unknown): TargetDelivery | undefined {
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== DELIVERY_KEYS.length || !DELIVERY_KEYS.every((key) => keys.includes(key)))
    return undefined;
  if (typeof value.arguments !== 'boolean' || typeof value.assertion !== 'boolean') return undefined;
  return Object.freeze({ arguments: value.arguments, assertion: value.assertion });
}

/**
 * `MCP_IDENTITY_TARGET_DELIVERY` (compact JSON `{ "<target>": { "arguments": bool, "assertion": bool } }`) and
 * the `MCP_IDENTITY_ASSERTION_*` settings, which are required as soon as one target takes the assertion.
 */
export function readIdentityDelivery(read: SettingsReader): {
  delivery: IdentityDeliverySettings;
  assertion?: AssertionSigningConfig;
} {
  const targets = new Map<string, TargetDelivery>();
  const json = read.json('TARGET_DELIVERY') ?? {};
  if (!isRecord(json))
    read.problem(
      'TARGET_DELIVERY',
      'must be a JSON object { "<target>": { "arguments": …, "assertion": … } }',
    );
  else
    for (const [name, value] of Object.entries(json)) {
      const entry = targetDelivery(value);
      if (!TARGET_NAME.test(name))
        read.problem(
          'TARGET_DELIVERY',
          `'${name.slice(0, 100)}' is not a target name (letters, digits, single hyphens)`,
        );
      else if (entry === undefined)
        read.problem(
          'TARGET_DELIVERY',
          `'${name}' must be { "arguments": true|false, "assertion": true|false }`,
        );
      else targets.set(name, entry);
    }
  const assertionHeader = read.text('ASSERTION_HEADER', DEFAULT_ASSERTION_HEADER);
  const headerProblem = assertionHeaderProblem(assertionHeader);
  if (headerProblem !== undefined) read.problem('ASSERTION_HEADER', headerProblem);
  const keyArn = read.raw('ASSERTION_KEY_ID');
  read.matching(
    'ASSERTION_KEY_ID',
    keyArn,
    KMS_KEY_ARN,
    'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>, not an alias)',
  );
  const issuer = read.raw('ASSERTION_ISSUER');
  if (issuer !== undefined && (issuer.length > 512 || /[\s\p{Cc}]/u.test(issuer)))
    read.problem('ASSERTION_ISSUER', 'must be at most 512 characters without spaces or control characters');
  const ttlSeconds = read.integer(
    'ASSERTION_TTL_SECONDS',
    MAX_ASSERTION_TTL_SECONDS,
    1,
    MAX_ASSERTION_TTL_SECONDS,
  );
  const asserted = [...targets].filter(([, entry]) => entry.assertion).map(([name]) => name);
  const delivery = { targets, assertionHeader };
  if (asserted.length === 0) return { delivery };
  const why = `when a target takes the identity assertion (${asserted.join(', ')})`;
  if (keyArn === undefined) read.problem('ASSERTION_KEY_ID', `is required ${why}`);
  if (issuer === undefined) read.problem('ASSERTION_ISSUER', `is required ${why}`);
  return { delivery, assertion: { keyArn: keyArn ?? '', issuer: issuer ?? '', ttlSeconds } };
}
