import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentToken,
  bringUp,
  createProject,
  createUser,
  submitTask,
  as,
  type RunningAgent,
} from '../helpers/control-plane.ts';
import { structured, useDenoMcp } from './mcp-harness.ts';

const env = useDenoMcp('mcp_tools');
let owner: string;
let project: string;
let a1: RunningAgent;
let a1Client: Client;
let a2: RunningAgent;
let a2Client: Client;
let foreign: RunningAgent;

async function rpcError(p: Promise<unknown>): Promise<McpError> {
  const e = await p.then(
    () => {
      throw new Error('expected a JSON-RPC error');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(McpError);
  return e as McpError;
}

beforeAll(async () => {
  owner = await createUser(env.db.admin);
  project = await createProject(env.db.admin, owner);
  const t1 = await submitTask(env.db.admin, owner, project, 'Add rate limiting to the upload endpoint');
  a1 = await bringUp(env.db.admin, t1.taskId);
  const t2 = await submitTask(env.db.admin, owner, project, 'Write the docs for uploads', { taskMode: 'conversation' });
  a2 = await bringUp(env.db.admin, t2.taskId);
  const stranger = await createUser(env.db.admin);
  const strangerProject = await createProject(env.db.admin, stranger);
  foreign = await bringUp(
    env.db.admin,
    (await submitTask(env.db.admin, stranger, strangerProject, 'Something else')).taskId,
  );
  a1Client = await env.mcp.client(await agentToken(env.mcp.secret, a1));
  a2Client = await env.mcp.client(await agentToken(env.mcp.secret, a2));
});

afterAll(async () => {
  await a1Client?.close();
  await a2Client?.close();
});

describe('tools/list', () => {
  it('offers every tool with a JSON schema an agent can act on', async () => {
    const { tools } = await a1Client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'complete_task',
        'create_idea',
        'dispatch_task',
        'get_idea',
        'get_instructions',
        'get_pending_messages',
        'get_session_messages',
        'get_subtask_status',
        'get_task_details',
        'list_ideas',
        'list_subtasks',
        'list_tasks',
        'request_human_input',
        'retry_subtask',
        'search_ideas',
        'send_message_to_subtask',
        'stop_subtask',
        'update_idea',
        'update_task_status',
      ].sort(),
    );
    const dispatch = tools.find((t) => t.name === 'dispatch_task')!;
    expect(dispatch.description).toMatch(/depth 3/);
    expect(dispatch.inputSchema.required).toEqual(['description']);
  });
});

describe('get_instructions', () => {
  it('gives the task, project and session, with task-mode instructions', async () => {
    const r = structured<{
      task: { id: string; outputBranch: string };
      project: { id: string };
      instructions: string[];
      context: { type: string };
    }>(await a1Client.callTool({ name: 'get_instructions', arguments: {} }));
    expect(r.task.id).toBe(a1.taskId);
    expect(r.project.id).toBe(project);
    expect(r.task.outputBranch).toMatch(/^sam\//);
    expect(r.context.type).toBe('task');
    expect(r.instructions.join(' ')).toMatch(/complete_task/);
  });

  it('tells a conversation-mode agent not to end the conversation', async () => {
    const r = structured<{ context: { type: string }; instructions: string[] }>(
      await a2Client.callTool({ name: 'get_instructions', arguments: {} }),
    );
    expect(r.context.type).toBe('conversation');
    expect(r.instructions.join(' ')).toMatch(/Do NOT call complete_task/);
  });
});

describe('dispatch and orchestration of sub-tasks', () => {
  let child: { taskId: string; taskMode: string; dispatchDepth?: number };

  it('dispatches a child with triggered_by mcp and depth + 1, in task mode by default', async () => {
    child = structured(
      await a1Client.callTool({
        name: 'dispatch_task',
        arguments: { description: 'Document the rate limit', references: ['docs/uploads.md'] },
      }),
    );
    expect(child.taskMode).toBe('task');
    const [row] = await env.db
      .admin`select parent_task_id, dispatch_depth, triggered_by, status, description from public.tasks where id = ${child.taskId}`;
    expect(row).toMatchObject({ parent_task_id: a1.taskId, dispatch_depth: 1, triggered_by: 'mcp', status: 'queued' });
    expect(row!.description).toContain('## References\n- docs/uploads.md');
  });

  it('warns when the child resolves to conversation mode', async () => {
    const r = structured<{ taskMode: string; warning?: string }>(
      await a1Client.callTool({
        name: 'dispatch_task',
        arguments: { description: 'Talk through the API', taskMode: 'conversation' },
      }),
    );
    expect(r.taskMode).toBe('conversation');
    expect(r.warning).toMatch(/will not complete by itself/);
  });

  it('lists and reports only the caller’s own children', async () => {
    const list = structured<{ subtasks: { taskId: string }[] }>(
      await a1Client.callTool({ name: 'list_subtasks', arguments: {} }),
    );
    expect(list.subtasks.map((s) => s.taskId)).toContain(child.taskId);
    const status = structured<{ status: string }>(
      await a1Client.callTool({ name: 'get_subtask_status', arguments: { taskId: child.taskId } }),
    );
    expect(status.status).toBe('queued');
    const e = await rpcError(a2Client.callTool({ name: 'get_subtask_status', arguments: { taskId: child.taskId } }));
    expect(e.code).toBe(-32003);
    expect((e.data as { code: string }).code).toBe('not_allowed');
  });

  it('refuses orchestration over another project’s task', async () => {
    const e = await rpcError(a1Client.callTool({ name: 'stop_subtask', arguments: { taskId: foreign.taskId } }));
    expect(e.code).toBe(-32003);
    const [row] = await env.db.admin`select status from public.tasks where id = ${foreign.taskId}`;
    expect(row!.status).toBe('in_progress');
  });

  it('delivers a directive to the child’s agent once, and shows it in the child’s chat', async () => {
    const running = await bringUp(env.db.admin, child.taskId);
    const childClient = await env.mcp.client(await agentToken(env.mcp.secret, running));
    try {
      const sent = structured<{ directiveId: string }>(
        await a1Client.callTool({
          name: 'send_message_to_subtask',
          arguments: { taskId: child.taskId, message: 'Also cover the 429 response' },
        }),
      );
      const first = structured<{ messages: { id: string; kind: string; content: string }[] }>(
        await childClient.callTool({ name: 'get_pending_messages', arguments: {} }),
      );
      expect(first.messages).toEqual([
        expect.objectContaining({ id: sent.directiveId, kind: 'message', content: 'Also cover the 429 response' }),
      ]);
      const second = structured<{ messages: unknown[] }>(
        await childClient.callTool({ name: 'get_pending_messages', arguments: {} }),
      );
      expect(second.messages).toEqual([]);
      const [chat] = await env.db.admin`
        select m.role, m.content from public.messages m join public.tasks t on t.chat_session_id = m.session_id
        where t.id = ${child.taskId} and m.message_id = ${'directive:' + sent.directiveId}`;
      expect(chat).toEqual({ role: 'user', content: 'Also cover the 429 response' });
    } finally {
      await childClient.close();
    }
  });

  it('retries a child with what went wrong carried into the new description', async () => {
    const r = structured<{ taskId: string }>(
      await a1Client.callTool({ name: 'retry_subtask', arguments: { taskId: child.taskId } }),
    );
    expect(r.taskId).not.toBe(child.taskId);
    const [old] = await env.db.admin`select status, error_message from public.tasks where id = ${child.taskId}`;
    expect(old!.status).toBe('failed');
    const [retry] = await env.db
      .admin`select triggered_by, source_task_id, description, dispatch_depth from public.tasks where id = ${r.taskId}`;
    expect(retry).toMatchObject({ triggered_by: 'retry', source_task_id: child.taskId, dispatch_depth: 1 });
    expect(retry!.description).toContain(`previous attempt (${child.taskId}) ended with status 'in_progress'`);
  });

  it('stops a child after warning it, and the warning reaches its agent first', async () => {
    const c = structured<{ taskId: string }>(
      await a1Client.callTool({ name: 'dispatch_task', arguments: { description: 'Short-lived helper' } }),
    );
    const r = structured<{ warned: boolean; stopped: boolean; status: string }>(
      await a1Client.callTool({
        name: 'stop_subtask',
        arguments: { taskId: c.taskId, warning: 'Wrap up now', graceSeconds: 1 },
      }),
    );
    expect(r).toEqual({ taskId: c.taskId, warned: true, stopped: true, status: 'cancelled' });
    const [d] = await env.db.admin`select kind, content from public.directives where task_id = ${c.taskId}`;
    expect(d).toEqual({ kind: 'stop_warning', content: 'Wrap up now' });
    const again = structured<{ stopped: boolean }>(
      await a1Client.callTool({ name: 'stop_subtask', arguments: { taskId: c.taskId } }),
    );
    expect(again.stopped).toBe(false);
  });
});

describe('ideas', () => {
  it('are created, edited, moved along the idea machine and found by full-text search', async () => {
    const idea = structured<{ ideaId: string; status: string }>(
      await a1Client.callTool({
        name: 'create_idea',
        arguments: { title: 'Cache thumbnails at the edge', content: 'Thumbnails are rendered per request.' },
      }),
    );
    expect(idea.status).toBe('draft');
    const [row] = await env.db.admin`select triggered_by, project_id from public.tasks where id = ${idea.ideaId}`;
    expect(row).toEqual({ triggered_by: 'mcp', project_id: project });

    const ready = structured<{ status: string; changed: boolean; content: string }>(
      await a1Client.callTool({
        name: 'update_idea',
        arguments: { ideaId: idea.ideaId, status: 'ready', append: 'Use a CDN cache key per size.' },
      }),
    );
    expect(ready).toMatchObject({ status: 'ready', changed: true });
    expect(ready.content).toContain('CDN cache key');
    const repeat = structured<{ changed: boolean }>(
      await a1Client.callTool({ name: 'update_idea', arguments: { ideaId: idea.ideaId, status: 'ready' } }),
    );
    expect(repeat.changed).toBe(false);

    const e = await rpcError(
      a1Client
        .callTool({ name: 'update_idea', arguments: { ideaId: idea.ideaId, status: 'draft' } })
        .then(() => a1Client.callTool({ name: 'update_idea', arguments: { ideaId: idea.ideaId, status: 'completed' } }))
        .then(() => a1Client.callTool({ name: 'update_idea', arguments: { ideaId: idea.ideaId, status: 'draft' } })),
    );
    expect(e.code).toBe(-32009);

    const found = structured<{ ideas: { ideaId: string }[] }>(
      await a1Client.callTool({ name: 'search_ideas', arguments: { query: 'thumbnail cache' } }),
    );
    expect(found.ideas[0]!.ideaId).toBe(idea.ideaId);
    const got = structured<{ title: string }>(
      await a1Client.callTool({ name: 'get_idea', arguments: { ideaId: idea.ideaId } }),
    );
    expect(got.title).toBe('Cache thumbnails at the edge');

    const other = await createIdeaElsewhere();
    const hidden = await rpcError(a1Client.callTool({ name: 'get_idea', arguments: { ideaId: other } }));
    expect(hidden.code).toBe(-32004);
  });

  it('are listed draft and ready, highest priority first', async () => {
    await a1Client.callTool({ name: 'create_idea', arguments: { title: 'Low', priority: 1 } });
    await a1Client.callTool({ name: 'create_idea', arguments: { title: 'High', priority: 90 } });
    const list = structured<{ ideas: { title: string; status: string }[] }>(
      await a1Client.callTool({ name: 'list_ideas', arguments: {} }),
    );
    expect(list.ideas[0]!.title).toBe('High');
    expect(list.ideas.every((i) => ['draft', 'ready'].includes(i.status))).toBe(true);
  });
});

async function createIdeaElsewhere(): Promise<string> {
  const [row] = await env.db
    .admin`select public.create_idea('Not yours', '', 0, ${foreign.claims.project_id as string}::uuid) as id`;
  return row!.id as string;
}

describe('progress, questions and completion', () => {
  it('reports progress into the chat and as a low-urgency notification', async () => {
    await a1Client.callTool({ name: 'update_task_status', arguments: { message: 'Limiter written, adding tests' } });
    const [m] = await env.db
      .admin`select m.role, m.content from public.messages m join public.tasks t on t.chat_session_id = m.session_id
                               where t.id = ${a1.taskId} and m.message_id like 'progress:%'`;
    expect(m).toEqual({ role: 'system', content: 'Limiter written, adding tests' });
    const [n] = await env.db
      .admin`select urgency from public.notifications where task_id = ${a1.taskId} and type = 'progress' order by created_at desc limit 1`;
    expect(n!.urgency).toBe('low');
  });

  it('asks the human, and the answer reaches the agent through get_pending_messages', async () => {
    const q = structured<{ requestId: string }>(
      await a1Client.callTool({
        name: 'request_human_input',
        arguments: { context: 'Per user or per IP?', category: 'decision', options: ['per user', 'per IP'] },
      }),
    );
    const [n] = await env.db
      .admin`select urgency from public.notifications where type = 'needs_input' and task_id = ${a1.taskId}`;
    expect(n!.urgency).toBe('high');
    await as(
      env.db.admin,
      'authenticated',
      { sub: owner },
      (tx) => tx`select public.answer_human_input(${q.requestId}, 'per user')`,
    );
    const pending = structured<{
      messages: { kind: string; content: string; metadata: { humanInputRequestId: string } }[];
    }>(await a1Client.callTool({ name: 'get_pending_messages', arguments: {} }));
    expect(pending.messages).toEqual([
      expect.objectContaining({
        kind: 'answer',
        content: 'per user',
        metadata: expect.objectContaining({ humanInputRequestId: q.requestId }),
      }),
    ]);
  });

  it('completes a task-mode task with its evidence, and the token keeps working', async () => {
    const r = structured<{ status: string; changed: boolean }>(
      await a1Client.callTool({
        name: 'complete_task',
        arguments: {
          summary: 'Added a token bucket per user',
          evidence: { filesChanged: ['src/upload.ts'], testsRun: ['npm test'] },
        },
      }),
    );
    expect(r).toMatchObject({ status: 'completed', changed: true });
    const [t] = await env.db.admin`select summary, completion_evidence from public.tasks where id = ${a1.taskId}`;
    expect(t).toEqual({
      summary: 'Added a token bucket per user',
      completion_evidence: { filesChanged: ['src/upload.ts'], testsRun: ['npm test'] },
    });
    // Not revoked on completion: the agent may still look around.
    const details = structured<{ status: string }>(
      await a1Client.callTool({ name: 'get_task_details', arguments: { taskId: a1.taskId } }),
    );
    expect(details.status).toBe('completed');
    const late = await rpcError(
      a1Client.callTool({ name: 'update_task_status', arguments: { message: 'one more thing' } }),
    );
    expect(late.code).toBe(-32009);
  });

  it('moves a conversation to awaiting follow-up instead of completing it', async () => {
    const r = structured<{ status: string; executionStep: string }>(
      await a2Client.callTool({ name: 'complete_task', arguments: { summary: 'Answered the question' } }),
    );
    expect(r).toMatchObject({ status: 'in_progress', executionStep: 'awaiting_followup' });
  });
});

describe('project awareness', () => {
  it('lists tasks, shows details and reads a session’s messages within the project only', async () => {
    const list = structured<{ tasks: { taskId: string }[] }>(
      await a2Client.callTool({ name: 'list_tasks', arguments: { limit: 50 } }),
    );
    expect(list.tasks.map((t) => t.taskId)).toEqual(expect.arrayContaining([a1.taskId, a2.taskId]));
    expect(list.tasks.map((t) => t.taskId)).not.toContain(foreign.taskId);
    const details = structured<{ sessionId: string }>(
      await a2Client.callTool({ name: 'get_task_details', arguments: { taskId: a1.taskId } }),
    );
    const msgs = structured<{ messages: { role: string; content: string }[] }>(
      await a2Client.callTool({
        name: 'get_session_messages',
        arguments: { sessionId: details.sessionId, roles: ['user'] },
      }),
    );
    expect(msgs.messages[0]).toMatchObject({ role: 'user', content: 'Add rate limiting to the upload endpoint' });
    const e = await rpcError(a2Client.callTool({ name: 'get_task_details', arguments: { taskId: foreign.taskId } }));
    expect(e.code).toBe(-32004);
  });
});

describe('refusals', () => {
  it('rejects malformed arguments with invalid params and the request id', async () => {
    const token = await agentToken(env.mcp.secret, a2);
    const res = await env.mcp.post(
      {
        jsonrpc: '2.0',
        id: 41,
        method: 'tools/call',
        params: { name: 'dispatch_task', arguments: { description: 7, extra: true } },
      },
      token,
    );
    const body = (await res.json()) as {
      id: number;
      error: { code: number; message: string; data: { issues: unknown[] } };
    };
    expect(body.id).toBe(41);
    expect(body.error.code).toBe(-32602);
    expect(body.error.data.issues.length).toBeGreaterThanOrEqual(2);
    const none = await env.db.admin`select 1 from public.tasks where description = '7'`;
    expect(none).toHaveLength(0);
  });

  it('rejects an unknown tool with invalid params', async () => {
    const e = await rpcError(a2Client.callTool({ name: 'format_disk', arguments: {} }));
    expect(e.code).toBe(-32602);
    expect(e.message).toMatch(/Unknown tool: format_disk/);
  });

  it('refuses a revoked token and an expired one with 401 and a JSON-RPC error', async () => {
    const t = await submitTask(env.db.admin, owner, project, 'A task that will fail');
    const agent = await bringUp(env.db.admin, t.taskId);
    const token = await agentToken(env.mcp.secret, agent);
    const ok = await env.mcp.post(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_instructions', arguments: {} } },
      token,
    );
    expect(ok.status).toBe(200);
    // Failing the task revokes its agent tokens.
    await env.db.admin`select public.fail_task(${t.taskId}, 'boom')`;
    const revoked = await env.mcp.post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_instructions', arguments: {} } },
      token,
    );
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32001 } });

    const expiredJwt = await agentToken(env.mcp.secret, {
      ...a2,
      claims: { ...a2.claims, exp: Math.floor(Date.now() / 1000) - 10 },
    });
    const expired = await env.mcp.post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, expiredJwt);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ id: 3, error: { code: -32001, data: { code: 'token_expired' } } });

    await env.db.admin`update public.tokens set expires_at = now() - interval '1 second' where jti = ${a2.claims.jti}`;
    const lapsed = await env.mcp.post(
      { jsonrpc: '2.0', id: 4, method: 'tools/list' },
      await agentToken(env.mcp.secret, a2),
    );
    expect(lapsed.status).toBe(401);
    await env.db.admin`update public.tokens set expires_at = now() + interval '8 hours' where jti = ${a2.claims.jti}`;
  });

  it('slides an agent token to 8 h on use, never past its 24 h cap', async () => {
    const t = await submitTask(env.db.admin, owner, project, 'A long-running task');
    const agent = await bringUp(env.db.admin, t.taskId);
    const token = await agentToken(env.mcp.secret, agent);
    await env.db.admin`update public.tokens set expires_at = now() + interval '1 hour' where jti = ${agent.claims.jti}`;
    await env.mcp.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, token);
    const [slid] = await env.db
      .admin`select extract(epoch from expires_at - now()) as left from public.tokens where jti = ${agent.claims.jti}`;
    expect(Number(slid!.left)).toBeGreaterThan(7.9 * 3600);
    expect(Number(slid!.left)).toBeLessThanOrEqual(8 * 3600);
    await env.db
      .admin`update public.tokens set max_expires_at = now() + interval '2 hours' where jti = ${agent.claims.jti}`;
    await env.mcp.post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, token);
    const [capped] = await env.db
      .admin`select expires_at <= max_expires_at as capped from public.tokens where jti = ${agent.claims.jti}`;
    expect(capped!.capped).toBe(true);
  });

  it('refuses a token signed with another key, and a node token', async () => {
    {
      const forged = await agentToken(randomBytes(32).toString('base64url'), a2);
      const res = await env.mcp.post({ jsonrpc: '2.0', id: 9, method: 'tools/list' }, forged);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ id: 9, error: { code: -32001, data: { code: 'invalid_token' } } });
    }
  });
});
