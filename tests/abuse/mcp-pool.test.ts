import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentToken, as, bringUp, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait.ts';
import { inProcessMcp, structured, type McpTarget } from '../mcp/mcp-harness.ts';

/** The function's pool (functions/_shared/db.ts `connect`) holds 5 connections; more waits than that. */
const WAITS = 7;

const db = useTestDatabase('abuse_mcp_pool');
let mcp: McpTarget;
const clients: Client[] = [];

beforeAll(() => {
  mcp = inProcessMcp(db);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await mcp.close();
});

async function agentClient(owner: string, project: string, what: string): Promise<Client> {
  const agent = await bringUp(db.admin, (await submitTask(db.admin, owner, project, what)).taskId);
  const client = await mcp.client(await agentToken(mcp.secret, agent));
  clients.push(client);
  return client;
}

it('stop_subtask waits its grace period without holding a database connection: more waits than the pool, and another tenant is served meanwhile', async () => {
  const owner = await createUser(db.admin);
  const project = await createProject(db.admin, owner);
  // Two parents (at most 5 active children each), their children to stop.
  const parents = [
    await agentClient(owner, project, 'First parent'),
    await agentClient(owner, project, 'Second parent'),
  ];
  const children: { parent: Client; taskId: string }[] = [];
  for (let i = 0; i < WAITS; i++) {
    const parent = parents[i % 2]!;
    const child = structured<{ taskId: string }>(
      await parent.callTool({ name: 'dispatch_task', arguments: { description: `Child number ${i}` } }),
    );
    children.push({ parent, taskId: child.taskId });
  }
  const otherOwner = await createUser(db.admin);
  const other = await agentClient(otherOwner, await createProject(db.admin, otherOwner), 'Another tenant');

  let settled = 0;
  const stops = children.map(({ parent, taskId }) =>
    parent
      .callTool({ name: 'stop_subtask', arguments: { taskId, warning: 'Wrap up now', graceSeconds: 30 } })
      .finally(() => settled++),
  );
  const ids = children.map((c) => c.taskId);
  // Every call has committed its warning and is in its grace period.
  await waitFor(
    'every warning to be committed',
    async () =>
      (
        await db.admin`select count(*)::int as n from public.directives where task_id = any(${ids}) and kind = 'stop_warning'`
      )[0]!.n === WAITS,
    20_000,
  );
  // No transaction sits open across the wait (a grace-period look is a few statements long).
  const open = await db.admin`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and state like 'idle in transaction%'
      and now() - state_change > interval '2 seconds'`;
  expect(open[0]!.n).toBe(0);

  // Another tenant's tool call completes while every wait is still going on.
  const instructions = structured<{ task: { id: string } }>(
    await other.callTool({ name: 'get_instructions', arguments: {} }),
  );
  expect(instructions.task.id).toBeTruthy();
  expect(settled).toBe(0);

  // The owner cancels the children: the waits see it and end early, each reporting what happened.
  for (const id of ids) {
    await as(
      db.admin,
      'authenticated',
      { sub: owner },
      (tx) => tx`select public.cancel_task(${id}, 'owner stopped it')`,
    );
  }
  const results = (await Promise.all(stops)).map((r) => structured<{ warned: boolean; status: string }>(r));
  for (const r of results) expect(r).toMatchObject({ warned: true, stopped: false, status: 'cancelled' });
}, 60_000);
