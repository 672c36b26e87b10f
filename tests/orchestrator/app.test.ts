import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { createOrchestratorApp } from '../../functions/orchestrator/app.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { ProviderError, type Labels } from '../../functions/_shared/providers/provider.ts';
import { as, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { FakeCloud } from './fake-cloud.ts';

/**
 * The orchestrator app in-process (`app.request()`) over a real test database. The one fake is
 * the third-party cloud (./fake-cloud.ts).
 */
const db = useTestDatabase('orchestrator_app');
const SECRET = randomBytes(32).toString('base64url');
const CONTROL_PLANE = 'https://sam.example.test/functions/v1/vm-agent';
let sql: Sql;
let cloud: FakeCloud;
let app: ReturnType<typeof createOrchestratorApp>;
let user: string;
let project: string;

beforeAll(() => {
  sql = connect(db.url('postgres'));
  cloud = new FakeCloud();
  app = createOrchestratorApp({
    sql,
    secret: SECRET,
    providers: providerRegistry({ hetzner: cloud }),
    controlPlaneUrl: CONTROL_PLANE,
    run: { concurrency: 2 },
  });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
});
beforeEach(async () => {
  // Each test starts with nothing due: what earlier tests left pending is put aside.
  await db.admin`update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running')`;
  user = await createUser(db.admin);
  project = await createProject(db.admin, user);
  cloud.failCreate = null;
  cloud.loseCreateAnswer = false;
});

async function run(body: unknown = {}, token: string | null = SECRET) {
  const res = await app.request('http://orchestrator.test/orchestrator/run', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function submit(message = 'Fix the flaky test', options: Record<string, unknown> = { provider: 'hetzner' }) {
  const r = await submitTask(db.admin, user, project, message, options);
  const [t] = await db.admin`select auto_provisioned_node_id as node from public.tasks where id = ${r.taskId}`;
  return { taskId: r.taskId, nodeId: t!.node as string };
}

const job = async (kind: string, nodeOrTask: string) =>
  (
    await db.admin`select status::text as status, attempts, last_error, payload, run_after - now() as wait
                     from public.orchestrator_jobs where kind = ${kind} and (node_id = ${nodeOrTask} or task_id = ${nodeOrTask})`
  )[0]!;
const node = async (id: string) =>
  (
    await db.admin`select status::text as status, provider_instance_id, ip_address, error_message from public.nodes where id = ${id}`
  )[0]!;
const due = (kind: string, id: string) =>
  db.admin`update public.orchestrator_jobs set run_after = now() where kind = ${kind} and (node_id = ${id} or task_id = ${id}) and status = 'pending'`;

describe('POST /orchestrator/run', () => {
  it.each([
    ['no secret', null],
    ['a wrong secret', 'wrong'],
    ['the secret with a character missing', SECRET.slice(0, -1)],
  ])('refuses %s with 401 JSON and runs nothing', async (_label, token) => {
    const { nodeId } = await submit();
    const r = await run({}, token);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect((await job('provision_node', nodeId)).status).toBe('pending');
    const other = await app.request('http://orchestrator.test/orchestrator/elsewhere', { method: 'GET' });
    expect(other.status).toBe(401);
  });

  it('with nothing due runs nothing', async () => {
    expect(await run()).toEqual({ status: 200, body: { ran: 0, succeeded: 0, failed: 0 } });
  });

  it('provisions a node: a machine labelled as SAM’s, whose bootstrap token registers it', async () => {
    const { taskId, nodeId } = await submit();
    expect(await run()).toEqual({ status: 200, body: { ran: 1, succeeded: 1, failed: 0 } });
    const n = await node(nodeId);
    expect(n).toMatchObject({ status: 'provisioning', ip_address: '203.0.113.7' });
    const machine = cloud.machines.get(n.provider_instance_id as string)!;
    const [installation] = await db.admin`select public.sam_installation_id() as id`;
    expect(machine.labels).toEqual({ sam: 'node', 'sam-node-id': nodeId, 'sam-installation': installation!.id });
    expect(machine.name).toBe(`sam-${nodeId.replace(/-/g, '').slice(0, 12)}`);
    expect(cloud.created.at(-1)).toMatchObject({ nodeId, vmSize: 'medium' });
    expect(machine.userData.controlPlaneUrl).toBe(CONTROL_PLANE);
    const j = await job('provision_node', nodeId);
    expect(j).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((j.payload as { result: unknown }).result).toEqual({
      providerInstanceId: n.provider_instance_id,
      ipAddress: '203.0.113.7',
    });
    expect(JSON.stringify(j.payload)).not.toContain(machine.userData.bootstrapToken);

    // The machine's token is the one-time bootstrap token: the node registers with it.
    await db.admin`select public.register_node(${machine.userData.bootstrapToken}, ${db.admin.json({ agentVersion: 'test' })})`;
    expect((await node(nodeId)).status).toBe('active');
    const [t] = await db.admin`select execution_step::text as step from public.tasks where id = ${taskId}`;
    expect(t!.step).toBe('workspace_creation');

    // Repeats are safe: a second run finds nothing; the same job run again makes no machine.
    const before = cloud.created.length;
    expect((await run()).body).toEqual({ ran: 0, succeeded: 0, failed: 0 });
    await db.admin`update public.orchestrator_jobs set status = 'pending', run_after = now() where kind = 'provision_node' and node_id = ${nodeId}`;
    expect((await run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(((await job('provision_node', nodeId)).payload as { result: unknown }).result).toEqual({
      skipped: 'the node is active',
    });
    expect(cloud.created.length).toBe(before);
  });

  it('retries a provider failure with backoff; dead after max attempts fails the node and its task', async () => {
    cloud.failCreate = 'Hetzner says: server limit reached';
    const { taskId, nodeId } = await submit();
    expect((await run()).body).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    let j = await job('provision_node', nodeId);
    expect(j).toMatchObject({ status: 'pending', attempts: 1, last_error: 'Hetzner says: server limit reached' });
    expect(j.wait).toMatch(/^00:00:0[45]/);
    expect((await node(nodeId)).status).toBe('provisioning');
    expect((await run()).body).toEqual({ ran: 0, succeeded: 0, failed: 0 });

    for (let attempt = 2; attempt <= 5; attempt++) {
      await due('provision_node', nodeId);
      expect((await run()).body).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    }
    j = await job('provision_node', nodeId);
    expect(j).toMatchObject({ status: 'dead', attempts: 5 });
    expect(await node(nodeId)).toMatchObject({
      status: 'failed',
      error_message: 'gave up creating the machine after 5 attempts: Hetzner says: server limit reached',
    });
    const [t] = await db.admin`select status::text as status, error_message from public.tasks where id = ${taskId}`;
    expect(t).toEqual({
      status: 'failed',
      error_message:
        'Could not provision a node: gave up creating the machine after 5 attempts: Hetzner says: server limit reached',
    });
  });

  it('a permanent provider failure kills the job on its first attempt and fails the task in words', async () => {
    cloud.failCreate = new ProviderError('hetzner', 'Hetzner refused the API token (unauthorized)', false, {
      status: 401,
    });
    const before = cloud.created.length;
    const { taskId, nodeId } = await submit();
    expect((await run()).body).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    expect(await job('provision_node', nodeId)).toMatchObject({ status: 'dead', attempts: 1 });
    expect(await node(nodeId)).toMatchObject({
      status: 'failed',
      error_message: 'Hetzner refused the API token (unauthorized)',
    });
    const [t] = await db.admin`select status::text as status, error_message from public.tasks where id = ${taskId}`;
    expect(t).toEqual({
      status: 'failed',
      error_message: 'Could not provision a node: Hetzner refused the API token (unauthorized)',
    });
    expect(cloud.created.length).toBe(before + 1);
  });

  it('a rate limit waits for the reset the API gave, not the backoff', async () => {
    cloud.failCreate = new ProviderError('hetzner', 'Hetzner rate limit reached', true, {
      status: 429,
      retryAfterMs: 120_000,
    });
    const { nodeId } = await submit();
    expect((await run()).body).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    const j = await job('provision_node', nodeId);
    expect(j).toMatchObject({ status: 'pending', attempts: 1, last_error: 'Hetzner rate limit reached' });
    expect(j.wait).toMatch(/^00:0[12]:/);
    expect((await node(nodeId)).status).toBe('provisioning');
  });

  it('a machine created by an attempt whose answer was lost is deleted before the next one is made', async () => {
    cloud.loseCreateAnswer = true;
    const { nodeId } = await submit();
    expect((await run()).body).toMatchObject({ failed: 1 });
    const lost = (await cloud.listMachines({ 'sam-node-id': nodeId })).map((m) => m.providerInstanceId);
    expect(lost).toHaveLength(1);
    cloud.loseCreateAnswer = false;
    await due('provision_node', nodeId);
    expect((await run()).body).toMatchObject({ succeeded: 1 });
    const now = await cloud.listMachines({ 'sam-node-id': nodeId });
    expect(now).toHaveLength(1);
    expect(cloud.deleted).toContain(lost[0]);
    expect((await node(nodeId)).provider_instance_id).toBe(now[0]!.providerInstanceId);
  });

  it('destroys a node: deletes its machine, then marks it destroyed; repeats change nothing', async () => {
    const { nodeId } = await submit();
    await run();
    const instance = (await node(nodeId)).provider_instance_id as string;
    await as(db.admin, 'authenticated', { sub: user }, (tx) => tx`select public.destroy_node(${nodeId}, 'done')`);
    expect((await node(nodeId)).status).toBe('destroying');
    expect((await run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(cloud.deleted).toContain(instance);
    expect(cloud.machines.has(instance)).toBe(false);
    expect((await node(nodeId)).status).toBe('destroyed');
    expect(((await job('destroy_node', nodeId)).payload as { result: unknown }).result).toEqual({
      deleted: [instance],
    });

    await db.admin`update public.orchestrator_jobs set status = 'pending', run_after = now() where kind = 'destroy_node' and node_id = ${nodeId}`;
    expect((await run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect((await node(nodeId)).status).toBe('destroyed');
  });

  it('a node destroyed before its machine was made gets none', async () => {
    const { nodeId } = await submit();
    await as(db.admin, 'authenticated', { sub: user }, (tx) => tx`select public.destroy_node(${nodeId}, 'never mind')`);
    const before = cloud.created.length;
    expect((await run()).body).toEqual({ ran: 2, succeeded: 2, failed: 0 });
    expect(cloud.created.length).toBe(before);
    expect((await node(nodeId)).status).toBe('destroyed');
    // The two jobs run at once: the provision job finds the node destroying, or already destroyed.
    expect(((await job('provision_node', nodeId)).payload as { result: unknown }).result).toEqual({
      skipped: expect.stringMatching(/^the node is destroy(ing|ed)$/),
    });
  });

  it('a provider this deployment has not configured fails the job in words', async () => {
    const { nodeId } = await submit('Somewhere else', { provider: 'scaleway' });
    expect((await run()).body).toEqual({ ran: 1, succeeded: 0, failed: 1 });
    expect((await job('provision_node', nodeId)).last_error).toBe(
      'The scaleway provider is not configured on this control plane',
    );
  });

  it('open_pr: skipped for a local repository; an unlinked GitHub one says why; a linked one fails at once while no GitHub App is configured', async () => {
    const { taskId } = await submit('Local PR', { provider: 'hetzner' });
    await db.admin`insert into public.orchestrator_jobs (kind, owner_id, project_id, task_id, payload)
                   values ('open_pr', ${user}, ${project}, ${taskId}, '{"branch": "sam/local-pr"}')`;
    const githubProject = async (linked: boolean) => {
      const [gh] = await db.admin`
        insert into public.projects (owner_id, name, repository, repo_provider, default_branch)
        values (${user}, ${'gh-' + randomUUID().slice(0, 8)}, 'https://github.com/octo/repo.git', 'github', 'main')
        returning id`;
      if (linked) {
        await db.admin`update public.projects set github_installation_id = 42, github_repository_id = 4242,
                         github_full_name = 'octo/repo' where id = ${gh!.id}`;
      }
      const t = await submitTask(db.admin, user, gh!.id as string, 'GitHub PR', { provider: 'hetzner' });
      await db.admin`update public.orchestrator_jobs set status = 'dead' where kind = 'provision_node' and status = 'pending'`;
      await db.admin`insert into public.orchestrator_jobs (kind, owner_id, project_id, task_id, payload)
                     values ('open_pr', ${user}, ${gh!.id}, ${t.taskId}, '{}')`;
      return t;
    };
    const unlinked = await githubProject(false);
    const linked = await githubProject(true);
    expect((await run()).body).toEqual({ ran: 3, succeeded: 2, failed: 1 });
    expect(((await job('open_pr', taskId)).payload as { result: unknown }).result).toEqual({
      skipped: 'local repositories have no pull requests',
    });
    const why = `No pull request: the project is not linked to a GitHub App installation; the work is on branch ${unlinked.branchName}.`;
    expect(((await job('open_pr', unlinked.taskId)).payload as { result: unknown }).result).toEqual({
      noPullRequest: why,
    });
    const [u] = await db.admin`select pr_state from public.tasks where id = ${unlinked.taskId}`;
    expect(u!.pr_state).toBe('not_opened');
    expect(await job('open_pr', linked.taskId)).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: `GitHub App is not configured: cannot open a pull request for branch ${linked.branchName}`,
    });
    const [l] = await db.admin`select pr_state from public.tasks where id = ${linked.taskId}`;
    expect(l!.pr_state).toBe('failed');
  });

  it('sweeps orphans only with proof: our installation’s label naming a node that is gone, on an old machine', async () => {
    const { nodeId } = await submit();
    await run();
    const kept = (await node(nodeId)).provider_instance_id as string;
    const [installation] = await db.admin`select public.sam_installation_id() as id`;
    const ours = (labels: Labels) => ({ ...labels, 'sam-installation': installation!.id as string });
    const [destroyed] = await db.admin`
      insert into public.nodes (owner_id, provider, status) values (${user}, 'hetzner', 'destroyed') returning id`;
    cloud.put('orphan-destroyed', ours({ sam: 'node', 'sam-node-id': destroyed!.id as string }));
    cloud.put('orphan-unknown', ours({ sam: 'node', 'sam-node-id': randomUUID() }));
    cloud.put('not-sams', { team: 'web' });
    cloud.put('sam-without-node', ours({ sam: 'node' }));
    const r = await run({ sweepOrphans: true });
    expect(r.status).toBe(200);
    const sweeps = r.body.orphans as { provider: string; deleted: string[]; error?: string }[];
    expect(sweeps.find((s) => s.provider === 'hetzner')).toMatchObject({
      deleted: expect.arrayContaining(['orphan-destroyed', 'orphan-unknown']),
    });
    expect(sweeps.find((s) => s.provider === 'hetzner')!.deleted).toHaveLength(2);
    expect(cloud.machines.has(kept)).toBe(true);
    expect(cloud.machines.has('not-sams')).toBe(true);
    expect(cloud.machines.has('sam-without-node')).toBe(true);
    expect(sweeps.find((s) => s.provider === 'local')?.error).toMatch(/Unknown provider "local"/);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await app.request('http://orchestrator.test/orchestrator/run', {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });
});
