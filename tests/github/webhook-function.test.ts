/**
 * The `github-webhook` function through `app.request()` over a real test database, fed deliveries
 * the fake GitHub builds and signs: a bad or missing signature is a 401 JSON and changes nothing;
 * an event SAM does not act on is acknowledged (202); a merged (or closed) PR moves the task that
 * carries it, once, with an event and a broadcast, whatever the redeliveries; `installation` and
 * `installation_repositories` keep the links current.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { openPullRequest } from '../../functions/_shared/github/pulls.ts';
import { createGitHubWebhookApp } from '../../functions/github-webhook/app.ts';
import {
  installationEvent,
  installationRepositoriesEvent,
  pullRequestClosed,
  signedDelivery,
  type Delivery,
} from '../fakes/github/deliveries.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

const db = useTestDatabase('github_webhook_fn');
const secret = randomBytes(24).toString('base64url');
let sql: Sql;
let fake: FakeGitHub;
let github: GitHubApp;
let app: ReturnType<typeof createGitHubWebhookApp>;
let org: Account;
let site: Repo;
let docs: Repo;
let inst: Installation;

beforeAll(async () => {
  fake = await FakeGitHub.start();
  org = fake.addAccount('acme', 'Organization');
  site = fake.addRepository(org, 'site');
  docs = fake.addRepository(org, 'docs');
  inst = fake.addInstallation(org);
  github = new GitHubApp({ appId: fake.app.clientId, privateKey: fake.app.privateKeyPem, apiUrl: fake.url });
  sql = connect(db.url('postgres'));
  app = createGitHubWebhookApp({ sql, secret });
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await fake?.close();
});

const post = (d: Pick<Delivery, 'headers' | 'body'>) =>
  app.request('http://functions.test/github-webhook', { method: 'POST', headers: d.headers, body: d.body });

async function linkedProject(repo: Repo, installation: Installation = inst) {
  const owner = await createUser(db.admin);
  const project = await createProject(db.admin, owner);
  await db.admin`update public.projects set repo_provider = 'github', repository = ${`${fake.url}/${repo.owner.login}/${repo.name}.git`},
                   github_installation_id = ${installation.id}, github_repository_id = ${repo.id},
                   github_full_name = ${`${repo.owner.login}/${repo.name}`}
                 where id = ${project}`;
  return { owner, project };
}

/** A completed task whose PR is open on the fake (as open_pr leaves it). */
async function taskWithOpenPr(repo: Repo, message: string) {
  const { owner, project } = await linkedProject(repo);
  const t = await submitTask(db.admin, owner, project, message, { provider: 'hetzner' });
  fake.setBranch(repo, t.branchName, { file: `${t.taskId}.md` });
  const { token } = await github.installationToken(inst.id, repo.id);
  const pr = await openPullRequest(github.rest, token, {
    owner: 'acme',
    repo: repo.name,
    head: t.branchName,
    base: 'main',
    title: message,
  });
  if (pr.kind === 'no_commits') throw new Error('expected a PR');
  await db.admin`update public.tasks set status = 'completed', execution_step = null where id = ${t.taskId}`;
  await db.admin`select public.record_task_pull_request(${t.taskId}, ${pr.number}, ${pr.htmlUrl}, 'created')`;
  return { ...t, project, number: pr.number };
}

const prState = async (taskId: string) =>
  (await db.admin`select pr_state from public.tasks where id = ${taskId}`)[0]!.pr_state as string;
const notes = async (taskId: string) =>
  (await db.admin`select reason, actor_id from public.task_events where task_id = ${taskId} and reason like 'pull request%'
                   order by id`) as unknown as { reason: string; actor_id: string }[];

describe('POST /github-webhook', () => {
  it('refuses a bad or missing signature with 401 JSON and changes nothing', async () => {
    const t = await taskWithOpenPr(site, 'Make the header sticky');
    fake.closePull(site, t.number, true);
    const good = signedDelivery(fake, secret, 'pull_request', pullRequestClosed(fake, site, t.number, inst.id, org));
    const forged = signedDelivery(fake, 'not-the-secret', 'pull_request', JSON.parse(good.body));
    const tampered = { headers: good.headers, body: good.body.replace('"merged":true', '"merged":false') };
    const unsigned = { headers: { ...good.headers, 'x-hub-signature-256': '' }, body: good.body };
    for (const d of [forged, tampered, unsigned]) {
      const res = await post(d);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    }
    expect(await prState(t.taskId)).toBe('open');
  });

  it('acknowledges events it does not act on (202) and refuses unreadable bodies (400)', async () => {
    const ping = await post(signedDelivery(fake, secret, 'ping', { zen: 'Keep it logically awesome.', hook_id: 1 }));
    expect(ping.status).toBe(202);
    expect(await ping.json()).toMatchObject({ event: 'ping', ignored: true });
    const push = await post(signedDelivery(fake, secret, 'push', { ref: 'refs/heads/main' }));
    expect(push.status).toBe(202);

    const body = '{"action": "closed",';
    const broken = signedDelivery(fake, secret, 'pull_request', {});
    const mac = (await import('node:crypto')).createHmac('sha256', secret).update(body).digest('hex');
    const res = await post({ headers: { ...broken.headers, 'x-hub-signature-256': `sha256=${mac}` }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
    const malformed = await post(signedDelivery(fake, secret, 'pull_request', { action: 'closed' }));
    expect(malformed.status).toBe(400);
  });

  it('a merged PR marks its task merged once, with an event and a broadcast; a redelivery changes nothing', async () => {
    const t = await taskWithOpenPr(site, 'Compress the hero image');
    const bystander = await taskWithOpenPr(docs, 'Fix a typo in the docs');
    fake.closePull(site, t.number, true);
    const d = signedDelivery(fake, secret, 'pull_request', pullRequestClosed(fake, site, t.number, inst.id, org));
    await db.admin`delete from realtime.messages`;
    const res = await post(d);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ delivery: d.id, pullRequest: t.number, merged: true, tasksUpdated: 1 });
    expect(await prState(t.taskId)).toBe('merged');
    const [b] =
      await db.admin`select payload from realtime.messages where topic = ${'project:' + t.project} and event = 'task'`;
    expect(b!.payload).toMatchObject({ taskId: t.taskId, prState: 'merged', prNumber: t.number });

    const again = await post(signedDelivery(fake, secret, 'pull_request', JSON.parse(d.body), d.id));
    expect(await again.json()).toMatchObject({ tasksUpdated: 0 });
    const merged = (await notes(t.taskId)).filter((n) => / merged on GitHub/.test(n.reason));
    expect(merged).toHaveLength(1);
    expect(merged[0]!.actor_id).toBe('github-webhook');
    // Another repository's PR with any number is not touched.
    expect(await prState(bystander.taskId)).toBe('open');
  });

  it('a PR closed without merging marks its task closed', async () => {
    const t = await taskWithOpenPr(site, 'Try a darker theme');
    fake.closePull(site, t.number, false);
    const res = await post(
      signedDelivery(fake, secret, 'pull_request', pullRequestClosed(fake, site, t.number, inst.id, org)),
    );
    expect(await res.json()).toMatchObject({ merged: false, tasksUpdated: 1 });
    expect(await prState(t.taskId)).toBe('closed');
    expect((await notes(t.taskId)).at(-1)!.reason).toBe(`pull request #${t.number} closed without merging on GitHub`);
  });

  it('installation events keep the links current: suspend, unsuspend, repositories removed, deleted', async () => {
    const team = fake.addAccount('team', 'Organization');
    const api = fake.addRepository(team, 'api');
    const web = fake.addRepository(team, 'web');
    const inst = fake.addInstallation(team);
    const org = team;
    const a = await linkedProject(api, inst);
    const b = await linkedProject(web, inst);
    const state = async () =>
      (
        await db.admin`select suspended_at is not null as suspended, deleted_at is not null as deleted
                        from public.github_installation_states where installation_id = ${inst.id}`
      )[0];
    const linked = async (project: string) =>
      (await db.admin`select github_repository_id from public.projects where id = ${project}`)[0]!
        .github_repository_id !== null;

    expect(
      (await post(signedDelivery(fake, secret, 'installation', installationEvent(fake, 'suspend', inst, org)))).status,
    ).toBe(200);
    expect(await state()).toEqual({ suspended: true, deleted: false });
    await post(signedDelivery(fake, secret, 'installation', installationEvent(fake, 'unsuspend', inst, org)));
    expect(await state()).toEqual({ suspended: false, deleted: false });

    const removed = await post(
      signedDelivery(
        fake,
        secret,
        'installation_repositories',
        installationRepositoriesEvent(fake, 'removed', inst, [web], org),
      ),
    );
    expect(await removed.json()).toMatchObject({ installation: inst.id, unlinkedProjects: 1 });
    expect(await linked(b.project)).toBe(false);
    expect(await linked(a.project)).toBe(true);

    const deleted = await post(
      signedDelivery(fake, secret, 'installation', installationEvent(fake, 'deleted', inst, org)),
    );
    expect(await deleted.json()).toMatchObject({ action: 'deleted', unlinkedProjects: 1 });
    expect(await linked(a.project)).toBe(false);
    expect(await state()).toEqual({ suspended: false, deleted: true });
  });
});
