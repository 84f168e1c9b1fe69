import { z } from 'zod';

/**
 * The AgentCore Gateway interceptor contract for MCP targets (CONTRACTS §1, interceptorInputVersion 1.0).
 * Parsing is lenient where the documentation is silent (extra fields pass) and strict where a wrong guess
 * would be unsafe (a missing request is an error, never an allow).
 */

const headers = z.record(z.string(), z.union([z.string(), z.array(z.string())])).nullish();

export const interceptorInputSchema = z.object({
  interceptorInputVersion: z.string().optional(),
  mcp: z.object({
    rawGatewayRequest: z.object({ body: z.string().nullish() }).nullish(),
    gatewayRequest: z.object({
      path: z.string().nullish(),
      httpMethod: z.string().nullish(),
      headers,
      body: z.unknown().optional(),
    }),
    gatewayResponse: z
      .object({
        statusCode: z.number().int().nullish(),
        headers,
        body: z.unknown().optional(),
        isStreamingResponse: z.boolean().nullish(),
      })
      .nullish(),
  }),
});

export type InterceptorInput = z.infer<typeof interceptorInputSchema>;
export type GatewayResponse = NonNullable<InterceptorInput['mcp']['gatewayResponse']>;

export interface TransformedResponse {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface InterceptorOutput {
  readonly interceptorOutputVersion: '1.0';
  readonly mcp: {
    readonly transformedGatewayRequest?: {
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    };
    readonly transformedGatewayResponse?: TransformedResponse;
  };
}

/** Header marking responses the interceptor produced itself, so the RESPONSE step does not audit them twice. */
export const DECISION_HEADER = 'x-mcp-identity-decision';

/** Header names are case-insensitive; the gateway documents no casing. Multi-valued headers: first value. */
/** Every value of a header, across case variants of its name and multi-valued entries. */
export function headerValues(
  input: Record<string, string | string[]> | null | undefined,
  name: string,
): string[] {
  if (input === null || input === undefined) return [];
  const wanted = name.toLowerCase();
  return Object.entries(input).flatMap(([key, value]) =>
    key.toLowerCase() === wanted ? [value].flat() : [],
  );
}

export function headerValue(
  input: Record<string, string | string[]> | null | undefined,
  name: string,
): string | undefined {
  if (input === null || input === undefined) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(input)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export function forwardRequest(body: unknown): InterceptorOutput {
  return { interceptorOutputVersion: '1.0', mcp: { transformedGatewayRequest: { body } } };
}

export function respond(response: TransformedResponse): InterceptorOutput {
  return { interceptorOutputVersion: '1.0', mcp: { transformedGatewayResponse: response } };
}

/** The body of a request or response, parsed when the gateway handed it over as text. */
export function jsonBody(
  body: unknown,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false } {
  if (typeof body !== 'string') return { ok: true, value: body };
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}
