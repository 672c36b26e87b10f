/**
 * The fake GitHub keeps GitHub's contract for the endpoints SAM uses: answers in the shapes of
 * GitHub's OpenAPI description (when `@octokit/openapi` is installed), JWT and token rules, scoping,
 * `head=owner:branch` semantics, pagination, rate-limit headers, and GitHub's 422 bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';
import { OpenApi, specDir } from './openapi.ts';

const START = Date.parse('2026-12-02T08:00:00Z');
let now = START;
let fake: FakeGitHub;
let app: GitHubApp;
let org: Account;
let repos: Repo[];
let other: Repo;
let inst: Installation;
let user: ReturnType<FakeGitHub['addUser']>;
const openapi = OpenApi.load();

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'user-agent': 'sam-contract-test',
    'x-github-api-version': '2022-11-28',
    ...opts.headers,
  };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(fake.url + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

async function mint(body: unknown = {}, installationId = inst.id): Promise<Answer> {
  return call('POST', `/app/installations/${installationId}/access_tokens`, { token: await app.appJwt(), body });
}

async function tokenFor(ids: number[], permissions?: Record<string, string>): Promise<string> {
  const r = await mint({ repository_ids: ids, ...(permissions ? { permissions } : {}) });
  expect(r.status).toBe(201);
  return (r.body as { token: string }).token;
}

beforeAll(async () => {
  fake = await FakeGitHub.start({ now: () => now });
  app = new GitHubApp({ appId: fake.app.id, privateKey: fake.app.privateKeyPem, apiUrl: fake.url, now: () => now });
  org = fake.addAccount('acme', 'Organization');
  repos = ['one', 'two', 'three', 'four', 'five'].map((n) => fake.addRepository(org, n));
  other = fake.addRepository(fake.addAccount('bob'), 'secret');
  inst = fake.addInstallation(org);
  user = fake.addUser('alice');
  fake.grant(user, inst);
});

afterAll(async () => {
  await fake?.close();
});

describe('the fake GitHub against the OpenAPI description', () => {
  it.skipIf(!openapi)(
    `answers in the documented shapes (spec from ${specDir ?? 'nowhere: not installed'})`,
    async () => {
      const o = openapi!;
      const ok = (errors: string[]) => expect(errors.slice(0, 10)).toEqual([]);
      const mintPath = '/app/installations/{installation_id}/access_tokens';
      const scoped = await mint({
        repository_ids: [repos[0]!.id],
        permissions: { contents: 'write', pull_requests: 'write' },
      });
      ok(o.check(mintPath, 'post', scoped.status, scoped.body));
      ok(o.check(mintPath, 'post', 201, (await mint()).body));
      const token = (scoped.body as { token: string }).token;
      const missing = await mint({}, 99999);
      expect(missing.status).toBe(404);
      ok(o.check(mintPath, 'post', 404, missing.body));
      const outside = await mint({ repository_ids: [other.id] });
      expect(outside.status).toBe(422);
      ok(o.check(mintPath, 'post', 422, outside.body));

      ok(
        o.check(
          '/installation/repositories',
          'get',
          200,
          (await call('GET', '/installation/repositories', { token })).body,
        ),
      );
      const unauth = await call('GET', '/installation/repositories');
      expect(unauth.status).toBe(401);
      ok(o.check('/installation/repositories', 'get', 401, unauth.body));
      ok(o.checkSchema('full-repository', (await call('GET', `/repositories/${repos[0]!.id}`, { token })).body));

      const u = user.token;
      ok(o.check('/user', 'get', 200, (await call('GET', '/user', { token: u })).body));
      ok(o.check('/user/installations', 'get', 200, (await call('GET', '/user/installations', { token: u })).body));
      const userRepos = await call('GET', `/user/installations/${inst.id}/repositories`, { token: u });
      ok(o.check('/user/installations/{installation_id}/repositories', 'get', 200, userRepos.body));

      fake.setBranch(repos[0]!, 'sam/shape', { file: 'shape.txt' });
      const pulls = `/repos/acme/${repos[0]!.name}/pulls`;
      const created = await call('POST', pulls, { token, body: { head: 'sam/shape', base: 'main', title: 'Shape' } });
      expect(created.status).toBe(201);
      ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 201, created.body));
      const again = await call('POST', pulls, { token, body: { head: 'sam/shape', base: 'main', title: 'Shape' } });
      ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 422, again.body));
      ok(o.check('/repos/{owner}/{repo}/pulls', 'get', 200, (await call('GET', pulls, { token })).body));
      const readOnly = await tokenFor([repos[0]!.id], { contents: 'read', pull_requests: 'read' });
      const forbidden = await call('POST', pulls, {
        token: readOnly,
        body: { head: 'sam/shape', base: 'main', title: 'x' },
      });
      expect(forbidden.status).toBe(403);
      ok(o.check('/repos/{owner}/{repo}/pulls', 'post', 403, forbidden.body));
    },
  );
});

describe('App JWT', () => {
  const sign = async (claims: { iat?: number; exp?: number; iss?: string }, key = fake.app.privateKeyPem) => {
    const { createPrivateKey } = await import('node:crypto');
    return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(createPrivateKey(key));
  };
  const s = () => Math.floor(now / 1000);

  it('accepts a JWT signed with the App key, iss = App ID or client ID', async () => {
    for (const iss of [String(fake.app.id), fake.app.clientId]) {
      const jwt = await sign({ iat: s() - 60, exp: s() + 540, iss });
      expect((await call('POST', `/app/installations/${inst.id}/access_tokens`, { token: jwt })).status).toBe(201);
    }
  });

  it('refuses exp more than 10 minutes ahead, an expired JWT, garbage, another key, an unknown issuer', async () => {
    const path = `/app/installations/${inst.id}/access_tokens`;
    const tooFar = await call('POST', path, {
      token: await sign({ iat: s() - 60, exp: s() + 601, iss: String(fake.app.id) }),
    });
    expect(tooFar.status).toBe(401);
    expect((tooFar.body as { message: string }).message).toBe(
      "'Expiration time' claim ('exp') is too far in the future",
    );
    const expired = await call('POST', path, {
      token: await sign({ iat: s() - 700, exp: s() - 1, iss: String(fake.app.id) }),
    });
    expect(expired.status).toBe(401);
    const garbage = await call('POST', path, { token: 'not.a.jwt' });
    expect(garbage.status).toBe(401);
    expect((garbage.body as { message: string }).message).toBe('A JSON web token could not be decoded');
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    });
    const forged = await call('POST', path, {
      token: await sign({ iat: s() - 60, exp: s() + 540, iss: String(fake.app.id) }, otherKey.toString()),
    });
    expect(forged.status).toBe(401);
    const stranger = await call('POST', path, { token: await sign({ iat: s() - 60, exp: s() + 540, iss: '1' }) });
    expect(stranger.status).toBe(401);
  });

  it('does not take an installation token for App endpoints', async () => {
    const token = await tokenFor([repos[0]!.id]);
    expect((await call('POST', `/app/installations/${inst.id}/access_tokens`, { token })).status).toBe(401);
  });
});

describe('installation tokens', () => {
  it('are ghs_ tokens of no fixed length that expire in an hour, scoped as asked', async () => {
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => mint({ repository_ids: [repos[1]!.id] })));
    const bodies = answers.map(
      (a) =>
        a.body as { token: string; expires_at: string; repository_selection: string; repositories: { id: number }[] },
    );
    for (const b of bodies) {
      expect(b.token).toMatch(/^ghs_/);
      expect(Date.parse(b.expires_at)).toBe(now + 3_600_000);
      expect(b.repository_selection).toBe('selected');
      expect(b.repositories.map((r) => r.id)).toEqual([repos[1]!.id]);
    }
    expect(new Set(bodies.map((b) => b.token.length)).size).toBeGreaterThan(1);
    expect((answers[0]!.body as { repository_selection: string }).repository_selection).toBe('selected');
    expect(((await mint()).body as { repository_selection: string }).repository_selection).toBe('all');
  });

  it('refuse repositories outside the installation, permissions beyond the grant, unknown installations', async () => {
    const outside = await mint({ repository_ids: [other.id] });
    expect(outside.status).toBe(422);
    expect((outside.body as { message: string }).message).toBe(
      'There is at least one repository that does not exist or is not accessible to the parent installation.',
    );
    const beyond = await mint({ permissions: { administration: 'write' } });
    expect(beyond.status).toBe(422);
    expect((beyond.body as { message: string }).message).toBe(
      'The permissions requested are not granted to this installation.',
    );
    const upgrade = await mint({ permissions: { metadata: 'write' } });
    expect(upgrade.status).toBe(422);
    expect((await mint({}, 424242)).status).toBe(404);
  });

  it('reach only their repositories: another one is Not Found', async () => {
    const token = await tokenFor([repos[0]!.id]);
    expect((await call('GET', `/repositories/${repos[0]!.id}`, { token })).status).toBe(200);
    const b = await call('GET', `/repositories/${repos[1]!.id}`, { token });
    expect(b.status).toBe(404);
    expect(b.body).toMatchObject({ message: 'Not Found', status: '404' });
    expect((await call('GET', `/repos/acme/${repos[1]!.name}/pulls`, { token })).status).toBe(404);
    const listed = await call('GET', '/installation/repositories', { token });
    expect((listed.body as { repositories: { id: number }[] }).repositories.map((r) => r.id)).toEqual([repos[0]!.id]);
  });

  it('stop working when expired or revoked: 401 Bad credentials', async () => {
    const token = await tokenFor([repos[0]!.id]);
    const revoked = await tokenFor([repos[0]!.id]);
    expect((await call('DELETE', '/installation/token', { token: revoked })).status).toBe(204);
    const r = await call('GET', '/installation/repositories', { token: revoked });
    expect(r.status).toBe(401);
    expect((r.body as { message: string }).message).toBe('Bad credentials');
    now += 3_600_000;
    try {
      const e = await call('GET', '/installation/repositories', { token });
      expect(e.status).toBe(401);
      expect(e.body).toMatchObject({ message: 'Bad credentials', status: '401' });
    } finally {
      now -= 3_600_000;
    }
  });
});

describe('request rules', () => {
  it('refuses a request without User-Agent (403 text/html) and an unknown API version (400)', async () => {
    const res = await fetch(`${fake.url}/user`, { headers: { 'user-agent': '' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('User-Agent');
    const v = await call('GET', '/user', { token: user.token, headers: { 'x-github-api-version': '1999-01-01' } });
    expect(v.status).toBe(400);
  });
});

describe('pull requests', () => {
  const repo = () => repos[2]!;
  const pulls = () => `/repos/acme/${repo().name}/pulls`;

  it('create (201 with number, html_url, open, head sha), 422 already exists, again after close', async () => {
    const token = await tokenFor([repo().id]);
    const sha = fake.setBranch(repo(), 'sam/feature', { file: 'feature.txt' });
    const body = { head: 'sam/feature', base: 'main', title: 'Feature', body: 'Done.' };
    const created = await call('POST', pulls(), { token, body });
    expect(created.status).toBe(201);
    const pr = created.body as {
      number: number;
      html_url: string;
      state: string;
      head: { sha: string; label: string };
      url: string;
    };
    expect(pr).toMatchObject({ number: 1, state: 'open', head: { sha, label: 'acme:sam/feature' } });
    expect(pr.html_url).toBe(`${fake.url}/acme/${repo().name}/pull/1`);
    expect(created.headers.get('location')).toBe(pr.url);

    const again = await call('POST', pulls(), { token, body });
    expect(again.status).toBe(422);
    expect(again.body).toEqual({
      message: 'Validation Failed',
      errors: [
        { resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme:sam/feature.' },
      ],
      documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
      status: '422',
    });
    fake.closePull(repo(), 1);
    const reopened = await call('POST', pulls(), { token, body });
    expect(reopened.status).toBe(201);
    expect((reopened.body as { number: number }).number).toBe(2);
  });

  it('422 No commits between, a missing head branch, a missing title; 403 without pull_requests: write', async () => {
    const token = await tokenFor([repo().id]);
    fake.setBranch(repo(), 'sam/empty');
    const empty = await call('POST', pulls(), { token, body: { head: 'sam/empty', base: 'main', title: 'Nothing' } });
    expect(empty.status).toBe(422);
    expect((empty.body as { errors: unknown[] }).errors).toEqual([
      { resource: 'PullRequest', code: 'custom', message: 'No commits between main and sam/empty' },
    ]);
    const noHead = await call('POST', pulls(), { token, body: { head: 'sam/nope', base: 'main', title: 'x' } });
    expect(noHead.status).toBe(422);
    expect((noHead.body as { errors: unknown[] }).errors).toEqual([
      { resource: 'PullRequest', field: 'head', code: 'invalid' },
    ]);
    const noTitle = await call('POST', pulls(), { token, body: { head: 'sam/empty', base: 'main' } });
    expect(noTitle.status).toBe(422);
    for (const e of (noTitle.body as { errors: { code: string }[] }).errors) expect(typeof e.code).toBe('string');
    const readOnly = await tokenFor([repo().id], { contents: 'write', pull_requests: 'read' });
    const forbidden = await call('POST', pulls(), {
      token: readOnly,
      body: { head: 'sam/empty', base: 'main', title: 'x' },
    });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { message: string }).message).toBe('Resource not accessible by integration');
    expect(forbidden.headers.get('x-accepted-github-permissions')).toBe('pull_requests=write');
  });

  it('filter by head only as owner:branch (a bare branch name is ignored), and by state', async () => {
    const token = await tokenFor([repo().id]);
    fake.setBranch(repo(), 'sam/other', { file: 'other.txt' });
    expect(
      (await call('POST', pulls(), { token, body: { head: 'sam/other', base: 'main', title: 'Other' } })).status,
    ).toBe(201);
    const numbers = async (q: string) =>
      ((await call('GET', `${pulls()}?${q}`, { token })).body as { number: number }[]).map((p) => p.number);
    expect(await numbers('head=acme:sam/feature&state=all')).toEqual([2, 1]);
    expect(await numbers('head=acme:sam/feature')).toEqual([2]);
    expect(await numbers('head=acme:sam/feature&state=closed')).toEqual([1]);
    expect(await numbers('head=sam/feature&state=all')).toEqual([3, 2, 1]);
    expect(await numbers('head=someone:sam/feature&state=all')).toEqual([]);
  });
});

describe('pagination, errors and rate limits', () => {
  it('pages with per_page (max 100) and a Link header with next/last, none on the last page', async () => {
    const token = (await mint()).body as { token: string };
    const page = (q: string) => call('GET', `/installation/repositories?${q}`, { token: token.token });
    const first = await page('per_page=2');
    expect((first.body as { total_count: number; repositories: unknown[] }).total_count).toBe(5);
    expect((first.body as { repositories: unknown[] }).repositories).toHaveLength(2);
    const link = first.headers.get('link')!;
    expect(link).toContain(`<${fake.url}/installation/repositories?per_page=2&page=2>; rel="next"`);
    expect(link).toContain(`<${fake.url}/installation/repositories?per_page=2&page=3>; rel="last"`);
    const last = await page('per_page=2&page=3');
    expect((last.body as { repositories: unknown[] }).repositories).toHaveLength(1);
    expect(last.headers.get('link')).not.toContain('rel="next"');
    const big = await page('per_page=500');
    expect((big.body as { repositories: unknown[] }).repositories).toHaveLength(5);
    expect(big.headers.get('link')).toBeNull();
  });

  it('sends x-ratelimit-* on every answer; an exhausted budget gives 403 (or 429) with remaining 0 and a future reset', async () => {
    const local = await FakeGitHub.start({ now: () => now, rateLimit: 3 });
    try {
      const u = local.addUser('carol');
      const answers = [];
      for (let i = 0; i < 4; i++)
        answers.push(
          await fetch(`${local.url}/user`, { headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` } }),
        );
      answers.push(await fetch(`${local.url}/nope`, { headers: { 'user-agent': 't' } }));
      for (const a of answers) {
        for (const h of ['limit', 'remaining', 'used', 'reset', 'resource'])
          expect(a.headers.get(`x-ratelimit-${h}`)).not.toBeNull();
      }
      expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers.map((a) => a.headers.get('x-ratelimit-remaining')).slice(0, 4)).toEqual(['2', '1', '0', '0']);
      const limited = answers[3]!;
      expect(limited.status).toBe(403);
      expect(Number(limited.headers.get('x-ratelimit-reset')) * 1000).toBeGreaterThan(now);
      expect(((await limited.json()) as { message: string }).message).toMatch(/^API rate limit exceeded/);
      local.rateLimitStatus = 429;
      const r429 = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(r429.status).toBe(429);
      await r429.text();
      now += 3_600_000;
      const reset = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(reset.status).toBe(200);
      await reset.text();
      local.secondaryLimit(42);
      const second = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(second.status).toBe(403);
      expect(second.headers.get('retry-after')).toBe('42');
      await second.text();
      for (const a of answers) await a.text().catch(() => {});
    } finally {
      now = START;
      await local.close();
    }
  });
});
