/**
 * `/vm-agent/nodes`: the machine's own routes. Registration is the one unauthenticated route (the
 * one-time bootstrap token in the body is the credential; tries are limited per source and per
 * token, bodies to 4 KiB); everything after it takes the node token, checked by one middleware.
 *
 *   POST /register              bootstrap token → node token
 *   POST /heartbeat             liveness; re-signed node token, fresh workspace tokens
 *   POST /token                 a node token expired during an outage → renewed (never a revoked one)
 *   GET  /commands?wait=0..25   long-poll of the command queue (at least once delivery)
 *   POST /commands/:id/ack      done / failed (a repeat answers `acknowledged: false`)
 */
import { Hono } from 'hono';
import {
  AckCommandRequest,
  HeartbeatRequest,
  MAX_REGISTER_BODY_BYTES,
  POLL_INTERVAL_MS,
  PollCommandsQuery,
  RegisterNodeRequest,
  type HeartbeatResponse,
  type WorkspaceTokenRefresh,
} from '../_shared/common/contracts/vm-agent.ts';
import { jsonBody, limitBody } from '../_shared/http.ts';
import { signSamToken } from '../_shared/sam-tokens.ts';
import { waitForCommands } from '../_shared/vm-agent/commands.ts';
import { asCaller, asNodeToRenew, asSystem, isoTime } from '../_shared/vm-agent/identity.ts';
import { tokenAuth, uuidParam, vmAgentError, type Env, type VmAgentDeps } from './context.ts';
import { registerLimiter } from './register-limits.ts';

/** How long after its `exp` a node JWT is still looked at by `/token` (the database's grace decides). */
const RENEWAL_JWT_GRACE_SECONDS = 30 * 24 * 3600;

type Claims = { jti: string; exp: number } & Record<string, unknown>;

export function nodesApp(deps: VmAgentDeps): Hono<Env> {
  const { sql, secret } = deps;
  const limits = registerLimiter(deps.registerLimits);
  const app = new Hono<Env>();

  // Registration: no token. Registered before the middleware below, which it therefore never meets.
  app.post(
    '/register',
    async (c, next) => {
      limits.source(c.req.header('x-forwarded-for'));
      await next();
    },
    limitBody(MAX_REGISTER_BODY_BYTES),
    async (c) => {
      const req = await jsonBody(c, RegisterNodeRequest);
      await limits.token(req.bootstrapToken);
      // The instance id is never the machine's to say (the provider's answer at creation is).
      const info = { agentVersion: req.agentVersion, ...(req.ipAddress ? { ipAddress: req.ipAddress } : {}) };
      const [row] = await asSystem(
        sql,
        (tx) => tx`select public.register_node(${req.bootstrapToken}, ${tx.json(info)}) as r`,
      );
      const r = row!.r as { nodeId: string; jti: string; expiresAt: string; heartbeatIntervalSeconds: number };
      const exp = Math.floor(Date.parse(r.expiresAt) / 1000);
      return c.json({
        nodeId: r.nodeId,
        nodeToken: await signSamToken(secret, 'node', { jti: r.jti, node_id: r.nodeId, exp }),
        expiresAt: isoTime(r.expiresAt),
        heartbeatIntervalSeconds: r.heartbeatIntervalSeconds,
      });
    },
  );

  // Every other route: a bounded body (checked before auth, so no caller makes the function read
  // more), then the node token (only /token looks at one whose exp passed).
  app.use('*', limitBody(64 * 1024));
  app.use(
    '*',
    tokenAuth(secret, 'node', (path) => (path.endsWith('/nodes/token') ? RENEWAL_JWT_GRACE_SECONDS : 0)),
  );

  app.post('/heartbeat', async (c) => {
    const req = await jsonBody(c, HeartbeatRequest);
    const claims = c.get('claims');
    const { hb, tok, ws } = await asCaller(sql, claims, async (tx) => {
      const [a] = await tx`select public.node_heartbeat(${tx.json(req as never)}) as hb`;
      const [b] = await tx`select public.node_token_claims() as tok`;
      const [w] = req.activeWorkspaces?.length
        ? await tx`select public.node_refresh_workspace_tokens(${req.activeWorkspaces}::uuid[]) as ws`
        : [{ ws: { tokens: [], ended: [] } }];
      return {
        hb: a!.hb as { nodeId: string; status: string; pendingCommands: number },
        tok: b!.tok as (Claims & { node_id: string }) | null,
        ws: w!.ws as { tokens: (Claims & { workspace_id: string })[]; ended: string[] },
      };
    });
    const fresh = tok && tok.exp > claims.exp;
    const workspaceTokens: WorkspaceTokenRefresh[] = await Promise.all(
      ws.tokens.map(async (t) => ({
        workspaceId: t.workspace_id,
        workspaceToken: await signSamToken(secret, 'workspace', t),
        expiresAt: isoTime(t.exp),
      })),
    );
    const body: HeartbeatResponse = {
      nodeId: hb.nodeId,
      status: hb.status,
      pendingCommands: Number(hb.pendingCommands),
      ...(fresh ? { nodeToken: await signSamToken(secret, 'node', tok), expiresAt: isoTime(tok.exp) } : {}),
      ...(req.activeWorkspaces?.length ? { workspaceTokens, endedWorkspaces: ws.ended } : {}),
    };
    return c.json(body);
  });

  app.post('/token', async (c) => {
    const [row] = await asNodeToRenew(sql, c.get('claims'), (tx) => tx`select public.renew_node_token() as r`);
    const r = row!.r as (Claims & { node_id: string }) | { refused: string };
    if ('refused' in r) {
      throw r.refused === 'revoked'
        ? vmAgentError(401, 'token_revoked', 'This node token has been revoked')
        : vmAgentError(401, 'token_expired', 'This node token can no longer be renewed');
    }
    return c.json({ nodeToken: await signSamToken(secret, 'node', r), expiresAt: isoTime(r.exp) });
  });

  app.get('/commands', async (c) => {
    const query = PollCommandsQuery.parse(c.req.query());
    const commands = await waitForCommands(sql, secret, c.get('claims'), {
      waitSeconds: query.wait,
      intervalMs: deps.pollIntervalMs ?? POLL_INTERVAL_MS,
      signal: c.req.raw.signal,
    });
    return c.json({ commands });
  });

  app.post('/commands/:id/ack', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the command id');
    const req = await jsonBody(c, AckCommandRequest);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) =>
        tx`select public.ack_node_command(${id}, ${req.ok}, ${req.result ? tx.json(req.result as never) : null}) as r`,
    );
    return c.json({ acknowledged: row!.r as boolean });
  });

  return app;
}
