/**
 * git cannot hang a workspace or reach further than the machine allows: a remote that never
 * answers ends in a named timeout with git's whole process group gone; the protocols git may
 * speak are pinned on every invocation (even against a config file that widens them); local
 * repositories only come from the configured roots.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../tests/helpers/processes.ts';
import { makeRemote } from '../test-support/git-repos.ts';
import { HTTPS_ONLY, RepositoryNotAllowedError, type RepositoryPolicy } from './policy.ts';
import { runGit } from './run-git.ts';
import { cloneRepository } from './workspace.ts';

let root: string;
let bare: string;
beforeEach(async () => {
  ({ root, bare } = await makeRemote());
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A TCP server that accepts every connection and never sends a byte. */
async function startTarpit(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(text) && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('git against a remote that never answers', () => {
  it('a clone from a tarpit fails within its timeout, says which operation timed out, and leaves no git process behind', async () => {
    const tarpit = await startTarpit();
    try {
      const url = `https://127.0.0.1:${tarpit.port}/stuck.git`;
      const started = Date.now();
      const error = await cloneRepository({
        url,
        dir: path.join(root, 'ws'),
        timeouts: { networkMs: 1500 },
      }).catch((e: unknown) => e);
      const took = Date.now() - started;
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^git clone timed out after 1\.5 s/);
      expect(took).toBeLessThan(10_000);
      // git-remote-https (its child, same group) went with it.
      expect(processesMentioning(`127.0.0.1:${tarpit.port}`)).toEqual([]);
    } finally {
      await tarpit.close();
    }
  });

  it('gives network operations the long deadline and local ones the short one', async () => {
    const tarpit = await startTarpit();
    try {
      // A local operation finishes well within a short local deadline…
      const ok = await runGit(['--version'], { timeouts: { localMs: 5000, networkMs: 1 } });
      expect(ok.code).toBe(0);
      // …and ls-remote is held to the network deadline.
      const err = await runGit(['ls-remote', `https://127.0.0.1:${tarpit.port}/x.git`], {
        timeouts: { networkMs: 800, localMs: 60_000 },
      }).then(
        () => new Error('it did not time out'),
        (e: unknown) => e as Error,
      );
      expect(err.message).toMatch(/^git ls-remote timed out after 0\.8 s/);
    } finally {
      await tarpit.close();
    }
  });

  it('sets git to abort slow HTTP transfers', async () => {
    const seen: Record<string, string>[] = [];
    await runGit(['--version'], { onSpawn: (s) => seen.push(s.env) });
    expect(Number(seen[0]!.GIT_HTTP_LOW_SPEED_LIMIT)).toBeGreaterThan(0);
    expect(Number(seen[0]!.GIT_HTTP_LOW_SPEED_TIME)).toBeGreaterThan(0);
  });
});

describe('pinned protocols', () => {
  let home: string;
  beforeEach(async () => {
    // A HOME whose git config widens every protocol: what the pinning must withstand.
    home = await mkdtemp(path.join(tmpdir(), 'sam-home-'));
    await writeFile(
      path.join(home, '.gitconfig'),
      '[protocol]\n\tallow = always\n[protocol "ext"]\n\tallow = always\n[protocol "file"]\n\tallow = always\n',
    );
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('git refuses an ext:: remote even when a config file allows it, and runs nothing', async () => {
    const marker = path.join(root, 'pwned');
    const result = await runGit(['ls-remote', `ext::sh -c touch% ${marker}`], {
      env: { HOME: home },
      timeouts: { networkMs: 10_000 },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/transport 'ext' not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it('git refuses file:// and local paths unless the policy allows file', async () => {
    for (const url of [bare, `file://${bare}`]) {
      const refused = await runGit(['ls-remote', url], { env: { HOME: home }, protocols: ['https'] });
      expect(refused.code, url).not.toBe(0);
      expect(refused.stderr).toMatch(/transport 'file' not allowed/);
      const allowed = await runGit(['ls-remote', url], { env: { HOME: home }, protocols: ['https', 'file'] });
      expect(allowed.code, allowed.stderr).toBe(0);
    }
  });

  it('the protocol settings travel in GIT_CONFIG_* variables, not argv, and a caller cannot override them', async () => {
    const seen: { args: string[]; env: Record<string, string> }[] = [];
    await runGit(['--version'], {
      env: { GIT_CONFIG_COUNT: '0' },
      protocols: ['https'],
      onSpawn: (s) => seen.push(s),
    });
    const { args, env } = seen[0]!;
    expect(args.join(' ')).not.toContain('protocol');
    const pairs = Object.fromEntries(
      Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [
        env[`GIT_CONFIG_KEY_${i}`],
        env[`GIT_CONFIG_VALUE_${i}`],
      ]),
    );
    expect(pairs).toMatchObject({
      'protocol.allow': 'never',
      'protocol.https.allow': 'always',
      'protocol.file.allow': 'never',
      'protocol.ext.allow': 'never',
      'protocol.ssh.allow': 'never',
    });
  });
});

describe('which repositories a machine may clone', () => {
  const local = (roots: string[]): RepositoryPolicy => ({ protocols: ['https', 'file'], localRoots: roots });

  it('refuses ext::, ssh and scp-like addresses, and local paths under an https-only policy, before git runs', async () => {
    const spawned: string[][] = [];
    for (const url of [
      'ext::sh -c id',
      'ssh://git@example.com/o/r.git',
      'git@example.com:o/r.git',
      'git://example.com/r.git',
      bare,
      `file://${bare}`,
      'relative/path',
    ]) {
      const error = await cloneRepository({
        url,
        dir: path.join(root, 'x'),
        policy: HTTPS_ONLY,
        onSpawn: (s) => spawned.push(s.args),
      }).catch((e: unknown) => e);
      expect(error, url).toBeInstanceOf(RepositoryNotAllowedError);
    }
    expect(spawned).toEqual([]);
  });

  it('clones a local repository under an allowed root and refuses one outside, with the reason', async () => {
    await cloneRepository({ url: bare, dir: path.join(root, 'ok'), policy: local([root]) });
    expect(existsSync(path.join(root, 'ok', 'README.md'))).toBe(true);

    const elsewhere = await mkdtemp(path.join(tmpdir(), 'sam-roots-'));
    try {
      const error = (await cloneRepository({
        url: `file://${bare}`,
        dir: path.join(root, 'no'),
        policy: local([elsewhere]),
      }).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(RepositoryNotAllowedError);
      expect(error.message).toContain(`the repository ${bare} is outside the directories`);
      expect(error.message).toContain('SAM_LOCAL_REPO_ROOTS');

      // A symlink inside a root that points outside it is judged by where it points.
      const link = path.join(elsewhere, 'link.git');
      await symlink(bare, link);
      await expect(
        cloneRepository({ url: link, dir: path.join(root, 'via-link'), policy: local([elsewhere]) }),
      ).rejects.toBeInstanceOf(RepositoryNotAllowedError);
      // `..` cannot climb out either.
      await mkdir(path.join(elsewhere, 'sub'));
      await expect(
        cloneRepository({
          url: `${elsewhere}/sub/${'../'.repeat(20)}${bare.slice(1)}`,
          dir: path.join(root, 'via-dots'),
          policy: local([elsewhere]),
        }),
      ).rejects.toBeInstanceOf(RepositoryNotAllowedError);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
