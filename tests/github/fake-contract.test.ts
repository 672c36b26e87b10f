/**
 * The fake GitHub keeps GitHub's contract for the endpoints SAM uses: answers in the shapes of
 * GitHub's OpenAPI description (when `@octokit/openapi` is installed), JWT and token rules, scoping.
 * Pull requests, pagination and rate limits: fake-pulls-limits.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { ContractWorld } from './contract-world.ts';
import { OpenApi, specDir } from './openapi.ts';

const w = new ContractWorld();
const openapi = OpenApi.load();

beforeAll(async () => {
  await w.start();
});

afterAll(async () => {
  await w.close();
});

describe('the w.fake GitHub against the OpenAPI description', () => {
  it(`answers in the documented shapes (spec from ${specDir})`, async () => {
    const o = openapi;
    const ok = (errors: string[]) => expect(errors.slice(0, 10)).toEqual([]);
    const mintPath = '/app/installations/{installation_id}/access_tokens';
    const scoped = await w.mint({
      repository_ids: [w.repos[0]!.id],
      permissions: { contents: 'write', pull_requests: 'write' },
    });
    ok(o.check(mintPath, 'post', scoped.status, scoped.body));
    ok(o.check(mintPath, 'post', 201, (await w.mint()).body));
    const token = (scoped.body as { token: string }).token;
    const missing = await w.mint({}, 99999);
    expect(missing.status).toBe(404);
    ok(o.check(mintPath, 'post', 404, missing.body));
    const outside = await w.mint({ repository_ids: [w.other.id] });
    expect(outside.status).toBe(422);
    ok(o.check(mintPath, 'post', 422, outside.body));

    ok(
      o.check(
        '/installation/repositories',
        'get',
        200,
        (await w.call('GET', '/installation/repositories', { token })).body,
      ),
    );
    const unauth = await w.call('GET', '/installation/repositories');
    expect(unauth.status).toBe(401);
    ok(o.check('/installation/repositories', 'get', 401, unauth.body));
    ok(o.checkSchema('full-repository', (await w.call('GET', `/repositories/${w.repos[0]!.id}`, { token })).body));

    const u = w.user.token;
    ok(o.check('/user', 'get', 200, (await w.call('GET', '/user', { token: u })).body));
    ok(o.check('/user/installations', 'get', 200, (await w.call('GET', '/user/installations', { token: u })).body));
    const userRepos = await w.call('GET', `/user/installations/${w.inst.id}/repositories`, { token: u });
    ok(o.check('/user/installations/{installation_id}/repositories', 'get', 200, userRepos.body));

    w.fake.setBranch(w.repos[0]!, 'sam/shape', { file: 'shape.txt' });
    const pulls = `/repos/acme/${w.repos[0]!.name}/pulls`;
    const created = await w.call('POST', pulls, { token, body: { head: 'sam/shape', base: 'main', title: 'Shape' } });
    expect(created.status).toBe(201);
    ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 201, created.body));
    const again = await w.call('POST', pulls, { token, body: { head: 'sam/shape', base: 'main', title: 'Shape' } });
    ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 422, again.body));
    ok(o.check('/repos/{owner}/{repo}/pulls', 'get', 200, (await w.call('GET', pulls, { token })).body));
    const readOnly = await w.tokenFor([w.repos[0]!.id], { contents: 'read', pull_requests: 'read' });
    const forbidden = await w.call('POST', pulls, {
      token: readOnly,
      body: { head: 'sam/shape', base: 'main', title: 'x' },
    });
    expect(forbidden.status).toBe(403);
    ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 403, forbidden.body));
  });
});

describe('App JWT', () => {
  const sign = async (claims: { iat?: number; exp?: number; iss?: string }, key = w.fake.app.privateKeyPem) => {
    return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(createPrivateKey(key));
  };
  const s = () => Math.floor(w.now / 1000);

  it('accepts a JWT signed with the App key, iss = App ID or client ID', async () => {
    for (const iss of [String(w.fake.app.id), w.fake.app.clientId]) {
      const jwt = await sign({ iat: s() - 60, exp: s() + 540, iss });
      expect((await w.call('POST', `/app/installations/${w.inst.id}/access_tokens`, { token: jwt })).status).toBe(201);
    }
  });

  it('refuses exp more than 10 minutes ahead, an expired JWT, garbage, another key, an unknown issuer', async () => {
    const path = `/app/installations/${w.inst.id}/access_tokens`;
    const tooFar = await w.call('POST', path, {
      token: await sign({ iat: s() - 60, exp: s() + 601, iss: String(w.fake.app.id) }),
    });
    expect(tooFar.status).toBe(401);
    expect((tooFar.body as { message: string }).message).toBe(
      "'Expiration time' claim ('exp') is too far in the future",
    );
    const expired = await w.call('POST', path, {
      token: await sign({ iat: s() - 700, exp: s() - 1, iss: String(w.fake.app.id) }),
    });
    expect(expired.status).toBe(401);
    const garbage = await w.call('POST', path, { token: 'not.a.jwt' });
    expect(garbage.status).toBe(401);
    expect((garbage.body as { message: string }).message).toBe('A JSON web token could not be decoded');
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    });
    const forged = await w.call('POST', path, {
      token: await sign({ iat: s() - 60, exp: s() + 540, iss: String(w.fake.app.id) }, otherKey.toString()),
    });
    expect(forged.status).toBe(401);
    const stranger = await w.call('POST', path, { token: await sign({ iat: s() - 60, exp: s() + 540, iss: '1' }) });
    expect(stranger.status).toBe(401);
  });

  it('does not take an installation token for App endpoints', async () => {
    const token = await w.tokenFor([w.repos[0]!.id]);
    expect((await w.call('POST', `/app/installations/${w.inst.id}/access_tokens`, { token })).status).toBe(401);
  });
});

describe('installation tokens', () => {
  it('are ghs_ tokens of no fixed length that expire in an hour, scoped as asked', async () => {
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => w.mint({ repository_ids: [w.repos[1]!.id] })));
    const bodies = answers.map(
      (a) =>
        a.body as { token: string; expires_at: string; repository_selection: string; repositories: { id: number }[] },
    );
    for (const b of bodies) {
      expect(b.token).toMatch(/^ghs_/);
      expect(Date.parse(b.expires_at)).toBe(w.now + 3_600_000);
      expect(b.repository_selection).toBe('selected');
      expect(b.repositories.map((r) => r.id)).toEqual([w.repos[1]!.id]);
    }
    expect(new Set(bodies.map((b) => b.token.length)).size).toBeGreaterThan(1);
    expect((answers[0]!.body as { repository_selection: string }).repository_selection).toBe('selected');
    expect(((await w.mint()).body as { repository_selection: string }).repository_selection).toBe('all');
  });

  it('refuse repositories outside the installation, permissions beyond the grant, unknown installations', async () => {
    const outside = await w.mint({ repository_ids: [w.other.id] });
    expect(outside.status).toBe(422);
    expect((outside.body as { message: string }).message).toBe(
      'There is at least one repository that does not exist or is not accessible to the parent installation.',
    );
    const beyond = await w.mint({ permissions: { administration: 'write' } });
    expect(beyond.status).toBe(422);
    expect((beyond.body as { message: string }).message).toBe(
      'The permissions requested are not granted to this installation.',
    );
    const upgrade = await w.mint({ permissions: { metadata: 'write' } });
    expect(upgrade.status).toBe(422);
    expect((await w.mint({}, 424242)).status).toBe(404);
  });

  it('reach only their repositories: another one is Not Found', async () => {
    const token = await w.tokenFor([w.repos[0]!.id]);
    expect((await w.call('GET', `/repositories/${w.repos[0]!.id}`, { token })).status).toBe(200);
    const b = await w.call('GET', `/repositories/${w.repos[1]!.id}`, { token });
    expect(b.status).toBe(404);
    expect(b.body).toMatchObject({ message: 'Not Found', status: '404' });
    expect((await w.call('GET', `/repos/acme/${w.repos[1]!.name}/pulls`, { token })).status).toBe(404);
    const listed = await w.call('GET', '/installation/repositories', { token });
    expect((listed.body as { repositories: { id: number }[] }).repositories.map((r) => r.id)).toEqual([w.repos[0]!.id]);
  });

  it('stop working when expired or revoked: 401 Bad credentials', async () => {
    const token = await w.tokenFor([w.repos[0]!.id]);
    const revoked = await w.tokenFor([w.repos[0]!.id]);
    expect((await w.call('DELETE', '/installation/token', { token: revoked })).status).toBe(204);
    const r = await w.call('GET', '/installation/repositories', { token: revoked });
    expect(r.status).toBe(401);
    expect((r.body as { message: string }).message).toBe('Bad credentials');
    w.now += 3_600_000;
    try {
      const e = await w.call('GET', '/installation/repositories', { token });
      expect(e.status).toBe(401);
      expect(e.body).toMatchObject({ message: 'Bad credentials', status: '401' });
    } finally {
      w.now -= 3_600_000;
    }
  });
});

describe('request rules', () => {
  it('refuses a request without User-Agent (403 text/html) and an unknown API version (400)', async () => {
    const res = await fetch(`${w.fake.url}/user`, { headers: { 'user-agent': '' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('User-Agent');
    const v = await w.call('GET', '/user', { token: w.user.token, headers: { 'x-github-api-version': '1999-01-01' } });
    expect(v.status).toBe(400);
  });
});
