// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { isToolName, toolInputs, type ToolName } from '../common/contracts/mcp-tools.ts';
import { asIdentity, type Sql, type Tx } from '../db.ts';
import type { SamClaims } from '../sam-tokens.ts';
import { toMcpError } from './errors.ts';
import type { ToolDefinition } from './tool.ts';

export const SERVER_INFO = { name: 'sam-mcp', version: '1.0.0' };

/**
 * One MCP server per request (stateless Streamable HTTP): tools are listed with JSON schemas from
 * the shared zod contracts, every call is validated against them and runs inside a transaction as
 * the calling agent (a tool that waits runs short transactions between its waits instead).
 * Failures are thrown as JSON-RPC errors, never returned as results.
 */
export function createMcpServer(sql: Sql, claims: SamClaims, tools: readonly ToolDefinition[]): Server {
  const byName = new Map<string, ToolDefinition>(tools.map((t) => [t.name, t]));
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: false } },
    instructions:
      'SAM: call get_instructions first. Tools manage your task, its sub-tasks, ideas and questions to the human.',
  });

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: z.toJSONSchema(toolInputs[t.name], { io: 'input' }) as { type: 'object' },
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name } = request.params;
    const tool = byName.get(name);
    if (!tool || !isToolName(name))
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`, { code: 'unknown_tool' });
    const parsed = toolInputs[name as ToolName].safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`, {
        code: 'invalid_params',
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    try {
      const input = parsed.data as never;
      // A waiting tool runs its own short transactions and holds no connection while it waits.
      const result = tool.waits
        ? await tool.run({ claims, step: <T>(fn: (tx: Tx) => Promise<T>) => asIdentity(sql, claims, fn) }, input)
        : await asIdentity(sql, claims, (tx) => tool.run({ tx, claims }, input));
      return { content: [{ type: 'text' as const, text: JSON.stringify(result) }], structuredContent: result };
    } catch (e) {
      const error = toMcpError(e);
      if (error.code === ErrorCode.InternalError)
        console.error(`mcp tool ${name} failed:`, e instanceof Error ? e.message : e);
      throw error;
    }
  });
  return server;
}
