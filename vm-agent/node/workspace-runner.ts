/**
 * One workspace on this machine, with its own workspace token and directory
 * `<machineDir>/workspaces/<id>/{repo,outbox,agent-state}`: clone → task branch → (lightweight)
 * profile → ready → agent session → agent → first prompt. Task mode then commits, pushes, drains
 * the outbox, reports completion and stops; conversation mode takes `prompt` commands until the
 * workspace is stopped. Reports ride out control-plane outages; a failure is reported as the
 * workspace's failure, without secrets.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type { CredentialQuestion, GitCredentialHelper } from '../git/credential-server.ts';
import type { RepositoryPolicy } from '../git/policy.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import type { RunningAgent } from './agent-session.ts';
import type { AgentSupervisor, TurnOutcome } from './agent-supervisor.ts';
import { ControlPlaneError, type ControlPlaneClient } from './control-plane.ts';
import { errorText, scrub } from './machine.ts';
import { PermissionBroker } from './permission-broker.ts';
import { TurnBudget } from './turn-budget.ts';
import { type AgentSessionGrant, superviseAgent } from './workspace-agent.ts';
import { WorkspaceChannel } from './workspace-channel.ts';
import { checkOutRepository, profileNotice } from './workspace-checkout.ts';
import { wrapUpBranch } from './workspace-finish.ts';
import { takesPrompts, type WorkspacePhase } from './workspace-phases.ts';
import { removeWorkspaceState, writeWorkspaceState, type WorkspaceState } from './machine-state.ts';

export type WorkspaceRunnerOptions = {
  payload: CreateWorkspacePayload;
  client: ControlPlaneClient;
  machineDir: string;
  agentEnv: Record<string, string>;
  machineEnv: NodeJS.ProcessEnv;
  /** Which repositories may be cloned; default https only. */
  repositoryPolicy?: RepositoryPolicy;
  dockerAvailable: () => Promise<boolean>;
  log: (line: string) => void;
  backoff?: BackoffOptions;
  outboxFlushDelayMs?: number;
  /** How long a stopping machine keeps trying to deliver and report; default 6 s. */
  stopGraceMs?: number;
  /** The workspace token was refused: a fresh one is wanted (the node heartbeats at once). */
  onCredentialRefused?: () => void;
  /** What an earlier vm-agent on this machine left (machine-state.ts): resume instead of preparing. */
  resume?: WorkspaceState;
};

/** Queued after a planned restart cut a turn short. */
export const CONTINUE_PROMPT =
  'The machine running this session restarted while you were working, so your last turn was cut short. Continue the task from where you left off.';

export type { WorkspacePhase } from './workspace-phases.ts';

/** `suspend`: the vm-agent stops to start again (SIGTERM): state kept, nothing reported. */
type Stop = { reason: string; machineStopping: boolean; suspend?: boolean };

const FAILURE_REPORT_MS = 5 * 60_000;

/** The prompt that resumes a turn the agent-time budget cut. */
export const BUDGET_CONTINUE_PROMPT =
  'Continue where you left off: your previous turn was stopped when the task reached its time budget, which has been raised.';

export class WorkspaceRunner {
  readonly id: string;
  phase: WorkspacePhase = 'preparing';
  done: Promise<void> = Promise.resolve();
  private readonly prompts: string[];
  private wake: (() => void) | null = null;
  private stopRequest: Stop | null = null;
  private agentEnded = false;
  private readonly secrets: string[];
  private readonly channel: WorkspaceChannel;
  private supervisor: AgentSupervisor | null = null;
  private channelOpen = false;
  /** Ended: nothing more is kept for a restart. */
  private closed = false;
  /** A crash was recovered: task mode waits for the user's follow-up instead of finishing. */
  private awaitingFollowup = false;
  private summary = '';
  private lastRole = '';
  private readonly dir: string;
  /** The agent's own HOME for this session: below the machine's HOME, so the host's sweep by HOME finds its processes. */
  private readonly agentHome: string;
  private installNotes = 0;
  /** Permission mode `ask`: requests wait for the user's answer (a `permission_answer` command). */
  private readonly permissions: PermissionBroker;
  /** The task's budget, checked at every turn boundary. */
  private readonly budget: TurnBudget;
  /** git's credential helper for a GitHub repository (tokens from the control plane's git-token). */
  private credentialHelper: GitCredentialHelper | null = null;

  constructor(private readonly options: WorkspaceRunnerOptions) {
    this.id = options.payload.workspaceId;
    this.prompts = [options.payload.initialPrompt];
    // [current workspace token, previous one, …the agent's secrets]
    this.secrets = [options.payload.workspaceToken, options.payload.workspaceToken];
    this.dir = path.join(options.machineDir, 'workspaces', this.id);
    this.agentHome = path.join(options.machineEnv.HOME ?? this.dir, 'agent-homes', this.id);
    this.channel = new WorkspaceChannel({
      client: options.client,
      workspaceToken: options.payload.workspaceToken,
      outboxDir: path.join(this.dir, 'outbox'),
      log: (l) => this.log(l),
      backoff: options.backoff,
      flushDelayMs: options.outboxFlushDelayMs,
      onCredentialRefused: options.onCredentialRefused,
    });
    this.permissions = new PermissionBroker({
      ask: (body) => this.channel.requestPermission(body),
      close: (id, outcome) => this.channel.closePermission(id, outcome),
      scrub: (text) => scrub(text, this.secrets),
      log: (l) => this.log(l),
    });
    this.budget = new TurnBudget({
      budget: () => this.channel.budget(),
      recordTurn: (turn) => this.channel.recordTurn(turn),
      log: (l) => this.log(l),
    });
  }

  /** The user's answer to a permission request; false when none waits for it. */
  answerPermission(requestId: string, decision: Parameters<PermissionBroker['answer']>[1]): boolean {
    return this.permissions.answer(requestId, decision);
  }

  /** The owner continued a task paused at its budget; false when it was not waiting. */
  resume(): boolean {
    return this.budget.resume();
  }

  /** A fresh workspace token (from the node's heartbeat): every later call and batch uses it. */
  setWorkspaceToken(token: string): void {
    // The token in use and the one before it are kept out of logs (older ones are no longer used).
    this.secrets.splice(0, 2, token, this.secrets[0]!);
    this.channel.setToken(token);
    void this.persist();
  }

  /**
   * Writes what a restarted vm-agent needs to resume this workspace (0600). Only once its agent
   * runs; before that a restart prepares the workspace again.
   */
  private async persist(extra: Partial<WorkspaceState> = {}): Promise<void> {
    const acpSessionId = this.supervisor?.acpSessionId ?? null;
    if (!acpSessionId || !this.channel.agentSessionId || this.closed) return;
    const state: WorkspaceState = {
      payload: { ...this.options.payload, workspaceToken: this.secrets[0]! },
      agentSessionId: this.channel.agentSessionId,
      acpSessionId,
      prompting: this.phase === 'prompting',
      suspended: false,
      awaitingFollowup: this.awaitingFollowup,
      prompts: [...this.prompts],
      ...extra,
    };
    await writeWorkspaceState(this.options.machineDir, state).catch((e: unknown) =>
      this.log(`could not keep the workspace state: ${errorText(e)}`),
    );
  }

  /** The machine's vm-agent stops to start again: the agent ends, the state stays for the next one. */
  suspend(reason: string): Promise<void> {
    if (!this.stopRequest) {
      this.stopRequest = { reason, machineStopping: true, suspend: true };
      this.log(`suspending (${reason})`);
      setTimeout(() => this.channel.abort.abort(), this.options.stopGraceMs ?? 6000).unref();
      // Kept before the turn is cancelled: the next vm-agent must know it was cut short.
      void this.persist({ suspended: true }).then(() => this.agent?.client.cancel().catch(() => {}));
      this.poke();
    }
    return this.done;
  }

  get taskMode(): boolean {
    return this.options.payload.taskMode === 'task';
  }

  private get live(): boolean {
    return takesPrompts(this.phase) && !this.stopRequest && !this.agentEnded;
  }

  start(): this {
    this.done = this.run();
    return this;
  }

  /** Queues a prompt for the agent; false once the workspace takes no more prompts. */
  prompt(text: string): boolean {
    if (!this.live) return false;
    this.prompts.push(text);
    void this.persist();
    this.poke();
    return true;
  }

  /** Cancels the running turn, if any. */
  async cancelPrompt(): Promise<boolean> {
    if (this.phase !== 'prompting' || !this.agent) return false;
    this.permissions.cancelAll();
    await this.agent.client.cancel();
    return true;
  }

  /** Ends the agent: task mode then finishes (commit, push, report); conversation mode waits for stop. */
  endAgent(): boolean {
    if (!this.live) return false;
    this.agentEnded = true;
    this.prompts.length = 0;
    this.permissions.cancelAll();
    void this.agent?.client.cancel().catch(() => {});
    this.poke();
    return true;
  }

  /** Stops the workspace gracefully; resolves once that has been reported. */
  stop(reason: string, machineStopping = false): Promise<void> {
    if (!this.stopRequest) {
      this.stopRequest = { reason, machineStopping };
      this.log(`stop requested (${reason})`);
      if (machineStopping) {
        setTimeout(() => this.channel.abort.abort(), this.options.stopGraceMs ?? 6000).unref();
      }
      this.permissions.cancelAll();
      void this.agent?.client.cancel().catch(() => {});
      this.poke();
    }
    return this.done;
  }

  private log(line: string): void {
    this.options.log(`workspace ${this.id.slice(0, 8)}: ${scrub(line, this.secrets)}`);
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
    this.budget.poke();
  }

  private async run(): Promise<void> {
    try {
      if (this.options.resume?.acpSessionId) await this.resumeSession(this.options.resume);
      else await this.prepare();
      for (;;) {
        const text = await this.nextPrompt();
        if (text === null) break;
        await this.turn(text);
        if (this.taskMode && this.prompts.length === 0 && !this.stopRequest && !this.awaitingFollowup) break;
      }
      if (!this.stopRequest && this.taskMode) return await this.finish();
      if (!this.stopRequest) {
        await this.stopAgent();
        await this.endSession('agent stopped');
      }
      while (!this.stopRequest) await new Promise<void>((resolve) => (this.wake = resolve));
      await this.shutdown(this.stopRequest);
    } catch (error) {
      if (this.stopRequest) await this.shutdown(this.stopRequest).catch(() => {});
      else await this.fail(error);
    }
  }

  private async prepare(): Promise<void> {
    const { payload } = this.options;
    await mkdir(path.join(this.dir, 'agent-state'), { recursive: true });
    if (!this.channelOpen) await this.channel.open();
    this.channelOpen = true;
    const checkout = await checkOutRepository({
      payload,
      repoDir: path.join(this.dir, 'repo'),
      policy: this.options.repositoryPolicy,
      gitToken: (q) => this.gitToken(q),
      log: (l) => this.log(l),
    });
    this.credentialHelper = checkout.credentialHelper;
    this.throwIfStopping();
    const notice = await profileNotice(payload, this.options.dockerAvailable, (l) => this.log(l));
    await this.channel.ready();
    this.log('ready');
    this.throwIfStopping();
    const session = await this.channel.startSession(payload.agentType);
    this.secrets.push(session.agentToken);
    if (session.agent?.credential) this.secrets.push(session.agent.credential.secretApiKey);
    if (notice) await this.channel.system(`workspace-profile-${this.id}`, 'workspace_profile', notice);
    if (checkout.baseNote) await this.channel.system(`workspace-base-${this.id}`, 'workspace_base', checkout.baseNote);
    // The profile's extra instructions go ahead of the task's first message.
    if (session.agent?.instructions) this.prompts[0] = `${session.agent.instructions}\n\n${this.prompts[0]}`;
    const agent = await this.supervise(session).start();
    this.secrets.push(...agent.secrets);
    this.watch(agent);
    await this.channel.status('ready');
    this.phase = 'idle';
    await this.persist();
    this.log(`${agent.title} started (agent session ${session.agentSessionId})`);
  }

  /** What git asked the helper for: the control plane decides (the task's own repository only). */
  private async gitToken(q: CredentialQuestion) {
    const protocol = q.protocol === 'http' || q.protocol === 'https' ? q.protocol : undefined;
    const answer = await this.channel.call(
      'git token',
      (c, t, signal) => c.gitToken(t, { ...(protocol ? { protocol } : {}), host: q.host, path: q.path }, { signal }),
      60_000,
    );
    if (!this.secrets.includes(answer.token)) this.secrets.push(answer.token);
    return { token: answer.token, ...(answer.username ? { username: answer.username } : {}) };
  }

  /**
   * After a vm-agent restart: the same agent session (start_agent_session resumes it with a fresh
   * token), the agent started again with `session/load`. A turn the restart cut short is reported
   * as a crash of the workspace runner and waits for the user; one cut by a planned stop is
   * continued with {@link CONTINUE_PROMPT}. Loading that fails fails the workspace, honestly.
   */
  private async resumeSession(state: WorkspaceState): Promise<void> {
    const { payload } = this.options;
    this.channelOpen = true;
    await this.channel.open();
    const session = await this.channel.startSession(payload.agentType);
    this.secrets.push(session.agentToken);
    if (session.agent?.credential) this.secrets.push(session.agent.credential.secretApiKey);
    if (session.agentSessionId !== state.agentSessionId) {
      throw new Error(`the control plane started a new agent session instead of resuming ${state.agentSessionId}`);
    }
    this.prompts.splice(0, this.prompts.length, ...state.prompts);
    this.awaitingFollowup = state.awaitingFollowup;
    const supervisor = this.supervise(session);
    this.log(`resuming agent session ${session.agentSessionId} (session/load)`);
    if (state.prompting && !state.suspended) {
      await supervisor.resume(state.acpSessionId!, 'the vm-agent restarted while the agent was working');
      await this.recovered({ kind: 'recovered', report: supervisor.lastReport! });
    } else {
      const agent = await supervisor.load(state.acpSessionId!);
      this.secrets.push(...agent.secrets);
      this.watch(agent);
      if (state.prompting) {
        this.prompts.unshift(CONTINUE_PROMPT);
        await this.channel.system(
          `resumed-${this.id}-${Date.now().toString(36)}`,
          'session_resumed',
          'The machine restarted while the agent was working; its session was loaded again and it was asked to continue.',
        );
      }
      await this.channel.status('ready');
      this.phase = 'idle';
      await this.persist();
    }
  }

  private supervise(session: AgentSessionGrant): AgentSupervisor {
    return (this.supervisor = superviseAgent({
      payload: this.options.payload,
      session,
      workspaceDir: this.dir,
      machineDir: this.options.machineDir,
      agentHome: this.agentHome,
      agentEnv: this.options.agentEnv,
      machineEnv: this.options.machineEnv,
      secrets: () => this.secrets,
      onRecovering: (reason) => this.channel.status('recovering', reason).then(() => {}),
      onProgress: (line) =>
        this.channel.system(`agent-install-${this.id}-${this.installNotes++}`, 'agent_install', line),
      onRecord: (record) => this.record(record),
      askPermission: this.permissions.decide,
      log: (l) => this.log(l),
    }));
  }

  /** Into the outbox; the agent's last run of assistant text becomes the completion summary. */
  private record(record: MessageRecord): Promise<void> {
    if (record.role === 'assistant') {
      this.summary = this.lastRole === 'assistant' ? this.summary + record.content : record.content;
    }
    if (record.role !== 'system') this.lastRole = record.role;
    return this.channel.append(record);
  }

  private throwIfStopping(): void {
    if (this.stopRequest) throw new Error(`stopped: ${this.stopRequest.reason}`);
  }

  /** The next queued prompt; null when the agent or the workspace is to stop. */
  private async nextPrompt(): Promise<string | null> {
    for (;;) {
      if (this.stopRequest || this.agentEnded) return null;
      const child = this.agent!.process.child;
      if (child.exitCode !== null || child.signalCode !== null) {
        // Died between turns: the same recovery as mid-turn.
        await this.recovered(await this.supervisor!.revive());
        continue;
      }
      const text = this.prompts.shift();
      if (text !== undefined) {
        this.awaitingFollowup = false;
        return text;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async turn(text: string): Promise<void> {
    // The budget is asked at the turn boundary: paused, the turn waits for the owner.
    const allowed = await this.budget.beforeTurn(() => Boolean(this.stopRequest || this.agentEnded));
    if (!allowed.go) return;
    await this.channel.status('prompting');
    this.phase = 'prompting';
    await this.persist();
    this.summary = '';
    this.lastRole = '';
    const client = this.agent!.client;
    const endTurn = this.budget.startTurn(allowed.wallMsLeft, () => {
      this.permissions.cancelAll();
      void client.cancel().catch(() => {});
    });
    let outcome: TurnOutcome | undefined;
    try {
      outcome = await this.supervisor!.prompt(text);
    } finally {
      this.permissions.cancelAll();
      const cut = await endTurn(client.lastTurnTokens, outcome?.kind === 'ended' ? outcome.stopReason : undefined);
      // Cut by the time budget: the next turn (after the owner continued) picks the work up again.
      if (cut && !this.stopRequest && !this.agentEnded) this.prompts.unshift(BUDGET_CONTINUE_PROMPT);
    }
    if (outcome.kind === 'recovered') return this.recovered(outcome);
    this.log(`turn ended (${outcome.stopReason})`);
    await this.reportUsage();
    if (this.stopRequest?.suspend) return; // the turn was cut by the suspension: the state says so
    this.phase = 'idle';
    await this.channel.status('ready');
    await this.persist();
  }

  private get agent(): RunningAgent | null {
    return this.supervisor?.agent ?? null;
  }

  /** Wakes the prompt loop when this agent's process dies between turns. */
  private watch(agent: RunningAgent): void {
    void agent.process.exited.then(() => this.agent === agent && this.poke());
  }

  /** After a recovered crash: the control plane hears of it and the task waits for a follow-up. */
  private async recovered(outcome: Awaited<ReturnType<AgentSupervisor['revive']>>): Promise<void> {
    const agent = this.agent!;
    this.secrets.push(...agent.secrets);
    this.watch(agent);
    this.log(`the agent crashed and was recovered (session loaded): ${outcome.report.message}`);
    this.awaitingFollowup = true;
    this.phase = 'idle';
    await this.channel.status('recovered', outcome.report.message);
    await this.persist();
  }

  /** The session's token totals so far, when its agent reported any; a failure is only logged. */
  private async reportUsage(agent: RunningAgent | null = this.agent): Promise<void> {
    if (!agent) return;
    try {
      const usage = await agent.usage();
      if (usage) await this.channel.usage(usage);
    } catch (e) {
      this.log(`could not report usage: ${errorText(e)}`);
    }
  }

  /** Ends the agent process (a running turn is cancelled first). */
  private async stopAgent(): Promise<void> {
    const supervisor = this.supervisor;
    const agent = this.agent;
    if (supervisor) await supervisor.stop(this.stopRequest?.machineStopping ? 2000 : 5000);
    // Once more with the agent gone: what it wrote to its own log after the last turn counts too.
    if (agent && !this.stopRequest?.machineStopping) await this.reportUsage(agent);
  }

  /** Reports the agent session stopped (revoking the agent token); a failure is only logged. */
  private async endSession(reason: string): Promise<void> {
    if (!this.channel.agentSessionId) return;
    await this.channel.status('stopped').then(
      () => this.log(`agent session stopped (${reason})`),
      (e: unknown) => this.log(`could not stop the agent session: ${errorText(e)}`),
    );
  }

  /** Task mode after the last turn: commit and push, deliver every message, report, stop. */
  private async finish(): Promise<void> {
    const { payload } = this.options;
    this.phase = 'finishing';
    await this.stopAgent();
    const gitPushResult = await wrapUpBranch({
      workspaceId: this.id,
      workspaceDir: this.dir,
      payload,
      agentSessionId: this.channel.agentSessionId!,
      policy: this.options.repositoryPolicy,
      credentialHelper: this.credentialHelper,
      scrub: (text) => scrub(text, this.secrets),
      append: (record) => this.channel.append(record),
      log: (l) => this.log(l),
    });
    // Every message (the branch diff included) is stored before the task says it completed, so
    // whoever stops reading at "completed" (the CLI's --follow, a script) has read them all.
    await this.channel.drain();
    const summary = this.summary.trim().slice(0, 10_000);
    const done = await this.channel.complete({ gitPushResult, ...(summary ? { summary } : {}) });
    this.log(`task ${done.status}${done.pullRequestRequested ? ', pull request requested' : ''}`);
    await this.endSession('task finished');
    await this.channel.stopped();
    await this.close('stopped');
  }

  /** A requested stop: end the agent, deliver, report stopped (or failed, when the machine goes mid-task). */
  private async shutdown(stop: Stop): Promise<void> {
    if (stop.suspend) {
      this.phase = 'stopping';
      await this.stopAgent();
      await this.channel.drain();
      this.closed = true;
      this.phase = 'stopped';
      const undelivered = await this.channel.close().catch(() => -1);
      this.log(`suspended; ${undelivered} message(s) wait in the outbox for the next vm-agent`);
      return;
    }
    this.phase = 'stopping';
    await this.stopAgent();
    await this.channel.drain();
    await this.endSession(stop.reason);
    const ignore = (e: unknown) => this.log(`could not report the stop: ${errorText(e)}`);
    if (stop.machineStopping && this.taskMode) {
      await this.channel
        .failed(`the machine's vm-agent stopped (${stop.reason}) before the task finished`)
        .catch(ignore);
      await this.close('failed');
    } else {
      await this.channel.stopped().catch(ignore);
      await this.close('stopped');
    }
  }

  private async fail(error: unknown): Promise<void> {
    // What the user must do (add a key in Settings) is said as the control plane said it.
    const forUser = error instanceof ControlPlaneError && error.code === 'credential_missing' && error.serverMessage;
    const text = forUser ? errorText(forUser, this.secrets) : errorText(error, this.secrets);
    this.phase = 'failed';
    this.log(`failed: ${text}`);
    const ignore = (e: unknown) => this.log(`could not report the failure: ${errorText(e)}`);
    try {
      await this.stopAgent();
      await this.channel.drain(60_000);
      if (this.channel.agentSessionId) await this.channel.sessionFailed(text, FAILURE_REPORT_MS).catch(ignore);
      await this.channel.failed(text, FAILURE_REPORT_MS).catch(ignore);
    } finally {
      await this.close('failed');
    }
  }

  private async close(phase: 'stopped' | 'failed'): Promise<void> {
    this.closed = true;
    await removeWorkspaceState(this.options.machineDir, this.id).catch(() => {});
    await this.supervisor?.stop(1000).catch(() => {});
    await this.credentialHelper?.close().catch(() => {});
    this.credentialHelper = null;
    this.phase = phase;
    const undelivered = await this.channel.close().catch(() => -1);
    await rm(this.agentHome, { recursive: true, force: true }).catch(() => {});
    // Nothing left to deliver: the checkout and agent state go; undelivered records stay on disk.
    if (undelivered === 0) await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    else this.log(`${undelivered} message(s) left undelivered in ${path.join(this.dir, 'outbox')}`);
    this.log(phase);
  }
}
