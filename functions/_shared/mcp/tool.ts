import type { ToolInput, ToolName } from '../common/contracts/mcp-tools.ts';
import type { Tx } from '../db.ts';
import type { SamClaims } from '../sam-tokens.ts';

/** What a tool runs with: a transaction already acting as the calling agent, and its claims. */
export interface ToolContext {
  tx: Tx;
  claims: SamClaims;
  /** Runs `fn` in its own transaction as the same agent, committed before it returns. */
  separately<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export interface ToolDefinition<N extends ToolName = ToolName> {
  name: N;
  description: string;
  run(ctx: ToolContext, input: ToolInput<N>): Promise<Record<string, unknown>>;
}

/** Keeps each tool's input type tied to its name. */
export function defineTool<N extends ToolName>(tool: ToolDefinition<N>): ToolDefinition<N> {
  return tool;
}
