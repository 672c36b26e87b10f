// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import { asIdentity, type Sql } from '../_shared/db.ts';
import { HttpError } from '../_shared/http-error.ts';
import { BodyTooLarge, readBodyBounded } from '../_shared/http.ts';
import { SamErrorCode, toMcpError } from '../_shared/mcp/errors.ts';
import { jsonRpcError, MAX_BODY_BYTES, parseJsonRpc, type JsonRpcId } from '../_shared/mcp/jsonrpc.ts';
import { createMcpServer } from '../_shared/mcp/server.ts';
import { TOOLS } from '../_shared/mcp/tools/index.ts';
import { bearerToken } from '../_shared/common/bearer.ts';
import { verifySamToken, type SamClaims } from '../_shared/sam-tokens.ts';

export interface McpDeps {
  sql: Sql;
  /** SAM's token secret (`SAM_JWT_SECRET`). */
  secret: string;
  /** Requests per minute per agent token. */
  rateLimitPerMinute?: number;
}

type Env = { Variables: { rpc: Record<string, unknown>; rpcId: JsonRpcId; claims: SamClaims } };

/**
 * SAM's MCP server for agents: Streamable HTTP, stateless (a fresh server and transport per
 * request), authenticated by the agent token, every tool run as the agent identity under RLS.
 * Every failure is a JSON-RPC error carrying the request id.
 */
export function createMcpApp(deps: McpDeps): Hono<Env> {
  const app = new Hono<Env>().basePath('/mcp');

  // The body is read bounded, before parsing and before auth: past MAX_BODY_BYTES the stream is
  // cut off and the answer is HTTP 413 with a JSON-RPC error.
  app.post('/', async (c, next) => {
    let body: Uint8Array;
    try {
      body = await readBodyBounded(c.req.raw, MAX_BODY_BYTES);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      return c.json(jsonRpcError(null, ErrorCode.InvalidRequest, `Request body exceeds ${MAX_BODY_BYTES} bytes`), 413);
    }
    const parsed = parseJsonRpc(new TextDecoder().decode(body));
    if (!parsed.ok) return c.json(parsed.body, parsed.status as 400);
    c.set('rpc', parsed.message);
    c.set('rpcId', (parsed.message.id as JsonRpcId | undefined) ?? null);
    await next();
  });

  // Auth: a SAM agent token whose row is live; each request slides its expiry and counts against
  // the token's rate limit (one round trip).
  app.post('/', async (c, next) => {
    const claims = await verifySamToken(deps.secret, bearerToken(c.req.header('authorization')), 'agent');
    const [row] = await asIdentity(
      deps.sql,
      claims,
      (tx) => tx`select public.mcp_begin_request(${deps.rateLimitPerMinute ?? 120}) as r`,
    );
    const r = row!.r as { ok: boolean; reason?: string; retryAfterSeconds?: number };
    if (!r.ok && r.reason === 'rate_limited') {
      c.header('retry-after', String(r.retryAfterSeconds ?? 60));
      throw new HttpError(429, 'rate_limited', 'Too many requests for this agent token; slow down');
    }
    if (!r.ok) throw new HttpError(401, 'token_revoked', 'This agent token has expired or been revoked');
    c.set('claims', claims);
    await next();
  });

  app.post('/', async (c) => {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    const server = createMcpServer(deps.sql, c.get('claims'), TOOLS);
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw, { parsedBody: c.get('rpc') });
    } finally {
      void server.close();
    }
  });

  // Stateless: no server-initiated stream and no session to end.
  app.on(['GET', 'DELETE', 'PUT', 'PATCH'], '/', (c) => {
    c.header('allow', 'POST');
    return c.json(
      jsonRpcError(
        null,
        SamErrorCode.NotAllowed,
        'Method not allowed: this MCP server is stateless; POST JSON-RPC messages',
      ),
      405,
    );
  });

  app.notFound((c) =>
    c.json(jsonRpcError(null, ErrorCode.MethodNotFound, `No MCP endpoint at ${new URL(c.req.url).pathname}`), 404),
  );

  app.onError((err, c) => {
    const id = c.get('rpcId') ?? null;
    const e = toMcpError(err);
    if (e.code === ErrorCode.InternalError)
      console.error('mcp request failed:', err instanceof Error ? err.message : err);
    const status = err instanceof HttpError ? err.status : 500;
    if (status === 401) c.header('www-authenticate', 'Bearer error="invalid_token"');
    return c.json(jsonRpcError(id, e.code, e.message.replace(/^MCP error -?\d+: /, ''), e.data), status as 500);
  });

  return app;
}
