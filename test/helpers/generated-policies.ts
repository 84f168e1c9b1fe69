import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A policy folder at scale, in the shape `schema generate` writes: `tools` actions spread over ten targets
 * (`tN___toolM`, each in `target:tN` in `tools/call`), and `policies` policies spread over tools and roles the
 * way real sets grow — mostly one permit per role and tool, some argument forbids, a few catch-alls.
 */
export function generatePolicyFolder(tools: number, policies: number): { dir: string; toolNames: string[] } {
  const dir = mkdtempSync(join(tmpdir(), `mcp-identity-${tools}t-${policies}p-`));
  const targets = Math.min(10, tools);
  const toolNames = Array.from({ length: tools }, (_, index) => `t${index % targets}___tool${index}`);
  const actions = toolNames.map(
    (name) => `  action "${name}" in [Action::"target:${name.slice(0, name.indexOf('___'))}"] appliesTo {
    principal: [User],
    resource: [Gateway],
    context: { actors: Set<String>, agent?: String, input?: { id?: String, amount?: Long }, token: Token }
  };`,
  );
  const schema = `namespace McpIdentity {
  type Token = { expiresAt: Long, id?: String, issuedAt?: Long };
  entity Gateway;
  entity Role;
  entity User in [Role] = { email?: String, username?: String };
${actions.join('\n')}
  action "prompts/get" appliesTo { principal: [User], resource: [Gateway],
    context: { actors: Set<String>, agent?: String, name: String, token: Token } };
  action "resources/read" appliesTo { principal: [User], resource: [Gateway],
    context: { actors: Set<String>, agent?: String, token: Token, uri: String } };
${Array.from({ length: targets }, (_, index) => `  action "target:t${index}" in [Action::"tools/call"];`).join('\n')}
  action "tools/call";
}
`;
  mkdirSync(join(dir, 'generated'));
  writeFileSync(join(dir, 'schema.cedarschema'), schema);
  for (let index = 0; index < policies; index += 1) {
    const tool = toolNames[index % tools] as string;
    const role = `role-${index % 40}`;
    let text: string;
    if (index % 50 === 0) {
      text = `permit (principal in McpIdentity::Role::"admin-${index}", action in McpIdentity::Action::"tools/call", resource);`;
    } else if (index % 10 === 0) {
      text = `forbid (principal, action == McpIdentity::Action::"${tool}", resource)
when { context has input && context.input has amount && context.input.amount > ${100 + index} }
unless { principal in McpIdentity::Role::"approver-${index % 7}" };`;
    } else if (index % 25 === 1) {
      text = `permit (principal in McpIdentity::Role::"${role}", action in McpIdentity::Action::"target:${tool.slice(0, tool.indexOf('___'))}", resource);`;
    } else {
      text = `permit (principal in McpIdentity::Role::"${role}", action == McpIdentity::Action::"${tool}", resource)
when { context.token has id || principal has email };`;
    }
    writeFileSync(
      join(dir, 'generated', `p${String(index).padStart(5, '0')}.cedar`),
      `@id("p${index}")\n${text}\n`,
    );
  }
  return { dir, toolNames };
}
