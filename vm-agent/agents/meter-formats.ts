/**
 * The wire formats the model meter (model-meter.ts) reads usage from, chosen by the request path:
 *
 * - Anthropic Messages (`…/messages`, Claude Code): a stream's `message_start` opens a message with
 *   its input and cache counts, its `message_delta` gives the final counts (the output above all);
 *   a JSON answer has its `usage`. Keyed by the message id.
 * - OpenAI Chat Completions (`…/chat/completions`, OpenCode's openai-compatible provider): a
 *   stream's `chat.completion.chunk`s share the completion id, and the usage comes in a chunk of its
 *   own when the request set `stream_options.include_usage` (OpenCode does; a stream without it
 *   counts nothing); `data: [DONE]` ends it. A JSON answer has its `usage`. Keyed by the completion
 *   id; a later usage of the same id replaces the earlier one (servers that repeat a running usage
 *   in every chunk count once).
 *
 * Chat Completions maps to the totals as: input = `prompt_tokens`, output = `completion_tokens`,
 * cache read = `prompt_tokens_details.cached_tokens`, thought =
 * `completion_tokens_details.reasoning_tokens`, total = `total_tokens` (else input + output).
 */

/** One model call's counts, as kept in the meter's state file (Anthropic's without thought and total). */
export type CallUsage = {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  thought?: number;
  total?: number;
};

/** Where a reader puts what it read (the meter: its counts, saved at once). */
export interface UsageSink {
  get(id: string): CallUsage | undefined;
  set(id: string, usage: CallUsage): void;
  /** An id for an answer that has none. */
  anonymousId(): string;
}

export type ApiFormat = {
  /** A reader of one SSE answer, fed its text as it comes (`end`: the last piece). */
  stream(sink: UsageSink): (text: string, end?: boolean) => void;
  /** A JSON answer, parsed. */
  answer(sink: UsageSink, answer: unknown): void;
};

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
const record = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
const idOf = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Each `data:` line's JSON of an SSE text fed in pieces (lines that are not JSON, `[DONE]` too, skipped). */
function sseData(onData: (data: Record<string, unknown>) => void): (text: string, end?: boolean) => void {
  let buffer = '';
  return (text, end = false) => {
    buffer += text;
    const lines = buffer.split('\n');
    buffer = end ? '' : lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('data:')) continue;
      let data: unknown;
      try {
        data = JSON.parse(line.slice(5));
      } catch {
        continue;
      }
      const event = record(data);
      if (event) onData(event);
    }
  };
}

/** Anthropic's `usage`; a field it leaves out keeps the message's earlier count. */
function anthropicUsage(usage: Record<string, unknown>, previous?: CallUsage): CallUsage {
  return {
    input: usage.input_tokens !== undefined ? n(usage.input_tokens) : (previous?.input ?? 0),
    output: usage.output_tokens !== undefined ? n(usage.output_tokens) : (previous?.output ?? 0),
    cacheRead:
      usage.cache_read_input_tokens !== undefined ? n(usage.cache_read_input_tokens) : (previous?.cacheRead ?? 0),
    cacheWrite:
      usage.cache_creation_input_tokens !== undefined
        ? n(usage.cache_creation_input_tokens)
        : (previous?.cacheWrite ?? 0),
  };
}

export const ANTHROPIC_MESSAGES: ApiFormat = {
  stream(sink) {
    let current: string | null = null;
    return sseData((event) => {
      const message = record(event.message);
      const usage = record(event.usage);
      if (event.type === 'message_start' && message && record(message.usage)) {
        current = idOf(message.id) ?? sink.anonymousId();
        sink.set(current, anthropicUsage(record(message.usage)!));
      } else if (event.type === 'message_delta' && current && usage) {
        sink.set(current, anthropicUsage(usage, sink.get(current)));
      }
    });
  },
  answer(sink, answer) {
    const a = record(answer);
    const usage = record(a?.usage);
    if (usage) sink.set(idOf(a!.id) ?? sink.anonymousId(), anthropicUsage(usage));
  },
};

function chatUsage(usage: Record<string, unknown>): CallUsage {
  const input = n(usage.prompt_tokens);
  const output = n(usage.completion_tokens);
  return {
    input,
    output,
    cacheRead: n(record(usage.prompt_tokens_details)?.cached_tokens),
    cacheWrite: 0,
    thought: n(record(usage.completion_tokens_details)?.reasoning_tokens),
    total: n(usage.total_tokens) || input + output,
  };
}

export const CHAT_COMPLETIONS: ApiFormat = {
  stream(sink) {
    let anonymous: string | null = null;
    return sseData((chunk) => {
      const usage = record(chunk.usage);
      if (!usage) return;
      const id = idOf(chunk.id) ?? (anonymous ??= sink.anonymousId());
      sink.set(id, chatUsage(usage));
    });
  },
  answer(sink, answer) {
    const a = record(answer);
    const usage = record(a?.usage);
    if (usage) sink.set(idOf(a!.id) ?? sink.anonymousId(), chatUsage(usage));
  },
};

/** The format a request path speaks, or null for calls that are not model answers (token counts, models). */
export function formatOf(pathname: string): ApiFormat | null {
  if (pathname.endsWith('/messages')) return ANTHROPIC_MESSAGES;
  if (pathname.endsWith('/chat/completions')) return CHAT_COMPLETIONS;
  return null;
}
