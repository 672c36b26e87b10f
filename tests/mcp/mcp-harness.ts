import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connect } from '../../functions/_shared/db.ts';
import { createMcpApp } from '../../functions/mcp/app.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
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
  const stack = useFunctionsStack(label);
  return {
    get db() {
      return stack.db;
    },
    get mcp() {
      return target(stack.secret, stack.functionUrl('mcp'), fetch, async () => {});
    },
  };
}

/** The JSON a tool returned (structured content). */
export function structured<T = Record<string, unknown>>(result: unknown): T {
  return (result as { structuredContent: T }).structuredContent;
}
