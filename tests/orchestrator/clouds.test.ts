import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { storeCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import type { JobContext } from '../../functions/_shared/orchestrator/jobs.ts';
import { providerFor } from '../../functions/_shared/orchestrator/machines.ts';
import type { CloudProvider } from '../../functions/_shared/providers/provider.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { createOrchestratorApp } from '../../functions/orchestrator/app.ts';
import { HetznerFake } from '../fakes/clouds/hetzner.ts';
import { ScalewayFake } from '../fakes/clouds/scaleway.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

/**
 * The orchestrator on the owner's own cloud accounts: the contract-tested fakes of Hetzner and
 * Scaleway stand in for the APIs, the user's tokens are stored through the credential store, and
 * the orchestrator builds each provider from them per job. Everything else is real (Postgres, the
 * migrations, the job runner).
 */
const db = useTestDatabase('orchestrator_clouds');
const SECRET = randomBytes(32).toString('base64url');
const CONTROL_PLANE = 'https://sam.example.test/functions/v1/vm-agent';
const HETZNER_TOKEN = `htz-${randomBytes(16).toString('hex')}`;
const SCW_KEY = randomUUID();
const SCW_PROJECT = randomUUID();
const SERVER_LIMIT = 6;
const hetzner = new HetznerFake({ tokens: [HETZNER_TOKEN], serverLimit: SERVER_LIMIT });
const scaleway = new ScalewayFake({ secretKeys: [SCW_KEY] });
const KEY = await importCredentialKey(randomBytes(32).toString('base64'));
let sql: Sql;
let app: ReturnType<typeof createOrchestratorApp>;
let user: string;
let project: string;

const ctx = (): JobContext => ({
  sql,
  providers: providerRegistry({}),
  controlPlaneUrl: CONTROL_PLANE,
  credentialKey: KEY,
  clouds: {
    baseUrls: { hetzner: hetzner.url, scaleway: scaleway.url },
    agentBundle: { url: 'https://sam.example.test/functions/v1/vm-agent/agent/bundle.mjs', sha256: 'a'.repeat(64) },
  },
});

beforeAll(async () => {
  await Promise.all([hetzner.start(), scaleway.start()]);
  sql = connect(db.url('postgres'));
  app = createOrchestratorApp({ ...ctx(), secret: SECRET });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await Promise.all([hetzner.stop(), scaleway.stop()]);
});
beforeEach(async () => {
  await db.admin`update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running')`;
  user = await createUser(db.admin);
  project = await createProject(db.admin, user);
});

/** What the credentials function stores after the cloud accepted the token. */
async function storeToken(provider: 'hetzner' | 'scaleway', secret: string, config: Record<string, string> = {}) {
  await storeCredential(
    sql,
    KEY,
    { sub: user, role: 'authenticated' },
    { type: 'cloud-provider', provider, secret, config },
  );
}

async function run(body: unknown = {}) {
  const res = await app.request('http://orchestrator.test/orchestrator/run', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

async function submit(options: Record<string, unknown>, message = 'Fix the flaky test') {
  const r = await submitTask(db.admin, user, project, message, options);
  const [t] = await db.admin`select auto_provisioned_node_id as node from public.tasks where id = ${r.taskId}`;
  return { taskId: r.taskId, nodeId: t!.node as string };
}

const node = async (id: string) =>
  (
    await db.admin`select status::text as status, provider, location, vm_size::text as vm_size, provider_instance_id,
                          error_message from public.nodes where id = ${id}`
  )[0]!;
const job = async (kind: string, nodeId: string) =>
  (
    await db.admin`select status::text as status, attempts, last_error from public.orchestrator_jobs
                    where kind = ${kind} and node_id = ${nodeId}`
  )[0]!;
const due = (nodeId: string) =>
  db.admin`update public.orchestrator_jobs set run_after = now() where node_id = ${nodeId} and status = 'pending'`;
const installation = async () => String((await db.admin`select public.sam_installation_id() as id`)[0]!.id);
/** The one-time token the machine's cloud-config writes into its bootstrap file (a JSON-quoted YAML string). */
function tokenIn(userData: string | null): string {
  const content = /path: "\/var\/lib\/sam\/bootstrap\.json"\n\s+content: ("(?:[^"\\]|\\.)*")/.exec(userData ?? '')![1]!;
  return (JSON.parse(JSON.parse(content) as string) as { bootstrapToken: string }).bootstrapToken;
}

describe('the orchestrator on the owner’s Hetzner account', () => {
  it('provisions with the chosen type and location, the machine registers and runs, and destroy deletes it', async () => {
    await storeToken('hetzner', HETZNER_TOKEN);
    const { taskId, nodeId } = await submit({ provider: 'hetzner', vmSize: 'large', location: 'nbg1' });
    expect(await node(nodeId)).toMatchObject({ provider: 'hetzner', location: 'nbg1', vm_size: 'large' });
    expect(await run()).toMatchObject({ ran: 1, succeeded: 1, failed: 0 });

    const id = Number((await node(nodeId)).provider_instance_id);
    const server = hetzner.servers.get(id)!;
    expect(server).toMatchObject({
      name: `sam-${nodeId.replace(/-/g, '').slice(0, 12)}`,
      server_type: { name: 'cx43' },
      location: { name: 'nbg1' },
      labels: { sam: 'node', 'sam-node-id': nodeId, 'sam-installation': await installation() },
    });
    expect(server.userData).toMatch(/^#cloud-config\n/);
    expect(server.userData).toContain(CONTROL_PLANE);

    // The server boots: its status, read with the owner's token, is running after a few reads.
    const provider = (await providerFor(ctx(), {
      provider: 'hetzner',
      ownerId: user,
      projectId: project,
      location: 'nbg1',
    })) as CloudProvider;
    expect((await provider.getMachine(String(id)))?.status).toBe('initializing');
    expect((await provider.getMachine(String(id)))?.status).toBe('running');
    // Its vm-agent registers with the one-time token.
    await db.admin`select public.register_node(${tokenIn(server.userData)}, ${db.admin.json({ agentVersion: 'test' })})`;
    expect((await node(nodeId)).status).toBe('active');
    const [t] = await db.admin`select execution_step::text as step from public.tasks where id = ${taskId}`;
    expect(t!.step).toBe('workspace_creation');

    await db.admin`select public.destroy_node(${nodeId}, 'done')`;
    expect(await run()).toMatchObject({ ran: 1, succeeded: 1 });
    expect(hetzner.deleted).toContain(id);
    expect((await node(nodeId)).status).toBe('destroyed');
  });

  it('a lost create answer: the retry adopts the server the first attempt made, and it registers', async () => {
    await storeToken('hetzner', HETZNER_TOKEN);
    const { nodeId } = await submit({ provider: 'hetzner', vmSize: 'small' });
    const before = new Set(hetzner.servers.keys());
    hetzner.dropCreateAnswers(1);
    expect(await run()).toMatchObject({ ran: 1, failed: 1 });
    const made = [...hetzner.servers.values()].filter((s) => !before.has(s.id));
    expect(made).toHaveLength(1);
    expect((await job('provision_node', nodeId)).status).toBe('pending');

    await due(nodeId);
    expect(await run()).toMatchObject({ ran: 1, succeeded: 1 });
    const after = [...hetzner.servers.values()].filter((s) => !before.has(s.id));
    expect(after.map((s) => s.id)).toEqual([made[0]!.id]);
    expect(hetzner.deleted).not.toContain(made[0]!.id);
    expect((await node(nodeId)).provider_instance_id).toBe(String(made[0]!.id));
    // The adopted server boots with the first attempt's token, which still registers the node.
    await db.admin`select public.register_node(${tokenIn(made[0]!.userData)}, ${db.admin.json({ agentVersion: 't' })})`;
    expect((await node(nodeId)).status).toBe('active');
  });

  it('a quota refusal fails the job at once and the task in words; a 429 waits as long as the API said', async () => {
    await storeToken('hetzner', HETZNER_TOKEN);
    const seeded: number[] = [];
    while (hetzner.servers.size < SERVER_LIMIT) seeded.push(hetzner.seed(`other-${seeded.length}`, { team: 'web' }));
    try {
      const { taskId, nodeId } = await submit({ provider: 'hetzner' });
      expect(await run()).toMatchObject({ ran: 1, failed: 1 });
      const j = await job('provision_node', nodeId);
      expect(j).toMatchObject({ status: 'dead', attempts: 1 });
      expect(j.last_error).toBe('Hetzner server limit reached: server limit exceeded');
      const [t] = await db.admin`select status::text as status, error_message from public.tasks where id = ${taskId}`;
      expect(t!.status).toBe('failed');
      expect(t!.error_message).toContain('Hetzner server limit reached: server limit exceeded');
    } finally {
      for (const id of seeded) hetzner.servers.delete(id);
    }

    const { nodeId } = await submit({ provider: 'hetzner' }, 'Rate limited');
    hetzner.failNext({
      status: 429,
      headers: { 'retry-after': '40' },
      json: { error: { code: 'rate_limit_exceeded', message: 'limit reached' } },
    });
    expect(await run()).toMatchObject({ ran: 1, failed: 1 });
    const [waiting] = await db.admin`
      select status::text as status, extract(epoch from run_after - now()) as wait
        from public.orchestrator_jobs where kind = 'provision_node' and node_id = ${nodeId}`;
    expect(waiting!.status).toBe('pending');
    expect(Number(waiting!.wait)).toBeGreaterThan(30);
  });

  it('no stored token: the job fails at once and the task says what to do', async () => {
    const { taskId, nodeId } = await submit({ provider: 'hetzner' });
    expect(await run()).toMatchObject({ ran: 1, failed: 1 });
    expect(await job('provision_node', nodeId)).toMatchObject({
      status: 'dead',
      last_error: 'No Hetzner credential is stored: add one in Settings → Cloud providers',
    });
    const [t] = await db.admin`select status::text as status, error_message from public.tasks where id = ${taskId}`;
    expect(t!.error_message).toContain('No Hetzner credential is stored');
  });

  it('the orphan sweep deletes only our old machines without a node; another installation’s survive', async () => {
    await storeToken('hetzner', HETZNER_TOKEN);
    const ours = await installation();
    const old = new Date(Date.now() - 3 * 60 * 60_000).toISOString();
    const label = (inst: string | null, nodeId = randomUUID()) => ({
      sam: 'node',
      'sam-node-id': nodeId,
      ...(inst ? { 'sam-installation': inst } : {}),
    });
    const orphan = hetzner.seed('ours-orphan', label(ours), old);
    const young = hetzner.seed('ours-young', label(ours));
    const foreign = hetzner.seed('theirs-old', label(randomUUID()), old);
    const legacy = hetzner.seed('legacy-old', label(null), old);
    const sweeps = (await run({ sweepOrphans: true })).orphans as { provider: string; deleted: string[] }[];
    const deleted = sweeps.filter((s) => s.provider === 'hetzner').flatMap((s) => s.deleted);
    expect(deleted).toEqual([String(orphan)]);
    expect(hetzner.deleted).toContain(orphan);
    for (const id of [young, foreign, legacy]) expect(hetzner.deleted).not.toContain(id);
    for (const id of [young, foreign, legacy]) hetzner.servers.delete(id);
  });
});

describe('the orchestrator on the owner’s Scaleway account', () => {
  it('creates in the chosen zone with the chosen type, tagged as SAM’s, and terminates it on destroy', async () => {
    await storeToken('scaleway', SCW_KEY, { projectId: SCW_PROJECT, zone: 'fr-par-1' });
    const { nodeId } = await submit({ provider: 'scaleway', vmSize: 'small', location: 'nl-ams-1' });
    expect(await run()).toMatchObject({ ran: 1, succeeded: 1 });
    const instance = (await node(nodeId)).provider_instance_id as string;
    expect(instance).toMatch(/^nl-ams-1\//);
    const server = scaleway.servers.get(instance.split('/')[1]!)!;
    expect(server).toMatchObject({ zone: 'nl-ams-1', commercial_type: 'DEV1-M', project: SCW_PROJECT });
    expect(server.tags).toEqual(
      expect.arrayContaining(['sam=node', `sam-node-id=${nodeId}`, `sam-installation=${await installation()}`]),
    );
    expect(scaleway.userData.get(server.id)).toMatch(/^#cloud-config\n/);

    await db.admin`select public.destroy_node(${nodeId}, 'done')`;
    expect(await run()).toMatchObject({ ran: 1, succeeded: 1 });
    expect((await node(nodeId)).status).toBe('destroyed');
    expect(scaleway.terminated.length + (scaleway.servers.has(server.id) ? 0 : 1)).toBeGreaterThan(0);
  });
});
