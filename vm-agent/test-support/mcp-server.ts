/**
 * A stand-in for SAM's MCP edge function in tests: the official MCP SDK server over Streamable
 * HTTP (stateless), with SAM's `update_task_status` and `complete_task` tools, refusing requests
 * without the expected bearer token. Records every tool call with the Authorization it carried.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export type ToolCallSeen = { tool: string; args: Record<string, unknown>; authorization: string | undefined };

export type TestMcpServer = { url: string; calls: ToolCallSeen[]; close(): Promise<void> };

export async function startTestMcpServer(token: string): Promise<TestMcpServer> {
  const calls: ToolCallSeen[] = [];
  const server: Server = createServer((req, res) => {
    const authorization = req.headers.authorization;
    if (authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    const mcp = new McpServer({ name: 'sam-mcp', version: '1.0.0' });
    mcp.registerTool(
      'update_task_status',
      { description: 'Report progress', inputSchema: { message: z.string() } },
      async (args) => {
        calls.push({ tool: 'update_task_status', args, authorization });
        return { content: [{ type: 'text', text: 'status recorded' }] };
      },
    );
    mcp.registerTool(
      'complete_task',
      { description: 'Complete the task', inputSchema: { summary: z.string().optional() } },
      async (args) => {
        calls.push({ tool: 'complete_task', args, authorization });
        return { content: [{ type: 'text', text: 'task completed' }] };
      },
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    void mcp.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
