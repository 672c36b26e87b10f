/**
 * The `open_pr` orchestrator job against the fake GitHub, through the real job runner and a real
 * test database: after the push the PR is opened with the task's branch as head, its base branch
 * as base and its title; a second run adopts the PR an earlier attempt opened; a branch with no
 * commits completes without a PR and says why; a refused credential (401) kills the job at once in
 * words; a rate limit (429) waits for GitHub's reset. The task carries the PR, broadcasts it and
 * notifies `pr_created`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { openPullRequest } from '../../functions/_shared/github/pulls.ts';
import type { JobContext } from '../../functions/_shared/orchestrator/jobs.ts';
import { runDueJobs } from '../../functions/_shared/orchestrator/run.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Installation, Repo } from '../fakes/github/shapes.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

const db = useTestDatabase('github_open_pr');
let sql: Sql;
let fake: FakeGitHub;
let github: GitHubApp;
let repo: Repo;
let inst: Installation;
let owner: string;
let project: string;

beforeAll(async () => {
  fake = await FakeGitHub.start();
  const org = fake.addAccount('acme', 'Organization');
  repo = fake.addRepository(org, 'site');
  inst = fake.addInstallation(org);
  github = new GitHubApp({ appId: fake.app.clientId, privateKey: fake.app.privateKeyPem, apiUrl: fake.url });
  sql = connect(db.url('postgres'));
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await fake?.close();
});

beforeEach(async () => {
  await db.admin`update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running')`;
  owner = await createUser(db.admin);
  project = await createProject(db.admin, owner);
  await db.admin`update public.projects set repo_provider = 'github', repository = ${`${fake.url}/acme/site.git`},
                   github_installation_id = ${inst.id}, github_repository_id = ${repo.id}, github_full_name = 'acme/site'
                 where id = ${project}`;
});

const ctx = (app: GitHubApp | null = github): JobContext => ({
  sql,
  providers: providerRegistry({}),
  controlPlaneUrl: 'https://sam.test/functions/v1/vm-agent',
  github: app,
});

/** A finished task whose workspace pushed `branch` (with a commit unless `empty`): its open_pr job is due. */
async function pushedTask(message: string, opts: { empty?: boolean } = {}) {
  const t = await submitTask(db.admin, owner, project, message, { provider: 'hetzner' });
  await db.admin`update public.orchestrator_jobs set status = 'dead' where task_id = ${t.taskId} and status = 'pending'`;
  const sha = fake.setBranch(repo, t.branchName, opts.empty ? {} : { file: `${t.taskId}.txt` });
  await db.admin`update public.tasks set status = 'completed', execution_step = null, base_branch = 'main',
                   summary = 'Added the greeting and a test for it.' where id = ${t.taskId}`;
  await db.admin`select public.sam_enqueue_job('open_pr', ${owner}, ${project}, ${t.taskId}, null,
                   ${db.admin.json({ branch: t.branchName, baseBranch: 'main' })}, ${'open_pr:' + t.taskId})`;
  return { ...t, sha };
}

async function job(taskId: string) {
  const [j] = await db.admin`
    select status::text as status, attempts, last_error, payload -> 'result' as result,
           extract(epoch from run_after - now())::int as wait_s
      from public.orchestrator_jobs where kind = 'open_pr' and task_id = ${taskId} order by created_at desc limit 1`;
  return j!;
}

async function task(taskId: string) {
  const [t] =
    await db.admin`select pr_number, pr_url, pr_state, status::text as status from public.tasks where id = ${taskId}`;
  return t!;
}

const events = (taskId: string) =>
  db.admin`select reason from public.task_events where task_id = ${taskId} and reason is not null order by id`.then(
    (rows) => rows.map((r) => r.reason as string),
  );

describe('open_pr against GitHub', () => {
  it('opens the PR from the pushed branch into the base with the task title; the task shows, broadcasts and notifies it', async () => {
    const t = await pushedTask('Add a greeting to the home page');
    await db.admin`delete from realtime.messages`;
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 1, failed: 0 });

    const pr = fake.pulls.find((p) => p.repoId === repo.id && p.headRef === t.branchName);
    expect(pr).toMatchObject({
      baseRef: 'main',
      title: 'Add a greeting to the home page',
      state: 'open',
      headSha: t.sha,
    });
    expect(pr!.body).toContain('Added the greeting and a test for it.');
    expect(pr!.body).toContain('> Add a greeting to the home page');
    expect(await task(t.taskId)).toMatchObject({ pr_number: pr!.number, pr_state: 'open', status: 'completed' });
    expect((await task(t.taskId)).pr_url).toMatch(new RegExp(`/acme/site/pull/${pr!.number}$`));
    expect((await job(t.taskId)).result).toMatchObject({ created: true, number: pr!.number, head: t.branchName });

    const [n] = await db.admin`select type::text as type, metadata from public.notifications
                                 where task_id = ${t.taskId} and type = 'pr_created'`;
    expect(n!.metadata).toMatchObject({ prNumber: pr!.number, branch: t.branchName, how: 'created' });
    const [b] = await db.admin`select payload from realtime.messages
                                 where topic = ${'session:' + t.sessionId} and event = 'task'`;
    expect(b!.payload).toMatchObject({ taskId: t.taskId, prNumber: pr!.number, prState: 'open' });
    expect(await events(t.taskId)).toContainEqual(
      expect.stringMatching(new RegExp(`^pull request #${pr!.number} opened: `)),
    );
  });

  it('a second run adopts the PR an earlier attempt opened (its answer lost), without opening another', async () => {
    const t = await pushedTask('Fix the footer links');
    const { token } = await github.installationToken(inst.id, repo.id);
    const earlier = await openPullRequest(github.rest, token, {
      owner: 'acme',
      repo: 'site',
      head: t.branchName,
      base: 'main',
      title: 'Fix the footer links',
    });
    const before = fake.pulls.length;
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(fake.pulls.length).toBe(before);
    expect((await job(t.taskId)).result).toMatchObject({
      adopted: true,
      number: (earlier as { number: number }).number,
    });
    expect(await task(t.taskId)).toMatchObject({ pr_number: (earlier as { number: number }).number, pr_state: 'open' });
    const [n] = await db.admin`select metadata ->> 'how' as how from public.notifications
                                 where task_id = ${t.taskId} and type = 'pr_created'`;
    expect(n!.how).toBe('adopted');

    // And once more: the task has its PR, nothing is asked of GitHub.
    const calls = fake.log.length;
    await db.admin`select public.sam_enqueue_job('open_pr', ${owner}, ${project}, ${t.taskId}, null, '{}', ${'again:' + t.taskId})`;
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(fake.log.length).toBe(calls);
    expect((await job(t.taskId)).result).toMatchObject({ alreadyOpened: true });
  });

  it('a branch with no commits beyond the base completes without a PR and says why', async () => {
    const t = await pushedTask('Nothing to change here', { empty: true });
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(fake.pulls.some((p) => p.headRef === t.branchName)).toBe(false);
    const why = `No pull request was opened: the branch ${t.branchName} has no commits that main does not already have.`;
    expect((await job(t.taskId)).result).toEqual({ noPullRequest: why });
    expect(await task(t.taskId)).toMatchObject({ pr_number: null, pr_state: 'not_opened', status: 'completed' });
    expect(await events(t.taskId)).toContain(why);
  });

  it('a refused credential (401) kills the job on its first attempt, in GitHub’s words, and tells the owner', async () => {
    const t = await pushedTask('Rename the settings page');
    const wrongKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    const stranger = new GitHubApp({ appId: fake.app.clientId, privateKey: wrongKey, apiUrl: fake.url });
    expect(await runDueJobs(ctx(stranger), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    const j = await job(t.taskId);
    expect(j).toMatchObject({ status: 'dead', attempts: 1 });
    expect(j.last_error).toMatch(/^GitHub refused POST \/app\/installations\/\d+\/access_tokens \(401\): /);
    expect(await task(t.taskId)).toMatchObject({ pr_state: 'failed', pr_number: null });
    const [n] = await db.admin`select body from public.notifications where task_id = ${t.taskId} and type = 'error'`;
    expect(n!.body).toMatch(/The pull request could not be opened: GitHub refused .* \(401\)/);
  });

  it('a rate limit (429) waits for the reset GitHub named, and then opens the PR', async () => {
    const t = await pushedTask('Tidy the changelog');
    fake.secondaryLimit(300, 1, 429);
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    const j = await job(t.taskId);
    expect(j).toMatchObject({ status: 'pending', attempts: 1 });
    expect(j.last_error).toMatch(/\(429\)/);
    expect(j.wait_s).toBeGreaterThanOrEqual(290);
    expect(j.wait_s).toBeLessThanOrEqual(300);
    expect(await task(t.taskId)).toMatchObject({ pr_state: null });

    // Once the wait is over, the next run opens it.
    await db.admin`update public.orchestrator_jobs set run_after = now() where kind = 'open_pr' and task_id = ${t.taskId}`;
    expect(await runDueJobs(ctx(), { kinds: ['open_pr'] })).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(await task(t.taskId)).toMatchObject({ pr_state: 'open' });
  });
});
