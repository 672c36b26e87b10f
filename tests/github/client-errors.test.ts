/**
 * How the GitHub client (functions/_shared/github) classifies failures, against the fake GitHub
 * and plain servers: rate limits wait until the reset or `retry-after`, 401/404/422 are permanent,
 * 5xx and unreachable are transient, and no message carries a token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRepositoryById, GitHubApp } from '../../functions/_shared/github/app.ts';
import { classifyResponse, GitHubError } from '../../functions/_shared/github/errors.ts';
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

describe('error classification', () => {
  it('waits for the reset when the primary rate limit is exhausted (403 and 429)', async () => {
    const local = await FakeGitHub.start({ now: clock, rateLimit: 1 });
    try {
      const u = local.addUser('dora');
      const rest = new Rest({ apiUrl: local.url, now: clock });
      await rest.request('GET', '/user', { token: u.token });
      const e = await failure(rest.request('GET', '/user', { token: u.token }));
      expect(e).toMatchObject({ status: 403, kind: 'rate_limited', retryAt: START + 3_600_000 });
      expect(e.message).toContain('API rate limit exceeded');
      local.limits.status = 429;
      expect(await failure(rest.request('GET', '/user', { token: u.token }))).toMatchObject({
        status: 429,
        kind: 'rate_limited',
      });
    } finally {
      await local.close();
    }
  });

  it('honours retry-after of a secondary limit', async () => {
    const { token } = await app.installationToken(inst.id, repos[0]!.id);
    fake.secondaryLimit(90);
    const e = await failure(getRepositoryById(app.rest, token, repos[0]!.id));
    expect(e).toMatchObject({ status: 403, kind: 'rate_limited', retryAt: START + 90_000 });
  });

  it('calls an expired token permanent (401) and 5xx or an unreachable GitHub transient', async () => {
    const { token } = await app.installationToken(inst.id, repos[0]!.id);
    now += 11 * 60_000;
    const e = await failure(getRepositoryById(app.rest, token, repos[0]!.id));
    expect(e).toMatchObject({ status: 401, kind: 'permanent' });
    expect(e.message).toContain('Bad credentials');
    expect(e.message).not.toContain(token);

    const down = createServer((_req, res) =>
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>'),
    );
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const port = (down.address() as AddressInfo).port;
    try {
      const rest = new Rest({ apiUrl: `http://127.0.0.1:${port}`, now: clock });
      expect(await failure(rest.request('GET', '/user', { token: 'x' }))).toMatchObject({
        status: 502,
        kind: 'transient',
      });
    } finally {
      await new Promise<void>((r) => down.close(() => r()));
    }
    const gone = new Rest({ apiUrl: `http://127.0.0.1:${port}`, now: clock });
    expect(await failure(gone.request('GET', '/user', { token: 'x' }))).toMatchObject({ status: 0, kind: 'transient' });
  });

  it('classifies from headers alone: remaining 0 → reset, retry-after → now + seconds, plain 403 → permanent', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(
      classifyResponse(403, h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2000000000' }), {}, 'GET /x', 1),
    ).toMatchObject({ kind: 'rate_limited', retryAt: 2_000_000_000_000 });
    expect(classifyResponse(429, h({ 'retry-after': '7' }), {}, 'GET /x', 1000)).toMatchObject({
      kind: 'rate_limited',
      retryAt: 8000,
    });
    expect(
      classifyResponse(
        403,
        h({ 'x-ratelimit-remaining': '12' }),
        { message: 'Resource not accessible by integration' },
        'GET /x',
        1,
      ),
    ).toMatchObject({ kind: 'permanent' });
    expect(classifyResponse(503, h({}), undefined, 'GET /x', 1)).toMatchObject({ kind: 'transient' });
  });
});
