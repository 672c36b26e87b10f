/**
 * Token usage from an agent's own session log, for agents whose ACP adapter does not forward it:
 *
 * - Claude Code writes each API message to `$HOME/.claude/projects/<project>/<session>.jsonl`
 *   with the Anthropic `usage` of that message (input, output, cache read, cache creation). A
 *   streamed message is written once per content block with the same `message.id`: counted once.
 * - Codex writes `token_count` events to `$CODEX_HOME/sessions/…/rollout-*.jsonl`, each with the
 *   session's running `total_token_usage` (input, cached input, output, reasoning) and the model's
 *   context window: the last one is the total.
 *
 * Both live in the session's own HOME, which the vm-agent made. A log that is missing or cut
 * mid-line counts what it has.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { addTokens, ZERO_TOKENS, type TokenTotals } from '../acp/usage.ts';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/** Every `*.jsonl` file below `dir` (depth-limited), or none when it does not exist. */
async function jsonlFiles(dir: string, depth = 5): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth > 0) files.push(...(await jsonlFiles(p, depth - 1)));
    else if (e.isFile() && e.name.endsWith('.jsonl')) files.push(p);
  }
  return files;
}

function lines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** Claude Code's per-message usage in the session's transcripts under `home`, or null without any. */
export async function claudeTranscriptUsage(home: string): Promise<TokenTotals | null> {
  const perMessage = new Map<string, TokenTotals>();
  for (const file of await jsonlFiles(path.join(home, '.claude', 'projects'))) {
    for (const entry of lines(await readFile(file, 'utf8').catch(() => ''))) {
      const message = entry.message as { id?: unknown; usage?: Record<string, unknown> } | undefined;
      if (entry.type !== 'assistant' || !message?.usage || typeof message.id !== 'string') continue;
      const u = message.usage;
      const input = n(u.input_tokens);
      const output = n(u.output_tokens);
      perMessage.set(message.id, {
        inputTokens: input,
        outputTokens: output,
        cachedReadTokens: n(u.cache_read_input_tokens),
        cachedWriteTokens: n(u.cache_creation_input_tokens),
        thoughtTokens: 0,
        totalTokens: input + output,
      });
    }
  }
  if (perMessage.size === 0) return null;
  return [...perMessage.values()].reduce(addTokens, ZERO_TOKENS);
}

/** Codex's running token totals in the session's rollouts under `codexHome`, or null without any. */
export async function codexRolloutUsage(
  codexHome: string,
): Promise<{ totals: TokenTotals; contextWindow?: number } | null> {
  let totals: TokenTotals | null = null;
  let contextWindow: number | undefined;
  for (const file of await jsonlFiles(path.join(codexHome, 'sessions'))) {
    let last: { total: Record<string, unknown>; window?: number } | null = null;
    for (const entry of lines(await readFile(file, 'utf8').catch(() => ''))) {
      const payload = entry.payload as { type?: string; info?: Record<string, unknown> | null } | undefined;
      const total = payload?.info?.total_token_usage as Record<string, unknown> | undefined;
      if (entry.type !== 'event_msg' || payload?.type !== 'token_count' || !total) continue;
      last = { total, window: n(payload.info!.model_context_window) || undefined };
    }
    if (!last) continue;
    const t = last.total;
    totals = addTokens(totals ?? ZERO_TOKENS, {
      // Codex counts cached input inside input_tokens; SAM keeps them apart as well.
      inputTokens: n(t.input_tokens),
      outputTokens: n(t.output_tokens),
      cachedReadTokens: n(t.cached_input_tokens),
      cachedWriteTokens: 0,
      thoughtTokens: n(t.reasoning_output_tokens),
      totalTokens: n(t.total_tokens),
    });
    contextWindow = last.window ?? contextWindow;
  }
  return totals ? { totals, ...(contextWindow ? { contextWindow } : {}) } : null;
}
