import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import postgres from 'postgres';
import { connect } from '../../functions/_shared/db.ts';
import { createMcpApp } from '../../functions/mcp/app.ts';
import type { TestDatabase } from '../helpers/test-database.ts';

/** The `mcp` function's app in-process over a test database, and official MCP clients talking to it. */
export function mcpHarness(db: TestDatabase, options: { rateLimitPerMinute?: number } = {}) {
  const secret = randomBytes(32).toString('base64url');
  const sql = connect(db.url('postgres'));
  const app = createMcpApp({ sql, secret, rateLimitPerMinute: options.rateLimitPerMinute ?? 10_000 });
  const fetchApp = (url: string | URL | Request, init?: RequestInit) =>
    Promise.resolve(app.request(url instanceof Request ? url : url.toString(), init));
  return {
    secret,
    sql,
    app,
    /** A raw POST of `body` (a string is sent as is). */
    post(body: unknown, token?: string, headers: Record<string, string> = {}) {
      return app.request('http://mcp.test/mcp', {
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
    async client(token: string): Promise<Client> {
      const transport = new StreamableHTTPClientTransport(new URL('http://mcp.test/mcp'), {
        fetch: fetchApp as typeof fetch,
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      const client = new Client({ name: 'sam-test-agent', version: '1.0.0' });
      await client.connect(transport);
      return client;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/** The JSON a tool returned (structured content). */
export function structured<T = Record<string, unknown>>(result: unknown): T {
  return (result as { structuredContent: T }).structuredContent;
}

export type Admin = postgres.Sql;
