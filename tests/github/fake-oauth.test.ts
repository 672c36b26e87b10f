/**
 * The fake GitHub's side of linking and signing in: user access tokens through the OAuth web flow
 * (with PKCE), what a user token sees (`/user`, `/user/emails`, `/user/installations`, paginated),
 * the install page that ends at the App's Setup URL, and installation repositories page by page —
 * answers checked against GitHub's OpenAPI description where it describes them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractWorld } from './contract-world.ts';
import { OpenApi } from './openapi.ts';

const w = new ContractWorld();
const openapi = OpenApi.load();
const CALLBACK = 'http://127.0.0.1:9/auth/v1/callback';
const SETUP = 'http://127.0.0.1:9/#/settings';

beforeAll(async () => {
  await w.start();
  w.fake.oauthCallbackUrls = [CALLBACK];
  w.fake.setupUrl = SETUP;
});

afterAll(async () => {
  await w.close();
});

const ok = (errors: string[]) => expect(errors.slice(0, 10)).toEqual([]);

async function authorize(params: Record<string, string>) {
  const url = new URL('/login/oauth/authorize', w.fake.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') ?? '', text: await res.text() };
}

async function exchange(form: Record<string, string>, json = true) {
  const res = await fetch(`${w.fake.url}/login/oauth/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(json ? { accept: 'application/json' } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text,
    json: json ? JSON.parse(text) : null,
  };
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

describe('OAuth web flow (user access tokens)', () => {
  it('approves as the signed-in user, returns code and state to the callback, and trades the code once', async () => {
    w.fake.signedIn = w.user;
    const { verifier, challenge } = pkce();
    const a = await authorize({
      client_id: w.fake.app.clientId,
      redirect_uri: CALLBACK,
      state: 'st-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(a.status).toBe(302);
    const back = new URL(a.location);
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('state')).toBe('st-1');
    const code = back.searchParams.get('code')!;
    const form = {
      client_id: w.fake.app.clientId,
      client_secret: w.fake.app.clientSecret,
      code,
      redirect_uri: CALLBACK,
    };

    const wrongVerifier = await exchange({ ...form, code_verifier: 'x'.repeat(43) });
    expect(wrongVerifier.status).toBe(200);
    expect(wrongVerifier.json.error).toBe('bad_verification_code');

    // The failed attempt used the code up, as GitHub's codes are single-use: start again.
    const again = new URL(
      (
        await authorize({
          client_id: w.fake.app.clientId,
          redirect_uri: CALLBACK,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        })
      ).location,
    ).searchParams.get('code')!;
    const t = await exchange({ ...form, code: again, code_verifier: verifier });
    expect(t.json).toMatchObject({ token_type: 'bearer', scope: '', expires_in: 28800 });
    expect(t.json.access_token).toMatch(/^ghu_/);
    expect(t.json.refresh_token).toMatch(/^ghr_/);
    const me = await w.call('GET', '/user', { token: t.json.access_token });
    expect((me.body as { login: string }).login).toBe('alice');

    const reused = await exchange({ ...form, code: again, code_verifier: verifier });
    expect(reused.json).toMatchObject({ error: 'bad_verification_code' });
  });

  it('refuses a wrong client secret and an unregistered redirect_uri; answers form-encoded without Accept: json', async () => {
    w.fake.signedIn = w.user;
    const a = await authorize({ client_id: w.fake.app.clientId, redirect_uri: CALLBACK });
    const code = new URL(a.location).searchParams.get('code')!;
    const bad = await exchange({ client_id: w.fake.app.clientId, client_secret: 'nope', code });
    expect(bad.json.error).toBe('incorrect_client_credentials');
    const form = await exchange(
      { client_id: w.fake.app.clientId, client_secret: w.fake.app.clientSecret, code },
      false,
    );
    expect(form.type).toContain('application/x-www-form-urlencoded');
    expect(new URLSearchParams(form.text).get('access_token')).toMatch(/^ghu_/);

    const elsewhere = await authorize({ client_id: w.fake.app.clientId, redirect_uri: 'http://evil.example/cb' });
    expect(elsewhere.status).toBe(302);
    expect(elsewhere.location.startsWith(CALLBACK)).toBe(true);
    expect(new URL(elsewhere.location).searchParams.get('error')).toBe('redirect_uri_mismatch');
    expect(new URL(elsewhere.location).searchParams.get('code')).toBeNull();
  });

  it('rotates refresh tokens: the used one stops working (200 bad_refresh_token)', async () => {
    w.fake.signedIn = w.user;
    const a = await authorize({ client_id: w.fake.app.clientId, redirect_uri: CALLBACK });
    const base = { client_id: w.fake.app.clientId, client_secret: w.fake.app.clientSecret };
    const first = await exchange({ ...base, code: new URL(a.location).searchParams.get('code')! });
    const next = await exchange({ ...base, grant_type: 'refresh_token', refresh_token: first.json.refresh_token });
    expect(next.json.access_token).toMatch(/^ghu_/);
    const reuse = await exchange({ ...base, grant_type: 'refresh_token', refresh_token: first.json.refresh_token });
    expect(reuse.status).toBe(200);
    expect(reuse.json).toMatchObject({
      error: 'bad_refresh_token',
      error_description: 'The refresh token passed is incorrect or expired.',
    });
  });

  it('asks for a sign-in when nobody is signed in to GitHub', async () => {
    w.fake.signedIn = undefined;
    const a = await authorize({ client_id: w.fake.app.clientId, redirect_uri: CALLBACK });
    expect(a.status).toBe(401);
    expect(a.location).toBe('');
  });
});

describe('what a user token sees', () => {
  it('GET /user/emails in the documented shape, primary and verified', async () => {
    const r = await w.call('GET', '/user/emails', { token: w.user.token });
    ok(openapi.check('/user/emails', 'get', 200, r.body));
    expect(r.body).toEqual([expect.objectContaining({ email: w.user.email, primary: true, verified: true })]);
    const app = await w.call('GET', '/user/emails', { token: await w.app.appJwt() });
    expect(app.status).toBe(403);
  });

  it('GET /user/installations pages with Link next/last, each page in the documented shape', async () => {
    const bob = w.fake.addUser('bob-member');
    const orgs = ['o1', 'o2', 'o3'].map((n) => w.fake.addInstallation(w.fake.addAccount(n, 'Organization')));
    for (const i of orgs) w.fake.grant(bob, i);
    const p1 = await w.call('GET', '/user/installations?per_page=2', { token: bob.token });
    ok(openapi.check('/user/installations', 'get', 200, p1.body));
    expect((p1.body as { total_count: number }).total_count).toBe(3);
    expect(p1.headers.get('link')).toContain('rel="next"');
    const p2 = await w.call('GET', '/user/installations?per_page=2&page=2', { token: bob.token });
    expect((p2.body as { installations: { id: number }[] }).installations.map((i) => i.id)).toEqual([orgs[2]!.id]);
    expect(p2.headers.get('link')).not.toContain('rel="next"');
  });
});

describe('installing the App and listing its repositories', () => {
  it('the install page sends the browser to the Setup URL with installation_id and setup_action', async () => {
    const carol = w.fake.addUser('carol');
    w.fake.signedIn = carol;
    const res = await fetch(`${w.fake.url}/apps/${w.fake.app.slug}/installations/new?state=s9`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(to.href.startsWith('http://127.0.0.1:9/')).toBe(true);
    const id = Number(to.searchParams.get('installation_id'));
    expect(to.searchParams.get('setup_action')).toBe('install');
    expect(to.searchParams.get('state')).toBe('s9');
    const mine = await w.call('GET', '/user/installations', { token: carol.token });
    const inst = (mine.body as { installations: { id: number; account: { login: string } }[] }).installations;
    expect(inst).toEqual([expect.objectContaining({ id, account: expect.objectContaining({ login: 'carol' }) })]);
    const other = await fetch(`${w.fake.url}/apps/another-app/installations/new`, { redirect: 'manual' });
    expect(other.status).toBe(404);
  });

  it('GET /installation/repositories pages with an installation token (per_page ≤ 100)', async () => {
    const token = (await w.mint({ permissions: { metadata: 'read' } })).body as { token: string };
    const seen: number[] = [];
    let path: string | null = '/installation/repositories?per_page=2';
    let pages = 0;
    while (path) {
      const r = await w.call('GET', path, { token: token.token });
      ok(openapi.check('/installation/repositories', 'get', 200, r.body));
      seen.push(...(r.body as { repositories: { id: number }[] }).repositories.map((x) => x.id));
      const next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') ?? '');
      path = next ? new URL(next[1]!).pathname + new URL(next[1]!).search : null;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(w.repos.map((r) => r.id));
    const big = await w.call('GET', '/installation/repositories?per_page=500', { token: token.token });
    expect((big.body as { repositories: unknown[] }).repositories).toHaveLength(5);
    expect(big.headers.get('link')).toBeNull();
  });
});
