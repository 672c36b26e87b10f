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

export interface ToolView {
  toolCallId: string;
  title: string;
  status: string;
  kind: string | null;
}

export interface PlanItem {
  content: string;
  status: string;
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

export type ChatItem =
  { kind: 'message'; key: string; message: Message } | { kind: 'tool'; key: string; tool: ToolView; firstId: number };

/**
 * The chat as rendered: one item per message, except that every record of a tool call (the call
 * and its updates, keyed by `toolCallId`) folds into one item showing the latest title and status,
 * and the agent's echo of a message the user already sent (an assistant record marked
 * `metadata.echo = 'user'` with the same text) is not repeated.
 */
export function chatItems(messages: readonly Message[]): ChatItem[] {
  const items: ChatItem[] = [];
  const tools = new Map<string, ToolView>();
  const userTexts = new Set<string>();
  for (const m of messages) {
    if (m.role === 'user') userTexts.add(m.content.trim());
    if (m.role === 'assistant' && m.metadata?.echo === 'user' && userTexts.has(m.content.trim())) continue;
    if (m.role === 'tool') {
      const meta = m.metadata ?? {};
      const id = m.toolCallId ?? m.messageId;
      const status = m.toolStatus ?? undefined;
      const known = tools.get(id);
      if (known) {
        if (status) known.status = status;
        // A later record's text is the tool's output (e.g. an MCP tool's JSON result), not its name.
        if (meta.title) known.title = meta.title as string;
        continue;
      }
      const title = (meta.title as string | undefined) ?? (m.content || undefined);
      const tool: ToolView = {
        toolCallId: id,
        title: title ?? 'Tool call',
        status: status ?? 'pending',
        kind: (meta.kind as string | undefined) ?? null,
      };
      tools.set(id, tool);
      items.push({ kind: 'tool', key: `tool:${id}`, tool, firstId: m.id });
      continue;
    }
    items.push({ kind: 'message', key: `m:${m.id}`, message: m });
  }
  return items;
}
