import { UNEXPECTED_FAILURE, unavailable } from '../../guard/answers';
import type { Guard } from '../../guard/types';
import { decodeInterceptorEvent, encodeRequestResult, encodeResponseResult } from './codec';
import { type InterceptorOutput, respond } from './contract';

export type InterceptorHandler = (event: unknown) => Promise<InterceptorOutput>;

/**
 * The AgentCore Gateway interceptor, attached at REQUEST and RESPONSE: decode → guard → encode. Never throws
 * (what the gateway does with a throwing interceptor is undocumented) and is idempotent (the gateway may
 * retry): same input, same output.
 */
export function createAgentCoreDoor(guard: Guard): InterceptorHandler {
  return async (event) => {
    try {
      const decoded = decodeInterceptorEvent(event);
      return decoded.phase === 'request'
        ? encodeRequestResult(await guard.onRequest(decoded.request))
        : encodeResponseResult(await guard.onResponse(decoded.response), decoded.original);
    } catch {
      // The guard and the codec do not throw; should they ever, nothing is carried out.
      const answer = unavailable(null, UNEXPECTED_FAILURE);
      return respond({ statusCode: answer.status, headers: answer.headers, body: answer.body });
    }
  };
}
