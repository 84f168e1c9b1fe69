import {
  BatchIsAuthorizedCommand,
  type BatchIsAuthorizedCommandOutput,
  type BatchIsAuthorizedInputItem,
  IsAuthorizedCommand,
  type IsAuthorizedCommandOutput,
  type VerifiedPermissionsClient,
} from '@aws-sdk/client-verifiedpermissions';
import type { AuthorizationRequest, EntityUid } from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';
import { DecisionPointError } from '../core/errors';

/** BatchIsAuthorized takes at most 30 requests (CONTRACTS §4). */
export const AVP_BATCH_LIMIT = 30;

export interface AvpSettings {
  readonly policyStoreId: string;
  /** Per-call deadline; the SDK retries within it. @default 1000 */
  readonly timeoutMs: number;
  /** BatchIsAuthorized calls in flight at once for one tools/list (the default quota is 30 RPS per store).
   * @default 4 */
  readonly batchConcurrency?: number;
  /** Which `context.token` facts the deployed policies read, known at synth (see policy-token-reads.ts).
   * @default 'all' */
  readonly tokenReads?: 'all' | ReadonlySet<string>;
}

function entityIdentifier(uid: EntityUid): { entityType: string; entityId: string } {
  return { entityType: uid.type, entityId: uid.id };
}

/** `Namespace::Action` + id, as AVP's ActionIdentifier wants it. */
function actionIdentifier(uid: EntityUid): { actionType: string; actionId: string } {
  return { actionType: uid.type, actionId: uid.id };
}

type AvpResult = Pick<IsAuthorizedCommandOutput, 'decision' | 'determiningPolicies' | 'errors'>;

function toAnswer(result: AvpResult | undefined): PolicyAnswer {
  if (result === undefined || (result.decision !== 'ALLOW' && result.decision !== 'DENY')) {
    throw new DecisionPointError(
      `Verified Permissions returned no valid decision (${String(result?.decision)})`,
    );
  }
  const determining = (result.determiningPolicies ?? []).map((policy) => policy.policyId);
  if (determining.some((id) => typeof id !== 'string')) {
    throw new DecisionPointError('Verified Permissions returned a determining policy without an id');
  }
  return {
    decision: result.decision === 'ALLOW' ? 'allow' : 'deny',
    determiningPolicies: determining as string[],
    errors: (result.errors ?? []).map((error) => ({ detail: error.errorDescription ?? 'evaluation error' })),
  };
}

/**
 * Amazon Verified Permissions as the decision point. Requests are sent in the `cedarJson` forms, the same
 * entity/context JSON the local engine takes; action entities are not sent (AVP adds the schema's action
 * groups itself). Any SDK error — throttling, timeout, access denied, unknown store — becomes a
 * {@link DecisionPointError}, which the core turns into a deny.
 *
 * `couldBeAllowed` (tools/list) uses BatchIsAuthorized with discovery requests (no `context.input`). AVP has
 * no partial evaluation, so this relies on the policy convention documented in the README: permits say who
 * may call a tool and do not read `context.input`; argument rules are forbids guarded by `context has input`.
 */
export class AvpDecisionPoint implements PolicyDecisionPoint {
  readonly tokenReads: 'all' | ReadonlySet<string>;

  constructor(
    private readonly client: VerifiedPermissionsClient,
    private readonly settings: AvpSettings,
  ) {
    this.tokenReads = settings.tokenReads ?? 'all';
  }

  async isAuthorized(request: AuthorizationRequest): Promise<PolicyAnswer> {
    let output: IsAuthorizedCommandOutput;
    try {
      output = await withDeadline(this.settings.timeoutMs, (abortSignal) =>
        this.client.send(
          new IsAuthorizedCommand({
            policyStoreId: this.settings.policyStoreId,
            principal: entityIdentifier(request.principal),
            action: actionIdentifier(request.action),
            resource: entityIdentifier(request.resource),
            context: { cedarJson: JSON.stringify(request.context) },
            entities: { cedarJson: JSON.stringify(request.entities) },
          }),
          { abortSignal },
        ),
      );
    } catch (error) {
      throw new DecisionPointError(`IsAuthorized failed: ${describeError(error)}`, { cause: error });
    }
    return toAnswer(output);
  }

  async couldBeAllowed(requests: readonly AuthorizationRequest[]): Promise<readonly boolean[]> {
    const chunks: AuthorizationRequest[][] = [];
    for (let start = 0; start < requests.length; start += AVP_BATCH_LIMIT)
      chunks.push(requests.slice(start, start + AVP_BATCH_LIMIT));
    const answers: boolean[][] = new Array(chunks.length);
    // A few chunks in flight at once: a long list costs the latency of ⌈N/30/concurrency⌉ calls, not ⌈N/30⌉.
    // The first failure fails the whole list (the caller then hides every tool); the others still settle.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const index = next;
        next += 1;
        answers[index] = await this.batch(chunks[index] as AuthorizationRequest[]);
      }
    };
    const workers = Math.max(1, Math.min(this.settings.batchConcurrency ?? 4, chunks.length));
    await Promise.all(Array.from({ length: workers }, worker));
    return answers.flat();
  }

  private async batch(chunk: readonly AuthorizationRequest[]): Promise<boolean[]> {
    const head = chunk[0] as AuthorizationRequest;
    const items: BatchIsAuthorizedInputItem[] = chunk.map((request) => ({
      principal: entityIdentifier(request.principal),
      action: actionIdentifier(request.action),
      resource: entityIdentifier(request.resource),
      context: { cedarJson: JSON.stringify(request.context) },
    }));
    let results: BatchIsAuthorizedCommandOutput;
    try {
      results = await withDeadline(this.settings.timeoutMs, (abortSignal) =>
        this.client.send(
          new BatchIsAuthorizedCommand({
            policyStoreId: this.settings.policyStoreId,
            // All requests of one caller share the principal and its entities (a BatchIsAuthorized requirement).
            entities: { cedarJson: JSON.stringify(head.entities) },
            requests: items,
          }),
          { abortSignal },
        ),
      );
    } catch (error) {
      throw new DecisionPointError(`BatchIsAuthorized failed: ${describeError(error)}`, { cause: error });
    }
    const list = Array.isArray(results.results) ? results.results : [];
    // Match answers to requests by action id rather than trusting order.
    return chunk.map((request) => {
      const match = list.find((result) => result.request?.action?.actionId === request.action.id);
      if (match === undefined)
        throw new DecisionPointError(`BatchIsAuthorized returned no result for ${request.action.id}`);
      const answer = toAnswer(match);
      return answer.decision === 'allow' && answer.errors.length === 0;
    });
  }
}

/**
 * Runs an SDK call under a hard deadline: the abort signal cancels the HTTP request, and the race makes the
 * deadline hold even if something below ignores the signal.
 */
async function withDeadline<T>(timeoutMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return 'unknown error';
}
