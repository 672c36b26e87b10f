import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * One lock order for the control plane: a task's row before its workspace's, its agent sessions'
 * and its node's. A user's stop locks the task first and then stops the workspace; a machine's
 * report about that workspace, arriving the same moment, used to lock the workspace (or an agent
 * session, or the workspace through an FK check) first and the task second, and the two deadlocked:
 * Postgres aborted one, and the user's stop answered 500 with the task still running (seen in CI).
 *
 * Each case fixes the interleaving that deadlocked: the stop's transaction holds the task (its first
 * step), the machine's report starts, and only then does the stop go on to the workspace.
 */
const db = useTestDatabase('lock_order');
const OWNER = '11111111-0000-0000-0000-00000000d001';
const PROJECT = '22222222-0000-0000-0000-00000000d001';
const USER = { role: 'authenticated', sub: OWNER };

let pool: postgres.Sql;

beforeAll(async () => {
  pool = postgres(db.url('postgres'), { max: 10, onnotice: () => {} });
  await db.admin`insert into auth.users (id, email) values (${OWNER}, 'locks@example.com')`;
  await db.admin`insert into public.projects (id, owner_id, name, repository) values (${PROJECT}, ${OWNER}, 'locks', 'o/locks')`;
});
afterAll(async () => {
  await pool?.end({ timeout: 5 });
});

type Stage = 'creating' | 'ready' | 'starting';

/** A task placed on a registered machine, its workspace at `stage`. */
async function placed(title: string, stage: Stage) {
  const a = db.admin;
  const { r } = (await a`select public.submit_task(${PROJECT}, ${title}) as r`)[0]!;
  const taskId = r.taskId as string;
  // A new machine, or the one an earlier case left warm.
  const { node } = (await a`select auto_provisioned_node_id as node from public.tasks where id = ${taskId}`)[0]!;
  if (node) {
    const { tok } = (await a`select public.issue_bootstrap_token(${node}) as tok`)[0]!;
    await a`select public.register_node(${tok})`;
  }
  const { ws } = (await a`select workspace_id as ws from public.tasks where id = ${taskId}`)[0]!;
  let agentSessionId: string | undefined;
  if (stage !== 'creating') await a`select public.workspace_ready(${ws})`;
  if (stage === 'starting') {
    const { ag } = (await a`select public.start_agent_session(null, ${ws}) as ag`)[0]!;
    agentSessionId = ag.agentSessionId as string;
  }
  return { taskId, ws: ws as string, agentSessionId };
}

/**
 * The user stops `taskId` now while `report` (the machine's call, on its own connection) runs:
 * the stop's transaction takes the task first, the report starts and waits, then the stop goes on.
 */
async function stopDuring(taskId: string, report: () => Promise<postgres.RowList<postgres.Row[]>>) {
  let reported: Promise<unknown> | undefined;
  const stop = pool.begin(async (tx) => {
    await tx`select 1 from public.tasks where id = ${taskId} for update`;
    const machine = report();
    reported = machine.then(
      (rows) => ({ ok: true, value: rows[0]!.r }),
      (e: { code?: string; message: string }) => ({ ok: false, code: e.code, message: e.message }),
    );
    // The report is under way: waiting for a lock, or done.
    await waitFor(
      'the report to wait for a lock or finish',
      async () => {
        const [w] = await db.admin`select count(*)::int as n from pg_stat_activity
                                  where datname = current_database() and wait_event_type = 'Lock'`;
        return w!.n > 0 || (await Promise.race([reported, Promise.resolve(undefined)])) !== undefined;
      },
      10_000,
      10,
    );
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(USER)}, true), set_config('role', 'authenticated', true)`;
    return (await tx`select public.stop_task(${taskId}, 0) as r`)[0]!.r;
  });
  const [stopped, report_] = await Promise.allSettled([stop, stop.finally(() => reported)]);
  return { stopped, reported: report_.status === 'fulfilled' ? await reported : report_.reason };
}

async function stateOf(taskId: string, ws: string) {
  const [row] = await db.admin`select t.status as task, w.status as workspace,
                                      (select status from public.nodes where id = w.node_id) as node
                                 from public.tasks t join public.workspaces w on w.id = ${ws} where t.id = ${taskId}`;
  return row;
}

describe('a stop and its machine at the same moment', () => {
  it('"workspace ready" while the stop is under way: the stop goes through, and the late report changes nothing', async () => {
    const { taskId, ws } = await placed('stopped as its workspace gets ready', 'creating');
    const { stopped, reported } = await stopDuring(taskId, () => pool`select public.workspace_ready(${ws}) as r`);
    expect(stopped).toMatchObject({ status: 'fulfilled', value: { status: 'cancelled', changed: true } });
    expect(reported).toEqual({ ok: true, value: false });
    // The create was never taken: nothing to stop on the machine, so the node is free at once.
    expect(await stateOf(taskId, ws)).toEqual({ task: 'cancelled', workspace: 'stopped', node: 'warm' });
  });

  it('an agent session starting while the stop is under way: the stop goes through, the session is refused', async () => {
    const { taskId, ws } = await placed('stopped as its agent starts', 'ready');
    const { stopped, reported } = await stopDuring(
      taskId,
      () => pool`select public.start_agent_session(null, ${ws}) as r`,
    );
    expect(stopped).toMatchObject({ status: 'fulfilled', value: { status: 'cancelled', changed: true } });
    expect(reported).toMatchObject({ ok: false, code: '55000', message: `workspace ${ws} is stopping` });
    expect(await stateOf(taskId, ws)).toEqual({ task: 'cancelled', workspace: 'stopping', node: 'active' });
    const [n] = await db.admin`select count(*)::int as n from public.agent_sessions where workspace_id = ${ws}`;
    expect(n!.n).toBe(0);
  });

  it('an agent session reported ready while the stop is under way: the stop goes through, the task stays cancelled', async () => {
    const { taskId, ws, agentSessionId } = await placed('stopped as its agent says ready', 'starting');
    const { stopped, reported } = await stopDuring(
      taskId,
      () => pool`select public.agent_session_ready(${agentSessionId!}) as r`,
    );
    expect(stopped).toMatchObject({ status: 'fulfilled', value: { status: 'cancelled', changed: true } });
    expect(reported).toEqual({ ok: true, value: true });
    expect(await stateOf(taskId, ws)).toEqual({ task: 'cancelled', workspace: 'stopping', node: 'active' });
  });
});
