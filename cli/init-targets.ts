import type { TargetKind } from '../lib/target-config';
import { type Answers, type Choice, type Field, httpsUrl, listOf, noSpaces } from './init-fields';

/**
 * The gateway-target questions of `mcp-identity init`: for each kind of lib/target-config.ts, the fields it
 * needs and the raw `gateway.targets[]` entry they make. lib/target-config.ts stays the one validator (kinds,
 * the outbound-auth matrix, defaults); these questions only gather what it needs. With flags, a target is
 * given whole as JSON (`--target '{"kind":"mcpServer",…}'`), checked by the same schema.
 */

export const KIND_CHOICES: readonly Choice[] = [
  { value: 'demo', name: 'demo — the orders tools (a Lambda target the stack deploys)' },
  { value: 'mcpServer', name: 'mcpServer — an MCP server at an https URL' },
  { value: 'lambda', name: 'lambda — a Lambda function with inline or file tool schemas' },
  { value: 'openApi', name: 'openApi — a REST API described by an OpenAPI file' },
  { value: 'smithy', name: 'smithy — an AWS service described by a Smithy model' },
  { value: 'apiGateway', name: 'apiGateway — an API Gateway REST API stage' },
];

/** The target name: the tool prefix, unique among the targets already entered (case-insensitively). */
export const nameField = (taken: readonly string[]): Field => ({
  id: 'name',
  message: 'Target name (the tool prefix: name___tool)',
  hint: 'letters, digits and single hyphens',
  check: (value) => {
    if (!/^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(value) || value.length > 100)
      return 'letters, digits and single hyphens between them (no "_", at most 100)';
    return taken.some((other) => other.toLowerCase() === value.toLowerCase())
      ? `a target is already named ${value}`
      : undefined;
  },
});

/** A file in the project, or s3://bucket/key. */
const source = (id: string, message: string): Field => ({
  id,
  message,
  hint: 'a file path (relative to the project) or s3://bucket/key',
  check: noSpaces,
});

const authChoice = (allowed: readonly string[], preferred: string): Field => ({
  id: 'auth',
  message: 'How does the gateway authenticate to it?',
  hint: allowed.join(', '),
  choices: allowed.map((type) => ({ value: type, name: AUTH_NAMES[type] ?? type })),
  default: () => preferred,
});

const AUTH_NAMES: Record<string, string> = {
  iam: 'iam — the gateway role signs with SigV4',
  oauth: 'oauth — an AgentCore Identity OAuth2 credential provider',
  apiKey: 'apiKey — an AgentCore Identity API key credential provider',
  none: 'none — the endpoint needs no credentials',
};

const authFields: Field[] = [
  {
    id: 'service',
    message: 'SigV4 signing name',
    hint: 'bedrock-agentcore (AgentCore Runtime or gateway), execute-api, lambda (function URL)',
    default: () => 'bedrock-agentcore',
    when: (answers) => answers.auth === 'iam' && SIGNS_WITH_SERVICE.has(answers.kind ?? ''),
    check: noSpaces,
  },
  {
    id: 'providerArn',
    message: 'Credential provider ARN',
    hint: 'arn:aws:bedrock-agentcore:<region>:<account>:token-vault/<id>/…credentialprovider/<name>',
    when: (answers) => answers.auth === 'oauth' || answers.auth === 'apiKey',
    check: noSpaces,
  },
  {
    id: 'secretArn',
    message: "The provider's secret ARN",
    hint: 'arn:aws:secretsmanager:…',
    when: (answers) => answers.auth === 'oauth' || answers.auth === 'apiKey',
    check: noSpaces,
  },
  {
    id: 'scopes',
    message: 'OAuth scopes (comma-separated, may be empty)',
    hint: 'scopes',
    list: true,
    optional: true,
    when: (answers) => answers.auth === 'oauth',
  },
];

const SIGNS_WITH_SERVICE = new Set(['mcpServer', 'openApi']);

/** The questions of one target kind (after its kind and name). */
export const TARGET_FIELDS: Readonly<Record<TargetKind, readonly Field[]>> = {
  demo: [],
  lambda: [
    {
      id: 'functionArn',
      message: 'Lambda function ARN',
      hint: 'arn:aws:lambda:<region>:<account>:function:<name>',
      check: noSpaces,
    },
    source('tools', 'Tool schemas: a JSON file of [{name, description, inputSchema}] or s3:// location'),
  ],
  mcpServer: [
    { id: 'endpoint', message: 'MCP endpoint (Streamable HTTP)', hint: 'https://…/mcp', check: httpsUrl },
    authChoice(['none', 'oauth', 'apiKey', 'iam'], 'oauth'),
    ...authFields,
  ],
  openApi: [
    source('spec', 'OpenAPI specification file or s3:// location'),
    authChoice(['apiKey', 'oauth', 'iam', 'none'], 'apiKey'),
    ...authFields,
  ],
  smithy: [
    source('model', 'Smithy model file or s3:// location'),
    authChoice(['iam', 'oauth'], 'iam'),
    ...authFields,
  ],
  apiGateway: [
    { id: 'restApiId', message: 'REST API id', hint: '10 lower-case letters and digits', check: noSpaces },
    { id: 'stage', message: 'Stage name', hint: 'e.g. prod', default: () => 'prod', check: noSpaces },
    {
      id: 'path',
      message: 'Paths to expose as tools (an explicit path or a prefix wildcard)',
      hint: 'e.g. /pets/* ',
      default: () => '/*',
      check: noSpaces,
    },
    {
      id: 'methods',
      message: 'HTTP methods on those paths (comma-separated)',
      hint: 'e.g. GET,POST',
      list: true,
      default: () => 'GET',
    },
    authChoice(['iam', 'apiKey', 'none'], 'iam'),
    ...authFields,
  ],
};

/** The raw `gateway.targets[]` entry for a kind's answers (validated later by lib/target-config.ts). */
export function targetFromAnswers(kind: TargetKind, answers: Answers): Record<string, unknown> {
  const target: Record<string, unknown> = { kind, name: answers.name };
  const auth = answers.auth;
  switch (kind) {
    case 'demo':
      return { kind, name: answers.name || 'orders' };
    case 'lambda':
      Object.assign(target, { functionArn: answers.functionArn, tools: answers.tools });
      break;
    case 'mcpServer':
      target.endpoint = answers.endpoint;
      break;
    case 'openApi':
      target.spec = answers.spec;
      break;
    case 'smithy':
      target.model = answers.model;
      break;
    case 'apiGateway':
      Object.assign(target, {
        restApiId: answers.restApiId,
        stage: answers.stage,
        toolFilters: [{ path: answers.path, methods: listOf(answers.methods).map((m) => m.toUpperCase()) }],
      });
      break;
  }
  if (auth !== undefined && kind !== 'lambda')
    target.outboundAuth =
      auth === 'iam'
        ? answers.service
          ? { type: 'iam', service: answers.service }
          : { type: 'iam' }
        : auth === 'none'
          ? { type: 'none' }
          : {
              type: auth,
              providerArn: answers.providerArn,
              secretArn: answers.secretArn,
              ...(auth === 'oauth' ? { scopes: listOf(answers.scopes) } : {}),
            };
  return target;
}
