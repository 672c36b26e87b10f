/**
 * Opening the pull request at the end of a task, idempotently: an open PR for `owner:branch` is
 * adopted; otherwise one is created; a 422 "A pull request already exists" adopts the one that won
 * the race; a 422 "No commits between" means there is nothing to propose, which completes the task
 * without a PR and says why. Every other failure is a `GitHubError` (see errors.ts).
 */
import { GitHubError } from './errors.ts';
import type { Rest } from './rest.ts';

export interface PullRequestRef {
  number: number;
  /** The page people open. */
  htmlUrl: string;
  state: 'open' | 'closed';
  headSha: string;
}

export type OpenPullRequestResult =
  ({ kind: 'created' | 'adopted' } & PullRequestRef) | { kind: 'no_commits'; reason: string };

export interface OpenPullRequest {
  owner: string;
  repo: string;
  /** The branch with the work (in the same repository). */
  head: string;
  base: string;
  title: string;
  body?: string;
  draft?: boolean;
}

interface WirePull {
  number: number;
  html_url: string;
  state: 'open' | 'closed';
  head: { sha: string; ref: string };
}

function toRef(p: WirePull): PullRequestRef {
  return { number: p.number, htmlUrl: p.html_url, state: p.state, headSha: p.head.sha };
}

function repoPath(owner: string, repo: string): string {
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/pulls`;
}

/**
 * The open PR from `owner:head` into `base`, if any. The `owner:` prefix matters: GitHub ignores a
 * bare branch name in `head` and lists every PR.
 */
export async function findOpenPullRequest(
  rest: Rest,
  token: string,
  pr: Pick<OpenPullRequest, 'owner' | 'repo' | 'head' | 'base'>,
): Promise<PullRequestRef | undefined> {
  const { data } = await rest.request<WirePull[]>('GET', repoPath(pr.owner, pr.repo), {
    token,
    query: { head: `${pr.owner}:${pr.head}`, base: pr.base, state: 'open', per_page: 10 },
  });
  const match = (data ?? []).find((p) => p.head?.ref === pr.head && p.state === 'open');
  return match ? toRef(match) : undefined;
}

/** Opens (or adopts) the task's pull request. Safe to call again after any outcome. */
export async function openPullRequest(rest: Rest, token: string, pr: OpenPullRequest): Promise<OpenPullRequestResult> {
  const existing = await findOpenPullRequest(rest, token, pr);
  if (existing) return { kind: 'adopted', ...existing };
  try {
    const { data } = await rest.request<WirePull>('POST', repoPath(pr.owner, pr.repo), {
      token,
      body: { head: pr.head, base: pr.base, title: pr.title, body: pr.body ?? '', draft: pr.draft ?? false },
    });
    return { kind: 'created', ...toRef(data) };
  } catch (e) {
    if (!(e instanceof GitHubError) || e.status !== 422) throw e;
    if (/no commits between/i.test(e.message)) {
      return {
        kind: 'no_commits',
        reason: `No pull request was opened: the branch ${pr.head} has no commits that ${pr.base} does not already have.`,
      };
    }
    if (/pull request already exists/i.test(e.message)) {
      const winner = await findOpenPullRequest(rest, token, pr);
      if (winner) return { kind: 'adopted', ...winner };
    }
    throw e;
  }
}
