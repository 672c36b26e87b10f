import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolePassword, SUPERUSER } from '../../supabase/local/postgres/cluster.ts';
import { root } from '../../supabase/local/paths.ts';
import { runCommand } from '../helpers/processes.ts';
import {
  agentToken,
  bringUp,
  createProject,
  createUser,
  submitTask,
  type RunningAgent,
} from '../helpers/control-plane.ts';
import { inProcessMcp, structured, useDenoMcp } from './mcp-harness.ts';

const env = useDenoMcp('mcp_limits');
let owner: string;
let project: string;
const clients: Client[] = [];

async function agentClient(agent: RunningAgent): Promise<Client> {
  const c = await env.mcp.client(await agentToken(env.mcp.secret, agent));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  owner = await createUser(env.db.admin);
  project = await createProject(env.db.admin, owner);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('dispatch limits through MCP', () => {
  it('50 concurrent dispatch_task calls never exceed a limit, and each refusal names the limit it hit', async () => {
    const agents = await Promise.all(
      ['First', 'Second', 'Third'].map(async (w) =>
        bringUp(env.db.admin, (await submitTask(env.db.admin, owner, project, `${w} parent task`)).taskId),
      ),
    );
    const byAgent = await Promise.all(agents.map(agentClient));
    const calls = Array.from({ length: 50 }, (_, i) =>
      byAgent[i % 3]!.callTool({ name: 'dispatch_task', arguments: { description: `Sub-task number ${i}` } }).then(
        (r) => ({ ok: true as const, taskId: structured<{ taskId: string }>(r).taskId }),
        (e: unknown) => ({ ok: false as const, error: e }),
      ),
    );
    const results = await Promise.all(calls);
    const refused = results.filter((r) => !r.ok);
    for (const r of refused) {
      expect(r.error).toBeInstanceOf(McpError);
      const e = r.error as McpError;
      expect(e.code).toBe(-32005);
      expect(['max_active_children', 'max_active_dispatched']).toContain((e.data as { limit: string }).limit);
    }
    const children = await env.db.admin`
      select parent_task_id, count(*)::int as n from public.tasks
      where project_id = ${project} and dispatch_depth > 0 and status in ('queued', 'delegated', 'in_progress')
      group by parent_task_id`;
    const total = children.reduce((s, c) => s + (c.n as number), 0);
    expect(total).toBe(10); // the project limit, reached and not exceeded
    for (const c of children) expect(c.n).toBeLessThanOrEqual(5);
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(refused).toHaveLength(40);
  });

  it('refuses a dispatch deeper than the depth limit, naming it', async () => {
    const owner2 = await createUser(env.db.admin);
    const project2 = await createProject(env.db.admin, owner2);
    let agent = await bringUp(
      env.db.admin,
      (await submitTask(env.db.admin, owner2, project2, 'Root of a deep tree')).taskId,
    );
    for (let depth = 1; depth <= 3; depth++) {
      const client = await agentClient(agent);
      const child = structured<{ taskId: string; dispatchDepth: number }>(
        await client.callTool({ name: 'dispatch_task', arguments: { description: `Level ${depth}` } }),
      );
      agent = await bringUp(env.db.admin, child.taskId);
    }
    const deepest = await agentClient(agent);
    const e = await deepest.callTool({ name: 'dispatch_task', arguments: { description: 'Level 4' } }).then(
      () => null,
      (err: unknown) => err as McpError,
    );
    expect(e).toBeInstanceOf(McpError);
    expect(e!.code).toBe(-32005);
    expect(e!.data).toMatchObject({ code: 'limit_reached', limit: 'max_dispatch_depth' });
  });

  it('honours per-project overrides of the limits', async () => {
    const owner3 = await createUser(env.db.admin);
    const project3 = await createProject(env.db.admin, owner3);
    await env.db
      .admin`insert into public.project_settings (project_id, key, value) values (${project3}, 'max_active_children', '1')`;
    const client = await agentClient(
      await bringUp(env.db.admin, (await submitTask(env.db.admin, owner3, project3, 'Strict parent')).taskId),
    );
    await client.callTool({ name: 'dispatch_task', arguments: { description: 'Only child' } });
    const e = await client.callTool({ name: 'dispatch_task', arguments: { description: 'Second child' } }).then(
      () => null,
      (err: unknown) => err as McpError,
    );
    expect(e!.data).toMatchObject({ limit: 'max_active_children' });
  });
});

describe('the request rate limit', () => {
  it('refuses requests past the per-token limit with 429 and a JSON-RPC error carrying the id', async () => {
    const limited = inProcessMcp(env.db, { rateLimitPerMinute: 5 });
    try {
      const agent = await bringUp(
        env.db.admin,
        (await submitTask(env.db.admin, owner, project, 'Chatty agent')).taskId,
      );
      const token = await agentToken(limited.secret, agent);
      const statuses: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const res = await limited.post({ jsonrpc: '2.0', id: i, method: 'tools/list' }, token);
        statuses.push(res.status);
        if (i === 6) {
          expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(await res.json()).toMatchObject({
            jsonrpc: '2.0',
            id: 6,
            error: { code: -32029, data: { code: 'rate_limited' } },
          });
        }
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('lineage of what agents did', () => {
  it('shows dispatched children as sub-tasks and retries as retries, in the views and the hand-run queries', async () => {
    const owner4 = await createUser(env.db.admin);
    const project4 = await createProject(env.db.admin, owner4);
    const parent = await bringUp(
      env.db.admin,
      (await submitTask(env.db.admin, owner4, project4, 'Parent of a family')).taskId,
    );
    const client = await agentClient(parent);
    const child = structured<{ taskId: string }>(
      await client.callTool({ name: 'dispatch_task', arguments: { description: 'A child' } }),
    );
    const retry = structured<{ taskId: string }>(
      await client.callTool({ name: 'retry_subtask', arguments: { taskId: child.taskId } }),
    );

    const rows = await env.db.admin`
      select task_id, classification, tree_depth from public.task_lineage where root_task_id = ${parent.taskId} order by created_at`;
    const byId = new Map(rows.map((r) => [r.task_id as string, r]));
    expect(byId.get(parent.taskId)).toMatchObject({ classification: 'root', tree_depth: 0 });
    expect(byId.get(child.taskId)).toMatchObject({ classification: 'sub-task', tree_depth: 1 });
    expect(byId.get(retry.taskId)).toMatchObject({ classification: 'retry' });

    const dispatched = await env.db
      .admin`select child_task_id from public.agent_dispatches where agent_session_id = ${parent.agentSessionId}`;
    expect(dispatched.map((d) => d.child_task_id)).toContain(child.taskId);

    // The same answer from the query people run by hand (sql/audit/task_tree.sql, through psql).
    const r = await runCommand(
      'psql',
      [
        '-h',
        env.db.cluster.host,
        '-p',
        String(env.db.cluster.port),
        '-U',
        SUPERUSER,
        '-d',
        env.db.name,
        '-X',
        '-q',
        '-t',
        '-A',
        '-F',
        '|',
        '-v',
        `task_id=${retry.taskId}`,
        '-f',
        join(root, 'sql', 'audit', 'task_tree.sql'),
      ],
      { env: { ...process.env, PGPASSWORD: rolePassword(SUPERUSER) } },
    );
    expect(r.stderr).toBe('');
    const handRun = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const cols = line.split('|');
          return [cols[10]!, cols[3]!] as const; // id -> classification
        }),
    );
    expect(handRun.get(parent.taskId)).toBe('root');
    expect(handRun.get(child.taskId)).toBe('sub-task');
    expect(handRun.get(retry.taskId)).toBe('retry');
  });
});
