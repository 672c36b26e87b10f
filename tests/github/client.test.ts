/**
 * The GitHub client (functions/_shared/github) against the fake GitHub: App JWT from the PKCS#1
 * key GitHub hands out, repo-scoped task tokens cached and refreshed before expiry (fake clock),
 * linking checks, paginated repository lists, idempotent pull requests. Errors: client-errors.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  getRepositoryById,
  GitHubApp,
  listInstallationRepositories,
  TASK_PERMISSIONS,
  userInstallationRepositories,
  verifyUserInstallation,
} from '../../functions/_shared/github/app.ts';
import { GitHubError } from '../../functions/_shared/github/errors.ts';
import { pemToPkcs8 } from '../../functions/_shared/github/keys.ts';
import { openPullRequest } from '../../functions/_shared/github/pulls.ts';
import { Rest } from '../../functions/_shared/github/rest.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';

const START = Date.parse('2026-12-02T08:00:00Z');
let now = START;
const clock = () => now;
let fake: FakeGitHub;
let app: GitHubApp;
let org: Account;
let repos: Repo[];
let inst: Installation;

const mints = () => fake.log.filter((l) => l.method === 'POST' && l.path.endsWith('/access_tokens')).length;

async function failure(p: Promise<unknown>): Promise<GitHubError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GitHubError);
  return e as GitHubError;
}

beforeAll(async () => {
  fake = await FakeGitHub.start({ now: clock, tokenLifetimeMs: 10 * 60_000 });
  org = fake.addAccount('acme', 'Organization');
  repos = ['api', 'web', 'docs', 'infra', 'site'].map((n) => fake.addRepository(org, n));
  inst = fake.addInstallation(org);
});

afterAll(async () => {
  await fake?.close();
});

beforeEach(() => {
  now = START;
  app = new GitHubApp({ appId: fake.app.id, privateKey: fake.app.privateKeyPem, apiUrl: fake.url, now: clock });
});

describe('App JWT and the private key', () => {
  it('signs RS256 with iat a minute back, exp nine minutes ahead, iss the App', async () => {
    const jwt = await app.appJwt();
    expect(decodeProtectedHeader(jwt).alg).toBe('RS256');
    const s = Math.floor(START / 1000);
    expect(decodeJwt(jwt)).toEqual({ iat: s - 60, exp: s + 540, iss: String(fake.app.id) });
  });

  it('wraps the PKCS#1 key GitHub hands out into exactly the PKCS#8 DER that OpenSSL makes', () => {
    const expected = createPrivateKey(fake.app.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
    expect(Buffer.from(pemToPkcs8(fake.app.privateKeyPem))).toEqual(expected);
    const oneLine = fake.app.privateKeyPem.replace(/\n/g, '\\n');
    expect(Buffer.from(pemToPkcs8(oneLine))).toEqual(expected);
  });

  it('is accepted by GitHub from a PKCS#1 key, a PKCS#8 key and with the client ID as issuer', async () => {
    expect((await app.mintInstallationToken(inst.id)).token).toMatch(/^ghs_/);
    const pkcs8 = createPrivateKey(fake.app.privateKeyPem).export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(pkcs8).toContain('BEGIN PRIVATE KEY');
    const viaPkcs8 = new GitHubApp({ appId: fake.app.clientId, privateKey: pkcs8, apiUrl: fake.url, now: clock });
    expect((await viaPkcs8.mintInstallationToken(inst.id)).token).toMatch(/^ghs_/);
  });

  it("retries once on GitHub's clock (its Date header) when the local clock runs ahead", async () => {
    const ahead = new GitHubApp({
      appId: fake.app.id,
      privateKey: fake.app.privateKeyPem,
      apiUrl: fake.url,
      now: () => now + 5 * 60_000,
    });
    const before = fake.log.length;
    expect((await ahead.mintInstallationToken(inst.id)).token).toMatch(/^ghs_/);
    expect(fake.log.slice(before).map((l) => l.status)).toEqual([401, 201]);
    // The offset is kept: the next mint needs one request.
    expect((await ahead.mintInstallationToken(inst.id)).token).toMatch(/^ghs_/);
    expect(fake.log.slice(before).map((l) => l.status)).toEqual([401, 201, 201]);
  });

  it("fails permanently with GitHub's words for another key, and never echoes a bad key", async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    });
    const wrong = new GitHubApp({ appId: fake.app.id, privateKey: stranger.toString(), apiUrl: fake.url, now: clock });
    const e = await failure(wrong.mintInstallationToken(inst.id));
    expect(e).toMatchObject({ status: 401, kind: 'permanent' });
    expect(e.message).toContain('A JSON web token could not be decoded');
    const garbage = new GitHubApp({ appId: 1, privateKey: 'not-a-key-SECRETBITS', apiUrl: fake.url, now: clock });
    const g = await failure(garbage.appJwt());
    expect(g.kind).toBe('permanent');
    expect(g.message).not.toContain('SECRETBITS');
  });
});

describe('task tokens', () => {
  it('are scoped to the task repository with contents/pull_requests write and metadata read', async () => {
    const t = await app.installationToken(inst.id, repos[0]!.id);
    expect(t.repositoryIds).toEqual([repos[0]!.id]);
    expect(t.permissions).toEqual(TASK_PERMISSIONS);
    expect(t.expiresAt).toBe(START + 10 * 60_000);
    expect((await getRepositoryById(app.rest, t.token, repos[0]!.id)).fullName).toBe('acme/api');
    const e = await failure(getRepositoryById(app.rest, t.token, repos[1]!.id));
    expect(e).toMatchObject({ status: 404, kind: 'permanent' });
    expect(e.message).not.toContain(t.token);
  });

  it('come from the cache until five minutes before expiry, then are minted afresh; concurrent callers share one mint', async () => {
    const before = mints();
    const [a, b] = await Promise.all([
      app.installationToken(inst.id, repos[1]!.id),
      app.installationToken(inst.id, repos[1]!.id),
    ]);
    expect(b.token).toBe(a.token);
    expect(mints()).toBe(before + 1);
    now = a.expiresAt - 5 * 60_000 - 1;
    expect((await app.installationToken(inst.id, repos[1]!.id)).token).toBe(a.token);
    expect(mints()).toBe(before + 1);
    now = a.expiresAt - 5 * 60_000;
    const fresh = await app.installationToken(inst.id, repos[1]!.id);
    expect(fresh.token).not.toBe(a.token);
    expect(fresh.expiresAt).toBe(now + 10 * 60_000);
    expect(mints()).toBe(before + 2);
    // Another repository is another token.
    expect((await app.installationToken(inst.id, repos[2]!.id)).token).not.toBe(fresh.token);
  });

  it('are refused for a repository outside the installation (422, permanent)', async () => {
    const stranger = fake.addRepository(fake.addAccount('mallory'), 'private');
    const e = await failure(app.installationToken(inst.id, stranger.id));
    expect(e).toMatchObject({ status: 422, kind: 'permanent' });
    expect(e.message).toContain('not accessible to the parent installation');
    // A failed mint is not cached.
    await failure(app.installationToken(inst.id, stranger.id));
  });

  it('look up a repository by id with a token scoped to it', async () => {
    const r = await app.repositoryById(inst.id, repos[3]!.id);
    expect(r).toMatchObject({ id: repos[3]!.id, fullName: 'acme/infra', private: true, defaultBranch: 'main' });
    expect(r.cloneUrl).toBe(`${fake.url}/acme/infra.git`);
  });
});

describe('repositories and linking', () => {
  it('lists every repository across pages, following Link rel="next"', async () => {
    const before = fake.log.length;
    const { token } = await app.mintInstallationToken(inst.id);
    const list = await listInstallationRepositories(app.rest, token, 2);
    expect(list.map((r) => r.name).sort()).toEqual(repos.map((r) => r.name).sort());
    const pages = fake.log.slice(before).filter((l) => l.path === '/installation/repositories');
    expect(pages).toHaveLength(3);
    const mark = fake.log.length;
    expect((await app.installationRepositories(inst.id)).length).toBe(repos.length);
    // The all-repositories token it needed is revoked once the list is read.
    expect(fake.log.slice(mark).map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual([
      `POST /app/installations/${inst.id}/access_tokens 201`,
      'GET /installation/repositories 200',
      'DELETE /installation/token 204',
    ]);
  });

  it('follows Link only to the API origin, so a token never goes elsewhere', async () => {
    const seen: string[] = [];
    const fetchFn: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ repositories: [{ id: 1 }] }), {
        headers: { link: '<https://evil.example/steal?page=2>; rel="next"' },
      });
    };
    const rest = new Rest({ apiUrl: 'https://api.github.invalid', fetch: fetchFn });
    const items = await rest.paginate<{ repositories: unknown[] }, unknown>(
      '/installation/repositories',
      { token: 't' },
      (p) => p.repositories,
    );
    expect(items).toHaveLength(1);
    expect(seen).toEqual(['https://api.github.invalid/installation/repositories?per_page=100']);
  });

  it("links an installation only when the user's own /user/installations lists it and a personal one is theirs", async () => {
    const alice = fake.addUser('alice');
    const bob = fake.addUser('bob');
    const alicePersonal = fake.addInstallation(alice.account);
    const bobPersonal = fake.addInstallation(bob.account);
    fake.grant(alice, inst);
    fake.grant(alice, alicePersonal);
    // Alice collaborates on one of Bob's repositories, so GitHub lists Bob's personal installation to her.
    fake.grant(alice, bobPersonal);
    expect((await verifyUserInstallation(app.rest, alice.token, inst.id)).account.login).toBe('acme');
    expect((await verifyUserInstallation(app.rest, alice.token, alicePersonal.id)).account.id).toBe(alice.account.id);
    const spoofed = await failure(verifyUserInstallation(app.rest, bob.token, inst.id));
    expect(spoofed).toMatchObject({ status: 403, kind: 'permanent' });
    expect(spoofed.message).toContain('not accessible to the GitHub user bob');
    const foreign = await failure(verifyUserInstallation(app.rest, alice.token, bobPersonal.id));
    expect(foreign.message).toContain('belongs to the personal account bob');
    expect((await userInstallationRepositories(app.rest, alice.token, inst.id)).length).toBe(repos.length);
    expect((await failure(userInstallationRepositories(app.rest, bob.token, inst.id))).status).toBe(404);
  });
});

describe('opening the pull request', () => {
  const pr = (head: string) => ({ owner: 'acme', repo: 'site', head, base: 'main', title: 'Task', body: 'Summary' });

  it('creates it, adopts it on the second run, and creates a new one after the first was closed', async () => {
    const repo = repos[4]!;
    const sha = fake.setBranch(repo, 'sam/one', { file: 'one.txt' });
    const { token } = await app.installationToken(inst.id, repo.id);
    const first = await openPullRequest(app.rest, token, pr('sam/one'));
    expect(first).toEqual({
      kind: 'created',
      number: 1,
      htmlUrl: `${fake.url}/acme/site/pull/1`,
      state: 'open',
      headSha: sha,
    });
    const second = await openPullRequest(app.rest, token, pr('sam/one'));
    expect(second).toEqual({ ...first, kind: 'adopted' });
    expect(fake.pulls.filter((p) => p.repoId === repo.id)).toHaveLength(1);
    fake.closePull(repo, 1);
    expect(await openPullRequest(app.rest, token, pr('sam/one'))).toMatchObject({ kind: 'created', number: 2 });
  });

  it('adopts the PR another run created between its lookup and its create (422 already exists)', async () => {
    const repo = repos[4]!;
    fake.setBranch(repo, 'sam/race', { file: 'race.txt' });
    const { token } = await app.installationToken(inst.id, repo.id);
    await openPullRequest(app.rest, token, pr('sam/race'));
    let lookups = 0;
    // The first lookup sees nothing (the other run has not created it yet, as far as this one knows).
    const racing = new Rest({
      apiUrl: fake.url,
      now: clock,
      fetch: async (input, init) => {
        if ((init?.method ?? 'GET') === 'GET' && lookups++ === 0) return new Response('[]', { status: 200 });
        return fetch(input, init);
      },
    });
    const before = fake.log.length;
    const result = await openPullRequest(racing, token, pr('sam/race'));
    expect(result).toMatchObject({ kind: 'adopted', number: 3 });
    expect(fake.log.slice(before).map((l) => `${l.method} ${l.status}`)).toEqual(['POST 422', 'GET 200']);
  });

  it('completes without a PR when the branch has no commits beyond the base, and says why', async () => {
    const repo = repos[4]!;
    fake.setBranch(repo, 'sam/nothing');
    const { token } = await app.installationToken(inst.id, repo.id);
    const result = await openPullRequest(app.rest, token, pr('sam/nothing'));
    expect(result.kind).toBe('no_commits');
    expect(result.kind === 'no_commits' && result.reason).toContain(
      'sam/nothing has no commits that main does not already have',
    );
  });

  it('fails permanently on a missing branch (422), a repository the token cannot see (404) and without pull_requests: write (403)', async () => {
    const repo = repos[4]!;
    const { token } = await app.installationToken(inst.id, repo.id);
    const missing = await failure(openPullRequest(app.rest, token, pr('sam/never-pushed')));
    expect(missing).toMatchObject({ status: 422, kind: 'permanent' });
    expect(missing.message).toContain('Validation Failed');
    const other = await app.installationToken(inst.id, repos[0]!.id);
    expect(await failure(openPullRequest(app.rest, other.token, pr('sam/one')))).toMatchObject({
      status: 404,
      kind: 'permanent',
    });
    const readOnly = await app.installationToken(inst.id, repo.id, { contents: 'write', metadata: 'read' });
    fake.setBranch(repo, 'sam/ro', { file: 'ro.txt' });
    const forbidden = await failure(openPullRequest(app.rest, readOnly.token, pr('sam/ro')));
    expect(forbidden).toMatchObject({ status: 403, kind: 'permanent' });
    expect(forbidden.message).toContain('Resource not accessible by integration');
  });
});
