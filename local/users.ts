import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseJsonText } from '../lambda/shared/json-syntax';

/** The local stack's users: an editable JSON file of `name → { email, roles }`; the name is the `sub`. */
const usersSchema = z.record(
  z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'user names are 1-64 letters, digits, . _ @ -'),
  z.object({ email: z.email().optional(), roles: z.array(z.string().min(1)).default([]) }).strict(),
);

export type LocalUsers = z.infer<typeof usersSchema>;

export class UsersFileError extends Error {}

export function loadUsers(path: string): LocalUsers {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsersFileError(`cannot read users file ${path}: ${(error as Error).message}`);
  }
  const json = parseJsonText(text);
  if (!json.ok) throw new UsersFileError(`users file ${path} is not valid JSON (${json.place})`);
  const parsed = usersSchema.safeParse(json.value);
  if (!parsed.success) {
    throw new UsersFileError(
      `users file ${path} is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
    );
  }
  if (Object.keys(parsed.data).length === 0) throw new UsersFileError(`users file ${path} has no users`);
  return parsed.data;
}
