import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cedar } from '../lambda/adapters/cedar-engine';
import { diagnosticOf, renderDiagnostics } from '../lambda/adapters/policy-diagnostics';
import { parseToolName } from '../lambda/core/mcp-operation';
import { BearerTokenError, resolveToken } from './bearer-token';
import {
  declaredActions,
  type GeneratedSchema,
  generateCedarSchema,
  type McpTool,
  mergeTargetSchema,
  SchemaGenerationError,
  toolsFromJson,
} from './schema';
import type { GenerateOptions } from './schema-command';
import { changeTable, otherActionChanges, type ToolChange, toolChanges } from './schema-diff';
import { GatewayUrlError, gatewayUrl, listTools } from './tool-listing';

/**
 * `mcp-identity schema generate`: the Cedar schema from the tools a gateway (or a tools/list file) really
 * exposes — whole, or one target merged into the committed schema — with each tool's definition pinned, and a
 * report of what changed. `--check` writes nothing and exits 1 on any change (drift).
 */

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** Bad input on the command line that commander cannot see: exit 2. */
class SchemaUsageError extends Error {}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new SchemaGenerationError(
      `cannot read ${what}${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** Progress on a terminal (stderr), never in a pipe: a long listing shows its pages as they come. */
function progressLine(enabled: boolean) {
  let shown = false;
  return {
    page: (progress: { pages: number; tools: number }) => {
      if (!enabled) return;
      shown = true;
      process.stderr.write(`\rlisting tools: page ${progress.pages}, ${progress.tools} tool(s)…`);
    },
    done: () => {
      if (shown) process.stderr.write('\r\u001b[K');
    },
  };
}

async function listedTools(options: GenerateOptions): Promise<{ tools: McpTool[]; source: string }> {
  const urlText = options.fromUrl ?? options.endpoint;
  if (options.from !== undefined) {
    if (options.token !== undefined || options.tokenFile !== undefined)
      throw new SchemaUsageError('--token and --token-file go with --from-url, not --from');
    return { tools: toolsFromJson(readText(options.from, ''), options.from), source: options.from };
  }
  const url = gatewayUrl(urlText as string);
  const token = resolveToken(options);
  const progress = progressLine(process.stderr.isTTY === true);
  try {
    const tools = await listTools(url, {
      ...(token === undefined ? {} : { token: token.token, tokenFrom: token.from }),
      timeoutMs: options.timeout * 1000,
      onPage: progress.page,
    });
    return { tools, source: url.origin + url.pathname };
  } finally {
    progress.done();
  }
}

function summary(names: readonly string[]): string {
  const shown = names.slice(0, 30).join(', ');
  return names.length > 30 ? `${shown}, and ${names.length - 30} more` : shown;
}

/**
 * The stub: `--stub`, else the one in `--dir`, else (a new policy folder) the stub this package ships, which
 * declares the principal, resource, prompt, resource and schema-reading actions every gateway needs.
 */
function readStub(options: GenerateOptions, bundledStub: string): string {
  const inFolder = join(options.dir, 'schema-stub.cedarschema');
  const path = options.stub ?? (existsSync(inFolder) ? inFolder : bundledStub);
  return parsedSchema(readText(path, 'the stub '), path, 'the stub does not parse');
}

/**
 * `text` when it parses as a Cedar schema; else its errors, located (path:line:column and a caret excerpt),
 * before any generator sees it (the MCP schema generator's own message has no location).
 */
function parsedSchema(text: string, path: string, what: string): string {
  const parsed = cedar.schemaToJson(text);
  if (parsed.type === 'success') return text;
  const diagnostics = parsed.errors.map((error) =>
    diagnosticOf(error, { file: path, fileText: text, offset: 0 }),
  );
  throw new SchemaGenerationError(
    `${what}:\n${renderDiagnostics(diagnostics, new Map([[path, text]]), process.cwd())}`,
  );
}

async function generate(options: GenerateOptions, bundledStub: string): Promise<number> {
  const sources = [options.from, options.fromUrl ?? options.endpoint].filter((value) => value !== undefined);
  if (sources.length !== 1)
    throw new SchemaUsageError('give exactly one of --from <file> or --from-url <url>');
  const out = options.out ?? join(options.dir, 'schema.cedarschema');
  const stub = readStub(options, bundledStub);
  const injected = options.inject
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const { tools, source } = await listedTools(options);
  // With --target the committed schema is merged into, so it must parse (located errors if not).
  const previous = existsSync(out)
    ? options.target === undefined
      ? readText(out, '')
      : parsedSchema(
          readText(out, ''),
          out,
          'the committed schema does not parse; fix it or generate it whole (without --target)',
        )
    : undefined;

  let generated: GeneratedSchema;
  let inScope: (tool: string) => boolean = () => true;
  let scoped = tools;
  if (options.target !== undefined) {
    const target = options.target;
    inScope = (tool) => parseToolName(tool)?.target === target;
    scoped = tools.filter((tool) => inScope(tool.name));
    if (scoped.length === 0) {
      const targets = [...new Set(tools.flatMap((tool) => parseToolName(tool.name)?.target ?? []))].sort();
      throw new SchemaGenerationError(
        `no tools of target '${target}' among the ${tools.length} tool(s) ${source} lists${targets.length > 0 ? ` (targets: ${targets.join(', ')})` : ''}; is the token's caller allowed to see them?`,
      );
    }
    // No committed schema yet (a new policy folder): the target's tools are the whole schema.
    const part = generateCedarSchema(stub, scoped, injected, { pins: options.pins });
    generated = previous === undefined ? part : mergeTargetSchema(previous, part, target);
  } else {
    generated = generateCedarSchema(stub, tools, injected, { pins: options.pins });
  }

  const after = declaredActions(generated.text);
  if (after === undefined) throw new SchemaGenerationError('the generated schema does not parse');
  const before = previous === undefined ? undefined : declaredActions(previous);
  const changed = previous !== generated.text;
  const changes: ToolChange[] = toolChanges(before, after, inScope);
  const others = options.target === undefined ? otherActionChanges(before, after) : [];
  const written = changed && !options.check;
  if (written) writeFileSync(out, generated.text);

  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          source,
          target: options.target ?? null,
          listed: tools.length,
          tools: scoped.map((tool) => tool.name),
          changes,
          otherChanges: others,
          schemaChanged: changed,
          written: written ? out : null,
          check: options.check,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const print = (line: string) => process.stdout.write(`${line}\n`);
    print(
      `${scoped.length} tool(s)${options.target === undefined ? '' : ` of target ${options.target}`}: ${summary(scoped.map((tool) => tool.name))}`,
    );
    if (changes.length > 0) print(changeTable(changes));
    for (const line of others) print(line);
    if (changed && changes.length === 0 && others.length === 0)
      print(`the schema's other declarations changed (stub, types or layout)`);
    if (!changed) print(options.check ? 'schema unchanged: no drift' : 'schema unchanged');
    else if (options.check) print(`drift: ${out} does not match what ${source} lists (nothing written)`);
    else
      print(
        `wrote ${out}; next: write or update policies for these tools, \`npx mcp-identity policies validate\`, then deploy`,
      );
  }
  return changed && options.check ? EXIT_FAILED : 0;
}

/** The `schema generate` action: its exit code (0, 1 drift with --check or failure, 2 bad usage). */
export async function schemaGenerate(options: GenerateOptions, bundledStub: string): Promise<number> {
  try {
    return await generate(options, bundledStub);
  } catch (error) {
    if (
      error instanceof SchemaUsageError ||
      error instanceof GatewayUrlError ||
      error instanceof BearerTokenError
    ) {
      process.stderr.write(`mcp-identity: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
