import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../lambda/core/errors';
import { DEFAULT_INJECTION } from '../../lambda/core/injection';
import { pinGatesFor } from '../../lambda/guard/tool-pin-gate';
import { loadInterceptorConfig } from '../../lambda/shared/config';

/** MCP_IDENTITY_TOOL_PINS_FILE: the pinned digests the Lambda doors check listings and calls against. */

const minimal = {
  MCP_IDENTITY_ISSUER: 'https://idp.example.com',
  MCP_IDENTITY_AUDIENCE: 'mcp-gateway',
  MCP_IDENTITY_DISCOVERY_URL: 'https://idp.example.com/.well-known/openid-configuration',
  MCP_IDENTITY_POLICY_STORE_ID: 'PSabc123',
  MCP_IDENTITY_RECIPIENT_ACCOUNT_ID: '123456789012',
};
const DIGEST = `sha256:${'a'.repeat(64)}`;

function pinsFile(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pins-')), 'tool-pins.json');
  writeFileSync(file, content);
  return file;
}

describe('tool pins in the Lambda configuration', () => {
  it('reads the pins file into the configuration, and a pinned schema gets the pin gate', () => {
    const file = pinsFile(JSON.stringify({ crm___lookup: DIGEST }));
    const config = loadInterceptorConfig({ ...minimal, MCP_IDENTITY_TOOL_PINS_FILE: file });
    expect([...(config.toolPins ?? new Map())]).toStrictEqual([['crm___lookup', DIGEST]]);
    expect(pinGatesFor(config.toolPins, config.injection).map((gate) => gate.name)).toStrictEqual([
      'tool-pins',
    ]);
  });

  it('no file, or an empty one, means no pins and no gate', () => {
    expect(loadInterceptorConfig(minimal).toolPins).toBeUndefined();
    expect(pinGatesFor(undefined, DEFAULT_INJECTION)).toStrictEqual([]);
    const empty = loadInterceptorConfig({ ...minimal, MCP_IDENTITY_TOOL_PINS_FILE: pinsFile('{}') });
    expect(pinGatesFor(empty.toolPins, empty.injection)).toStrictEqual([]);
  });

  it.each([
    ['is not JSON', 'not json', /cannot read the tool pins/],
    ['is a list', '[]', /must hold an object/],
    ['has a bad digest', JSON.stringify({ crm___lookup: 'md5:abc' }), /must be "sha256:"/],
    ['names no tool', JSON.stringify({ crm___: DIGEST }), /is not a tool name/],
  ])('refuses a pins file that %s, naming the setting', (_what, content, message) => {
    const run = () => loadInterceptorConfig({ ...minimal, MCP_IDENTITY_TOOL_PINS_FILE: pinsFile(content) });
    expect(run).toThrow(ConfigurationError);
    expect(run).toThrow(/MCP_IDENTITY_TOOL_PINS_FILE/);
    expect(run).toThrow(message);
  });

  it('refuses a pins file that does not exist', () => {
    expect(() =>
      loadInterceptorConfig({ ...minimal, MCP_IDENTITY_TOOL_PINS_FILE: '/nonexistent/tool-pins.json' }),
    ).toThrow(/MCP_IDENTITY_TOOL_PINS_FILE/);
  });
});
