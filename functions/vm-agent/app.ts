/**
 * The `vm-agent` edge function: where machines dial out to. Nothing calls into a machine.
 * Bodies are the zod contracts of `_shared/common/contracts/vm-agent.ts` (messages: `messages.ts`);
 * errors are `{ error: { code, message, details? } }` with the status.
 *
 *   POST /vm-agent/nodes/register              bootstrap token in the body → node token
 *   POST /vm-agent/nodes/heartbeat             node token → liveness, re-signed node token
 *   GET  /vm-agent/nodes/commands?wait=0..25   node token → long-poll of the command queue
 *   POST /vm-agent/nodes/commands/:id/ack      node token → done / failed
 *   POST /vm-agent/workspaces/ready            workspace token
 *   POST /vm-agent/workspaces/failed           workspace token {error}
 *   POST /vm-agent/workspaces/stopped          workspace token
 *   POST /vm-agent/workspaces/complete         workspace token {gitPushResult, summary?}
 *   POST /vm-agent/sessions                    workspace token {agentType?} → agent token + MCP url
 *   POST /vm-agent/sessions/:id/status         workspace token {status, error?}
 *   POST /vm-agent/sessions/:id/messages       workspace token, a MessageBatch → {persisted, duplicates}
 *
 * Every statement runs as the token's identity (`sam_node` / `sam_workspace`) after its `tokens`
 * row is checked live, so RLS and the SQL functions decide; registration alone runs as the system,
 * the one-time bootstrap token being the credential. A node token on a workspace route (or the
 * reverse) is refused with 401.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { MAX_BATCH_BYTES, MessageBatch } from '../_shared/common/contracts/messages.ts';
import {
  AckCommandRequest,
  CompleteWorkspaceRequest,
  EmptyRequest,
  HeartbeatRequest,
  POLL_INTERVAL_MS,
  PollCommandsQuery,
  RegisterNodeRequest,
  SessionStatusRequest,
  StartSessionRequest,
  WorkspaceFailedRequest,
  type SessionStatusRequest as SessionStatus,
} from '../_shared/common/contracts/vm-agent.ts';
import type { Sql, Tx } from '../_shared/db.ts';
import { HttpError } from '../_shared/http-error.ts';
import { jsonBody, jsonNotFound, jsonOnError, limitBody } from '../_shared/http.ts';
import { bearerToken } from '../_shared/common/bearer.ts';
import { signSamToken, verifySamToken, type SamClaims, type SamTokenKind } from '../_shared/sam-tokens.ts';
import { waitForCommands } from '../_shared/vm-agent/commands.ts';
import { asCaller, asSystem, isoTime } from '../_shared/vm-agent/identity.ts';
import { toMessageRows } from '../_shared/vm-agent/messages.ts';

export interface VmAgentDeps {
  sql: Sql;
  /** SAM's token secret (`SAM_JWT_SECRET`). */
  secret: string;
  /** SAM's MCP endpoint handed to agents (`${SUPABASE_URL}/functions/v1/mcp`). */
  mcpUrl: string;
  /** How often a waiting long-poll looks for commands. */
  pollIntervalMs?: number;
}

type Env = { Variables: { claims: SamClaims } };
type Row = Record<string, unknown>;

const SmallBody = 64 * 1024;

const uuid = (value: string, what: string): string => {
  if (!z.uuid().safeParse(value).success) throw new HttpError(400, 'invalid_params', `${what} is not a uuid`);
  return value;
};

export function createVmAgentApp(deps: VmAgentDeps): Hono<Env> {
  const { sql, secret } = deps;
  const app = new Hono<Env>().basePath('/vm-agent');

  const auth =
    (kind: SamTokenKind): MiddlewareHandler<Env> =>
    async (c, next) => {
      c.set('claims', await verifySamToken(secret, bearerToken(c.req.header('authorization')), kind));
      await next();
    };
  const nodeAuth = auth('node');
  const workspaceAuth = auth('workspace');

  // Bodies are bounded before auth: no caller, with a token or without, makes the function read more.
  app.use('/nodes/*', limitBody(SmallBody));
  app.use('/workspaces/*', limitBody(SmallBody));
  app.use('/sessions', limitBody(SmallBody));
  app.use('/sessions/:id/status', limitBody(SmallBody));
  app.use('/sessions/:id/messages', limitBody(MAX_BATCH_BYTES + 16 * 1024));
  app.use('/nodes/heartbeat', nodeAuth);
  app.use('/nodes/commands', nodeAuth);
  app.use('/nodes/commands/*', nodeAuth);
  app.use('/workspaces/*', workspaceAuth);
  app.use('/sessions', workspaceAuth);
  app.use('/sessions/*', workspaceAuth);

  // Nodes -----------------------------------------------------------------------------------------

  app.post('/nodes/register', async (c) => {
    const req = await jsonBody(c, RegisterNodeRequest);
    const [row] = await asSystem(
      sql,
      (tx) =>
        tx`select public.register_node(${req.bootstrapToken}, ${tx.json({
          agentVersion: req.agentVersion,
          ...(req.ipAddress ? { ipAddress: req.ipAddress } : {}),
          ...(req.providerInstanceId ? { providerInstanceId: req.providerInstanceId } : {}),
        })}) as r`,
    );
    const r = row!.r as { nodeId: string; jti: string; expiresAt: string; heartbeatIntervalSeconds: number };
    const exp = Math.floor(Date.parse(r.expiresAt) / 1000);
    return c.json({
      nodeId: r.nodeId,
      nodeToken: await signSamToken(secret, 'node', { jti: r.jti, node_id: r.nodeId, exp }),
      expiresAt: isoTime(r.expiresAt),
      heartbeatIntervalSeconds: r.heartbeatIntervalSeconds,
    });
  });

  app.post('/nodes/heartbeat', async (c) => {
    const req = await jsonBody(c, HeartbeatRequest);
    const claims = c.get('claims');
    const { hb, tok } = await asCaller(sql, claims, async (tx) => {
      const [a] = await tx`select public.node_heartbeat(${tx.json(req as never)}) as hb`;
      const [b] = await tx`select public.node_token_claims() as tok`;
      return { hb: a!.hb as { nodeId: string; status: string; pendingCommands: number }, tok: b!.tok };
    });
    const token = tok as { jti: string; node_id: string; exp: number } | null;
    const fresh = token && token.exp > claims.exp;
    return c.json({
      nodeId: hb.nodeId,
      status: hb.status,
      pendingCommands: Number(hb.pendingCommands),
      ...(fresh ? { nodeToken: await signSamToken(secret, 'node', token), expiresAt: isoTime(token.exp) } : {}),
    });
  });

  app.get('/nodes/commands', async (c) => {
    const query = PollCommandsQuery.parse(c.req.query());
    const commands = await waitForCommands(sql, secret, c.get('claims'), {
      waitSeconds: query.wait,
      intervalMs: deps.pollIntervalMs ?? POLL_INTERVAL_MS,
      signal: c.req.raw.signal,
    });
    return c.json({ commands });
  });

  app.post('/nodes/commands/:id/ack', async (c) => {
    const id = uuid(c.req.param('id'), 'the command id');
    const req = await jsonBody(c, AckCommandRequest);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) =>
        tx`select public.ack_node_command(${id}, ${req.ok}, ${req.result ? tx.json(req.result as never) : null}) as r`,
    );
    return c.json({ acknowledged: row!.r as boolean });
  });

  // Workspaces ------------------------------------------------------------------------------------

  const workspaceCall =
    (call: (tx: Tx, error: string) => Promise<Row[]>, schema: z.ZodType<{ error?: string }>) =>
    async (c: Context<Env>) => {
      const req = await jsonBody(c, schema);
      const [row] = await asCaller(sql, c.get('claims'), (tx) => call(tx, req.error ?? ''));
      return c.json({ changed: row!.r as boolean });
    };
  app.post(
    '/workspaces/ready',
    workspaceCall((tx) => tx`select public.workspace_ready() as r`, EmptyRequest),
  );
  app.post(
    '/workspaces/stopped',
    workspaceCall((tx) => tx`select public.workspace_stopped() as r`, EmptyRequest),
  );
  app.post(
    '/workspaces/failed',
    workspaceCall((tx, error) => tx`select public.workspace_failed(${error}) as r`, WorkspaceFailedRequest),
  );

  app.post('/workspaces/complete', async (c) => {
    const req = await jsonBody(c, CompleteWorkspaceRequest);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.workspace_complete(${tx.json(req.gitPushResult as never)}, ${req.summary ?? null}) as r`,
    );
    return c.json(row!.r as Record<string, unknown>);
  });

  app.post('/sessions', async (c) => {
    const req = await jsonBody(c, StartSessionRequest);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.start_agent_session(${req.agentType ?? null}) as r`,
    );
    const { agentSessionId, ...claims } = row!.r as { agentSessionId: string; jti: string; exp: number };
    return c.json({
      agentSessionId,
      agentToken: await signSamToken(secret, 'agent', claims),
      expiresAt: isoTime(claims.exp),
      mcpUrl: deps.mcpUrl,
    });
  });

  const sessionCall = (tx: Tx, id: string, req: SessionStatus): Promise<Row[]> => {
    switch (req.status) {
      case 'ready':
        return tx`select public.agent_session_ready(${id}) as r`;
      case 'prompting':
        return tx`select public.agent_session_prompting(${id}) as r`;
      case 'recovering':
        return tx`select public.agent_session_recovering(${id}, ${req.error ?? 'agent crashed'}) as r`;
      case 'stopped':
        return tx`select public.stop_agent_session(${id}, ${req.error ?? 'stopped'}) as r`;
      case 'failed':
        return tx`select public.fail_agent_session(${id}, ${req.error ?? 'failed'}) as r`;
    }
  };

  app.post('/sessions/:id/status', async (c) => {
    const id = uuid(c.req.param('id'), 'the agent session id');
    const req = await jsonBody(c, SessionStatusRequest);
    const result = await asCaller(sql, c.get('claims'), async (tx) => {
      const [row] = await sessionCall(tx, id, req);
      const [s] = await tx`select status from public.agent_sessions where id = ${id}`;
      return { changed: row!.r as boolean, status: String(s?.status ?? req.status) };
    });
    return c.json(result);
  });

  app.post('/sessions/:id/messages', async (c) => {
    const id = uuid(c.req.param('id'), 'the agent session id');
    const batch = await jsonBody(c, MessageBatch);
    if (batch.messages[0]!.sessionId !== id) {
      throw new HttpError(400, 'invalid_params', 'The batch belongs to another agent session than the path names');
    }
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.record_agent_messages(${id}, ${tx.json(toMessageRows(batch) as never)}) as r`,
    );
    const r = row!.r as { persisted: number; duplicates: number };
    return c.json({ persisted: Number(r.persisted), duplicates: Number(r.duplicates) });
  });

  app.notFound(jsonNotFound);
  app.onError(jsonOnError('vm-agent'));

  return app;
}
