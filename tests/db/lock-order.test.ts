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
 * step), the machine's report starts, and only then does the stop go on to the workspace. The same
 * for a user destroying a busy machine (node first, then its work) while the machine records its
 * agent's messages (workspace, then node).
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

type Outcome = { ok: true; value: unknown } | { ok: false; code?: string; message: string };

const USER_ROLE = (tx: postgres.TransactionSql) =>
  tx`select set_config('request.jwt.claims', ${JSON.stringify(USER)}, true), set_config('role', 'authenticated', true)`;

/**
 * The interleaving that deadlocked: `first` takes its first lock in a transaction, `other` starts
 * on its own connection, and once `other` waits for a lock (or is done) `then` goes on in the
 * first transaction.
 */
async function interleave<T>(
  first: (tx: postgres.TransactionSql) => Promise<unknown>,
  other: () => Promise<postgres.RowList<postgres.Row[]>>,
  then: (tx: postgres.TransactionSql) => Promise<T>,
) {
  let reported: Promise<Outcome> | undefined;
  const held = pool.begin(async (tx) => {
    await first(tx);
    reported = other().then(
      (rows): Outcome => ({ ok: true, value: rows[0]!.r }),
      (e: { code?: string; message: string }): Outcome => ({ ok: false, code: e.code, message: e.message }),
    );
    await waitFor(
      'the other call to wait for a lock or finish',
      async () => {
        const [w] = await db.admin`select count(*)::int as n from pg_stat_activity
                                  where datname = current_database() and wait_event_type = 'Lock'`;
        return w!.n > 0 || (await Promise.race([reported, Promise.resolve(undefined)])) !== undefined;
      },
      10_000,
      10,
    );
    return then(tx);
  });
  const [first_, other_] = await Promise.allSettled([held, held.finally(() => reported)]);
  return { first: first_, other: other_.status === 'fulfilled' ? await reported! : (other_.reason as Outcome) };
}

/** The user stops `taskId` now (the stop locks the task first) while the machine's `report` runs. */
async function stopDuring(taskId: string, report: () => Promise<postgres.RowList<postgres.Row[]>>) {
  const { first, other } = await interleave(
    (tx) => tx`select 1 from public.tasks where id = ${taskId} for update`,
    report,
    async (tx) => {
      await USER_ROLE(tx);
      return (await tx`select public.stop_task(${taskId}, 0) as r`)[0]!.r;
    },
  );
  return { stopped: first, reported: other };
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

  it("a busy machine destroyed by its user while it records its agent's messages: both go through, the messages are kept", async () => {
    const { taskId, ws } = await placed('destroyed as it records', 'starting');
    const [w] = await db.admin`select node_id, chat_session_id from public.workspaces where id = ${ws}`;
    const batch = [{ messageId: 'last-words', role: 'assistant', content: 'still working' }];
    const { first, other } = await interleave(
      // record_messages' first lock: the workspace it touches (then its node). Taken as its update
      // takes it, without writing the row (a second update of a row written in the same transaction
      // checks its foreign keys again, which record_messages never does).
      (tx) => tx`select 1 from public.workspaces where id = ${ws} for no key update`,
      () =>
        pool.begin(async (tx) => {
          await USER_ROLE(tx);
          return tx`select public.destroy_node(${w!.node_id}, 'removed') as r`;
        }),
      async (tx) => (await tx`select public.record_messages(${w!.chat_session_id}, ${tx.json(batch)}) as r`)[0]!.r,
    );
    expect(first).toMatchObject({ status: 'fulfilled', value: { persisted: 1 } });
    expect(other).toEqual({ ok: true, value: true });
    const [after] = await db.admin`select t.status as task, w.status as workspace, n.status as node
                                     from public.tasks t, public.workspaces w, public.nodes n
                                    where t.id = ${taskId} and w.id = ${ws} and n.id = w.node_id`;
    expect(after).toEqual({ task: 'failed', workspace: 'failed', node: 'destroying' });
    const [m] = await db.admin`select count(*)::int as n from public.messages
                                where session_id = ${w!.chat_session_id} and message_id = 'last-words'`;
    expect(m!.n).toBe(1);
  });
});
