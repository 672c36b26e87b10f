/**
 * The card routes of the vm-agent function under Deno (functions/vm-agent/cards.ts): a workspace
 * asks for permission and reads and spends its task's budget; a node token, another workspace's
 * token and bad bodies are refused; nothing a refused call sent is stored.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BudgetView, PermissionRequestResponse } from '../../functions/_shared/common/contracts/cards.ts';
import { signSamToken } from '../../functions/_shared/sam-tokens.ts';
import { bringUp, createProject, createUser, submitTask, type RunningAgent } from '../helpers/control-plane.ts';
import { useDenoVmAgent } from './harness.ts';

const env = useDenoVmAgent('card_routes');
let owner: string;
let agent: RunningAgent;
let other: RunningAgent;
let token: string;
let otherToken: string;
let nodeToken: string;

async function workspaceToken(workspaceId: string): Promise<string> {
  const [row] = await env.db.admin`select public.issue_workspace_token(${workspaceId}) as c`;
  return signSamToken(env.target.secret, 'workspace', row!.c as { jti: string; exp: number });
}

beforeAll(async () => {
  const admin = env.db.admin;
  owner = await createUser(admin);
  const project = await createProject(admin, owner);
  const task = await submitTask(admin, owner, project, 'Add rate limiting', { agentType: 'demo' });
  agent = await bringUp(admin, task.taskId);
  token = await workspaceToken(agent.workspaceId);
  const second = await submitTask(admin, owner, project, 'Write the changelog', { agentType: 'demo' });
  other = await bringUp(admin, second.taskId);
  otherToken = await workspaceToken(other.workspaceId);
  const [n] = await admin`select node_id from public.workspaces where id = ${agent.workspaceId}`;
  const [claims] = await admin`
    select jsonb_build_object('jti', jti, 'role', 'sam_node', 'node_id', node_id,
                              'exp', extract(epoch from expires_at)::bigint) as c
      from public.tokens where kind = 'node' and node_id = ${n!.node_id} order by issued_at desc limit 1`;
  nodeToken = await signSamToken(env.target.secret, 'node', claims!.c as { jti: string; exp: number });
});

describe('permission requests over HTTP', () => {
  it('asks for the workspace’s own agent session and closes the request as timed out', async () => {
    const asked = await env.target.call('POST', `/sessions/${agent.agentSessionId}/permission-requests`, token, {
      toolCallId: 'call-1-edit',
      title: 'Append a line to README.md',
      toolKind: 'edit',
      detail: 'README.md',
    });
    expect(asked.status).toBe(200);
    const { requestId } = PermissionRequestResponse.parse(asked.body);
    const closed = await env.target.call(
      'POST',
      `/sessions/${agent.agentSessionId}/permission-requests/${requestId}/close`,
      token,
      { outcome: 'timed_out' },
    );
    expect(closed).toMatchObject({ status: 200, body: { changed: true } });
    const [r] = await env.db.admin`select status from public.permission_requests where id = ${requestId}`;
    expect(r!.status).toBe('timed_out');
  });

  it('refuses a node token, another workspace, and bodies outside the contract', async () => {
    const path = `/sessions/${agent.agentSessionId}/permission-requests`;
    const body = { title: 'Delete everything' };
    expect((await env.target.call('POST', path, nodeToken, body)).body).toMatchObject({
      error: { code: 'invalid_token' },
    });
    expect(await env.target.call('POST', path, otherToken, body)).toMatchObject({
      status: 403,
      body: { error: { code: 'not_allowed' } },
    });
    expect((await env.target.call('POST', path, token, { title: '' })).status).toBe(400);
    expect((await env.target.call('POST', path, token, { title: 'x', command: 'rm -rf /' })).status).toBe(400);
    const [n] = await env.db
      .admin`select count(*)::int as n from public.permission_requests where title = 'Delete everything'`;
    expect(n!.n).toBe(0);
  });
});

describe('budgets over HTTP', () => {
  it('reads the budget, counts a turn once per seq, and pauses at the limit before the next turn', async () => {
    await env.db.admin`insert into public.task_budgets (task_id, project_id, owner_id, max_turns)
                       select id, project_id, owner_id, 1 from public.tasks where id = ${agent.taskId}`;
    const before = BudgetView.parse(
      (await env.target.call('GET', `/sessions/${agent.agentSessionId}/budget`, token)).body,
    );
    expect(before).toMatchObject({ paused: false, limits: { turns: 1 }, used: { turns: 0 } });
    const turn = { seq: 1, wallMs: 1200, tokens: 300, stopReason: 'end_turn' };
    for (let i = 0; i < 2; i++) {
      const r = await env.target.call('POST', `/sessions/${agent.agentSessionId}/turns`, token, turn);
      expect(BudgetView.parse(r.body).used).toEqual({ turns: 1, wallMs: 1200, tokens: 300 });
    }
    const after = BudgetView.parse(
      (await env.target.call('GET', `/sessions/${agent.agentSessionId}/budget`, token)).body,
    );
    expect(after).toMatchObject({ paused: true, reason: 'the budget of 1 agent turn is used', pause: 1 });
  });

  it('refuses another workspace, a node token and a turn without its seq', async () => {
    const path = `/sessions/${agent.agentSessionId}/turns`;
    expect((await env.target.call('POST', path, otherToken, { seq: 2, wallMs: 1 })).status).toBe(403);
    expect((await env.target.call('GET', `/sessions/${agent.agentSessionId}/budget`, otherToken)).status).toBe(403);
    expect((await env.target.call('POST', path, nodeToken, { seq: 2, wallMs: 1 })).status).toBe(401);
    expect((await env.target.call('POST', path, token, { wallMs: 1 })).status).toBe(400);
    const [b] = await env.db.admin`select used_turns from public.task_budgets where task_id = ${agent.taskId}`;
    expect(b!.used_turns).toBe(1);
  });
});
