import { continuesChunk } from '../../../functions/_shared/common/contracts/messages.ts';
import type { Message } from './types.ts';

/** Merges `incoming` into `current` (sorted by id): duplicates dropped, order by id kept. */
export function mergeMessages(current: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return current as Message[];
  const seen = new Set(current.map((m) => m.id));
  const fresh = incoming.filter((m) => !seen.has(m.id) && (seen.add(m.id), true));
  if (fresh.length === 0) return current as Message[];
  const last = current.length ? current[current.length - 1]!.id : -Infinity;
  fresh.sort((a, b) => a.id - b.id);
  if (fresh[0]!.id > last) return [...current, ...fresh];
  return [...current, ...fresh].sort((a, b) => a.id - b.id);
}

/** What a tool call shows when expanded: text the tool produced, or a file it changed (ACP `diff`). */
export type ToolContent =
  | { type: 'text'; text: string }
  | { type: 'diff'; path: string; oldText: string | null; newText: string }
  | { type: 'terminal'; terminalId: string };

export interface ToolView {
  toolCallId: string;
  title: string;
  status: string;
  kind: string | null;
  /** How many records (the call and its updates) folded into this one. */
  records: number;
  /** The tool's input and raw output as the agent reported them (the latest value of each). */
  input: unknown;
  output: unknown;
  /** The latest content the agent reported (ACP: an update's content replaces the earlier one). */
  content: ToolContent[];
  /** Files the tool touched. */
  locations: string[];
}

export interface PlanItem {
  content: string;
  status: string;
}

export interface PlanView {
  entries: PlanItem[];
  /** How many times the agent revised it after first sending it. */
  revisions: number;
  /** The id of the record the entries come from (the latest revision). */
  latestId: number;
}

/** The entries of a plan message (metadata when present, else `[status] text` lines). */
export function planItems(m: Message): PlanItem[] {
  const entries = m.metadata?.entries;
  if (Array.isArray(entries)) {
    return entries.map((e: { content?: unknown; status?: unknown }) => ({
      content: String(e.content ?? ''),
      status: String(e.status ?? 'pending'),
    }));
  }
  return m.content
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = /^\[([a-z_]+)\]\s*(.*)$/.exec(line);
      return match ? { status: match[1]!, content: match[2]! } : { status: 'pending', content: line };
    });
}

function blockText(block: unknown): string | null {
  if (!block || typeof block !== 'object') return null;
  const b = block as { type?: unknown; text?: unknown; uri?: unknown; resource?: { text?: unknown; uri?: unknown } };
  if (b.type === 'text' && typeof b.text === 'string') return b.text;
  if (b.type === 'resource_link' && typeof b.uri === 'string') return b.uri;
  if (b.type === 'resource' && b.resource) return String(b.resource.text ?? b.resource.uri ?? '');
  return typeof b.type === 'string' ? `[${b.type}]` : null;
}

/** ACP tool-call content (`content`, `diff`, `terminal` entries) as the chat shows it; unknown entries dropped. */
export function toolContent(value: unknown): ToolContent[] {
  if (!Array.isArray(value)) return [];
  const out: ToolContent[] = [];
  for (const c of value as Record<string, unknown>[]) {
    if (!c || typeof c !== 'object') continue;
    if (c.type === 'content') {
      const text = blockText(c.content);
      if (text !== null) out.push({ type: 'text', text });
    } else if (c.type === 'diff' && typeof c.path === 'string' && typeof c.newText === 'string') {
      out.push({
        type: 'diff',
        path: c.path,
        oldText: typeof c.oldText === 'string' ? c.oldText : null,
        newText: c.newText,
      });
    } else if (c.type === 'terminal' && typeof c.terminalId === 'string') {
      out.push({ type: 'terminal', terminalId: c.terminalId });
    }
  }
  return out;
}

function locationPaths(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((l: { path?: unknown }) => (l && typeof l.path === 'string' ? l.path : null))
    .filter((p): p is string => p !== null);
}

export type ChatItem =
  | { kind: 'message'; key: string; message: Message }
  | { kind: 'tool'; key: string; tool: ToolView; firstId: number }
  | { kind: 'plan'; key: string; plan: PlanView; firstId: number };

/** Folds one tool record into its call's view (the call, or an update to it). */
function foldTool(tool: ToolView, m: Message, first: boolean): void {
  const meta = m.metadata ?? {};
  tool.records += first ? 0 : 1;
  if (m.toolStatus) tool.status = m.toolStatus;
  if (typeof meta.title === 'string' && meta.title) tool.title = meta.title;
  if (typeof meta.kind === 'string') tool.kind = meta.kind;
  if (meta.rawInput !== undefined && meta.rawInput !== null) tool.input = meta.rawInput;
  if (meta.rawOutput !== undefined && meta.rawOutput !== null) tool.output = meta.rawOutput;
  const locations = locationPaths(meta.locations);
  if (locations.length) tool.locations = locations;
  if (Array.isArray(meta.content)) {
    tool.content = toolContent(meta.content);
  } else if (!first && !meta.title && m.content) {
    // An update whose text is the tool's output (e.g. an MCP tool's JSON result), not its name.
    tool.content = [{ type: 'text', text: m.content }];
  }
}

/**
 * The chat as rendered: one item per message, except that
 * - every record of a tool call (the call and its updates, keyed by `toolCallId`) folds into one
 *   item with the latest title, status, input, output and content;
 * - a plan the agent revises is one item, shown where it first appeared with the latest entries; a
 *   user's message starts a new turn, and the next plan is a new item;
 * - the agent's echo of a message the user already sent (an assistant record marked
 *   `metadata.echo = 'user'` with the same text) is not repeated;
 * - the records of one streamed agent message (or thought) are one message (`continuesChunk`).
 */
export function chatItems(messages: readonly Message[]): ChatItem[] {
  const items: ChatItem[] = [];
  const tools = new Map<string, ToolView>();
  const userTexts = new Set<string>();
  let plan: PlanView | null = null;
  for (const m of messages) {
    if (m.role === 'user') {
      userTexts.add(m.content.trim());
      plan = null;
    }
    if (m.role === 'assistant' && m.metadata?.echo === 'user' && userTexts.has(m.content.trim())) continue;
    if (m.role === 'plan') {
      if (plan) {
        plan.entries = planItems(m);
        plan.revisions += 1;
        plan.latestId = m.id;
        continue;
      }
      plan = { entries: planItems(m), revisions: 0, latestId: m.id };
      items.push({ kind: 'plan', key: `plan:${m.id}`, plan, firstId: m.id });
      continue;
    }
    if (m.role === 'tool') {
      const id = m.toolCallId ?? m.messageId;
      const known = tools.get(id);
      if (known) {
        foldTool(known, m, false);
        continue;
      }
      const tool: ToolView = {
        toolCallId: id,
        title: m.content || 'Tool call',
        status: 'pending',
        kind: null,
        records: 1,
        input: null,
        output: null,
        content: [],
        locations: [],
      };
      foldTool(tool, m, true);
      tools.set(id, tool);
      items.push({ kind: 'tool', key: `tool:${id}`, tool, firstId: m.id });
      continue;
    }
    // One streamed message cut into several records reads as one message: its key stays the
    // first record's (the row stays put), the rest is the last record's (a fork from it keeps all).
    const last = items[items.length - 1];
    if (last?.kind === 'message' && continuesChunk(last.message, m)) {
      last.message = { ...m, content: last.message.content + m.content };
      continue;
    }
    items.push({ kind: 'message', key: `m:${m.id}`, message: m });
  }
  return items;
}
