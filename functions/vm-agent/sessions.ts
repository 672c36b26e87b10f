/**
 * `/vm-agent/sessions`: the agent sessions of a workspace, with its workspace token (one
 * middleware); the path names the agent session, RLS and the SQL functions check it is this
 * workspace's.
 *
 *   POST /                {agentType?} → the workspace's live agent session (a new one only when it has
 *                         none: asking again resumes it with a fresh token) + agent token (JWT exp = its hard cap) + MCP url + the
 *                         agent's launch settings (profile, its one model credential; 409
 *                         `credential_missing` when the agent needs a key none is stored for)
 *   POST /:id/status      {status, error?} (`recovered`: a crashed agent's session was loaded again)
 *   POST /:id/messages    a MessageBatch → {persisted, duplicates}
 *   POST /:id/usage       an AgentUsageReport (running totals) → {changed}
 *   …and the permission-request and budget routes of cards.ts
 */
import { Hono } from 'hono';
import { MAX_BATCH_BYTES, MessageBatch } from '../_shared/common/contracts/messages.ts';
import {
  AgentUsageReport,
  SessionStatusRequest,
  StartSessionRequest,
  type SessionStatusRequest as SessionStatus,
} from '../_shared/common/contracts/vm-agent.ts';
import type { Tx } from '../_shared/db.ts';
import { jsonBody, limitBody } from '../_shared/http.ts';
import { signSamToken } from '../_shared/sam-tokens.ts';
import { agentLaunchSettings } from '../_shared/vm-agent/agent-launch.ts';
import { asCaller, isoTime } from '../_shared/vm-agent/identity.ts';
import { toMessageRows } from '../_shared/vm-agent/messages.ts';
import { mountCardRoutes } from './cards.ts';
import { tokenAuth, uuidParam, vmAgentError, type Env, type VmAgentDeps } from './context.ts';

type Row = Record<string, unknown>;

const sessionCall = (tx: Tx, id: string, req: SessionStatus): Promise<Row[]> => {
  switch (req.status) {
    case 'ready':
      return tx`select public.agent_session_ready(${id}) as r`;
    case 'prompting':
      return tx`select public.agent_session_prompting(${id}) as r`;
    case 'recovering':
      return tx`select public.agent_session_recovering(${id}, ${req.error ?? 'agent crashed'}) as r`;
    case 'recovered':
      return tx`select public.agent_session_recovered(${id}, ${req.error ?? 'agent recovered'}) as r`;
    case 'stopped':
      return tx`select public.stop_agent_session(${id}, ${req.error ?? 'stopped'}) as r`;
    case 'failed':
      return tx`select public.fail_agent_session(${id}, ${req.error ?? 'failed'}) as r`;
  }
};

export function sessionsApp(deps: VmAgentDeps): Hono<Env> {
  const { sql, secret } = deps;
  const app = new Hono<Env>();
  // Bodies are bounded before auth: no caller, with a token or without, makes the function read more.
  app.use('/:id/messages', limitBody(MAX_BATCH_BYTES + 16 * 1024));
  app.use('*', async (c, next) => {
    if (c.req.path.endsWith('/messages')) return next();
    return limitBody(64 * 1024)(c, next);
  });
  app.use('*', tokenAuth(secret, 'workspace'));
  mountCardRoutes(app, deps);

  app.post('/', async (c) => {
    const req = await jsonBody(c, StartSessionRequest);
    const { session, cap, agent } = await asCaller(sql, c.get('claims'), async (tx) => {
      const [row] = await tx`select public.start_agent_session(${req.agentType ?? null}) as r`;
      const s = row!.r as { agentSessionId: string; jti: string; exp: number; resumed?: boolean };
      const [capRow] = await tx`select public.agent_session_token_cap(${s.agentSessionId}) as cap`;
      // In the same transaction: no credential, no session (the refusal rolls the start back).
      const agent = await agentLaunchSettings(tx, sql, deps.credentialKey ?? null, s.agentSessionId);
      return { session: s, cap: capRow?.cap == null ? null : Number(capRow.cap), agent };
    });
    // The JWT lives until the row's hard cap; the row's sliding expiry (renewed by MCP calls) decides before.
    const { agentSessionId, resumed: _resumed, ...claims } = { ...session, exp: cap ?? session.exp };
    return c.json({
      agentSessionId,
      agentToken: await signSamToken(secret, 'agent', claims),
      expiresAt: isoTime(claims.exp),
      mcpUrl: deps.mcpUrl,
      agent,
    });
  });

  app.post('/:id/status', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const req = await jsonBody(c, SessionStatusRequest);
    const result = await asCaller(sql, c.get('claims'), async (tx) => {
      const [row] = await sessionCall(tx, id, req);
      const [s] = await tx`select status from public.agent_sessions where id = ${id}`;
      return { changed: row!.r as boolean, status: String(s?.status ?? req.status) };
    });
    return c.json(result);
  });

  app.post('/:id/messages', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const batch = await jsonBody(c, MessageBatch);
    if (batch.messages[0]!.sessionId !== id) {
      throw vmAgentError(400, 'invalid_params', 'The batch belongs to another agent session than the path names');
    }
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.record_agent_messages(${id}, ${tx.json(toMessageRows(batch) as never)}) as r`,
    );
    const r = row!.r as { persisted: number; duplicates: number };
    return c.json({ persisted: Number(r.persisted), duplicates: Number(r.duplicates) });
  });

  app.post('/:id/usage', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const usage = await jsonBody(c, AgentUsageReport);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.record_agent_usage(${id}, ${tx.json(usage as never)}) as r`,
    );
    return c.json({ changed: row!.r === true });
  });

  return app;
}
