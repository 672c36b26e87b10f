/**
 * An agent session's token totals as the vm-agent reports them after each turn: what the agent said
 * over ACP (acp/usage.ts), replaced by a better account where there is one: the model calls the
 * vm-agent metered on their way (agents/model-meter.ts: Claude Code; OpenCode with a base URL),
 * else Claude Code's transcript, Codex's rollout log (agents/usage-logs.ts).
 */
import path from 'node:path';
import type { AgentUsageReport } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type { AgentClient } from '../acp/agent-client.ts';
import type { ModelMeter } from '../agents/model-meter.ts';
import { claudeTranscriptUsage, codexRolloutUsage } from '../agents/usage-logs.ts';

/** The usage source of a metered agent's totals: the API its model calls speak. */
const METERED_SOURCE: Record<string, string> = { 'claude-code': 'anthropic-api', opencode: 'chat-completions-api' };

/**
 * The usage the agent reported; Claude Code's and OpenCode's (with a base URL) model calls as
 * metered on their way (Claude Code's transcript without a meter), Codex's own session log, where
 * they have it.
 */
export async function sessionUsage(
  type: string,
  client: AgentClient,
  home: string,
  meter?: ModelMeter,
): Promise<AgentUsageReport | null> {
  const metered = meter?.totals();
  if (metered) {
    client.usage.fromLog(metered, METERED_SOURCE[type] ?? 'model-api');
  } else if (type === 'claude-code') {
    const totals = await claudeTranscriptUsage(home);
    if (totals) client.usage.fromLog(totals, 'claude-transcript');
  } else if (type === 'codex') {
    const rollout = await codexRolloutUsage(path.join(home, '.codex'));
    if (rollout) client.usage.fromLog(rollout.totals, 'codex-rollout');
  }
  return client.usage.report();
}
