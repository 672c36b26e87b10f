/**
 * One workspace on this machine, with its own workspace token and directory
 * `<machineDir>/workspaces/<id>/{repo,outbox,agent-state}`: clone → task branch → (lightweight)
 * profile → ready → agent session → agent → first prompt. Task mode then commits, pushes, drains
 * the outbox, reports completion and stops; conversation mode takes `prompt` commands until the
 * workspace is stopped. Reports ride out control-plane outages; a failure is reported as the
 * workspace's failure, without secrets.
 *
 * This file owns the commands a workspace takes (prompt, cancel, end the agent, stop, suspend, a
 * fresh token, a permission answer, a resumed budget) and the run from start to end; its parts
 * share a {@link WorkspaceContext}: the start in workspace-start.ts, a resumed session and a
 * recovered crash in workspace-resume.ts, the turns in workspace-turns.ts, every way it ends in
 * workspace-end.ts.
 */
import type { PermissionBroker } from './permission-broker.ts';
import { WorkspaceContext, type WorkspaceRunnerOptions } from './workspace-context.ts';
import { endSession, failWorkspace, finishTask, shutdown, stopAgent } from './workspace-end.ts';
import { takesPrompts, type WorkspacePhase } from './workspace-phases.ts';
import { resumeSession } from './workspace-resume.ts';
import { prepareWorkspace } from './workspace-start.ts';
import { nextPrompt, runTurn } from './workspace-turns.ts';

export type { WorkspaceRunnerOptions } from './workspace-context.ts';
export type { WorkspacePhase } from './workspace-phases.ts';
export { CONTINUE_PROMPT } from './workspace-resume.ts';
export { BUDGET_CONTINUE_PROMPT } from './workspace-turns.ts';

export class WorkspaceRunner {
  readonly id: string;
  done: Promise<void> = Promise.resolve();
  private readonly ws: WorkspaceContext;

  constructor(options: WorkspaceRunnerOptions) {
    this.ws = new WorkspaceContext(options);
    this.id = this.ws.id;
  }

  get phase(): WorkspacePhase {
    return this.ws.phase;
  }

  get taskMode(): boolean {
    return this.ws.taskMode;
  }

  /** The user's answer to a permission request; false when none waits for it. */
  answerPermission(requestId: string, decision: Parameters<PermissionBroker['answer']>[1]): boolean {
    return this.ws.permissions.answer(requestId, decision);
  }

  /** The owner continued a task paused at its budget; false when it was not waiting. */
  resume(): boolean {
    return this.ws.budget.resume();
  }

  /** A fresh workspace token (from the node's heartbeat): every later call and batch uses it. */
  setWorkspaceToken(token: string): void {
    const ws = this.ws;
    // The token in use and the one before it are kept out of logs (older ones are no longer used).
    ws.secrets.splice(0, 2, token, ws.secrets[0]!);
    ws.channel.setToken(token);
    void ws.persist();
  }

  /** The machine's vm-agent stops to start again: the agent ends, the state stays for the next one. */
  suspend(reason: string): Promise<void> {
    const ws = this.ws;
    if (!ws.stopRequest) {
      ws.stopRequest = { reason, machineStopping: true, suspend: true };
      ws.log(`suspending (${reason})`);
      setTimeout(() => ws.channel.abort.abort(), ws.options.stopGraceMs ?? 6000).unref();
      // Kept before the turn is cancelled: the next vm-agent must know it was cut short.
      void ws.persist({ suspended: true }).then(() => ws.agent?.client.cancel().catch(() => {}));
      ws.poke();
    }
    return this.done;
  }

  private get live(): boolean {
    return takesPrompts(this.ws.phase) && !this.ws.stopRequest && !this.ws.agentEnded;
  }

  start(): this {
    this.done = this.run();
    return this;
  }

  /** Queues a prompt for the agent; false once the workspace takes no more prompts. */
  prompt(text: string): boolean {
    if (!this.live) return false;
    this.ws.prompts.push(text);
    void this.ws.persist();
    this.ws.poke();
    return true;
  }

  /** Cancels the running turn, if any. */
  async cancelPrompt(): Promise<boolean> {
    const agent = this.ws.agent;
    if (this.ws.phase !== 'prompting' || !agent) return false;
    this.ws.permissions.cancelAll();
    await agent.client.cancel();
    return true;
  }

  /** Ends the agent: task mode then finishes (commit, push, report); conversation mode waits for stop. */
  endAgent(): boolean {
    if (!this.live) return false;
    const ws = this.ws;
    ws.agentEnded = true;
    ws.prompts.length = 0;
    ws.permissions.cancelAll();
    void ws.agent?.client.cancel().catch(() => {});
    ws.poke();
    return true;
  }

  /** Stops the workspace gracefully; resolves once that has been reported. */
  stop(reason: string, machineStopping = false): Promise<void> {
    const ws = this.ws;
    if (!ws.stopRequest) {
      ws.stopRequest = { reason, machineStopping };
      ws.log(`stop requested (${reason})`);
      if (machineStopping) {
        setTimeout(() => ws.channel.abort.abort(), ws.options.stopGraceMs ?? 6000).unref();
      }
      ws.permissions.cancelAll();
      void ws.agent?.client.cancel().catch(() => {});
      ws.poke();
    }
    return this.done;
  }

  private async run(): Promise<void> {
    const ws = this.ws;
    try {
      if (ws.options.resume?.acpSessionId) await resumeSession(ws, ws.options.resume);
      else await prepareWorkspace(ws);
      for (;;) {
        const text = await nextPrompt(ws);
        if (text === null) break;
        await runTurn(ws, text);
        if (ws.taskMode && ws.prompts.length === 0 && !ws.stopRequest && !ws.awaitingFollowup) break;
      }
      if (!ws.stopRequest && ws.taskMode) return await finishTask(ws);
      if (!ws.stopRequest) {
        await stopAgent(ws);
        await endSession(ws, 'agent stopped');
      }
      while (!ws.stopRequest) await ws.nextPoke();
      await shutdown(ws, ws.stopRequest);
    } catch (error) {
      if (ws.stopRequest) await shutdown(ws, ws.stopRequest).catch(() => {});
      else await failWorkspace(ws, error);
    }
  }
}
