import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import {
  CompleteWorkspaceResponse,
  HeartbeatResponse,
  PollCommandsResponse,
  RegisterNodeResponse,
  StartSessionResponse,
  type CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { signSamToken } from '../../functions/_shared/sam-tokens.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useDenoVmAgent } from './harness.ts';

/**
 * One machine's life against the real function: it registers with its bootstrap token, heartbeats,
 * long-polls a create_workspace command, reports the workspace ready, starts an agent whose token
 * works against the mcp function, streams message batches, completes the task, stops, goes warm,
 * and picks up the next task of its owner mid-poll. Refusals along the way.
 */
const env = useDenoVmAgent('vm_agent_fn');
const sec = () => Math.floor(Date.now() / 1000);

let owner: string;
let project: string;
let task1: { taskId: string; sessionId: string; branchName: string };
let nodeId: string;
let bootstrapToken: string;
let nodeToken: string;
/** A usage report as the vm-agent sends it after a turn. */
const USAGE = {
  inputTokens: 1000,
  outputTokens: 200,
  cachedReadTokens: 300,
  cachedWriteTokens: 0,
  thoughtTokens: 0,
  totalTokens: 1200,
  contextUsed: 5000,
  contextSize: 200000,
  turns: 1,
  source: 'codex-rollout',
};
let ws1: CreateWorkspacePayload;
let session1: { agentSessionId: string; agentToken: string; mcpUrl: string };

function record(sessionId: string, messageId: string, extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    messageId,
    sessionId,
    role: 'assistant',
    content: `text of ${messageId}`,
    metadata: { seq: 1 },
    producedAt: new Date().toISOString(),
    ...extra,
  };
}

async function messageIds(chatSessionId: string): Promise<string[]> {
  const rows = await env.db.admin`
    select message_id from public.messages where session_id = ${chatSessionId} order by id`;
  return rows.map((r) => r.message_id as string);
}

beforeAll(async () => {
  const admin = env.db.admin;
  owner = await createUser(admin);
  project = await createProject(admin, owner);
  task1 = await submitTask(admin, owner, project, 'Add rate limiting to the upload endpoint', { agentType: 'demo' });
  const [t] = await admin`select auto_provisioned_node_id from public.tasks where id = ${task1.taskId}`;
  nodeId = t!.auto_provisioned_node_id as string;
  const [b] = await admin`select public.issue_bootstrap_token(${nodeId}) as token`;
  bootstrapToken = b!.token as string;
});

describe('node registration', () => {
  it('refuses an unknown bootstrap token and a malformed body', async () => {
    const bad = await env.target.call('POST', '/nodes/register', undefined, {
      bootstrapToken: 'not-a-token',
      agentVersion: '1.0.0',
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_token' } });
    const malformed = await env.target.call('POST', '/nodes/register', undefined, { agentVersion: '1.0.0' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: { code: 'invalid_params' } });
    const notJson = await env.target.call('POST', '/nodes/register', undefined, '{nope');
    expect(notJson.status).toBe(400);
  });

  it('registers with the bootstrap token; again within its lifetime, the same node with a fresh token (the first one revoked)', async () => {
    const r = await env.target.call('POST', '/nodes/register', undefined, {
      bootstrapToken,
      agentVersion: '1.0.0-test',
      ipAddress: '10.0.0.7',
    });
    expect(r.status).toBe(200);
    const body = RegisterNodeResponse.parse(r.body);
    expect(body.nodeId).toBe(nodeId);
    expect(body.heartbeatIntervalSeconds).toBe(60);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now() + 50 * 60_000);
    nodeToken = body.nodeToken;
    const [n] = await env.db.admin`select status, agent_version, ip_address from public.nodes where id = ${nodeId}`;
    // Registration placed the waiting task: the node is active with a workspace being created.
    expect(n).toMatchObject({ status: 'active', agent_version: '1.0.0-test', ip_address: '10.0.0.7' });

    // A machine that died before it kept its node token registers again: same node, fresh token.
    const again = await env.target.call('POST', '/nodes/register', undefined, {
      bootstrapToken,
      agentVersion: '1.0.0-test',
    });
    expect(again.status).toBe(200);
    const second = RegisterNodeResponse.parse(again.body);
    expect(second.nodeId).toBe(nodeId);
    const first = await env.target.call('POST', '/nodes/heartbeat', nodeToken, { agentVersion: '1.0.0-test' });
    expect(first.status).toBe(401);
    nodeToken = second.nodeToken;
    const [still] = await env.db.admin`select status from public.nodes where id = ${nodeId}`;
    expect(still!.status).toBe('active');
  });
});

describe('heartbeat and the command long-poll', () => {
  it('records the heartbeat and re-signs a node token whose expiry the database slid', async () => {
    const [tok] = await env.db
      .admin`select jti from public.tokens where node_id = ${nodeId} and kind = 'node' and revoked_at is null`;
    const shortLived = await signSamToken(env.target.secret, 'node', {
      jti: tok!.jti as string,
      node_id: nodeId,
      exp: sec() + 120,
    });
    const r = await env.target.call('POST', '/nodes/heartbeat', shortLived, {
      agentVersion: '1.0.1-test',
      metrics: { cpuLoadAvg1: 0.5, memoryPercent: 20, diskPercent: 30 },
    });
    expect(r.status).toBe(200);
    const body = HeartbeatResponse.parse(r.body);
    expect(body).toMatchObject({ nodeId, status: 'active', pendingCommands: 1 });
    expect(body.nodeToken).toBeDefined();
    expect(Date.parse(body.expiresAt!)).toBeGreaterThan(Date.now() + 50 * 60_000);
    const [n] = await env.db.admin`select agent_version, last_metrics from public.nodes where id = ${nodeId}`;
    expect(n).toMatchObject({ agent_version: '1.0.1-test', last_metrics: { cpuLoadAvg1: 0.5 } });
    // The re-signed token works.
    expect((await env.target.call('POST', '/nodes/heartbeat', body.nodeToken, {})).status).toBe(200);
  });

  it('delivers the create_workspace command with what the VM needs and a workspace token', async () => {
    const r = await env.target.call('GET', '/nodes/commands?wait=5', nodeToken);
    expect(r.status).toBe(200);
    const { commands } = PollCommandsResponse.parse(r.body);
    expect(commands).toHaveLength(1);
    const cmd = commands[0]!;
    if (cmd.kind !== 'create_workspace') throw new Error(`unexpected ${cmd.kind}`);
    ws1 = cmd.payload;
    expect(ws1).toMatchObject({
      taskId: task1.taskId,
      projectId: project,
      chatSessionId: task1.sessionId,
      branch: task1.branchName,
      baseBranch: 'main',
      defaultBranch: 'main',
      repoProvider: 'local',
      workspaceProfile: 'full',
      lightweight: false,
      agentType: 'demo',
      taskMode: 'task',
      initialPrompt: 'Add rate limiting to the upload endpoint',
    });
    expect(ws1.repository).toMatch(/^\/tmp\//);

    const ack = await env.target.call('POST', `/nodes/commands/${cmd.id}/ack`, nodeToken, { ok: true, result: {} });
    expect(ack).toMatchObject({ status: 200, body: { acknowledged: true } });
    const repeat = await env.target.call('POST', `/nodes/commands/${cmd.id}/ack`, nodeToken, { ok: true });
    expect(repeat.body).toEqual({ acknowledged: false });
    const [row] = await env.db.admin`select status from public.node_commands where id = ${cmd.id}`;
    expect(row!.status).toBe('done');
    expect((await env.target.call('POST', '/nodes/commands/nope/ack', nodeToken, { ok: true })).status).toBe(400);
  });

  it('returns an empty list once `wait` has passed', async () => {
    const r = await env.target.call('GET', '/nodes/commands?wait=1', nodeToken);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ commands: [] });
    expect(r.ms).toBeGreaterThanOrEqual(950);
    expect((await env.target.call('GET', '/nodes/commands?wait=26', nodeToken)).status).toBe(400);
  });

  it('refuses workspace tokens, expired and revoked node tokens on node routes', async () => {
    expect((await env.target.call('POST', '/nodes/heartbeat', ws1.workspaceToken, {})).status).toBe(401);
    expect((await env.target.call('GET', '/nodes/commands', ws1.workspaceToken)).status).toBe(401);
    expect((await env.target.call('GET', '/nodes/commands')).status).toBe(401);
    const [tok] = await env.db
      .admin`select jti from public.tokens where node_id = ${nodeId} and kind = 'node' and revoked_at is null`;
    const expired = await signSamToken(env.target.secret, 'node', {
      jti: tok!.jti as string,
      node_id: nodeId,
      exp: sec() - 5,
    });
    const e = await env.target.call('POST', '/nodes/heartbeat', expired, {});
    expect(e).toMatchObject({ status: 401, body: { error: { code: 'token_expired' } } });
    const forged = await signSamToken('x'.repeat(40), 'node', {
      jti: tok!.jti as string,
      node_id: nodeId,
      exp: sec() + 60,
    });
    expect((await env.target.call('POST', '/nodes/heartbeat', forged, {})).status).toBe(401);
    // A token row revoked in the database counts for nothing, whatever the JWT says.
    const [other] = await env.db.admin`
      insert into public.tokens (kind, owner_id, node_id, expires_at)
      values ('node', ${owner}, ${nodeId}, now() + interval '1 hour') returning jti`;
    const revocable = await signSamToken(env.target.secret, 'node', {
      jti: other!.jti as string,
      node_id: nodeId,
      exp: sec() + 3600,
    });
    expect((await env.target.call('POST', '/nodes/heartbeat', revocable, {})).status).toBe(200);
    await env.db.admin`update public.tokens set revoked_at = now() where jti = ${other!.jti}`;
    const r = await env.target.call('GET', '/nodes/commands', revocable);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'token_revoked' } } });
  });
});

describe('workspace and agent session', () => {
  it('refuses node tokens on every workspace route', async () => {
    const routes: [string, unknown][] = [
      ['/workspaces/ready', {}],
      ['/workspaces/failed', { error: 'x' }],
      ['/workspaces/stopped', {}],
      ['/workspaces/complete', { gitPushResult: { pushed: false, commitSha: null, branchName: null, error: null } }],
      ['/sessions', {}],
      [`/sessions/${ws1.workspaceId}/status`, { status: 'ready' }],
      [`/sessions/${ws1.workspaceId}/messages`, { messages: [] }],
      [`/sessions/${ws1.workspaceId}/usage`, USAGE],
    ];
    for (const [path, body] of routes) {
      const r = await env.target.call('POST', path, nodeToken, body);
      expect(r.status, path).toBe(401);
      expect(r.body, path).toMatchObject({ error: { code: 'invalid_token' } });
    }
    const [w] = await env.db.admin`select status from public.workspaces where id = ${ws1.workspaceId}`;
    expect(w!.status).toBe('creating');
  });

  it('reports the workspace ready (a repeat changes nothing)', async () => {
    const r = await env.target.call('POST', '/workspaces/ready', ws1.workspaceToken);
    expect(r).toMatchObject({ status: 200, body: { changed: true } });
    const again = await env.target.call('POST', '/workspaces/ready', ws1.workspaceToken, {});
    expect(again.body).toEqual({ changed: false });
    const [t] = await env.db.admin`select execution_step from public.tasks where id = ${task1.taskId}`;
    expect(t!.execution_step).toBe('workspace_ready');
  });

  it('starts an agent session whose token works against the mcp function', async () => {
    const r = await env.target.call('POST', '/sessions', ws1.workspaceToken, { agentType: 'demo' });
    expect(r.status).toBe(200);
    session1 = StartSessionResponse.parse(r.body);
    expect(session1.mcpUrl).toBe(`${env.target.stackUrl}/functions/v1/mcp`);
    const transport = new StreamableHTTPClientTransport(new URL(session1.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${session1.agentToken}` } },
    });
    const client = new Client({ name: 'sam-test-agent', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = (await client.callTool({ name: 'get_instructions', arguments: {} })) as unknown as {
        structuredContent: { task: { id: string; outputBranch: string } };
      };
      expect(result.structuredContent.task).toMatchObject({ id: task1.taskId, outputBranch: task1.branchName });
    } finally {
      await client.close();
    }
  }, 60_000);

  it('moves the session through its states and refuses moves the machine does not allow', async () => {
    const status = (s: string, extra: Record<string, unknown> = {}) =>
      env.target.call('POST', `/sessions/${session1.agentSessionId}/status`, ws1.workspaceToken, {
        status: s,
        ...extra,
      });
    expect((await status('ready')).body).toEqual({ changed: true, status: 'idle' });
    const [t] = await env.db.admin`select status, execution_step from public.tasks where id = ${task1.taskId}`;
    expect(t).toMatchObject({ status: 'in_progress', execution_step: 'running' });
    expect((await status('prompting')).body).toEqual({ changed: true, status: 'prompting' });
    expect((await status('prompting')).body).toEqual({ changed: false, status: 'prompting' });
    expect((await status('recovering', { error: 'EPIPE' })).body).toEqual({ changed: true, status: 'recovering' });
    expect((await status('ready')).body).toEqual({ changed: true, status: 'idle' });
    const failedWithoutError = await status('failed');
    expect(failedWithoutError.status).toBe(400);
    expect(failedWithoutError.body).toMatchObject({
      error: { code: 'invalid_params', details: { issues: [{ path: 'error' }] } },
    });
    expect((await status('sleeping')).status).toBe(400);

    // A second session, stopped, then asked to prompt: 409.
    const second = StartSessionResponse.parse(
      (await env.target.call('POST', '/sessions', ws1.workspaceToken, {})).body,
    );
    const s2 = (s: string) =>
      env.target.call('POST', `/sessions/${second.agentSessionId}/status`, ws1.workspaceToken, { status: s });
    expect((await s2('stopped')).body).toEqual({ changed: true, status: 'stopped' });
    expect((await s2('prompting')).status).toBe(409);
    const [tok] = await env.db.admin`
      select revoked_at from public.tokens where agent_session_id = ${second.agentSessionId}`;
    expect(tok!.revoked_at).not.toBeNull();
  });

  it("records the session's usage totals; a replayed older report changes nothing; bad numbers are refused", async () => {
    const sid = session1.agentSessionId;
    const url = `/sessions/${sid}/usage`;
    expect(await env.target.call('POST', url, ws1.workspaceToken, USAGE)).toMatchObject({
      status: 200,
      body: { changed: true },
    });
    expect(
      await env.target.call('POST', url, ws1.workspaceToken, { ...USAGE, inputTokens: 1, outputTokens: 1 }),
    ).toMatchObject({ status: 200, body: { changed: false } });
    const bad = await env.target.call('POST', url, ws1.workspaceToken, { ...USAGE, inputTokens: -5 });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_params' } } });
    const [u] = await env.db.admin`
      select input_tokens::int as i, output_tokens::int as o, cached_read_tokens::int as c, source
        from public.agent_session_usage where agent_session_id = ${sid}`;
    expect(u).toEqual({ i: 1000, o: 200, c: 300, source: 'codex-rollout' });
  });

  it('persists a message batch once; a re-sent batch is reported as duplicates', async () => {
    const sid = session1.agentSessionId;
    const batch = {
      messages: [
        record(sid, 'e1-1'),
        record(sid, 'e1-2', { role: 'thought', content: 'thinking…' }),
        record(sid, 'e1-3', {
          role: 'tool',
          content: 'Read file',
          toolCallId: 'call-1',
          toolStatus: 'completed',
          metadata: { kind: 'read', origin: 'agent' },
        }),
      ],
    };
    const url = `/sessions/${sid}/messages`;
    const first = await env.target.call('POST', url, ws1.workspaceToken, batch);
    expect(first).toMatchObject({ status: 200, body: { persisted: 3, duplicates: 0 } });
    const again = await env.target.call('POST', url, ws1.workspaceToken, batch);
    expect(again.body).toEqual({ persisted: 0, duplicates: 3 });
    const overlap = await env.target.call('POST', url, ws1.workspaceToken, {
      messages: [...batch.messages, record(sid, 'e1-4')],
    });
    expect(overlap.body).toEqual({ persisted: 1, duplicates: 3 });
    const ids = await messageIds(task1.sessionId);
    expect(ids.filter((id) => id.startsWith('e1-'))).toEqual(['e1-1', 'e1-2', 'e1-3', 'e1-4']);
    const [tool] = await env.db.admin`
      select role, tool_call_id, tool_status, tool_metadata, origin, produced_at from public.messages
       where session_id = ${task1.sessionId} and message_id = 'e1-3'`;
    expect(tool).toMatchObject({
      role: 'tool',
      origin: 'agent',
      tool_call_id: 'call-1',
      tool_status: 'completed',
      tool_metadata: { kind: 'read', origin: 'agent' },
    });
    expect(tool!.tool_metadata).not.toHaveProperty('toolCallId');
    expect(tool!.produced_at).toBeInstanceOf(Date);
  });

  it('refuses a malformed batch with 400 and inserts nothing of it', async () => {
    const sid = session1.agentSessionId;
    const before = (await messageIds(task1.sessionId)).length;
    const url = `/sessions/${sid}/messages`;
    const noRole = { messages: [record(sid, 'bad-1'), { ...record(sid, 'bad-2'), role: 'robot' }] };
    const r = await env.target.call('POST', url, ws1.workspaceToken, noRole);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: { code: 'invalid_params', details: { issues: [{ path: 'messages.1.role' }] } },
    });
    const otherSession = { messages: [record('3f1e1c9a-0000-4000-8000-000000000000', 'bad-3')] };
    expect((await env.target.call('POST', url, ws1.workspaceToken, otherSession)).status).toBe(400);
    expect((await env.target.call('POST', url, ws1.workspaceToken, { messages: [] })).status).toBe(400);
    const tooBig = { messages: [record(sid, 'bad-4', { content: 'x'.repeat(300 * 1024) })] };
    expect([400, 413]).toContain((await env.target.call('POST', url, ws1.workspaceToken, tooBig)).status);
    expect((await messageIds(task1.sessionId)).length).toBe(before);
  });

  it('refuses a batch that speaks as the user, storing none of it', async () => {
    const sid = session1.agentSessionId;
    const before = (await messageIds(task1.sessionId)).length;
    const asUser = { messages: [record(sid, 'as-user-1'), { ...record(sid, 'as-user-2'), role: 'user' }] };
    const r = await env.target.call('POST', `/sessions/${sid}/messages`, ws1.workspaceToken, asUser);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: { code: 'invalid_params', details: { issues: [{ path: 'messages.1.role' }] } },
    });
    expect((await messageIds(task1.sessionId)).length).toBe(before);
  });

  it('refuses expired and revoked workspace tokens', async () => {
    const [row] = await env.db.admin`select public.issue_workspace_token(${ws1.workspaceId}) as c`;
    const claims = row!.c as { jti: string; exp: number };
    const extra = await signSamToken(env.target.secret, 'workspace', claims);
    expect((await env.target.call('POST', '/workspaces/ready', extra)).status).toBe(200);
    await env.db.admin`select public.revoke_token(${claims.jti}, 'test')`;
    const revoked = await env.target.call('POST', '/workspaces/ready', extra);
    expect(revoked).toMatchObject({ status: 401, body: { error: { code: 'token_revoked' } } });
    const expired = await signSamToken(env.target.secret, 'workspace', { ...claims, exp: sec() - 1 });
    expect((await env.target.call('POST', '/workspaces/ready', expired)).status).toBe(401);
  });

  it('completes the task with the pushed branch and asks for a pull request', async () => {
    const body = {
      gitPushResult: {
        pushed: true,
        commitSha: 'a'.repeat(40),
        branchName: `${task1.branchName}-v2`,
        hasUncommittedChanges: false,
        committed: true,
        error: null,
      },
      summary: 'Added a token bucket in front of the upload endpoint',
    };
    const r = await env.target.call('POST', '/workspaces/complete', ws1.workspaceToken, body);
    expect(r.status).toBe(200);
    expect(CompleteWorkspaceResponse.parse(r.body)).toMatchObject({
      taskId: task1.taskId,
      status: 'completed',
      branch: `${task1.branchName}-v2`,
      changed: true,
      pullRequestRequested: true,
    });
    const [t] = await env.db
      .admin`select status, branch, summary, completion_evidence from public.tasks where id = ${task1.taskId}`;
    expect(t).toMatchObject({
      status: 'completed',
      branch: `${task1.branchName}-v2`,
      summary: body.summary,
      completion_evidence: { gitPush: { pushed: true, commitSha: 'a'.repeat(40) } },
    });
    const jobs = await env.db
      .admin`select payload from public.orchestrator_jobs where task_id = ${task1.taskId} and kind = 'open_pr'`;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.payload).toMatchObject({ branch: `${task1.branchName}-v2`, baseBranch: 'main' });
    const again = await env.target.call('POST', '/workspaces/complete', ws1.workspaceToken, body);
    expect(again.body).toMatchObject({ status: 'completed', changed: false });
    expect(
      await env.db.admin`select 1 from public.orchestrator_jobs where task_id = ${task1.taskId} and kind = 'open_pr'`,
    ).toHaveLength(1);
  });

  it('stops the workspace: its token is revoked and the node goes warm', async () => {
    const r = await env.target.call('POST', '/workspaces/stopped', ws1.workspaceToken);
    expect(r.body).toEqual({ changed: true });
    const [n] = await env.db.admin`select status from public.nodes where id = ${nodeId}`;
    expect(n!.status).toBe('warm');
    expect((await env.target.call('POST', '/workspaces/stopped', ws1.workspaceToken)).status).toBe(401);
  });
});

describe('the next task on the warm node', () => {
  let ws2: CreateWorkspacePayload;
  let task2: { taskId: string; sessionId: string };

  it('a waiting long-poll returns as soon as the owner submits a task', async () => {
    expect((await env.target.call('POST', '/nodes/heartbeat', nodeToken, {})).status).toBe(200);
    const poll = env.target.call('GET', '/nodes/commands?wait=20', nodeToken);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    task2 = await submitTask(env.db.admin, owner, project, 'Write the docs for uploads', {
      taskMode: 'conversation',
      workspaceProfile: 'lightweight',
    });
    const r = await poll;
    expect(r.status).toBe(200);
    // A poll that had waited out its 20 s would answer with no commands: this one was woken.
    const { commands } = PollCommandsResponse.parse(r.body);
    expect(commands.map((c) => c.kind)).toEqual(['create_workspace']);
    ws2 = (commands[0] as { payload: CreateWorkspacePayload }).payload;
    expect(ws2).toMatchObject({ taskId: task2.taskId, taskMode: 'conversation', lightweight: true });
    const [n] = await env.db.admin`select status from public.nodes where id = ${nodeId}`;
    expect(n!.status).toBe('active');
  });

  it("refuses workspace W2 acting on W1's agent session (RLS and the SQL functions decide)", async () => {
    expect((await env.target.call('POST', '/workspaces/ready', ws2.workspaceToken)).body).toEqual({ changed: true });
    const before = (await messageIds(task1.sessionId)).length;
    const sid = session1.agentSessionId;
    const post = await env.target.call('POST', `/sessions/${sid}/messages`, ws2.workspaceToken, {
      messages: [record(sid, 'intruder-1')],
    });
    expect(post).toMatchObject({ status: 403, body: { error: { code: 'not_allowed' } } });
    expect((await messageIds(task1.sessionId)).length).toBe(before);
    const status = await env.target.call('POST', `/sessions/${sid}/status`, ws2.workspaceToken, {
      status: 'failed',
      error: 'x',
    });
    expect(status.status).toBe(403);
    const usage = await env.target.call('POST', `/sessions/${sid}/usage`, ws2.workspaceToken, {
      ...USAGE,
      inputTokens: 999_999,
    });
    expect(usage).toMatchObject({ status: 403, body: { error: { code: 'not_allowed' } } });
    const [u] = await env.db
      .admin`select input_tokens::int as i from public.agent_session_usage where agent_session_id = ${sid}`;
    expect(u!.i).toBe(1000);
    const [s] = await env.db.admin`select status from public.agent_sessions where id = ${sid}`;
    expect(s!.status).toBe('stopped');
  });

  it('completes a conversation turn: awaiting_followup, the task stays active, no pull request', async () => {
    const r = await env.target.call('POST', '/workspaces/complete', ws2.workspaceToken, {
      gitPushResult: { pushed: false, commitSha: null, branchName: ws2.branch, error: 'nothing to push' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      taskId: task2.taskId,
      status: 'delegated',
      executionStep: 'awaiting_followup',
      branch: ws2.branch,
      changed: true,
      pullRequestRequested: false,
    });
    const [t] = await env.db.admin`select completion_evidence from public.tasks where id = ${task2.taskId}`;
    expect(t!.completion_evidence).toMatchObject({ gitPush: { pushed: false, error: 'nothing to push' } });
  });

  it('reports a failed workspace and fails its task', async () => {
    const r = await env.target.call('POST', '/workspaces/failed', ws2.workspaceToken, { error: 'disk full' });
    expect(r.body).toEqual({ changed: true });
    const [t] = await env.db.admin`select status, error_message from public.tasks where id = ${task2.taskId}`;
    expect(t).toMatchObject({ status: 'failed' });
    expect(t!.error_message).toMatch(/disk full/);
  });

  it('stops polling when the node hangs up: a command queued afterwards waits for the next poll', async () => {
    const aborted = new AbortController();
    const poll = env.target.call('GET', '/nodes/commands?wait=20', nodeToken, undefined, { signal: aborted.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    aborted.abort();
    await expect(poll).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [cmd] = await env.db.admin`
      insert into public.node_commands (node_id, owner_id, kind) values (${nodeId}, ${owner}, 'shutdown') returning id`;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const [row] = await env.db.admin`select status from public.node_commands where id = ${cmd!.id}`;
    expect(row!.status).toBe('pending');
    const r = await env.target.call('GET', '/nodes/commands', nodeToken);
    expect(PollCommandsResponse.parse(r.body).commands).toMatchObject([{ id: cmd!.id, kind: 'shutdown', payload: {} }]);
  });
});
