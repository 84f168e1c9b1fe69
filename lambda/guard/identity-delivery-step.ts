import type { Caller } from '../core/caller';
import { type IdentityDeliverySettings, identityDelivery } from '../core/identity-delivery';
import type { AllowedRequest, ForwardStep, Outgoing } from './hooks';

/**
 * Per-target identity delivery (issue 12 #2): after policy allowed a call, the verified caller reaches the tool
 * the way its target can take it — the injected `_caller_*` arguments, the signed identity assertion in the
 * allow-listed header, or both (`core/identity-delivery.ts` reads the target's setting from the tool name).
 *
 * Only tool calls carry identity: lists and session plumbing run nothing. A target that takes no arguments has
 * the injected ones taken out again (the client cannot have sent them: reserved names are refused as spoofing
 * before policy). An assertion that cannot be signed throws, and the guard refuses the call (fail closed).
 */

/** Hands out the signed assertion for a caller and an audience (`adapters/assertion-cache.ts`). */
export interface AssertionSource {
  assertion(caller: Caller, audience: string): Promise<string>;
}

export function identityDeliveryStep(
  settings: IdentityDeliverySettings,
  assertions: AssertionSource | undefined,
): ForwardStep {
  return {
    name: 'identity-delivery',
    async apply(request: AllowedRequest, outgoing: Outgoing): Promise<Outgoing> {
      if (request.operation.kind !== 'tool-call') return outgoing;
      const delivery = identityDelivery(request.operation.tool.full, settings);
      let next = delivery.arguments ? outgoing : withoutInjected(outgoing);
      if (delivery.assertion !== undefined) {
        if (assertions === undefined)
          throw new Error(
            `target ${delivery.assertion.audience} takes the identity assertion, but no signer is set`,
          );
        const token = await assertions.assertion(request.caller, delivery.assertion.audience);
        next = {
          ...next,
          headers: { ...next.headers, set: { ...next.headers.set, [delivery.assertion.header]: token } },
        };
      }
      return next;
    },
  };
}

/** The outgoing call with the identity arguments the guard injected removed again (and no longer audited). */
function withoutInjected(outgoing: Outgoing): Outgoing {
  const names = outgoing.injected ?? [];
  if (names.length === 0) return outgoing;
  const message = outgoing.message as { params?: { arguments?: Record<string, unknown> } };
  const args = message.params?.arguments;
  if (args === undefined) return { message: outgoing.message, headers: outgoing.headers };
  const kept = Object.fromEntries(Object.entries(args).filter(([name]) => !names.includes(name)));
  return {
    message: { ...message, params: { ...message.params, arguments: kept } },
    headers: outgoing.headers,
  };
}
