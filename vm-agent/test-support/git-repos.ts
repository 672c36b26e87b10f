/** Real temporary git repositories for tests: a bare "remote" with an initial commit on main. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
}

/** A temp dir holding `remote.git` (bare, HEAD → main) seeded with README.md. */
export async function makeRemote(extraBranches: string[] = []): Promise<{ root: string; bare: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'sam-git-'));
  const bare = path.join(root, 'remote.git');
  const seed = path.join(root, 'seed');
  sh(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  sh(root, 'init', '--quiet', '--initial-branch=main', seed);
  await writeFile(path.join(seed, 'README.md'), '# Demo project\n');
  sh(seed, 'add', 'README.md');
  sh(seed, 'commit', '--quiet', '-m', 'initial');
  sh(seed, 'remote', 'add', 'origin', bare);
  sh(seed, 'push', '--quiet', 'origin', 'main');
  for (const branch of extraBranches) {
    sh(seed, 'checkout', '--quiet', '-b', branch);
    await writeFile(path.join(seed, `${branch.replaceAll('/', '-')}.txt`), `${branch}\n`);
    sh(seed, 'add', '-A');
    sh(seed, 'commit', '--quiet', '-m', `work on ${branch}`);
    sh(seed, 'push', '--quiet', 'origin', branch);
    sh(seed, 'checkout', '--quiet', 'main');
  }
  return { root, bare };
}
