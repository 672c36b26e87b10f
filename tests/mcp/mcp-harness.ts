import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll } from 'vitest';
import { connect } from '../../functions/_shared/db.ts';
import { createMcpApp } from '../../functions/mcp/app.ts';
import { functionsService } from '../../supabase/local/functions/index.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import type { TestDatabase } from '../helpers/test-database.ts';

export interface McpTarget {
  /** SAM's token secret the server verifies with. */
  secret: string;
  /** The endpoint, e.g. http://127.0.0.1:PORT/functions/v1/mcp */
  url: string;
  fetch: typeof fetch;
  /** A raw POST of `body` (a string is sent as is). */
  post(body: unknown, token?: string, headers?: Record<string, string>): Promise<Response>;
  /** An official MCP client authenticated as `token`. */
  client(token: string): Promise<Client>;
  close(): Promise<void>;
}

function target(secret: string, url: string, fetchImpl: typeof fetch, close: () => Promise<void>): McpTarget {
  return {
    secret,
    url,
    fetch: fetchImpl,
    post(body, token, headers = {}) {
      return fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async client(token) {
      const transport = new StreamableHTTPClientTransport(new URL(url), {
        fetch: fetchImpl,
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      const client = new Client({ name: 'sam-test-agent', version: '1.0.0' });
      await client.connect(transport);
      return client;
    },
    close,
  };
}

/** The `mcp` function's app in-process (`app.request`), for tests of the app's own options. */
export function inProcessMcp(
  db: TestDatabase,
  options: { rateLimitPerMinute?: number; secret?: string } = {},
): McpTarget {
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const sql = connect(db.url('postgres'));
  const app = createMcpApp({ sql, secret, rateLimitPerMinute: options.rateLimitPerMinute ?? 120 });
  const fetchImpl = ((input: string | URL | Request, init?: RequestInit) =>
    Promise.resolve(app.request(input instanceof Request ? input : input.toString(), init))) as typeof fetch;
  return target(secret, 'http://mcp.test/mcp', fetchImpl, () => sql.end({ timeout: 5 }));
}

/**
 * The real thing: the local stack's functions service serving `functions/mcp` under Deno, reached
 * through the gateway at /functions/v1/mcp, over a fresh test database.
 */
export function useDenoMcp(label: string): { readonly db: TestDatabase; readonly mcp: McpTarget } {
  let stack: Awaited<ReturnType<typeof startTestStack>> | undefined;
  let mcp: McpTarget | undefined;
  beforeAll(async () => {
    const secret = randomBytes(32).toString('base64url');
    process.env.SAM_JWT_SECRET = secret;
    stack = await startTestStack({ factories: [functionsService] }, label);
    mcp = target(secret, `${stack.url}/functions/v1/mcp`, fetch, async () => {});
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });
  return {
    get db() {
      if (!stack) throw new Error('the stack starts in beforeAll');
      return stack.db;
    },
    get mcp() {
      if (!mcp) throw new Error('the stack starts in beforeAll');
      return mcp;
    },
  };
}

/** The JSON a tool returned (structured content). */
export function structured<T = Record<string, unknown>>(result: unknown): T {
  return (result as { structuredContent: T }).structuredContent;
}
