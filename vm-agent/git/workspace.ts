/**
 * Preparing a workspace checkout: clone (credentials from the helper or askpass only, origin
 * stored without them) and check out the task branch — a new `sam/…` branch from the default branch, or the
 * existing remote branch, tracked.
 */
import type { GitCredentialHelper } from './credential-server.ts';
import { assertNoUrlCredentials, credentialSetup, type GitCredentials } from './credentials.ts';
import { assertRepositoryAllowed, HTTPS_ONLY, type RepositoryPolicy } from './policy.ts';
import { git, type GitLog, type GitTimeouts, type RunGitOptions } from './run-git.ts';

export type GitContext = {
  credentials?: GitCredentials | null;
  /** The workspace's credential helper: git asks it for a token whenever it needs one. */
  credentialHelper?: GitCredentialHelper | null;
  log?: GitLog;
  onSpawn?: RunGitOptions['onSpawn'];
  /** Which repositories and protocols are allowed (default https only). */
  policy?: RepositoryPolicy;
  timeouts?: Partial<GitTimeouts>;
};

/** The options every git call of a context gets: where it logs, its protocols and deadlines. */
export function gitOptions(ctx: GitContext, cwd?: string): RunGitOptions {
  return {
    cwd,
    log: ctx.log,
    onSpawn: ctx.onSpawn,
    protocols: (ctx.policy ?? HTTPS_ONLY).protocols,
    timeouts: ctx.timeouts,
  };
}

export type CloneOptions = GitContext & {
  /** https URL or local path / file URL of the repository. */
  url: string;
  /** Target directory (must not exist or be empty). */
  dir: string;
};

/** Runs `git <args>` in `cwd` with the context's credentials set up for the duration of the call. */
export async function gitWithCredentials(args: string[], cwd: string | undefined, ctx: GitContext): Promise<string> {
  const creds = await credentialSetup(ctx.credentials, ctx.credentialHelper);
  try {
    return await git([...creds.args, ...args], { ...gitOptions(ctx, cwd), env: creds.env, secrets: creds.secrets });
  } finally {
    await creds.dispose();
  }
}

/**
 * Clones the repository and returns its default branch (what origin's HEAD points at). A
 * repository the policy does not allow is refused before git runs, with the reason.
 */
export async function cloneRepository(options: CloneOptions): Promise<{ defaultBranch: string }> {
  assertRepositoryAllowed(options.url, options.policy ?? HTTPS_ONLY);
  assertNoUrlCredentials(options.url);
  // --no-local: a local repository goes through git's transport too (no hardlinked or copied
  // object files, no symlinks followed out of it).
  await gitWithCredentials(
    ['clone', '--no-local', '--origin', 'origin', '--', options.url, options.dir],
    undefined,
    options,
  );
  return { defaultBranch: await defaultBranch(options.dir, options) };
}

export async function defaultBranch(dir: string, ctx: GitContext = {}): Promise<string> {
  const opts = gitOptions(ctx, dir);
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

export type CheckoutResult = {
  branchName: string;
  created: boolean;
  baseBranch: string;
  /** The base asked for when the remote did not have it (e.g. a forked task's branch never pushed). */
  missingBase?: string;
};

/**
 * Checks out `branchName`: tracks `origin/<branchName>` when the remote has it, else creates it
 * from `origin/<baseBranch>` (the default branch unless given). A base the remote does not have
 * (a fork of a task that never pushed) falls back to the default branch, and the result says so.
 */
export async function checkoutTaskBranch(
  dir: string,
  branchName: string,
  options: GitContext & { baseBranch?: string } = {},
): Promise<CheckoutResult> {
  await assertBranchName(branchName);
  const opts = gitOptions(options, dir);
  const base = options.baseBranch ?? (await defaultBranch(dir, options));
  const remote = await git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branchName}`], opts).catch(
    () => '',
  );
  if (remote) {
    await git(['checkout', '-B', branchName, '--track', `origin/${branchName}`], opts);
    return { branchName, created: false, baseBranch: base };
  }
  if (options.baseBranch) {
    const hasBase = await git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${base}`], opts).catch(
      () => '',
    );
    if (!hasBase) {
      const fallback = await defaultBranch(dir, options);
      await git(['checkout', '--no-track', '-b', branchName, `origin/${fallback}`], opts);
      return { branchName, created: true, baseBranch: fallback, missingBase: base };
    }
  }
  await git(['checkout', '--no-track', '-b', branchName, `origin/${base}`], opts);
  return { branchName, created: true, baseBranch: base };
}
