/**
 * How a workspace ends: finished (task mode: agent ended, branch committed and pushed, every
 * message delivered, completion reported), stopped on request, suspended for the next vm-agent
 * (state and undelivered messages kept, nothing reported), or failed (reported in words, without
 * secrets). Closing removes what no restart needs: its state, agent HOME and, once everything was
 * delivered, its directory.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ControlPlaneError } from './control-plane.ts';
import { errorText, scrub } from './machine.ts';
import { removeWorkspaceState } from './machine-state.ts';
import type { Stop, WorkspaceContext } from './workspace-context.ts';
import { wrapUpBranch } from './workspace-finish.ts';
import { reportUsage } from './workspace-turns.ts';

const FAILURE_REPORT_MS = 5 * 60_000;

/** Ends the agent process (a running turn is cancelled first). */
export async function stopAgent(ws: WorkspaceContext): Promise<void> {
  const supervisor = ws.supervisor;
  const agent = ws.agent;
  if (supervisor) await supervisor.stop(ws.stopRequest?.machineStopping ? 2000 : 5000);
  // Once more with the agent gone: what it wrote to its own log after the last turn counts too.
  if (agent && !ws.stopRequest?.machineStopping) await reportUsage(ws, agent);
}

/** Reports the agent session stopped (revoking the agent token); a failure is only logged. */
export async function endSession(ws: WorkspaceContext, reason: string): Promise<void> {
  if (!ws.channel.agentSessionId) return;
  await ws.channel.status('stopped').then(
    () => ws.log(`agent session stopped (${reason})`),
    (e: unknown) => ws.log(`could not stop the agent session: ${errorText(e)}`),
  );
}

/** Task mode after the last turn: commit and push, deliver every message, report, stop. */
export async function finishTask(ws: WorkspaceContext): Promise<void> {
  const { payload } = ws.options;
  ws.phase = 'finishing';
  await stopAgent(ws);
  const gitPushResult = await wrapUpBranch({
    workspaceId: ws.id,
    workspaceDir: ws.dir,
    payload,
    agentSessionId: ws.channel.agentSessionId!,
    policy: ws.options.repositoryPolicy,
    credentialHelper: ws.credentialHelper,
    scrub: (text) => scrub(text, ws.secrets),
    append: (record) => ws.channel.append(record),
    log: (l) => ws.log(l),
  });
  // Every message (the branch diff included) is stored before the task says it completed, so
  // whoever stops reading at "completed" (the CLI's --follow, a script) has read them all.
  await ws.channel.drain();
  const summary = ws.summary.trim().slice(0, 10_000);
  const done = await ws.channel.complete({ gitPushResult, ...(summary ? { summary } : {}) });
  ws.log(`task ${done.status}${done.pullRequestRequested ? ', pull request requested' : ''}`);
  await endSession(ws, 'task finished');
  await ws.channel.stopped();
  await close(ws, 'stopped');
}

/** A requested stop: end the agent, deliver, report stopped (or failed, when the machine goes mid-task). */
export async function shutdown(ws: WorkspaceContext, stop: Stop): Promise<void> {
  if (stop.suspend) {
    ws.phase = 'stopping';
    await stopAgent(ws);
    await ws.channel.drain();
    ws.closed = true;
    ws.phase = 'stopped';
    const undelivered = await ws.channel.close().catch(() => -1);
    ws.log(`suspended; ${undelivered} message(s) wait in the outbox for the next vm-agent`);
    return;
  }
  ws.phase = 'stopping';
  await stopAgent(ws);
  await ws.channel.drain();
  await endSession(ws, stop.reason);
  const ignore = (e: unknown) => ws.log(`could not report the stop: ${errorText(e)}`);
  if (stop.machineStopping && ws.taskMode) {
    await ws.channel.failed(`the machine's vm-agent stopped (${stop.reason}) before the task finished`).catch(ignore);
    await close(ws, 'failed');
  } else {
    await ws.channel.stopped().catch(ignore);
    await close(ws, 'stopped');
  }
}

export async function failWorkspace(ws: WorkspaceContext, error: unknown): Promise<void> {
  // What the user must do (add a key in Settings) is said as the control plane said it.
  const forUser = error instanceof ControlPlaneError && error.code === 'credential_missing' && error.serverMessage;
  const text = forUser ? errorText(forUser, ws.secrets) : errorText(error, ws.secrets);
  ws.phase = 'failed';
  ws.log(`failed: ${text}`);
  const ignore = (e: unknown) => ws.log(`could not report the failure: ${errorText(e)}`);
  try {
    await stopAgent(ws);
    await ws.channel.drain(60_000);
    if (ws.channel.agentSessionId) await ws.channel.sessionFailed(text, FAILURE_REPORT_MS).catch(ignore);
    await ws.channel.failed(text, FAILURE_REPORT_MS).catch(ignore);
  } finally {
    await close(ws, 'failed');
  }
}

async function close(ws: WorkspaceContext, phase: 'stopped' | 'failed'): Promise<void> {
  ws.closed = true;
  await removeWorkspaceState(ws.options.machineDir, ws.id).catch(() => {});
  await ws.supervisor?.stop(1000).catch(() => {});
  await ws.credentialHelper?.close().catch(() => {});
  ws.credentialHelper = null;
  ws.phase = phase;
  const undelivered = await ws.channel.close().catch(() => -1);
  await rm(ws.agentHome, { recursive: true, force: true }).catch(() => {});
  // Nothing left to deliver: the checkout and agent state go; undelivered records stay on disk.
  if (undelivered === 0) await rm(ws.dir, { recursive: true, force: true }).catch(() => {});
  else ws.log(`${undelivered} message(s) left undelivered in ${path.join(ws.dir, 'outbox')}`);
  ws.log(phase);
}
