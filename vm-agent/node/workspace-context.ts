/**
 * What the parts of one workspace's run share (workspace-runner.ts holds it privately and hands it
 * to workspace-start.ts, workspace-resume.ts, workspace-turns.ts and workspace-end.ts): its
 * directory, channel, secrets, prompt queue, phase and stop request, the agent's supervisor, and
 * the state a restarted vm-agent resumes from, kept on disk as it changes.
 */
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type { GitCredentialHelper } from '../git/credential-server.ts';
import type { RepositoryPolicy } from '../git/policy.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import type { RunningAgent } from './agent-session.ts';
import type { AgentSupervisor } from './agent-supervisor.ts';
import type { ControlPlaneClient } from './control-plane.ts';
import { errorText, scrub } from './machine.ts';
import { writeWorkspaceState, type WorkspaceState } from './machine-state.ts';
import { PermissionBroker } from './permission-broker.ts';
import { TurnBudget } from './turn-budget.ts';
import { WorkspaceChannel } from './workspace-channel.ts';
import type { WorkspacePhase } from './workspace-phases.ts';

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

/** `suspend`: the vm-agent stops to start again (SIGTERM): state kept, nothing reported. */
export type Stop = { reason: string; machineStopping: boolean; suspend?: boolean };

export class WorkspaceContext {
  readonly id: string;
  phase: WorkspacePhase = 'preparing';
  readonly prompts: string[];
  stopRequest: Stop | null = null;
  agentEnded = false;
  /** [current workspace token, previous one, …the agent's secrets] */
  readonly secrets: string[];
  readonly channel: WorkspaceChannel;
  channelOpen = false;
  supervisor: AgentSupervisor | null = null;
  /** Ended: nothing more is kept for a restart. */
  closed = false;
  /** A crash was recovered: task mode waits for the user's follow-up instead of finishing. */
  awaitingFollowup = false;
  /** The agent's last run of assistant text in the current turn: the completion summary. */
  summary = '';
  lastRole = '';
  readonly dir: string;
  /** The agent's own HOME for this session: below the machine's HOME, so the host's sweep by HOME finds its processes. */
  readonly agentHome: string;
  installNotes = 0;
  /** Permission mode `ask`: requests wait for the user's answer (a `permission_answer` command). */
  readonly permissions: PermissionBroker;
  /** The task's budget, checked at every turn boundary. */
  readonly budget: TurnBudget;
  /** git's credential helper for a GitHub repository (tokens from the control plane's git-token). */
  credentialHelper: GitCredentialHelper | null = null;
  private wake: (() => void) | null = null;

  constructor(readonly options: WorkspaceRunnerOptions) {
    this.id = options.payload.workspaceId;
    this.prompts = [options.payload.initialPrompt];
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

  get taskMode(): boolean {
    return this.options.payload.taskMode === 'task';
  }

  get agent(): RunningAgent | null {
    return this.supervisor?.agent ?? null;
  }

  log(line: string): void {
    this.options.log(`workspace ${this.id.slice(0, 8)}: ${scrub(line, this.secrets)}`);
  }

  /** Wakes whatever waits in {@link nextPoke} (the prompt loop, a stopped agent's wait for stop). */
  poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
    this.budget.poke();
  }

  /** Resolves at the next {@link poke}. */
  nextPoke(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  throwIfStopping(): void {
    if (this.stopRequest) throw new Error(`stopped: ${this.stopRequest.reason}`);
  }

  /** Wakes the prompt loop when this agent's process dies between turns. */
  watch(agent: RunningAgent): void {
    void agent.process.exited.then(() => this.agent === agent && this.poke());
  }

  /** Into the outbox; the agent's last run of assistant text becomes the completion summary. */
  record(record: MessageRecord): Promise<void> {
    if (record.role === 'assistant') {
      this.summary = this.lastRole === 'assistant' ? this.summary + record.content : record.content;
    }
    if (record.role !== 'system') this.lastRole = record.role;
    return this.channel.append(record);
  }

  /**
   * Writes what a restarted vm-agent needs to resume this workspace (0600). Only once its agent
   * runs; before that a restart prepares the workspace again.
   */
  async persist(extra: Partial<WorkspaceState> = {}): Promise<void> {
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
}
