/**
 * Token usage of one agent session, from what the agent reports over ACP: `usage_update` session
 * updates (the context window in use and its size, the session's cost when given — Codex), the
 * per-turn `usage` of a prompt result (OpenCode: only the turn's last model call) and, without it,
 * the prompt result's `_meta.quota.token_count` (Gemini CLI: input and output tokens of the turn's
 * model calls). Where every call's tokens are known elsewhere, those totals replace the ACP ones
 * (vm-agent/node/session-usage.ts): Claude Code's and OpenCode's (with a credential base URL) model
 * calls metered on their way to the API (agents/model-meter.ts; OpenCode without a base URL uses
 * its built-in provider, whose wire format depends on the model, and keeps the prompt result's
 * usage), Codex's rollout log (agents/usage-logs.ts). The vm-agent reports the running totals after each turn
 * (`POST /vm-agent/sessions/:id/usage`).
 */
import type { AgentUsageReport } from '../../functions/_shared/common/contracts/vm-agent.ts';

export type TokenTotals = {
  inputTokens: number;
  outputTokens: number;
  cachedReadTokens: number;
  cachedWriteTokens: number;
  thoughtTokens: number;
  totalTokens: number;
};

export const ZERO_TOKENS: TokenTotals = {
  inputTokens: 0,
  outputTokens: 0,
  cachedReadTokens: 0,
  cachedWriteTokens: 0,
  thoughtTokens: 0,
  totalTokens: 0,
};

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

export function addTokens(a: TokenTotals, b: TokenTotals): TokenTotals {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedReadTokens: a.cachedReadTokens + b.cachedReadTokens,
    cachedWriteTokens: a.cachedWriteTokens + b.cachedWriteTokens,
    thoughtTokens: a.thoughtTokens + b.thoughtTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

/** The tokens a prompt result reports: ACP's `usage`, else Gemini CLI's `_meta.quota.token_count`. */
export function turnUsage(response: unknown): TokenTotals | null {
  const r = response as { usage?: unknown; _meta?: { quota?: { token_count?: unknown } | null } | null } | null;
  const usage = r?.usage as Record<string, unknown> | null | undefined;
  if (usage && typeof usage === 'object') {
    const t: TokenTotals = {
      inputTokens: count(usage.inputTokens),
      outputTokens: count(usage.outputTokens),
      cachedReadTokens: count(usage.cachedReadTokens),
      cachedWriteTokens: count(usage.cachedWriteTokens),
      thoughtTokens: count(usage.thoughtTokens),
      totalTokens: count(usage.totalTokens),
    };
    return { ...t, totalTokens: t.totalTokens || t.inputTokens + t.outputTokens };
  }
  const quota = r?._meta?.quota?.token_count as Record<string, unknown> | null | undefined;
  if (quota && typeof quota === 'object') {
    const input = count(quota.input_tokens);
    const output = count(quota.output_tokens);
    return { ...ZERO_TOKENS, inputTokens: input, outputTokens: output, totalTokens: input + output };
  }
  return null;
}

export class UsageMeter {
  private acpTokens: TokenTotals | null = null;
  private logTokens: { totals: TokenTotals; source: string } | null = null;
  private contextUsed: number | undefined;
  private contextSize: number | undefined;
  private cost: { amount: number; currency: string } | undefined;
  private turns = 0;

  /** A `usage_update` session update: `{used, size, cost?}`. */
  onUsageUpdate(update: Record<string, unknown>): void {
    if (typeof update.used === 'number') this.contextUsed = count(update.used);
    if (typeof update.size === 'number') this.contextSize = count(update.size);
    const cost = update.cost as { amount?: unknown; currency?: unknown } | null | undefined;
    if (cost && typeof cost.amount === 'number' && typeof cost.currency === 'string') {
      this.cost = { amount: Math.max(0, cost.amount), currency: cost.currency };
    }
  }

  /**
   * A finished turn; its prompt result's `usage` (ACP, unstable) counts when present, else Gemini
   * CLI's `_meta.quota.token_count`. Returns the turn's tokens, or null when it reported none.
   */
  onTurn(response: unknown): TokenTotals | null {
    this.turns++;
    const turn = turnUsage(response);
    if (turn) this.acpTokens = addTokens(this.acpTokens ?? ZERO_TOKENS, turn);
    return turn;
  }

  /** Totals read from the agent's own session log (they replace what ACP said). */
  fromLog(totals: TokenTotals, source: string): void {
    this.logTokens = { totals, source };
  }

  /** The running totals, or null while the agent reported nothing. */
  report(): AgentUsageReport | null {
    const tokens = this.logTokens?.totals ?? this.acpTokens;
    if (!tokens && this.contextUsed === undefined && !this.cost) return null;
    const t = tokens ?? ZERO_TOKENS;
    return {
      ...t,
      totalTokens: t.totalTokens || t.inputTokens + t.outputTokens,
      ...(this.contextUsed !== undefined ? { contextUsed: this.contextUsed } : {}),
      ...(this.contextSize !== undefined ? { contextSize: this.contextSize } : {}),
      ...(this.cost ? { cost: this.cost } : {}),
      turns: this.turns,
      source: this.logTokens?.source ?? 'acp',
    };
  }
}
