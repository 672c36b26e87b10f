import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/test-database.ts';

/**
 * The control plane's rules under real concurrency: many `postgres` connections, each running one
 * identity's transaction the way the edge functions will (set local role + request.jwt.claims).
 */
const db = useTestDatabase('control_plane_concurrency');
const OWNER = '11111111-0000-0000-0000-00000000c001';
const PROJECT = '22222222-0000-0000-0000-00000000c001';

let pool: postgres.Sql;

async function asIdentity<T>(role: string, claims: object, query: (tx: postgres.TransactionSql) => Promise<T>) {
  return pool.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true), set_config('role', ${role}, true)`;
    return query(tx);
  });
}

/** A running parent task with a workspace and an agent token, made through the real functions. */
async function runningParent(n: number): Promise<{ taskId: string; claims: object }> {
  const a = db.admin;
  const { r } = (await a`select public.submit_task(${PROJECT}, ${'parent task ' + n}) as r`)[0]!;
  const taskId = r.taskId as string;
  const { node } = (await a`select auto_provisioned_node_id as node from public.tasks where id = ${taskId}`)[0]!;
  const { tok } = (await a`select public.issue_bootstrap_token(${node}) as tok`)[0]!;
  await a`select public.register_node(${tok})`;
  const { ws } = (await a`select workspace_id as ws from public.tasks where id = ${taskId}`)[0]!;
  await a`select public.workspace_ready(${ws})`;
  const { ag } = (await a`select public.start_agent_session(null, ${ws}) as ag`)[0]!;
  await a`select public.agent_session_ready(${ag.agentSessionId})`;
  return { taskId, claims: ag };
}

beforeAll(async () => {
  pool = postgres(db.url('postgres'), { max: 50, onnotice: () => {} });
  await db.admin`insert into auth.users (id, email) values (${OWNER}, 'race@example.com')`;
  await db.admin`insert into public.projects (id, owner_id, name, repository) values (${PROJECT}, ${OWNER}, 'race', 'o/race')`;
});
afterAll(async () => {
  await pool?.end({ timeout: 5 });
});

describe('dispatch limits under concurrency', () => {
  it('50 simultaneous dispatches by one agent create exactly max_active_children (5)', async () => {
    const parent = await runningParent(1);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        asIdentity('sam_agent', parent.claims, (tx) => tx`select public.dispatch_task(${'child ' + i}) as r`),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === '54000');
    expect(ok).toBe(5);
    expect(refused).toHaveLength(45);
    const { n } = (
      await db.admin`select count(*)::int as n from public.tasks where parent_task_id = ${parent.taskId}`
    )[0]!;
    expect(n).toBe(5);
  });

  it('50 simultaneous dispatches by ten agents never exceed the project limit (10)', async () => {
    await db.admin`update public.tasks set status = 'cancelled', execution_step = null where dispatch_depth > 0`;
    const parents = await Promise.all(Array.from({ length: 10 }, (_, i) => runningParent(100 + i)));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        asIdentity('sam_agent', parents[i % 10]!.claims, (tx) => tx`select public.dispatch_task(${'work ' + i}) as r`),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const { n } = (
      await db.admin`
      select count(*)::int as n from public.tasks
      where project_id = ${PROJECT} and dispatch_depth > 0 and status in ('queued', 'delegated', 'in_progress')`
    )[0]!;
    expect(n).toBe(10);
  });
});

describe('the warm pool under concurrency', () => {
  it('two tasks racing for one warm node: exactly one wins', async () => {
    await db.admin`update public.nodes set status = 'destroyed' where owner_id = ${OWNER}`;
    for (let round = 0; round < 10; round++) {
      const { node } = (
        await db.admin`
        insert into public.nodes (owner_id, status, warm_since, warm_until, last_heartbeat_at)
        values (${OWNER}, 'warm', now(), now() + interval '30 minutes', now()) returning id as node`
      )[0]!;
      const tasks = await db.admin`
        insert into public.tasks (project_id, owner_id, title, status, execution_step)
        select ${PROJECT}, ${OWNER}, 'racer', 'queued', 'node_selection' from generate_series(1, 2) returning id`;
      const claims = await Promise.all(
        tasks.map((t) => pool.begin(async (tx) => (await tx`select public.claim_warm_node(${t.id}) as n`)[0]!.n)),
      );
      expect(claims.filter((c) => c === node)).toHaveLength(1);
      expect(claims.filter((c) => c === null)).toHaveLength(1);
      const { status } = (await db.admin`select status from public.nodes where id = ${node}`)[0]!;
      expect(status).toBe('active');
      await db.admin`update public.nodes set status = 'destroyed' where id = ${node}`;
      await db.admin`update public.tasks set status = 'cancelled', execution_step = null where id in ${db.admin(tasks.map((t) => t.id))}`;
    }
  });
});

describe('repeated transitions', () => {
  it('change nothing and write no second event, even when they race', async () => {
    const { id } = (
      await db.admin`
      insert into public.tasks (project_id, owner_id, title, status) values (${PROJECT}, ${OWNER}, 'cancel me', 'ready') returning id`
    )[0]!;
    const owner = { role: 'authenticated', sub: OWNER };
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        asIdentity(
          'authenticated',
          owner,
          async (tx) => (await tx`select public.cancel_task(${id}) as moved`)[0]!.moved,
        ),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const { n } = (
      await db.admin`select count(*)::int as n from public.task_events where task_id = ${id} and to_status = 'cancelled'`
    )[0]!;
    expect(n).toBe(1);
    const { status } = (await db.admin`select status from public.tasks where id = ${id}`)[0]!;
    expect(status).toBe('cancelled');
  });

  it('a message batch re-sent concurrently is stored once', async () => {
    const parent = await runningParent(999);
    const { session, ws } = (
      await db.admin`
      select chat_session_id as session, workspace_id as ws from public.tasks where id = ${parent.taskId}`
    )[0]!;
    const { wt } = (await db.admin`select public.issue_workspace_token(${ws}) as wt`)[0]!;
    const batch = Array.from({ length: 20 }, (_, i) => ({
      messageId: `m${i}`,
      role: 'assistant',
      content: `chunk ${i}`,
    }));
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        asIdentity(
          'sam_workspace',
          wt,
          async (tx) => (await tx`select public.record_messages(${session}, ${tx.json(batch)}) as r`)[0]!.r,
        ),
      ),
    );
    expect(results.reduce((s, r) => s + r.persisted, 0)).toBe(20);
    const { n } = (
      await db.admin`select count(*)::int as n from public.messages where session_id = ${session} and message_id like 'm%'`
    )[0]!;
    expect(n).toBe(20);
  });
});

describe('a stop racing the machine', () => {
  it("a workspace stopped while its machine's poll is taking its create: neither waits for the other (no deadlock); the machine gets the stop after the create", async () => {
    const a = db.admin;
    const { r } = (await a`select public.submit_task(${PROJECT}, 'stopped while the machine takes it') as r`)[0]!;
    const taskId = r.taskId as string;
    const { node } = (await a`select auto_provisioned_node_id as node from public.tasks where id = ${taskId}`)[0]!;
    const { tok } = (await a`select public.issue_bootstrap_token(${node}) as tok`)[0]!;
    const { reg } = (await a`select public.register_node(${tok}) as reg`)[0]!;
    const { ws } = (await a`select workspace_id as ws from public.tasks where id = ${taskId}`)[0]!;
    const nodeClaims = { role: 'sam_node', jti: reg.jti, node_id: node };

    // The machine's poll takes the create (its row locked until the poll commits) ...
    let stop: Promise<unknown> | undefined;
    const poll = asIdentity('sam_node', nodeClaims, async (tx) => {
      const taken = await tx`select kind from public.poll_node_commands()`;
      // ... the owner stops the workspace meanwhile ...
      stop = asIdentity(
        'authenticated',
        { role: 'authenticated', sub: OWNER },
        (u) => u`select public.stop_workspace(${ws})`,
      );
      const settled = stop.then(
        () => 'done',
        () => 'done',
      );
      // ... and the poll goes on once the stop has finished or is waiting for a lock.
      for (;;) {
        const [w] = await a`select count(*)::int as n from pg_locks where not granted`;
        if (w!.n > 0 || (await Promise.race([settled, Promise.resolve('running')])) === 'done') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const [b] = await tx`select public.node_workspace_bootstrap(${ws}) as b`;
      return { kinds: taken.map((t) => t.kind as string), bootstrap: b!.b };
    });
    const [polled, stopped] = await Promise.allSettled([poll, poll.then(() => stop)]);
    expect(polled).toMatchObject({ status: 'fulfilled', value: { kinds: ['create_workspace'] } });
    expect(stopped.status).toBe('fulfilled');
    const [w] = await a`select status from public.workspaces where id = ${ws}`;
    expect(w!.status).toBe('stopping');
    const commands =
      await a`select kind, status from public.node_commands where workspace_id = ${ws} order by created_at`;
    expect(commands).toEqual([
      { kind: 'create_workspace', status: 'delivered' },
      { kind: 'stop_workspace', status: 'pending' },
    ]);
  });
});
