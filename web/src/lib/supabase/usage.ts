// Token usage of a task's agent sessions (`agent_session_usage` under RLS: the owner's alone)
import type { TaskUsage } from '../types.ts';
import { sb } from './client.ts';

interface UsageRow {
  input_tokens: number;
  output_tokens: number;
  cached_read_tokens: number;
  cached_write_tokens: number;
  thought_tokens: number;
  total_tokens: number;
  context_used: number | null;
  context_size: number | null;
  cost_amount: number | string | null;
  cost_currency: string | null;
  turns: number;
  updated_at: string;
}

/** The task's usage summed over its agent sessions (the context is the latest session's); null when none reported. */
export async function taskUsage(taskId: string): Promise<TaskUsage | null> {
  const { data, error } = await sb()
    .from('agent_session_usage')
    .select(
      'input_tokens, output_tokens, cached_read_tokens, cached_write_tokens, thought_tokens, total_tokens, context_used, context_size, cost_amount, cost_currency, turns, updated_at',
    )
    .eq('task_id', taskId)
    .order('updated_at');
  if (error) throw new Error(`Could not read the task's usage: ${error.message}`);
  const rows = (data ?? []) as unknown as UsageRow[];
  if (rows.length === 0) return null;
  const sum = (k: keyof UsageRow) => rows.reduce((n, r) => n + Number(r[k] ?? 0), 0);
  const latest = rows[rows.length - 1]!;
  const costs = rows.filter((r) => r.cost_amount !== null);
  const currency = costs[0]?.cost_currency ?? null;
  return {
    inputTokens: sum('input_tokens'),
    outputTokens: sum('output_tokens'),
    cachedReadTokens: sum('cached_read_tokens'),
    cachedWriteTokens: sum('cached_write_tokens'),
    thoughtTokens: sum('thought_tokens'),
    totalTokens: sum('total_tokens'),
    contextUsed: latest.context_used,
    contextSize: latest.context_size,
    cost:
      costs.length > 0 && costs.every((r) => r.cost_currency === currency)
        ? { amount: costs.reduce((n, r) => n + Number(r.cost_amount), 0), currency: currency ?? 'USD' }
        : null,
    turns: sum('turns'),
  };
}
