/**
 * The "Examples:" section at the end of each main command's `--help`, written as users run the CLI from a
 * clone (`npx mcp-identity …`). Kept here so bin/cli.ts stays about wiring.
 */
const examples = (...lines: readonly string[]): string =>
  `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;

export const HELP_EXAMPLES = {
  program: examples(
    'npm start                                          # the local stack (same as npx mcp-identity dev)',
    'npx mcp-identity token alice                       # a bearer token for alice',
    'npx mcp-identity activity --decision deny          # recent denials',
    'npx mcp-identity policies test                     # run the policy fixtures',
    'npx mcp-identity init                              # write mcp-identity.config.json for your identity provider',
    'npx mcp-identity <command> --help                  # options and examples of one command',
  ),
  dev: examples(
    'npx mcp-identity dev',
    'npx mcp-identity dev --door apigateway --port 9090',
    'npx mcp-identity dev --target crm=http://127.0.0.1:3000/mcp --target fs=stdio:"npx my-mcp-server"',
    'npx mcp-identity dev --log-only --policies ./my-policies',
  ),
  token: examples(
    'npx mcp-identity token alice',
    'npx mcp-identity token bob --ttl 1h',
    'curl -H "Authorization: Bearer $(npx mcp-identity token alice)" http://127.0.0.1:8080/mcp …',
  ),
  activity: examples(
    'npx mcp-identity activity --user alice --since 1h',
    'npx mcp-identity activity --decision deny --tool orders___update_order --wide --show-arguments',
    'npx mcp-identity activity --report denials --since 7d',
    'npx mcp-identity activity --request <uid>           # one request, start to finish',
    'npx mcp-identity activity --stack McpIdentity --json  # the deployed audit store',
    'npx mcp-identity activity --follow --decision deny  # new denials as they are written (Ctrl-C stops)',
    'npx mcp-identity activity --follow --stack McpIdentity --json  # the deployed audit log group, one JSON object a line',
  ),
  policies: examples(
    'npx mcp-identity policies validate',
    'npx mcp-identity policies test --dir ./my-policies',
    'npx mcp-identity policies format --check',
    'npx mcp-identity policies diff --store <PolicyStoreId>',
    'npx mcp-identity policies push --store <PolicyStoreId> --dry-run',
  ),
  policiesValidate: examples(
    'npx mcp-identity policies validate',
    'npx mcp-identity policies validate --dir ./my-policies --warnings-as-errors',
    'npx mcp-identity policies validate --json    # [{file, line, column, endLine, endColumn, message, help}]',
  ),
  policiesTest: examples(
    'npx mcp-identity policies test',
    'npx mcp-identity policies test --dir ./my-policies --json',
  ),
  policiesFormat: examples(
    'npx mcp-identity policies format',
    'npx mcp-identity policies format --check     # CI: exit 1 if a file is not formatted',
  ),
  policiesDiff: examples(
    'npx mcp-identity policies diff --store <PolicyStoreId>',
    'npx mcp-identity policies diff --store <PolicyStoreId> --region eu-west-1 --json',
  ),
  policiesPush: examples(
    'npx mcp-identity policies push --store <PolicyStoreId> --dry-run',
    'npx mcp-identity policies push --store <PolicyStoreId>',
  ),
  audit: examples(
    'npx mcp-identity audit redrive --queue-url <DeadLetterQueueUrl> --channel-arn <AuditChannelArn> --dry-run',
  ),
  schema: examples(
    'npx mcp-identity schema generate --from-url http://127.0.0.1:8080/mcp --token "$(npx mcp-identity token ops)"',
  ),
  schemaGenerate: examples(
    'npx mcp-identity schema generate --from-url http://127.0.0.1:8080/mcp --token "$(npx mcp-identity token ops)"',
    'npx mcp-identity schema generate --from tools-list.json --target crm     # one target, merged into the schema',
    'npx mcp-identity schema generate --from-url <gateway MCP URL> --token-file token.jwt --check   # CI: exit 1 on drift',
  ),
  auditRedrive: examples(
    'npx mcp-identity audit redrive --queue-url <DeadLetterQueueUrl> --channel-arn <AuditChannelArn>',
  ),
} as const;
