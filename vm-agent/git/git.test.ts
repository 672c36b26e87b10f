import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGitHttpServer, type GitHttpServer } from '../test-support/git-http-server.ts';
import { makeRemote, sh } from '../test-support/git-repos.ts';
import { completeWork, SAVE_WORK_MESSAGE } from './complete.ts';
import type { RepositoryPolicy } from './policy.ts';
import { redact } from './run-git.ts';
import { checkoutTaskBranch, cloneRepository } from './workspace.ts';

let root: string;
let bare: string;
beforeEach(async () => {
  ({ root, bare } = await makeRemote(['sam/existing-abc123']));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});
/** The test repositories are local, under the temp dir: what local mode allows. */
const local = (): RepositoryPolicy => ({ protocols: ['https', 'file'], localRoots: [root] });

describe('clone and branch', () => {
  it('clones a local repository, finds the default branch, creates a new task branch from it', async () => {
    const dir = path.join(root, 'ws');
    const { defaultBranch } = await cloneRepository({ url: bare, dir, policy: local() });
    expect(defaultBranch).toBe('main');
    const checkout = await checkoutTaskBranch(dir, 'sam/add-greeting-x1y2z3');
    expect(checkout).toEqual({ branchName: 'sam/add-greeting-x1y2z3', created: true, baseBranch: 'main' });
    expect(sh(dir, 'symbolic-ref', '--short', 'HEAD')).toBe('sam/add-greeting-x1y2z3');
    expect(sh(dir, 'rev-parse', 'HEAD')).toBe(sh(bare, 'rev-parse', 'main'));
  });

  it('tracks an existing remote branch instead of creating one', async () => {
    const dir = path.join(root, 'ws');
    await cloneRepository({ url: bare, dir, policy: local() });
    const checkout = await checkoutTaskBranch(dir, 'sam/existing-abc123');
    expect(checkout.created).toBe(false);
    expect(sh(dir, 'rev-parse', 'HEAD')).toBe(sh(bare, 'rev-parse', 'sam/existing-abc123'));
    expect(sh(dir, 'rev-parse', '--abbrev-ref', '@{upstream}')).toBe('origin/sam/existing-abc123');
    expect(existsSync(path.join(dir, 'sam-existing-abc123.txt'))).toBe(true);
  });

  it('starts from the default branch when the base asked for was never pushed (a fork of an unpushed task), and says so', async () => {
    const dir = path.join(root, 'ws');
    await cloneRepository({ url: bare, dir, policy: local() });
    const checkout = await checkoutTaskBranch(dir, 'sam/fork-x1y2z3', { baseBranch: 'sam/never-pushed-abc123' });
    expect(checkout).toEqual({
      branchName: 'sam/fork-x1y2z3',
      created: true,
      baseBranch: 'main',
      missingBase: 'sam/never-pushed-abc123',
    });
    expect(sh(dir, 'rev-parse', 'HEAD')).toBe(sh(bare, 'rev-parse', 'main'));
  });

  it('refuses bad branch names and URLs with credentials', async () => {
    const dir = path.join(root, 'ws');
    await cloneRepository({ url: bare, dir, policy: local() });
    await expect(checkoutTaskBranch(dir, '--upload-pack=evil')).rejects.toThrow(/invalid branch name/);
    await expect(checkoutTaskBranch(dir, 'sam/bad..name')).rejects.toThrow(/invalid branch name/);
    await expect(
      cloneRepository({ url: 'https://x-access-token:ghs_secret@example.com/o/r.git', dir: path.join(root, 'x') }),
    ).rejects.toThrow(/must not contain credentials/);
  });
});

describe('completion', () => {
  async function workspace(branch: string | null) {
    const dir = path.join(root, 'ws');
    await cloneRepository({ url: bare, dir, policy: local() });
    if (branch) await checkoutTaskBranch(dir, branch);
    return dir;
  }

  it('commits leftover work with the configured author and pushes the branch with upstream', async () => {
    const dir = await workspace('sam/add-greeting-x1y2z3');
    await writeFile(path.join(dir, 'README.md'), '# Demo project\nHello!\n');
    await writeFile(path.join(dir, 'new-file.txt'), 'new\n');
    const result = await completeWork({
      dir,
      defaultBranch: 'main',
      policy: local(),
      author: { name: 'Ada Agent', email: 'ada@example.com' },
    });
    expect(result).toMatchObject({
      pushed: true,
      branchName: 'sam/add-greeting-x1y2z3',
      hasUncommittedChanges: false,
      committed: true,
      error: null,
    });
    expect(result.commitSha).toBe(sh(bare, 'rev-parse', 'sam/add-greeting-x1y2z3'));
    expect(sh(bare, 'log', '-1', '--format=%an <%ae>|%cn|%s', 'sam/add-greeting-x1y2z3')).toBe(
      `Ada Agent <ada@example.com>|Ada Agent|${SAVE_WORK_MESSAGE}`,
    );
    expect(sh(bare, 'show', 'sam/add-greeting-x1y2z3:new-file.txt')).toBe('new');
    expect(sh(dir, 'rev-parse', '--abbrev-ref', '@{upstream}')).toBe('origin/sam/add-greeting-x1y2z3');
    expect(sh(bare, 'rev-parse', 'main')).not.toBe(result.commitSha);
  });

  it('pushes already-committed work without an extra commit', async () => {
    const dir = await workspace('sam/clean-branch');
    await writeFile(path.join(dir, 'a.txt'), 'a\n');
    sh(dir, 'add', 'a.txt');
    sh(dir, 'commit', '--quiet', '-m', 'agent commit');
    const result = await completeWork({ dir, defaultBranch: 'main', policy: local() });
    expect(result).toMatchObject({ pushed: true, committed: false, error: null });
    expect(sh(bare, 'log', '-1', '--format=%s', 'sam/clean-branch')).toBe('agent commit');
  });

  it('refuses to push the default branch but keeps the commit', async () => {
    const dir = await workspace(null);
    const before = sh(bare, 'rev-parse', 'main');
    await writeFile(path.join(dir, 'README.md'), 'changed on main\n');
    const result = await completeWork({ dir, defaultBranch: 'main', policy: local() });
    expect(result.pushed).toBe(false);
    expect(result.committed).toBe(true);
    expect(result.branchName).toBe('main');
    expect(result.error).toMatch(/refusing to push to the default branch 'main'/);
    expect(result.error).toContain(result.commitSha ?? 'missing');
    expect(sh(dir, 'log', '-1', '--format=%s')).toBe(SAVE_WORK_MESSAGE);
    expect(sh(bare, 'rev-parse', 'main')).toBe(before);
  });

  it('reports a failed push without throwing', async () => {
    const dir = await workspace('sam/doomed');
    await rm(bare, { recursive: true, force: true });
    await writeFile(path.join(dir, 'x.txt'), 'x\n');
    const result = await completeWork({ dir, defaultBranch: 'main', policy: local() });
    expect(result.pushed).toBe(false);
    expect(result.committed).toBe(true);
    expect(result.error).toMatch(/git push/);
    expect(result.hasUncommittedChanges).toBe(false);
  });
});

describe('credentials over smart HTTP', () => {
  const TOKEN = 'ghs_TopSecretInstallationToken0123456789';
  let server: GitHttpServer;
  beforeEach(async () => {
    server = await startGitHttpServer(root, 'x-access-token', TOKEN);
  });
  afterEach(async () => {
    await server.close();
  });

  it('clones and pushes with a token that never appears in argv, env of git except its own var, logs or .git/config', async () => {
    const spawned: { args: string[]; env: Record<string, string> }[] = [];
    const logs: string[] = [];
    const ctx = {
      credentials: { token: TOKEN },
      policy: { protocols: ['http'], localRoots: [] } as RepositoryPolicy,
      log: (l: string) => logs.push(l),
      onSpawn: (s: { args: string[]; env: Record<string, string> }) => spawned.push(s),
    };
    const dir = path.join(root, 'ws-http');
    const tmpBefore = (await readdir(tmpdir())).filter((n) => n.startsWith('sam-askpass-')).length;
    await cloneRepository({ url: `${server.url}/remote.git`, dir, ...ctx });
    await checkoutTaskBranch(dir, 'sam/over-http', ctx);
    await writeFile(path.join(dir, 'http.txt'), 'via http\n');
    const result = await completeWork({ dir, defaultBranch: 'main', ...ctx });
    expect(result.error).toBeNull();
    expect(result.pushed).toBe(true);
    expect(sh(bare, 'rev-parse', 'sam/over-http')).toBe(result.commitSha);

    // The server really demanded the token (a 401 first, then authorized requests).
    expect(server.requests.some((r) => !r.authorized)).toBe(true);
    expect(server.requests.filter((r) => r.authorized).length).toBeGreaterThan(0);

    expect(spawned.length).toBeGreaterThan(3);
    for (const s of spawned) expect(s.args.join(' ')).not.toContain(TOKEN);
    const withToken = spawned.filter((s) => Object.values(s.env).includes(TOKEN));
    expect(withToken.map((s) => s.args.find((a) => a === 'clone' || a === 'push'))).toEqual(['clone', 'push']);
    for (const s of withToken) {
      expect(
        Object.entries(s.env)
          .filter(([, v]) => v.includes(TOKEN))
          .map(([k]) => k),
      ).toEqual(['SAM_GIT_TOKEN']);
      expect(s.args).toContain('credential.helper=');
    }
    expect(logs.join('\n')).not.toContain(TOKEN);
    expect(logs.some((l) => l.includes('git') && l.includes('clone'))).toBe(true);
    const config = await readFile(path.join(dir, '.git', 'config'), 'utf8');
    expect(config).not.toContain(TOKEN);
    expect(config).toContain(`url = ${server.url}/remote.git`);
    // The askpass script directories are gone again.
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('sam-askpass-')).length).toBe(tmpBefore);
  });

  it('fails cleanly with a wrong token and does not echo it', async () => {
    const wrong = 'ghs_WrongTokenValue987654321';
    const logs: string[] = [];
    const clone = cloneRepository({
      url: `${server.url}/remote.git`,
      dir: path.join(root, 'ws-bad'),
      credentials: { token: wrong },
      policy: { protocols: ['http'], localRoots: [] },
      log: (l) => logs.push(l),
    });
    await expect(clone).rejects.toThrow(/Authentication failed|401|could not read/i);
    await clone.catch((e: Error) => expect(e.message).not.toContain(wrong));
    expect(logs.join('\n')).not.toContain(wrong);
  });

  it('redacts URL credentials and secrets from text', () => {
    expect(redact('fatal: https://user:pw@host/x.git and abc123', ['abc123'])).toBe(
      'fatal: https://***@host/x.git and ***',
    );
  });
});
