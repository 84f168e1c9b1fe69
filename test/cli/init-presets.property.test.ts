import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { checkConfigFile, configFileContent } from '../../cli/init-config';
import { type Field, fieldProblem } from '../../cli/init-fields';
import { claimFields, IDP_IDS, type IdpId, PRESETS } from '../../cli/init-presets';
import { ROOT } from './helpers';

/**
 * The class of bug this guards: a question accepts an answer that makes a configuration the app refuses (or
 * one that throws). For every preset, any answers the questions accept — realistic ones and random text the
 * checks let through — make a file that validates alone and merged over the repository's cdk.json.
 */

const CONTEXT = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
const project = { base: CONTEXT, baseLabel: 'cdk.json context mcpIdentity', hasCdkJson: true };

/** One answer known to pass, per field id, used when the random candidate is refused. */
const VALID: Record<string, string> = {
  region: 'eu-west-1',
  userPoolId: 'eu-west-1_AbC123',
  tokenUse: 'access',
  clientId: 'abc123',
  audience: 'https://mcp.example.com/mcp',
  domain: 'dev-1.okta.com',
  authServer: 'default',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  url: 'https://kc.example.com',
  realm: 'acme',
  proxy: 'teleport.example.com',
  clusterName: 'teleport.example.com',
  issuer: 'https://idp.example.com',
  subjectClaim: 'sub',
  rolesClaim: 'roles',
};

const candidate = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.domain(),
  fc.webUrl({ validSchemes: ['https'], withQueryParameters: false, withFragments: false }),
  fc.uuid(),
  fc.stringMatching(/^[a-z]{2}-[a-z]+-\d_[A-Za-z0-9]{1,9}$/),
  fc.constantFrom('id', 'access', 'a,b', ' , ', 'https://a.example.com/x,https://b.example.com'),
);

function answersFor(idp: IdpId, candidates: readonly string[]): Record<string, string> {
  const preset = PRESETS[idp];
  const answers: Record<string, string> = {};
  const fields: Field[] = [...preset.fields, ...claimFields(preset)];
  fields.forEach((field, index) => {
    if (field.when !== undefined && !field.when(answers)) return;
    const offered = candidates[index] ?? '';
    const fallback = field.default?.(answers) ?? VALID[field.id] ?? '';
    answers[field.id] = fieldProblem(field, offered, answers) === undefined ? offered.trim() : fallback;
  });
  return answers;
}

describe('init presets: every answer the questions accept makes a valid configuration', () => {
  it.each(IDP_IDS)('%s', (idp) => {
    fc.assert(
      fc.property(fc.array(candidate, { minLength: 8, maxLength: 8 }), (candidates) => {
        const provider = answersFor(idp, candidates);
        const content = configFileContent({ idp, provider, auditStore: 'cloudwatch', targets: [] }, CONTEXT);
        const config = checkConfigFile(content, project);
        expect(config.identity.issuer.length).toBeGreaterThan(0);
        expect(config.identity.discoveryUrl.endsWith('/.well-known/openid-configuration')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
