/** The fake's repositories on disk: real bare git repositories, seeded and inspected with plumbing. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Git with no user or system configuration and a fixed identity. */
export function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Fake GitHub',
    GIT_AUTHOR_EMAIL: 'fake@github.invalid',
    GIT_COMMITTER_NAME: 'Fake GitHub',
    GIT_COMMITTER_EMAIL: 'fake@github.invalid',
  };
}

/** Creates a bare repository with one commit (`README.md`) on `branch`. */
export function createBareRepo(path: string, branch: string, home: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const env = gitEnv(home);
  const git = (args: string[], input?: string) =>
    execFileSync('git', args, { cwd: path, env, input, encoding: 'utf8' }).trim();
  execFileSync('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, path], { env });
  const blob = git(['hash-object', '-w', '--stdin'], `# ${path.split('/').slice(-2).join('/')}\n`);
  const tree = git(['mktree'], `100644 blob ${blob}\tREADME.md\n`);
  const commit = git(['commit-tree', tree, '-m', 'Initial commit']);
  git(['update-ref', `refs/heads/${branch}`, commit]);
}

/** The commit a branch points at, or undefined when there is no such branch. */
export async function branchSha(path: string, branch: string, home: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], {
      cwd: path,
      env: gitEnv(home),
    });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** How many commits `head` has that `base` has not. */
export async function commitsAhead(path: string, base: string, head: string, home: string): Promise<number> {
  const { stdout } = await run('git', ['rev-list', '--count', `${base}..${head}`], { cwd: path, env: gitEnv(home) });
  return Number(stdout.trim());
}

/**
 * Points `branch` at a new commit on top of `from` (same tree plus `file`), or at `from` itself
 * when `file` is omitted. Returns the branch's commit. Stands in for a push in REST-only tests.
 */
export function setBranch(path: string, branch: string, from: string, home: string, file?: string): string {
  const env = gitEnv(home);
  const git = (args: string[], input?: string) =>
    execFileSync('git', args, { cwd: path, env, input, encoding: 'utf8' }).trim();
  let sha = git(['rev-parse', '--verify', `${from}^{commit}`]);
  if (file !== undefined) {
    const blob = git(['hash-object', '-w', '--stdin'], `${file}\n`);
    const entries = git(['ls-tree', sha]);
    const tree = git(['mktree'], `${entries}\n100644 blob ${blob}\t${file}\n`);
    sha = git(['commit-tree', tree, '-p', sha, '-m', `Add ${file}`]);
  }
  git(['update-ref', `refs/heads/${branch}`, sha]);
  return sha;
}
