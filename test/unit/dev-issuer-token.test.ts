import { decodeJwt } from 'jose';
import { callerFromClaims } from '../../lambda/core/caller';
import { actClaim, DevIssuer } from '../../local/dev-issuer';

/** Issue 14 #3: `token --agent/--act` — the local token endpoint mints tokens for another agent and a delegation chain. */

let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await DevIssuer.start({
    algorithms: ['ES256'],
    audience: 'http://127.0.0.1:1/mcp',
    users: () => ({ alice: { email: 'alice@example.com', roles: ['developer'] } }),
  });
});

afterAll(() => issuer.stop());

function mint(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${issuer.issuer}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('dev issuer POST /token', () => {
  it('issues to the default local agent with no delegation chain when neither is asked for', async () => {
    const response = await mint({ user: 'alice' });
    const claims = decodeJwt(((await response.json()) as { access_token: string }).access_token);

    expect(claims.client_id).toBe('mcp-identity-local-agent');
    expect(claims).not.toHaveProperty('act');
  });

  it('issues to the agent asked for, with the delegation chain as nested act claims the gateway reads in order', async () => {
    const response = await mint({ user: 'alice', agent: 'claude-desktop', act: ['planner', 'orchestrator'] });
    const claims = decodeJwt(((await response.json()) as { access_token: string }).access_token);

    expect(response.status).toBe(200);
    expect(claims.client_id).toBe('claude-desktop');
    expect(claims.act).toEqual({ sub: 'planner', act: { sub: 'orchestrator' } });
    expect(callerFromClaims(claims)).toMatchObject({
      agent: 'claude-desktop',
      actors: ['planner', 'orchestrator'],
    });
  });

  it.each([
    ['an agent with a space', { agent: 'my agent' }],
    ['an act that is not a list', { act: 'planner' }],
    ['an empty actor', { act: [''] }],
    ['more than 10 actors', { act: Array.from({ length: 11 }, (_, index) => `a${index}`) }],
  ])('refuses %s with 400 and says what is accepted', async (_what, extra) => {
    const response = await mint({ user: 'alice', ...extra });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error_description: string }).error_description).toContain(
      'agent and each act entry are 1-64 letters',
    );
  });

  it('nests act claims current actor outermost', () => {
    expect(actClaim([])).toBeUndefined();
    expect(actClaim(['a'])).toEqual({ sub: 'a' });
    expect(actClaim(['a', 'b', 'c'])).toEqual({ sub: 'a', act: { sub: 'b', act: { sub: 'c' } } });
  });
});
