/**
 * Finishing a workspace: commit leftover work ("chore: save agent work", configurable author),
 * refuse to push the default branch (the commit stays), push the branch with upstream, and report
 * the outcome as the task callback's `gitPushResult`. Never throws: failures are in `error`.
 */
import { git } from './run-git.ts';
import { gitOptions, gitWithCredentials, type GitContext } from './workspace.ts';

export type GitAuthor = { name: string; email: string };

export type CompleteOptions = GitContext & {
  dir: string;
  defaultBranch: string;
  author?: GitAuthor;
  message?: string;
};

export type GitPushResult = {
  pushed: boolean;
  commitSha: string | null;
  branchName: string | null;
  /** Whether uncommitted changes remain in the workspace after completion. */
  hasUncommittedChanges: boolean;
  /** Whether this completion made the "save agent work" commit. */
  committed: boolean;
  error: string | null;
};

export const DEFAULT_AUTHOR: GitAuthor = { name: 'SAM Agent', email: 'agent@sam.local' };
export const SAVE_WORK_MESSAGE = 'chore: save agent work';

export async function completeWork(options: CompleteOptions): Promise<GitPushResult> {
  const opts = gitOptions(options, options.dir);
  const author = options.author ?? DEFAULT_AUTHOR;
  const result: GitPushResult = {
    pushed: false,
    commitSha: null,
    branchName: null,
    hasUncommittedChanges: false,
    committed: false,
    error: null,
  };
  const dirty = async () => (await git(['status', '--porcelain', '--untracked-files=all'], opts)) !== '';
  try {
    result.branchName = (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], opts).catch(() => '')) || null;
    if (await dirty()) {
      await git(['add', '-A'], opts);
      await git(['commit', '--no-verify', '--quiet', '-m', options.message ?? SAVE_WORK_MESSAGE], {
        ...opts,
        env: {
          GIT_AUTHOR_NAME: author.name,
          GIT_AUTHOR_EMAIL: author.email,
          GIT_COMMITTER_NAME: author.name,
          GIT_COMMITTER_EMAIL: author.email,
        },
      });
      result.committed = true;
    }
    result.commitSha = (await git(['rev-parse', '--verify', '--quiet', 'HEAD'], opts).catch(() => '')) || null;
    result.hasUncommittedChanges = await dirty();
    if (result.branchName === null) {
      result.error = 'HEAD is detached; not pushing (the work is committed locally)';
    } else if (result.branchName === options.defaultBranch) {
      result.error =
        `refusing to push to the default branch '${options.defaultBranch}'; ` +
        `the work is committed locally as ${result.commitSha ?? 'no commit'}`;
    } else {
      await gitWithCredentials(['push', '--porcelain', '--set-upstream', 'origin', 'HEAD'], options.dir, options);
      result.pushed = true;
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    result.hasUncommittedChanges = await dirty().catch(() => result.hasUncommittedChanges);
  }
  return result;
}
