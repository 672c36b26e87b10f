/**
 * Real git against the fake GitHub's `git http-backend`: clone and push work with an installation
 * token handed over by GIT_ASKPASS (never in argv, the URL or .git/config); another repository's
 * token, an expired or revoked token, a read-only token for a push, and no credentials are refused
 * the way GitHub refuses them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { openPullRequest } from '../../functions/_shared/github/pulls.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Installation, Repo } from '../fakes/github/shapes.ts';
import { git, gitHome } from './git-helpers.ts';

const START = Date.parse('2026-12-02T08:00:00Z');
let now = START;
let fake: FakeGitHub;
let app: GitHubApp;
let mine: Repo;
let theirs: Repo;
let inst: Installation;
let home: string;

beforeAll(async () => {
  fake = await FakeGitHub.start({ now: () => now, tokenLifetimeMs: 10 * 60_000 });
  app = new GitHubApp({ appId: fake.app.id, privateKey: fake.app.privateKeyPem, apiUrl: fake.url, now: () => now });
  const org = fake.addAccount('acme', 'Organization');
  mine = fake.addRepository(org, 'mine');
  theirs = fake.addRepository(org, 'theirs');
  inst = fake.addInstallation(org);
  home = gitHome();
});

afterAll(async () => {
  await fake?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

const url = (r: Repo) => `${fake.url}/${r.owner.login}/${r.name}.git`;

describe('git over HTTPS with an installation token', () => {
  it('clones, commits and pushes with the task token; the PR opens on the pushed commit; no token in .git/config', async () => {
    const { token } = await app.installationToken(inst.id, mine.id);
    const clone = await git(home, home, ['clone', url(mine), 'work'], token);
    expect(clone.code, clone.stderr).toBe(0);
    const work = join(home, 'work');
    expect(readFileSync(join(work, 'README.md'), 'utf8')).toContain('mine');
    await git(home, work, ['checkout', '-b', 'sam/change']);
    await git(home, work, ['commit', '--allow-empty', '-m', 'The change']);
    const push = await git(home, work, ['push', 'origin', 'sam/change'], token);
    expect(push.code, push.stderr).toBe(0);
    const head = (await git(home, work, ['rev-parse', 'HEAD'])).stdout.trim();
    const pr = await openPullRequest(app.rest, token, {
      owner: 'acme',
      repo: 'mine',
      head: 'sam/change',
      base: 'main',
      title: 'Change',
    });
    expect(pr).toMatchObject({ kind: 'created', headSha: head });
    const config = readFileSync(join(work, '.git/config'), 'utf8');
    expect(config).not.toContain(token);
    expect(config).toContain(`url = ${url(mine)}`);
  });

  it('challenges with WWW-Authenticate: Basic realm="GitHub" (else git would not send credentials)', async () => {
    const res = await fetch(`${url(mine)}/info/refs?service=git-upload-pack`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="GitHub"');
    expect(await res.text()).toBe('Repository not found.\n');
    const bad = await fetch(`${url(mine)}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from('x-access-token:ghs_nope').toString('base64')}` },
    });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('Invalid username or token');
    const { token } = await app.installationToken(inst.id, mine.id);
    const wrongUser = await fetch(`${url(mine)}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`someone:${token}`).toString('base64')}` },
    });
    expect(wrongUser.status).toBe(401);
    await wrongUser.text();
  });

  it("refuses another repository's token: Repository not found, for fetch and push", async () => {
    const { token } = await app.installationToken(inst.id, mine.id);
    const clone = await git(home, home, ['clone', url(theirs), 'theirs-clone'], token);
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toContain('Repository not found.');
    const work = join(home, 'work');
    await git(home, work, ['remote', 'add', 'theirs', url(theirs)]);
    const push = await git(home, work, ['push', 'theirs', 'sam/change'], token);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('Repository not found.');
    const theirToken = (await app.installationToken(inst.id, theirs.id)).token;
    expect((await git(home, home, ['ls-remote', url(theirs)], theirToken)).code).toBe(0);
  });

  it('refuses an expired token and a revoked one: Authentication failed', async () => {
    const { token } = await app.mintInstallationToken(inst.id, { repositoryIds: [mine.id] });
    expect((await git(home, home, ['ls-remote', url(mine)], token)).code).toBe(0);
    now += 10 * 60_000;
    try {
      const expired = await git(home, home, ['ls-remote', url(mine)], token);
      expect(expired.code).not.toBe(0);
      expect(expired.stderr).toContain('Invalid username or token');
      expect(expired.stderr).toContain('Authentication failed');
    } finally {
      now = START;
    }
    const revoked = await app.mintInstallationToken(inst.id, { repositoryIds: [mine.id] });
    await app.rest.request('DELETE', '/installation/token', { token: revoked.token });
    expect((await git(home, home, ['ls-remote', url(mine)], revoked.token)).code).not.toBe(0);
  });

  it('refuses a push with a read-only token (403) but lets it fetch', async () => {
    const { token } = await app.installationToken(inst.id, mine.id, { contents: 'read', metadata: 'read' });
    const work = join(home, 'work');
    expect((await git(home, work, ['fetch', 'origin'], token)).code).toBe(0);
    await git(home, work, ['commit', '--allow-empty', '-m', 'More']);
    const push = await git(home, work, ['push', 'origin', 'sam/change'], token);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('403');
  });

  it('keeps pushing mid-task with the refreshed token after the first one expired', async () => {
    const first = await app.installationToken(inst.id, mine.id);
    const work = join(home, 'work');
    await git(home, work, ['reset', '--hard', 'origin/sam/change']);
    now = first.expiresAt;
    try {
      await git(home, work, ['commit', '--allow-empty', '-m', 'Later']);
      expect((await git(home, work, ['push', 'origin', 'sam/change'], first.token)).code).not.toBe(0);
      const fresh = await app.installationToken(inst.id, mine.id);
      expect(fresh.token).not.toBe(first.token);
      const push = await git(home, work, ['push', 'origin', 'sam/change'], fresh.token);
      expect(push.code, push.stderr).toBe(0);
    } finally {
      now = START;
    }
  });

  it('fails fast without credentials (no askpass, prompts off)', async () => {
    const r = await git(home, home, ['ls-remote', url(mine)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/terminal prompts disabled|Authentication failed/);
  });
});
