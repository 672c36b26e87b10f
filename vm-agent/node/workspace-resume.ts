/**
 * A workspace picked up again with the same ACP session (`session/load`, never `session/new`):
 * after a vm-agent restart, from the state the earlier one kept (machine-state.ts), and after its
 * agent crashed and the supervisor (agent-supervisor.ts) started it again. A recovered crash waits
 * for the user's follow-up; a turn a planned stop cut short is continued.
 */
import type { AgentSupervisor } from './agent-supervisor.ts';
import type { WorkspaceState } from './machine-state.ts';
import type { WorkspaceContext } from './workspace-context.ts';
import { supervise } from './workspace-start.ts';

/** Queued after a planned restart cut a turn short. */
export const CONTINUE_PROMPT =
  'The machine running this session restarted while you were working, so your last turn was cut short. Continue the task from where you left off.';

/**
 * After a vm-agent restart: the same agent session (start_agent_session resumes it with a fresh
 * token), the agent started again with `session/load`. A turn the restart cut short is reported
 * as a crash of the workspace runner and waits for the user; one cut by a planned stop is
 * continued with {@link CONTINUE_PROMPT}. Loading that fails fails the workspace, honestly.
 */
export async function resumeSession(ws: WorkspaceContext, state: WorkspaceState): Promise<void> {
  const { payload } = ws.options;
  ws.channelOpen = true;
  await ws.channel.open();
  const session = await ws.channel.startSession(payload.agentType);
  ws.secrets.push(session.agentToken);
  if (session.agent?.credential) ws.secrets.push(session.agent.credential.secretApiKey);
  if (session.agentSessionId !== state.agentSessionId) {
    throw new Error(`the control plane started a new agent session instead of resuming ${state.agentSessionId}`);
  }
  ws.prompts.splice(0, ws.prompts.length, ...state.prompts);
  ws.awaitingFollowup = state.awaitingFollowup;
  const supervisor = supervise(ws, session);
  ws.log(`resuming agent session ${session.agentSessionId} (session/load)`);
  if (state.prompting && !state.suspended) {
    await supervisor.resume(state.acpSessionId!, 'the vm-agent restarted while the agent was working');
    await recovered(ws, { kind: 'recovered', report: supervisor.lastReport! });
  } else {
    const agent = await supervisor.load(state.acpSessionId!);
    ws.secrets.push(...agent.secrets);
    ws.watch(agent);
    if (state.prompting) {
      ws.prompts.unshift(CONTINUE_PROMPT);
      await ws.channel.system(
        `resumed-${ws.id}-${Date.now().toString(36)}`,
        'session_resumed',
        'The machine restarted while the agent was working; its session was loaded again and it was asked to continue.',
      );
    }
    await ws.channel.status('ready');
    ws.phase = 'idle';
    await ws.persist();
  }
}

/** After a recovered crash: the control plane hears of it and the task waits for a follow-up. */
export async function recovered(
  ws: WorkspaceContext,
  outcome: Awaited<ReturnType<AgentSupervisor['revive']>>,
): Promise<void> {
  const agent = ws.agent!;
  ws.secrets.push(...agent.secrets);
  ws.watch(agent);
  ws.log(`the agent crashed and was recovered (session loaded): ${outcome.report.message}`);
  ws.awaitingFollowup = true;
  ws.phase = 'idle';
  await ws.channel.status('recovered', outcome.report.message);
  await ws.persist();
}
