/**
 * The `open_pr` job: after the workspace pushed the task branch, open the pull request on GitHub
 * (head = the `sam/…` branch, base = the task's base branch, title and body from the task and the
 * agent's summary) with an installation token for the project's repository.
 *
 * Safe to run again at any point: a task that has its PR is done; otherwise an open PR for
 * `owner:branch` is adopted, a 422 "already exists" adopts the winner, and "No commits between"
 * completes without a PR and says why. GitHub's refusals for good (401, 404, 422 validation) throw
 * a permanent `GitHubError` after the task says so in words; rate limits throw one that carries the
 * reset, so the runner waits for it.
 */
import { getRepositoryById } from '../github/app.ts';
import { GitHubError } from '../github/errors.ts';
import { openPullRequest } from '../github/pulls.ts';
import type { Job, JobContext, JobResult } from './jobs.ts';
import { asOrchestrator } from './system.ts';

interface PrTaskRow {
  repo_provider: string;
  default_branch: string;
  installation_id: string | null;
  repository_id: string | null;
  task_id: string | null;
  title: string | null;
  description: string | null;
  summary: string | null;
  branch: string | null;
  base_branch: string | null;
  pr_number: number | null;
  pr_url: string | null;
  pr_state: string | null;
}

const BODY_LIMIT = 60_000;

/** The PR's description: the agent's summary, then the task as it was asked. */
export function pullRequestBody(task: { id: string; description: string; summary: string | null; branch: string }) {
  const summary = task.summary?.trim() || 'The agent left no summary.';
  const asked = task.description.trim();
  const quoted = asked.length > 4000 ? `${asked.slice(0, 4000)}…` : asked;
  const parts = [summary, '---', `**Task**\n\n${quoted.replace(/^/gm, '> ')}`];
  parts.push(`Opened by SAM for task \`${task.id}\` from branch \`${task.branch}\`.`);
  return parts.join('\n\n').slice(0, BODY_LIMIT);
}

async function noPullRequest(ctx: JobContext, taskId: string, state: 'not_opened' | 'failed', reason: string) {
  await asOrchestrator(
    ctx.sql,
    (tx) => tx`select public.record_task_no_pull_request(${taskId}, ${state}, ${reason}) as r`,
  );
}

export async function openPr(ctx: JobContext, job: Job): Promise<JobResult> {
  const [found] = await asOrchestrator(
    ctx.sql,
    (tx) =>
      tx`select p.repo_provider, p.default_branch, p.github_installation_id::text as installation_id,
                p.github_repository_id::text as repository_id, t.id as task_id, t.title, t.description,
                t.summary, t.branch, t.base_branch, t.pr_number, t.pr_url, t.pr_state
           from public.projects p
           left join public.tasks t on t.id = ${job.task_id}
          where p.id = coalesce(t.project_id, ${job.project_id})`,
  );
  const row = found as PrTaskRow | undefined;
  if (!row) return { skipped: 'the project no longer exists' };
  if (row.repo_provider === 'local') return { skipped: 'local repositories have no pull requests' };
  if (!row.task_id) return { skipped: 'the task no longer exists' };
  const taskId = row.task_id;
  if (row.pr_number && row.pr_url) return { alreadyOpened: true, number: row.pr_number, url: row.pr_url };
  const payload = job.payload ?? {};
  const branch = row.branch ?? (typeof payload.branch === 'string' ? payload.branch : null);
  if (!branch) return { skipped: 'the task has no branch' };

  if (row.repo_provider !== 'github') {
    const reason = `No pull request: pull requests on ${row.repo_provider} are not supported; the work is on branch ${branch}.`;
    await noPullRequest(ctx, taskId, 'not_opened', reason);
    return { noPullRequest: reason };
  }
  if (!row.installation_id || !row.repository_id) {
    const reason = `No pull request: the project is not linked to a GitHub App installation; the work is on branch ${branch}.`;
    await noPullRequest(ctx, taskId, 'not_opened', reason);
    return { noPullRequest: reason };
  }
  const github = ctx.github;
  if (!github) {
    const message = `GitHub App is not configured: cannot open a pull request for branch ${branch}`;
    await noPullRequest(ctx, taskId, 'failed', message);
    throw new GitHubError(0, 'permanent', message);
  }
  const installationId = Number(row.installation_id);
  const repositoryId = Number(row.repository_id);
  const base =
    row.base_branch ?? (typeof payload.baseBranch === 'string' ? payload.baseBranch : null) ?? row.default_branch;

  try {
    // By id: the repository may have been renamed or transferred since the project was linked.
    const { token } = await github.installationToken(installationId, repositoryId);
    const repo = await getRepositoryById(github.rest, token, repositoryId);
    const result = await openPullRequest(github.rest, token, {
      owner: repo.owner.login,
      repo: repo.name,
      head: branch,
      base,
      title: row.title ?? branch,
      body: pullRequestBody({ id: taskId, description: row.description ?? '', summary: row.summary, branch }),
    });
    if (result.kind === 'no_commits') {
      await noPullRequest(ctx, taskId, 'not_opened', result.reason);
      return { noPullRequest: result.reason };
    }
    await asOrchestrator(
      ctx.sql,
      (tx) =>
        tx`select public.record_task_pull_request(${taskId}, ${result.number}, ${result.htmlUrl}, ${result.kind})`,
    );
    return { [result.kind]: true, number: result.number, url: result.htmlUrl, head: branch, base };
  } catch (e) {
    if (e instanceof GitHubError && e.kind === 'permanent') {
      await noPullRequest(ctx, taskId, 'failed', `The pull request could not be opened: ${e.message}`);
    }
    throw e;
  }
}
