import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  HeartbeatResponse,
  PollCommandsResponse,
  RenewNodeTokenResponse,
  StartSessionResponse,
  type CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { signSamToken } from '../../functions/_shared/sam-tokens.ts';
import { registeredNode, useInProcessVmAgent } from './in-process.ts';

/**
 * Long work keeps its credentials: the agent JWT lives as long as its row's hard cap (the
 * database's sliding window decides before), workspace tokens are slid and re-signed by the
 * node's heartbeat, and a node token that expired during an outage can be renewed — never a
 * revoked one. Time passing is stood for by moving the token rows' expiry.
 */
const target = useInProcessVmAgent('vm_agent_tokens');
const sec = () => Math.floor(Date.now() / 1000);

async function nodeWithWorkspace() {
  const node = await registeredNode(target);
  const r = await target.call('GET', '/nodes/commands', node.nodeToken);
  const [cmd] = PollCommandsResponse.parse(r.body).commands;
  if (cmd?.kind !== 'create_workspace') throw new Error('no create_workspace command');
  await target.call('POST', `/nodes/commands/${cmd.id}/ack`, node.nodeToken, { ok: true });
  return { ...node, workspace: cmd.payload as CreateWorkspacePayload };
}

describe('agent tokens', () => {
  it('carry the hard cap as exp, so the sliding window in the database decides', async () => {
    const node = await nodeWithWorkspace();
    const ws = node.workspace.workspaceToken;
    expect((await target.call('POST', '/workspaces/ready', ws)).status).toBe(200);
    const r = await target.call('POST', '/sessions', ws, { agentType: 'demo' });
    const session = StartSessionResponse.parse(r.body);
    const [row] = await target.db.admin`
      select extract(epoch from max_expires_at)::bigint as cap, extract(epoch from expires_at)::bigint as slide
        from public.tokens where agent_session_id = ${session.agentSessionId}`;
    const exp = decodeJwt(session.agentToken).exp!;
    expect(exp).toBe(Number(row!.cap));
    expect(exp - sec()).toBeGreaterThan(23 * 3600);
    expect(Number(row!.slide)).toBeLessThan(Number(row!.cap));
    expect(Date.parse(session.expiresAt) / 1000).toBe(exp);
  });
});

describe('workspace tokens', () => {
  it('are slid and re-signed by the heartbeat for live workspaces, even after their row expired; ended ones are named, not renewed', async () => {
    const node = await nodeWithWorkspace();
    const id = node.workspace.workspaceId;
    await target.db.admin`update public.tokens set expires_at = now() - interval '1 minute' where workspace_id = ${id}`;
    const stale = await target.call('POST', '/workspaces/ready', node.workspace.workspaceToken);
    expect(stale.status).toBe(401);

    const stranger = '3f1e1c9a-0000-4000-8000-0000000000aa';
    const beat = await target.call('POST', '/nodes/heartbeat', node.nodeToken, { activeWorkspaces: [id, stranger] });
    expect(beat.status).toBe(200);
    const body = HeartbeatResponse.parse(beat.body);
    expect(body.workspaceTokens?.map((t) => t.workspaceId)).toEqual([id]);
    expect(body.endedWorkspaces).toEqual([stranger]);
    const fresh = body.workspaceTokens![0]!;
    expect(Date.parse(fresh.expiresAt)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect((await target.call('POST', '/workspaces/ready', fresh.workspaceToken)).body).toEqual({ changed: true });

    // Stopped: the token is revoked for good and the heartbeat names the workspace as ended.
    expect((await target.call('POST', '/workspaces/stopped', fresh.workspaceToken)).status).toBe(200);
    const after = HeartbeatResponse.parse(
      (await target.call('POST', '/nodes/heartbeat', node.nodeToken, { activeWorkspaces: [id] })).body,
    );
    expect(after.workspaceTokens ?? []).toEqual([]);
    expect(after.endedWorkspaces).toEqual([id]);
    expect((await target.call('POST', '/workspaces/stopped', fresh.workspaceToken)).status).toBe(401);
  });
});

describe('node tokens', () => {
  const expiredToken = async (nodeId: string, ago: string) => {
    const [row] = await target.db.admin`
      update public.tokens set expires_at = now() - ${ago}::interval
       where node_id = ${nodeId} and kind = 'node' returning jti`;
    return signSamToken(target.secret, 'node', { jti: row!.jti as string, node_id: nodeId, exp: sec() - 60 });
  };

  it('expired during an outage is renewed within the grace window, and only then', async () => {
    const node = await registeredNode(target);
    const expired = await expiredToken(node.nodeId, '2 hours');
    const beat = await target.call('POST', '/nodes/heartbeat', expired, {});
    expect(beat).toMatchObject({ status: 401, body: { error: { code: 'token_expired' } } });

    const renewed = await target.call('POST', '/nodes/token', expired, {});
    expect(renewed.status).toBe(200);
    const body = RenewNodeTokenResponse.parse(renewed.body);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect((await target.call('POST', '/nodes/heartbeat', body.nodeToken, {})).status).toBe(200);
  });

  it('stays dead when revoked, expired beyond the grace window, or its node is being destroyed', async () => {
    const revoked = await registeredNode(target);
    const t1 = await expiredToken(revoked.nodeId, '1 minute');
    await target.db
      .admin`update public.tokens set revoked_at = now() where node_id = ${revoked.nodeId} and kind = 'node'`;
    expect((await target.call('POST', '/nodes/token', t1, {})).body).toMatchObject({
      error: { code: 'token_revoked' },
    });

    const old = await registeredNode(target);
    const t2 = await expiredToken(old.nodeId, '30 days');
    expect((await target.call('POST', '/nodes/token', t2, {})).status).toBe(401);

    const destroyed = await registeredNode(target);
    const t3 = await expiredToken(destroyed.nodeId, '1 minute');
    await target.db.admin`update public.nodes set status = 'destroying' where id = ${destroyed.nodeId}`;
    expect((await target.call('POST', '/nodes/token', t3, {})).status).toBe(401);

    // A workspace token is no node token, renewable or not.
    const forged = await signSamToken(target.secret, 'workspace', { jti: crypto.randomUUID(), exp: sec() - 60 });
    expect((await target.call('POST', '/nodes/token', forged, {})).status).toBe(401);
  });
});
