import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseJsonText } from '../lambda/shared/json-syntax';
import { CONTEXT_KEY, formatKeyPath, StackConfigError } from '../lib/config';
import { CONFIG_FILE, CONFIG_FILE_ENV, displayPath } from '../lib/config-source';
import { type TargetKind, targetListSchema } from '../lib/target-config';
import { type AuditStore, checkConfigFile, configFileContent, projectBase } from './init-config';
import { type Answers, type Field, fieldProblem, flagOf, kebab } from './init-fields';
import { claimFields, IDP_IDS, type IdpId, PRESETS } from './init-presets';
import { PromptCancelled, type Prompter, terminalPrompter } from './init-prompts';
import { KIND_CHOICES, nameField, TARGET_FIELDS, targetFromAnswers } from './init-targets';

/**
 * `mcp-identity init`: writes mcp-identity.config.json — identity provider, audit store, gateway targets — which
 * the CDK app, `doctor` and the other commands merge over cdk.json context (lib/config-source.ts). On a terminal
 * it asks (flags given are not asked again); otherwise every required answer is a flag, and a missing one is a
 * usage error naming it. The content is validated by the app's own loader before anything is written.
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad usage or invalid answers: exit 2. */
export class InitUsageError extends Error {}
/** Anything else expected (the file exists, cannot be written): exit 1. */
export class InitError extends Error {}

export interface InitOptions {
  readonly idp?: string;
  readonly auditStore?: string;
  /** `--target` values: whole `gateway.targets[]` entries as JSON. */
  readonly target: readonly string[];
  /** `--no-demo` makes it false. */
  readonly demo: boolean;
  readonly file: string;
  readonly force: boolean;
  readonly print: boolean;
  /** Provider answers given as flags, by field id. */
  readonly fields: Readonly<Record<string, string | undefined>>;
}

export interface InitIo {
  /** The project folder (where cdk.json is): the file is written and resolved here. */
  readonly projectDir: string;
  /** Asks on a terminal; undefined = flags only. */
  readonly prompter?: Prompter;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const IDP_FIELD: Field = {
  id: 'idp',
  message: 'Identity provider',
  hint: IDP_IDS.join(', '),
  choices: IDP_IDS.map((id) => ({ value: id, name: PRESETS[id].label })),
};

const AUDIT_FIELD: Field = {
  id: 'auditStore',
  message: 'Audit store',
  hint: 'cloudwatch (default) or cloudtrail-lake',
  choices: [
    {
      value: 'cloudwatch',
      name: 'cloudwatch — the audit log group, queried with Logs Insights (recommended)',
      description: 'CloudTrail Lake has been closed to new customers since 2026-05-31',
    },
    {
      value: 'cloudtrail-lake',
      name: 'cloudtrail-lake — for accounts that already use CloudTrail Lake',
    },
  ],
  default: () => 'cloudwatch',
};

interface Gathered {
  readonly answers: Record<string, string>;
  readonly missing: string[];
  readonly problems: string[];
}

/** Answers fields from flags, then the prompter, then defaults; collects what is missing or wrong. */
async function gather(
  fields: readonly Field[],
  given: Readonly<Record<string, string | undefined>>,
  prompter: Prompter | undefined,
  into: Gathered,
  questionPrefix = '',
): Promise<void> {
  const { answers } = into;
  for (const field of fields) {
    if (field.when !== undefined && !field.when(answers)) continue;
    const flagValue = given[field.id];
    if (flagValue !== undefined) {
      const problem = fieldProblem(field, flagValue, answers);
      if (problem === undefined) answers[field.id] = flagValue.trim();
      else into.problems.push(`${flagOf(field)} ${problem}`);
      continue;
    }
    const fallback = field.default?.(answers);
    if (prompter !== undefined) {
      const id = `${questionPrefix}${field.id}`;
      answers[field.id] =
        field.choices === undefined
          ? await prompter.text({
              id,
              message: field.message,
              ...(fallback === undefined ? {} : { default: fallback }),
              validate: (value) => fieldProblem(field, value, answers),
            })
          : await prompter.select({
              id,
              message: field.message,
              choices: field.choices,
              ...(fallback === undefined ? {} : { default: fallback }),
            });
    } else if (fallback !== undefined) answers[field.id] = fallback;
    else if (field.optional) answers[field.id] = '';
    else into.missing.push(flagOf(field));
  }
}

/** `--target` values: each a JSON object, checked now by lib/target-config.ts so errors name the flag. */
function targetsFromFlags(values: readonly string[]): Record<string, unknown>[] {
  return values.map((text, index) => {
    const parsed = parseJsonText(text);
    if (!parsed.ok) throw new InitUsageError(`--target #${index + 1} is not JSON (${parsed.place})`);
    const target = parsed.value;
    if (typeof target !== 'object' || target === null || Array.isArray(target))
      throw new InitUsageError(
        `--target #${index + 1} must be one JSON object, e.g. '{"kind":"mcpServer","name":"crm","endpoint":"https://crm.example.com/mcp","outboundAuth":{"type":"none"}}'`,
      );
    const problem = targetProblems(target as Record<string, unknown>);
    if (problem.length > 0) throw new InitUsageError(`--target #${index + 1}: ${problem.join('; ')}`);
    return target as Record<string, unknown>;
  });
}

/** What lib/target-config.ts says about one target, key by key. */
function targetProblems(target: Record<string, unknown>): string[] {
  const parsed = targetListSchema.safeParse([target]);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => {
    const key = formatKeyPath(issue.path.slice(1));
    return key === '' ? issue.message : `${key}: ${issue.message}`;
  });
}

/** The interactive target loop: the demo target, then any number of others, each checked as it is entered. */
async function askTargets(prompter: Prompter, options: InitOptions, targets: Record<string, unknown>[]) {
  if (options.demo && !targets.some((target) => target.kind === 'demo')) {
    if (
      await prompter.confirm({
        id: 'demo',
        message: 'Include the demo orders target (so a fresh deploy has tools to try)?',
        default: true,
      })
    )
      targets.unshift({ kind: 'demo' });
  }
  for (;;) {
    const kind = await prompter.select({
      id: 'target.kind',
      message: targets.length === 0 ? 'Add a gateway target?' : 'Add another gateway target?',
      choices: [
        ...KIND_CHOICES.filter((choice) => choice.value !== 'demo'),
        { value: 'done', name: targets.length === 0 ? 'no targets for now' : 'done' },
      ],
      default: 'done',
    });
    if (kind === 'done') return;
    const fields = TARGET_FIELDS[kind as TargetKind];
    const into: Gathered = { answers: { kind }, missing: [], problems: [] };
    await gather(
      [
        nameField(targets.map((target) => String(target.name ?? (target.kind === 'demo' ? 'orders' : '')))),
        ...fields,
      ],
      {},
      prompter,
      into,
      'target.',
    );
    const target = targetFromAnswers(kind as TargetKind, into.answers as Answers);
    const problems = targetProblems(target);
    if (problems.length === 0) targets.push(target);
    else prompter.say(`  ✗ not added: ${problems.join('; ')}`);
  }
}

/** The provider, store and targets, from flags and (on a terminal) questions. */
async function answersFor(options: InitOptions, io: InitIo) {
  const prompter = io.prompter;
  const into: Gathered = { answers: {}, missing: [], problems: [] };
  await gather([IDP_FIELD], { idp: options.idp }, prompter, into);
  if (into.problems.length > 0 || into.missing.length > 0) {
    throw new InitUsageError(
      [...into.problems, ...into.missing.map((flag) => `missing ${flag} <${IDP_IDS.join('|')}>`)].join('; '),
    );
  }
  const idp = into.answers.idp as IdpId;
  const preset = PRESETS[idp];
  const fields = [...preset.fields, ...claimFields(preset)];
  const provider: Gathered = { answers: {}, missing: [], problems: [] };
  if (prompter !== undefined) prompter.say(`${preset.label}: see docs/identity-providers.md#${idp}`);
  await gather(fields, options.fields, prompter, provider);
  for (const [id, value] of Object.entries(options.fields)) {
    if (value === undefined) continue;
    const field = fields.find((candidate) => candidate.id === id);
    if (field === undefined) provider.problems.push(`--${kebab(id)} does not apply to --idp ${idp}`);
    else if (
      !(id in provider.answers) &&
      !provider.problems.some((problem) => problem.startsWith(flagOf(field)))
    )
      provider.problems.push(`${flagOf(field)} does not apply ${field.whenNot ?? 'with these answers'}`);
  }
  const store: Gathered = { answers: {}, missing: [], problems: [] };
  await gather([AUDIT_FIELD], { auditStore: options.auditStore }, prompter, store);
  const problems = [...provider.problems, ...store.problems];
  if (provider.missing.length > 0)
    problems.unshift(
      `missing ${provider.missing.join(', ')} for --idp ${idp} (run npx mcp-identity init in a terminal to be asked, or see npx mcp-identity init --help)`,
    );
  if (problems.length > 0) throw new InitUsageError(problems.join('\n  '));

  const targets: Record<string, unknown>[] = options.demo && prompter === undefined ? [{ kind: 'demo' }] : [];
  targets.push(...targetsFromFlags(options.target));
  if (prompter !== undefined) await askTargets(prompter, options, targets);
  return { idp, provider: provider.answers, auditStore: store.answers.auditStore as AuditStore, targets };
}

function nextSteps(file: string, isDefault: boolean): string[] {
  const env = isDefault ? '' : `${CONFIG_FILE_ENV}=${file} `;
  return [
    'Next steps:',
    `  ${env}npx mcp-identity doctor --token-file token.jwt   # the account, the issuer and a sample token`,
    `  ${env}npx cdk deploy`,
  ];
}

/** Runs `init`. Returns the exit code; expected problems are one message on stderr, never a stack. */
export async function runInit(options: InitOptions, io: InitIo): Promise<number> {
  try {
    const path = resolve(io.projectDir, options.file);
    const shown = displayPath(io.projectDir, path);
    if (existsSync(path) && statSync(path).isDirectory())
      throw new InitUsageError(
        `--file ${shown} is a folder: give the configuration file to write, e.g. --file ${join(shown, CONFIG_FILE)} (or leave --file out for ${CONFIG_FILE} in the project folder)`,
      );
    if (!options.print && !options.force && existsSync(path))
      throw new InitError(
        `${shown} exists: pass --force to replace it, or --print to see the new configuration without writing`,
      );
    const answers = await answersFor(options, io);
    const project = projectBase(io.projectDir);
    const content = configFileContent(answers, project.base);
    const config = checkConfigFile(content, project, shown);
    const text = `${JSON.stringify(content, null, 2)}\n`;
    const report = options.print ? io.stderr : io.stdout;
    if (options.print) io.stdout(text);
    else {
      try {
        writeFileSync(path, text, { flag: options.force ? 'w' : 'wx' });
      } catch (error) {
        throw new InitError(`cannot write ${shown}: ${(error as Error).message}`);
      }
    }
    const targets = config.gateway.targets.map((target) => target.name).join(', ') || 'none';
    report(
      [
        `${options.print ? 'Configuration' : `Wrote ${shown}`}: ${PRESETS[answers.idp].label}, issuer ${config.identity.issuer}, audit store ${config.audit.store}, targets: ${targets}.`,
        ...(!project.hasCdkJson
          ? ['No cdk.json here: run init in the folder of your CDK app (the file merges over its context).']
          : project.base === undefined
            ? [`cdk.json sets no ${CONTEXT_KEY} context: this file is the whole configuration.`]
            : [`It merges over ${project.baseLabel} (objects key by key; arrays, values and null replace).`]),
        ...PRESETS[answers.idp].notes(answers.provider).map((note) => `Note — ${note}`),
        ...(options.print ? [] : nextSteps(shown, options.file === CONFIG_FILE)),
        '',
      ].join('\n'),
    );
    return EXIT_OK;
  } catch (error) {
    if (error instanceof InitUsageError || error instanceof StackConfigError) {
      io.stderr(`npx mcp-identity init: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof InitError || error instanceof PromptCancelled) {
      io.stderr(`npx mcp-identity init: ${error.message}\n`);
      return EXIT_FAILED;
    }
    throw error;
  }
}

/** The `init` action: the options as commander parsed them (provider answers under their field ids). */
export async function init(raw: Record<string, unknown>, fieldIds: readonly string[]): Promise<number> {
  const fields = Object.fromEntries(
    fieldIds.map((id) => [id, typeof raw[id] === 'string' ? (raw[id] as string) : undefined]),
  );
  const askOnTerminal =
    raw.input !== false &&
    process.stdin.isTTY === true &&
    (raw.print ? process.stderr : process.stdout).isTTY;
  const prompter = askOnTerminal
    ? await terminalPrompter({
        input: process.stdin,
        output: raw.print ? process.stderr : process.stdout,
      })
    : undefined;
  return runInit(
    {
      ...(typeof raw.idp === 'string' ? { idp: raw.idp } : {}),
      ...(typeof raw.auditStore === 'string' ? { auditStore: raw.auditStore } : {}),
      target: raw.target as string[],
      demo: raw.demo !== false,
      file: raw.file as string,
      force: raw.force === true,
      print: raw.print === true,
      fields,
    },
    {
      projectDir: process.cwd(),
      ...(prompter === undefined ? {} : { prompter }),
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    },
  );
}
