import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { callerFromClaims } from '../core/caller';
import {
  ArgumentConversionError,
  type AuthorizationRequest,
  authorizationRequest,
  type CedarModel,
} from '../core/cedar-request';
import type { PolicyAnswer, PolicyDecisionPoint } from '../core/decision';
import { ConfigurationError } from '../core/errors';
import { parseToolName } from '../core/mcp-operation';
import { parseJsonText } from '../shared/json-syntax';

/**
 * Decision fixtures next to the policies: `fixtures/ALLOW/*.json` and `fixtures/DENY/*.json`, each a caller
 * (claims), a tool call and optionally the policies expected to determine the decision. The folder is the
 * expected decision, so a reviewer sees intent from the file tree.
 */
const fixtureSchema = z
  .object({
    description: z.string().min(1),
    claims: z.record(z.string(), z.unknown()),
    tool: z.string().min(1),
    arguments: z.record(z.string(), z.unknown()).default({}),
    determiningPolicies: z.array(z.string()).optional(),
  })
  .strict();

export interface DecisionFixture extends z.infer<typeof fixtureSchema> {
  readonly file: string;
  readonly expected: 'allow' | 'deny';
}

export function readDecisionFixtures(policyDir: string): DecisionFixture[] {
  const fixtures: DecisionFixture[] = [];
  let folders: string[] = [];
  try {
    folders = readdirSync(join(policyDir, 'fixtures'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    // no fixtures folder: no fixtures
  }
  const stray = folders.filter((name) => name !== 'ALLOW' && name !== 'DENY');
  if (stray.length > 0)
    throw new ConfigurationError(
      `fixtures/${stray[0]}: decision fixtures go under fixtures/ALLOW or fixtures/DENY`,
    );
  for (const expected of ['allow', 'deny'] as const) {
    const dir = join(policyDir, 'fixtures', expected.toUpperCase());
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((name) => name.endsWith('.json'))
        .sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const file = join('fixtures', expected.toUpperCase(), name);
      let text: string;
      try {
        text = readFileSync(join(dir, name), 'utf8');
      } catch (error) {
        throw new ConfigurationError(`${file}: cannot read (${(error as Error).message})`);
      }
      const json = parseJsonText(text);
      if (!json.ok) throw new ConfigurationError(`${file}: not valid JSON (${json.place})`);
      const result = fixtureSchema.safeParse(json.value);
      if (!result.success) {
        throw new ConfigurationError(
          `${file}: ${result.error.issues.map((issue) => `${issue.path.join('.') || 'fixture'} ${issue.message}`).join('; ')}`,
        );
      }
      fixtures.push({ ...result.data, file, expected });
    }
  }
  return fixtures;
}

/** The Cedar request a fixture describes, built by the same core code the interceptor runs. */
export function fixtureRequest(fixture: DecisionFixture, model: CedarModel): AuthorizationRequest {
  const tool = parseToolName(fixture.tool);
  if (tool === undefined)
    throw new ConfigurationError(`${fixture.file}: '${fixture.tool}' is not a valid tool name`);
  const caller = callerFromClaims({ iss: 'fixture', exp: 4102444800, ...fixture.claims });
  return authorizationRequest(
    caller,
    { kind: 'tool-call', id: 1, tool, arguments: fixture.arguments },
    model,
  );
}

export interface FixtureResult {
  readonly fixture: DecisionFixture;
  readonly request: AuthorizationRequest | { readonly refusedArguments: string };
  /** Set when the arguments were refused before policy (as the interceptor would). */
  readonly refusedArguments?: string;
  readonly answer: PolicyAnswer;
  readonly passed: boolean;
}

export async function runDecisionFixture(
  fixture: DecisionFixture,
  model: CedarModel,
  pdp: PolicyDecisionPoint,
): Promise<FixtureResult> {
  let request: AuthorizationRequest;
  try {
    request = fixtureRequest(fixture, model);
  } catch (error) {
    if (!(error instanceof ArgumentConversionError)) throw error;
    // The interceptor refuses such arguments before any policy runs: a deny with no determining policy.
    const refused: PolicyAnswer = { decision: 'deny', determiningPolicies: [], errors: [] };
    const passed = fixture.expected === 'deny' && (fixture.determiningPolicies?.length ?? 0) === 0;
    return {
      fixture,
      request: { refusedArguments: error.message },
      answer: refused,
      passed,
      refusedArguments: error.message,
    };
  }
  const answer = await pdp.isAuthorized(request);
  const decisionMatches = answer.decision === fixture.expected && answer.errors.length === 0;
  const policiesMatch =
    fixture.determiningPolicies === undefined ||
    JSON.stringify([...answer.determiningPolicies].sort()) ===
      JSON.stringify([...fixture.determiningPolicies].sort());
  return { fixture, request, answer, passed: decisionMatches && policiesMatch };
}
