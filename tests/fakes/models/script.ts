/**
 * What the scripted model and its vendor modules share: the script's steps, a recorded request,
 * and the turn a vendor module answers (the request, its step, the step's tool call in the agent's
 * own tool names, ids and usage). No wire format here: each vendor module speaks its own.
 */
import type { IncomingMessage } from 'node:http';

export type Step =
  /** Write `content` to `file` (relative to the session's working directory) with the agent's own write tool. */
  | { write: { file: string; content: string } }
  /** Call a tool of SAM's MCP server (`update_task_status`, `complete_task`, …). */
  | { mcp: { server: string; tool: string; args: Record<string, unknown> } }
  /** Run a shell command with the agent's own shell tool (Bash, exec_command, …). */
  | { shell: { command: string } }
  /**
   * Answer with text and end the turn. With `stream` (Anthropic Messages only) the text is followed
   * by `chunks` numbered deltas ` [#1]` … ` [#N]`, `delayMs` apart: a turn slow enough to be
   * interrupted mid-stream.
   */
  | { text: string; stream?: { chunks: number; delayMs: number } };

export interface RecordedRequest {
  api: 'anthropic' | 'responses' | 'chat' | 'gemini' | 'count_tokens' | 'other';
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Tool names offered in this request. */
  tools: string[];
}

/** A tool call as name + JSON arguments (`{ patch }` for apply_patch). */
export interface ToolCall {
  name: string;
  args: Record<string, unknown>;
}

/** Token usage an answer reports (cached: input tokens served from the prompt cache). */
export interface Usage {
  input: number;
  output: number;
  cached: number;
}

/** One request as a vendor module answers it. */
export interface Turn {
  request: RecordedRequest;
  /** The script's step for this request, chosen by how many tool results the conversation holds. */
  step(): Step;
  /** The tool call for a step in the agent's tool names; null for a text step. Throws when no offered tool fits. */
  toolCall(step: Step): ToolCall | null;
  /** The next number for message and call ids, counted across all APIs. */
  nextSeq(): number;
  usage: Usage;
}
