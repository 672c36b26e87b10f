/**
 * Preparing a workspace checkout: clone (credentials via askpass only, origin stored without
 * them) and check out the task branch — a new `sam/…` branch from the default branch, or the
 * existing remote branch, tracked.
 */
import { assertNoUrlCredentials, credentialSetup, type GitCredentials } from './credentials.ts';
import { git, type GitLog, type RunGitOptions } from './run-git.ts';

export type GitContext = {
  credentials?: GitCredentials | null;
  log?: GitLog;
  onSpawn?: RunGitOptions['onSpawn'];
};

export type CloneOptions = GitContext & {
  /** https URL or local path / file URL of the repository. */
  url: string;
  /** Target directory (must not exist or be empty). */
  dir: string;
};

/** Runs `git <args>` in `cwd` with the context's credentials set up for the duration of the call. */
export async function gitWithCredentials(args: string[], cwd: string | undefined, ctx: GitContext): Promise<string> {
  const creds = await credentialSetup(ctx.credentials);
  try {
    return await git([...creds.args, ...args], {
      cwd,
      env: creds.env,
      secrets: creds.secrets,
      log: ctx.log,
      onSpawn: ctx.onSpawn,
    });
  } finally {
    await creds.dispose();
  }
}

/** Clones the repository and returns its default branch (what origin's HEAD points at). */
export async function cloneRepository(options: CloneOptions): Promise<{ defaultBranch: string }> {
  assertNoUrlCredentials(options.url);
  await gitWithCredentials(['clone', '--origin', 'origin', '--', options.url, options.dir], undefined, options);
  return { defaultBranch: await defaultBranch(options.dir, options) };
}

export async function defaultBranch(dir: string, ctx: GitContext = {}): Promise<string> {
  const opts = { cwd: dir, log: ctx.log, onSpawn: ctx.onSpawn };
  const head = await git(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], opts).catch(() => '');
  if (head.startsWith('origin/')) return head.slice('origin/'.length);
  return git(['symbolic-ref', '--short', 'HEAD'], opts);
}

export async function assertBranchName(name: string): Promise<void> {
  if (!name || name.startsWith('-')) throw new Error(`invalid branch name: ${JSON.stringify(name)}`);
  await git(['check-ref-format', '--branch', name]).catch(() => {
    throw new Error(`invalid branch name: ${JSON.stringify(name)}`);
  });
}

export type CheckoutResult = { branchName: string; created: boolean; baseBranch: string };

/**
 * Checks out `branchName`: tracks `origin/<branchName>` when the remote has it, else creates it
 * from `origin/<baseBranch>` (the default branch unless given).
 */
export async function checkoutTaskBranch(
  dir: string,
  branchName: string,
  options: GitContext & { baseBranch?: string } = {},
): Promise<CheckoutResult> {
  await assertBranchName(branchName);
  const opts = { cwd: dir, log: options.log, onSpawn: options.onSpawn };
  const base = options.baseBranch ?? (await defaultBranch(dir, options));
  const remote = await git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branchName}`], opts).catch(
    () => '',
  );
  if (remote) {
    await git(['checkout', '-B', branchName, '--track', `origin/${branchName}`], opts);
    return { branchName, created: false, baseBranch: base };
  }
  await git(['checkout', '--no-track', '-b', branchName, `origin/${base}`], opts);
  return { branchName, created: true, baseBranch: base };
}
