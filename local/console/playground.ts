import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import {
  AuthorizeError,
  type AuthorizeReport,
  explainToolCall,
  formatReport,
  roleList,
} from '../../cli/policies-authorize';
import { McpIdentityError } from '../../lambda/core/errors';
import { UsersFileError } from '../users';

/**
 * The console's policy playground: one tool call decided and explained by `explainToolCall`, the function behind
 * `npx mcp-identity policies authorize` (same parser, same `authorizeOperation`, same Cedar engine, on the
 * policy folder as it is on disk now). Input problems come back as a message to show, never as an exception.
 */

/** A request body above this is refused unread (413): a playground call is a few hundred bytes. */
export const MAX_PLAYGROUND_BYTES = 16 * 1024;

const PlaygroundInput = z
  .object({
    user: z.string().trim().min(1, 'name a user').max(256),
    /** Comma-separated; blank or absent: the user's roles from the users file. */
    roles: z.string().max(2048).optional(),
    agent: z.string().trim().max(256).optional(),
    tool: z.string().trim().min(1, 'name a tool, e.g. orders___get_order').max(1024),
    /** The tool arguments as JSON text, as typed; blank means `{}`. */
    args: z.string().max(MAX_PLAYGROUND_BYTES).optional(),
  })
  .strict();

export type PlaygroundAnswer =
  | {
      readonly status: 200;
      /** The report, and its lines exactly as `policies authorize` prints them. */
      readonly body: { readonly report: AuthorizeReport; readonly lines: readonly string[] };
    }
  | { readonly status: 400 | 413; readonly body: { readonly error: string } };

export class BodyTooLargeError extends Error {}

/** The body as text, refusing (without buffering) more than `max` bytes. */
export function readBoundedBody(request: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      request.resume();
      reject(new BodyTooLargeError());
      return;
    }
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        request.removeAllListeners('data');
        request.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

const problem = (error: string): PlaygroundAnswer => ({ status: 400, body: { error } });

/** Decides the call described by a playground request body. Never throws for bad input. */
export async function decideInPlayground(
  body: string,
  where: { readonly policyDir: string; readonly usersFile: string },
): Promise<PlaygroundAnswer> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return problem(`the request is not JSON: ${(error as Error).message}`);
  }
  const parsed = PlaygroundInput.safeParse(json);
  if (!parsed.success)
    return problem(
      parsed.error.issues
        .map((issue) => `${issue.path.length === 0 ? 'input' : issue.path.join('.')}: ${issue.message}`)
        .join('; '),
    );
  const input = parsed.data;
  let args: unknown = {};
  if (input.args !== undefined && input.args.trim() !== '') {
    try {
      args = JSON.parse(input.args);
    } catch (error) {
      return problem(`the arguments are not JSON: ${(error as Error).message}`);
    }
  }
  const roles = input.roles === undefined || input.roles.trim() === '' ? undefined : roleList(input.roles);
  try {
    const report = await explainToolCall({
      dir: where.policyDir,
      usersFile: where.usersFile,
      user: input.user,
      tool: input.tool,
      arguments: args,
      ...(roles === undefined ? {} : { roles }),
      ...(input.agent === undefined || input.agent === '' ? {} : { agent: input.agent }),
    });
    return { status: 200, body: { report, lines: formatReport(report) } };
  } catch (error) {
    if (
      error instanceof AuthorizeError ||
      error instanceof UsersFileError ||
      error instanceof McpIdentityError
    )
      return problem(error.message);
    throw error;
  }
}
