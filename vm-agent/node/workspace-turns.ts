/**
 * A workspace's turns: the next queued prompt (an agent that died between turns is recovered
 * first), each turn asked of the task's budget at its boundary and cut at the agent time left,
 * the session reported `prompting` and `ready` around it, and its token totals reported after it.
 */
import type { RunningAgent } from './agent-session.ts';
import type { TurnOutcome } from './agent-supervisor.ts';
import { errorText } from './machine.ts';
import type { WorkspaceContext } from './workspace-context.ts';
import { recovered } from './workspace-resume.ts';

/** The prompt that resumes a turn the agent-time budget cut. */
export const BUDGET_CONTINUE_PROMPT =
  'Continue where you left off: your previous turn was stopped when the task reached its time budget, which has been raised.';

/** The next queued prompt; null when the agent or the workspace is to stop. */
export async function nextPrompt(ws: WorkspaceContext): Promise<string | null> {
  for (;;) {
    if (ws.stopRequest || ws.agentEnded) return null;
    const child = ws.agent!.process.child;
    if (child.exitCode !== null || child.signalCode !== null) {
      // Died between turns: the same recovery as mid-turn.
      await recovered(ws, await ws.supervisor!.revive());
      continue;
    }
    const text = ws.prompts.shift();
    if (text !== undefined) {
      ws.awaitingFollowup = false;
      return text;
    }
    await ws.nextPoke();
  }
}

export async function runTurn(ws: WorkspaceContext, text: string): Promise<void> {
  // The budget is asked at the turn boundary: paused, the turn waits for the owner.
  const allowed = await ws.budget.beforeTurn(() => Boolean(ws.stopRequest || ws.agentEnded));
  if (!allowed.go) return;
  await ws.channel.status('prompting');
  ws.phase = 'prompting';
  await ws.persist();
  ws.summary = '';
  ws.lastRole = '';
  const client = ws.agent!.client;
  const endTurn = ws.budget.startTurn(allowed.wallMsLeft, () => {
    ws.permissions.cancelAll();
    void client.cancel().catch(() => {});
  });
  let outcome: TurnOutcome | undefined;
  try {
    outcome = await ws.supervisor!.prompt(text);
  } finally {
    ws.permissions.cancelAll();
    const cut = await endTurn(client.lastTurnTokens, outcome?.kind === 'ended' ? outcome.stopReason : undefined);
    // Cut by the time budget: the next turn (after the owner continued) picks the work up again.
    if (cut && !ws.stopRequest && !ws.agentEnded) ws.prompts.unshift(BUDGET_CONTINUE_PROMPT);
  }
  if (outcome.kind === 'recovered') return recovered(ws, outcome);
  ws.log(`turn ended (${outcome.stopReason})`);
  await reportUsage(ws);
  if (ws.stopRequest?.suspend) return; // the turn was cut by the suspension: the state says so
  ws.phase = 'idle';
  await ws.channel.status('ready');
  await ws.persist();
}

/** The session's token totals so far, when its agent reported any; a failure is only logged. */
export async function reportUsage(ws: WorkspaceContext, agent: RunningAgent | null = ws.agent): Promise<void> {
  if (!agent) return;
  try {
    const usage = await agent.usage();
    if (usage) await ws.channel.usage(usage);
  } catch (e) {
    ws.log(`could not report usage: ${errorText(e)}`);
  }
}
