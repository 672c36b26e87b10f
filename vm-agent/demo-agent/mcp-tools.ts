/**
 * Calls SAM's MCP tools (`update_task_status`, `complete_task`) on the MCP servers the client
 * configured in `session/new`, with the official MCP client over Streamable HTTP and the headers
 * of the mcpServers entry (SAM puts `Authorization: Bearer <agent token>` there).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@agentclientprotocol/sdk';

export type McpToolResult = { server: string; ok: boolean; text: string };

type HttpServer = { name: string; url: string; headers: { name: string; value: string }[] };

/** The HTTP MCP servers of a session (stdio servers are not used by the demo agent). */
export function httpServers(servers: McpServer[]): HttpServer[] {
  return servers.filter((s): s is McpServer & HttpServer => 'type' in s && s.type === 'http');
}

export function resultText(result: unknown): string {
  const content = (result as { content?: unknown }).content;
  if (!Array.isArray(content)) return JSON.stringify(result);
  return content
    .map((c: { type?: string; text?: string }) => (c.type === 'text' ? (c.text ?? '') : `[${c.type}]`))
    .join('\n');
}

/** Calls `tool` on the first HTTP MCP server that lists it. Never throws: failures are results. */
export async function callSamTool(
  servers: McpServer[],
  tool: string,
  args: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<McpToolResult | null> {
  const candidates = httpServers(servers);
  if (candidates.length === 0) return null;
  let lastError = 'no MCP server offers this tool';
  for (const server of candidates) {
    const headers = Object.fromEntries(server.headers.map((h) => [h.name, h.value]));
    const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } });
    const client = new Client({ name: 'sam-demo-agent', version: '1.0.0' });
    try {
      await client.connect(transport, { signal });
      const { tools } = await client.listTools(undefined, { signal });
      if (!tools.some((t) => t.name === tool)) continue;
      const result = await client.callTool({ name: tool, arguments: args }, undefined, { signal });
      return { server: server.name, ok: result.isError !== true, text: resultText(result) };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      await client.close().catch(() => {});
    }
  }
  return { server: candidates[0]?.name ?? '', ok: false, text: lastError };
}
