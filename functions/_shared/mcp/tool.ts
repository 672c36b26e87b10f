import type { ToolInput, ToolName } from '../common/contracts/mcp-tools.ts';
import type { Tx } from '../db.ts';
import type { SamClaims } from '../sam-tokens.ts';

/** What a tool runs with: a transaction already acting as the calling agent, and its claims. */
export interface ToolContext {
  tx: Tx;
  claims: SamClaims;
}

/**
 * What a tool that waits runs with: no transaction spans the call; each `step` is a short
 * transaction as the calling agent, committed before it returns. Between steps the tool holds no
 * database connection, so however long it waits, the pool stays free for everyone else.
 */
export interface WaitingToolContext {
  claims: SamClaims;
  step<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

type Result = Promise<Record<string, unknown>>;

/** A tool whose whole call is one transaction (every tool that does not wait). */
export interface TransactionalTool<N extends ToolName = ToolName> {
  name: N;
  description: string;
  waits?: false;
  run(ctx: ToolContext, input: ToolInput<N>): Result;
}

/** A tool that waits (e.g. a grace period): its steps are separate transactions, see WaitingToolContext. */
export interface WaitingTool<N extends ToolName = ToolName> {
  name: N;
  description: string;
  waits: true;
  run(ctx: WaitingToolContext, input: ToolInput<N>): Result;
}

export type ToolDefinition<N extends ToolName = ToolName> = TransactionalTool<N> | WaitingTool<N>;

/** Keeps each tool's input type tied to its name. */
export function defineTool<N extends ToolName>(tool: TransactionalTool<N>): TransactionalTool<N> {
  return tool;
}

/** A tool that waits between steps; it never holds a transaction (or a connection) while it waits. */
export function defineWaitingTool<N extends ToolName>(tool: Omit<WaitingTool<N>, 'waits'>): WaitingTool<N> {
  return { ...tool, waits: true };
}
