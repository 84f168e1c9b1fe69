import { z } from 'zod';
import { parseDuration } from '../lambda/core/access';

/** The longest grant or timed revocation anyone may configure: 30 days. */
export const MAX_GRANT_SECONDS = 30 * 86_400;

/**
 * `mcpIdentity.grants`: just-in-time role grants and the kill switch (docs/access-over-time.md). The stack
 * creates the grants table and gives the doors read access when `enabled`.
 */
export const grantsSchema = z
  .object({
    /** Create the grants table and check grants and revocations on every request. @default true */
    enabled: z.boolean().default(true),
    /** Longest `--for` a grant may have, as a duration (`12h`, `1d`, `90m`). @default '12h' */
    maxDuration: z
      .string()
      .refine((text) => {
        const seconds = parseDuration(text);
        return seconds !== undefined && seconds <= MAX_GRANT_SECONDS;
      }, 'must be a duration such as 12h, 1d or 90m, at most 30d')
      .default('12h'),
    /** Let an issuer grant a role to themselves. @default false */
    allowSelfGrant: z.boolean().default(false),
    /** How long an interceptor reuses a user's grants (seconds). @default 5 */
    lookupTtlSeconds: z.number().int().min(0).max(300).default(5),
    /**
     * The bound on how long a revocation takes to reach every running interceptor (seconds): the lookup cache
     * never keeps an answer longer. @default 5
     */
    revocationBoundSeconds: z.number().int().min(0).max(60).default(5),
  })
  .strict()
  .prefault({});

export type GrantsConfig = z.infer<typeof grantsSchema>;

/** The lookup cache TTL the doors use: one read serves grants and revocations, so the smaller bound wins. */
export function accessLookupTtlSeconds(grants: GrantsConfig): number {
  return Math.min(grants.lookupTtlSeconds, grants.revocationBoundSeconds);
}
