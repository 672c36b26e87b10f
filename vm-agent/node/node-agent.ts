/**
 * The vm-agent's main loop on one machine: register with the one-time bootstrap token (the node
 * token then lives only in memory, replaced whenever a heartbeat re-signs it), heartbeat, long-poll
 * commands and acknowledge each, run one {@link WorkspaceRunner} per workspace. Outages of the
 * control plane are ridden out with backoff.
 *
 * - Commands come at least once: each command id is applied once; a repeat (its answer or its
 *   acknowledgement was lost) is acknowledged again with the first result, or ignored while the
 *   first is still being applied.
 * - Tokens: a node token refused with 401 (it lapsed during an outage) is renewed; the heartbeat
 *   brings fresh workspace tokens to the workspaces, and names those that ended (they stop).
 * - A node token the server will not renew (revoked: the node was destroyed), a `shutdown` command
 *   or `stop()` (SIGTERM) stop every workspace gracefully and resolve `stopped`.
 */
import type {
  CreateWorkspacePayload,
  HeartbeatResponse,
  NodeCommand,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { PermissionAnswerPayload } from '../../functions/_shared/common/contracts/cards.ts';
import type { RepositoryPolicy } from '../git/policy.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import { ControlPlaneClient, isUnauthorized } from './control-plane.ts';
import { dockerAvailable, errorText, machineMetrics, primaryIpAddress } from './machine.ts';
import { pause } from '../../functions/_shared/common/pause.ts';
import { retrying } from './retry.ts';
import { WorkspaceRunner } from './workspace-runner.ts';
import { readWorkspaceStates, writeNodeState, type NodeState, type WorkspaceState } from './machine-state.ts';
import { isActivePhase } from './workspace-phases.ts';

type Acknowledgement = { ok: boolean; result: Record<string, unknown> };

/** How many applied command ids are remembered (far more than can be in flight at once). */
const REMEMBERED_COMMANDS = 1000;

export type StopReason = 'token_revoked' | 'unauthorized' | 'shutdown' | 'signal' | 'stopped';

export type NodeAgentOptions = {
  machineDir: string;
  controlPlaneUrl: string;
  bootstrapToken: string;
  agentVersion: string;
  /** The machine's agent settings, passed to every agent (bootstrap.json `agentEnv`). */
  agentEnv?: Record<string, string>;
  /** The vm-agent's own environment (PATH for agents and git; agent credentials). */
  machineEnv?: NodeJS.ProcessEnv;
  /** Which repositories may be cloned (bootstrap.json `git`); default https only. */
  repositoryPolicy?: RepositoryPolicy;
  fetch?: typeof fetch;
  log?: (line: string) => void;
  /** Long-poll wait (s); default 25. */
  pollWaitSeconds?: number;
  /** Overrides the interval the control plane asks for. */
  heartbeatIntervalMs?: number;
  backoff?: BackoffOptions;
  outboxFlushDelayMs?: number;
  stopGraceMs?: number;
  dockerAvailable?: () => Promise<boolean>;
  /** Called once registration succeeded (bin: drop the used bootstrap token from bootstrap.json). */
  onRegistered?: (nodeId: string) => Promise<void> | void;
  /**
   * The identity an earlier vm-agent on this machine kept (machine-state.ts): no registration; the
   * workspaces it ran are resumed. Without it the node token is kept there once registered.
   */
  resume?: NodeState;
};

export class NodeAgent {
  readonly client: ControlPlaneClient;
  nodeId: string | null = null;
  readonly stopped: Promise<StopReason>;
  private nodeToken = '';
  private readonly runners = new Map<string, WorkspaceRunner>();
  private readonly abort = new AbortController();
  private resolveStopped!: (reason: StopReason) => void;
  /** Command ids applied (their acknowledgement) or being applied. */
  private readonly applied = new Map<string, Acknowledgement | 'applying'>();
  private renewing: Promise<boolean> | null = null;
  /** Aborted to heartbeat at once (a workspace token was refused). */
  private beatNow = new AbortController();
  private stopping: Promise<void> | null = null;
  private readonly log: (line: string) => void;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: NodeAgentOptions) {
    this.client = new ControlPlaneClient({ baseUrl: options.controlPlaneUrl, fetch: options.fetch });
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.log = options.log ?? ((line) => console.log(`vm-agent: ${line}`));
    this.backoff = options.backoff ?? { initialMs: 500, maxMs: 10_000 };
  }

  /** Workspaces this machine runs now. */
  get workspaces(): ReadonlyMap<string, WorkspaceRunner> {
    return this.runners;
  }

  /** Registers (retrying while the control plane is unreachable), then runs the loops. */
  async start(): Promise<void> {
    const o = this.options;
    if (o.resume) {
      this.nodeId = o.resume.nodeId;
      this.nodeToken = o.resume.nodeToken;
      this.log(`resuming as node ${o.resume.nodeId}`);
      await this.resumeWorkspaces();
      const interval = o.heartbeatIntervalMs ?? 60_000;
      this.heartbeatNow(interval);
      return;
    }
    const ipAddress = primaryIpAddress();
    const registering = retrying(
      'register',
      (signal) =>
        this.client.register(
          {
            bootstrapToken: o.bootstrapToken,
            agentVersion: o.agentVersion,
            ...(ipAddress ? { ipAddress } : {}),
          },
          { signal },
        ),
      { signal: this.abort.signal, deadlineMs: 15 * 60_000, backoff: this.backoff, log: this.log },
    );
    const registered = await registering.catch((error: unknown) => {
      if (this.abort.signal.aborted) return null; // stopped before registering: `stopped` resolves
      throw error;
    });
    if (!registered) return;
    this.nodeId = registered.nodeId;
    this.nodeToken = registered.nodeToken;
    this.log(`registered as node ${registered.nodeId}`);
    await this.keepIdentity();
    await o.onRegistered?.(registered.nodeId);
    const interval = o.heartbeatIntervalMs ?? registered.heartbeatIntervalSeconds * 1000;
    void this.heartbeatLoop(interval);
    void this.pollLoop();
  }

  /** A resumed node beats at once (fresh workspace tokens, or a renewal), then on its interval. */
  private heartbeatNow(intervalMs: number): void {
    this.beatNow.abort();
    void this.heartbeatLoop(intervalMs);
    void this.pollLoop();
  }

  /** The node token on disk (0600), for a restarted vm-agent. */
  private async keepIdentity(): Promise<void> {
    if (!this.nodeId) return;
    await writeNodeState(this.options.machineDir, { nodeId: this.nodeId, nodeToken: this.nodeToken }).catch(
      (e: unknown) => this.log(`could not keep the node token: ${errorText(e)}`),
    );
  }

  /** The workspaces an earlier vm-agent here was running, each resumed from its state. */
  private async resumeWorkspaces(): Promise<void> {
    for (const state of await readWorkspaceStates(this.options.machineDir)) {
      this.log(`resuming workspace ${state.payload.workspaceId}`);
      this.startRunner(state.payload, state);
    }
  }

  /** Stops every workspace gracefully, then resolves `stopped` with `reason`. */
  stop(reason: StopReason = 'stopped'): Promise<void> {
    this.stopping ??= (async () => {
      this.log(`stopping (${reason}); ${this.runners.size} workspace(s) to stop`);
      this.abort.abort();
      // A signal (the machine's service restarting, the host stopping) suspends: the next vm-agent
      // resumes. Anything else ends the workspaces for good.
      await Promise.all(
        [...this.runners.values()].map((r) =>
          (reason === 'signal' ? r.suspend(reason) : r.stop(reason, true)).catch(() => {}),
        ),
      );
      this.log(`stopped (${reason})`);
      this.resolveStopped(reason);
    })();
    return this.stopping;
  }

  /**
   * After a node call failed: false to go on (not a 401, or the token was renewed), true when the
   * node token is gone for good (then the agent stops).
   */
  private async lostIdentity(error: unknown, usedToken: string): Promise<boolean> {
    if (!isUnauthorized(error)) return false;
    if (this.nodeToken !== usedToken) return false; // renewed meanwhile
    if (error.code !== 'missing_token' && error.code !== 'invalid_token') {
      this.log(`the node token was refused (${error.code ?? 'unauthorized'}); renewing it`);
      this.renewing ??= this.renew(usedToken).finally(() => (this.renewing = null));
      if (await this.renewing) return false;
    }
    this.log(`the node token was refused for good (${error.code ?? 'unauthorized'})`);
    void this.stop(error.code === 'token_revoked' ? 'token_revoked' : 'unauthorized');
    return true;
  }

  /** Renews the node token (through outages); false when the server refuses (revoked, too old). */
  private async renew(token: string): Promise<boolean> {
    try {
      const renewed = await retrying(
        'renew the node token',
        (signal) => this.client.renewNodeToken(token, { signal }),
        {
          signal: this.abort.signal,
          backoff: this.backoff,
          log: this.log,
        },
      );
      this.nodeToken = renewed.nodeToken;
      this.log(`node token renewed (until ${renewed.expiresAt})`);
      await this.keepIdentity();
      return true;
    } catch (error) {
      if (isUnauthorized(error)) {
        this.log(`renewing the node token was refused (${error.code ?? 'unauthorized'})`);
        // Stop with the renewal's reason (revoked stays revoked).
        if (error.code === 'token_revoked') void this.stop('token_revoked');
      }
      return false;
    }
  }

  private async heartbeatLoop(intervalMs: number): Promise<void> {
    let wait = intervalMs;
    while (!this.abort.signal.aborted) {
      await pause(wait, AbortSignal.any([this.abort.signal, this.beatNow.signal]));
      if (this.abort.signal.aborted) return;
      if (this.beatNow.signal.aborted) this.beatNow = new AbortController();
      const token = this.nodeToken;
      try {
        const active = [...this.runners.values()].filter((r) => isActivePhase(r.phase));
        const beat = await this.client.heartbeat(
          token,
          {
            agentVersion: this.options.agentVersion,
            metrics: await machineMetrics(this.options.machineDir),
            activeWorkspaces: active.map((r) => r.id).slice(0, 100),
          },
          { signal: this.abort.signal },
        );
        if (beat.nodeToken && beat.nodeToken !== this.nodeToken) {
          this.nodeToken = beat.nodeToken;
          await this.keepIdentity();
        }
        this.applyWorkspaceTokens(beat);
        wait = intervalMs;
      } catch (error) {
        if (this.abort.signal.aborted || (await this.lostIdentity(error, token))) return;
        this.log(`heartbeat failed: ${errorText(error)}`);
        wait = Math.min(intervalMs, isUnauthorized(error) ? 1000 : 10_000); // renewed: beat again soon
      }
    }
  }

  /** Fresh workspace tokens to their workspaces; workspaces that ended on the control plane stop. */
  private applyWorkspaceTokens(beat: HeartbeatResponse): void {
    for (const t of beat.workspaceTokens ?? []) this.runners.get(t.workspaceId)?.setWorkspaceToken(t.workspaceToken);
    for (const id of beat.endedWorkspaces ?? []) {
      const runner = this.runners.get(id);
      if (!runner || !isActivePhase(runner.phase)) continue;
      this.log(`workspace ${id} ended on the control plane; stopping it`);
      void runner.stop('the workspace ended on the control plane', true);
    }
  }

  private async pollLoop(): Promise<void> {
    const wait = this.options.pollWaitSeconds ?? 25;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const token = this.nodeToken;
      try {
        const polled = await this.client.pollCommands(token, wait, { signal: this.abort.signal });
        if (failures > 0) this.log('control plane reachable again');
        failures = 0;
        for (const p of polled) {
          if (p.ok) this.dispatch(p.command);
          else if (p.id) void this.ack(p.id, false, { error: `cannot handle a ${p.kind} command: ${p.reason}` });
        }
      } catch (error) {
        if (this.abort.signal.aborted || (await this.lostIdentity(error, token))) return;
        failures++; // also after a renewal: a token refused again right away is not polled with in a loop
        if (failures === 1 || failures % 10 === 0) this.log(`polling commands failed: ${errorText(error)}`);
        const delay = Math.max(
          Math.min(15_000, 500 * 2 ** Math.min(failures - 1, 5)),
          (error as { retryAfterMs?: number }).retryAfterMs ?? 0,
        );
        await pause(delay, this.abort.signal);
      }
    }
  }

  /** Acknowledges a command (remembering the answer for repeats), retrying through outages. */
  private async ack(id: string, ok: boolean, result: Record<string, unknown>): Promise<void> {
    this.remember(id, { ok, result });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const token = this.nodeToken;
      try {
        await retrying('ack', (signal) => this.client.ack(token, id, { ok, result }, { signal }), {
          signal: this.abort.signal,
          backoff: this.backoff,
          log: this.log,
        });
        return;
      } catch (error) {
        if (this.abort.signal.aborted || (await this.lostIdentity(error, token))) return;
        if (isUnauthorized(error) && attempt < 3) continue; // renewed: once more with the new token
        // Not acknowledged: the command comes again after its lease and is acknowledged then.
        this.log(`could not acknowledge command ${id}: ${errorText(error)}`);
        return;
      }
    }
  }

  private remember(id: string, state: Acknowledgement | 'applying'): void {
    this.applied.delete(id);
    this.applied.set(id, state);
    while (this.applied.size > REMEMBERED_COMMANDS) this.applied.delete(this.applied.keys().next().value!);
  }

  private dispatch(command: NodeCommand): void {
    const what = `command ${command.kind} ${command.id}${command.workspaceId ? ` for workspace ${command.workspaceId}` : ''}`;
    const seen = this.applied.get(command.id);
    if (seen) {
      // Delivered again (an answer or an acknowledgement was lost): never applied twice.
      this.log(`${what} again: already applied${seen === 'applying' ? ' (still applying)' : '; acknowledging again'}`);
      if (seen !== 'applying') void this.ack(command.id, seen.ok, seen.result);
      return;
    }
    this.remember(command.id, 'applying');
    this.log(what);
    const refuse = (error: string) => void this.ack(command.id, false, { error });
    if (command.kind === 'create_workspace') return void this.createWorkspace(command.id, command.payload);
    if (command.kind === 'shutdown') {
      void this.ack(command.id, true, { stopping: this.runners.size }).then(() => this.stop('shutdown'));
      return;
    }
    const runner = command.workspaceId ? this.runners.get(command.workspaceId) : undefined;
    if (!runner) return refuse(`workspace ${command.workspaceId ?? '(none)'} is not running on this machine`);
    switch (command.kind) {
      case 'stop_workspace':
        void runner.stop('stop requested').then(() => this.ack(command.id, true, { phase: runner.phase }));
        return;
      case 'prompt': {
        const content = command.payload.content;
        if (typeof content !== 'string' || content === '') return refuse('a prompt carries its content');
        if (!runner.prompt(content)) return refuse(`the workspace takes no prompts (${runner.phase})`);
        return void this.ack(command.id, true, { queued: true });
      }
      case 'cancel_prompt':
        void runner.cancelPrompt().then((cancelled) => this.ack(command.id, true, { cancelled }));
        return;
      case 'stop_agent':
        if (!runner.endAgent()) return refuse(`the agent is not running (${runner.phase})`);
        return void this.ack(command.id, true, { stopping: true });
      case 'permission_answer': {
        const answer = PermissionAnswerPayload.safeParse(command.payload);
        if (!answer.success) return refuse('a permission answer names its request and decision');
        const applied = runner.answerPermission(answer.data.requestId, answer.data.decision);
        return void this.ack(command.id, true, { applied });
      }
      case 'resume_agent':
        return void this.ack(command.id, true, { resumed: runner.resume() });
      default:
        return refuse(`${command.kind} is not supported by this vm-agent (agents start with their workspace)`);
    }
  }

  private createWorkspace(commandId: string, payload: CreateWorkspacePayload): void {
    const existing = this.runners.get(payload.workspaceId);
    if (existing) {
      void this.ack(commandId, true, { workspaceId: payload.workspaceId, status: existing.phase });
      return;
    }
    this.startRunner(payload);
    void this.ack(commandId, true, { workspaceId: payload.workspaceId, status: 'creating' });
  }

  private startRunner(payload: CreateWorkspacePayload, resume?: WorkspaceState): void {
    const runner = new WorkspaceRunner({
      resume,
      payload,
      client: this.client,
      machineDir: this.options.machineDir,
      agentEnv: this.options.agentEnv ?? {},
      machineEnv: this.options.machineEnv ?? process.env,
      repositoryPolicy: this.options.repositoryPolicy,
      dockerAvailable: this.options.dockerAvailable ?? (() => dockerAvailable(this.options.machineEnv)),
      log: this.log,
      backoff: this.backoff,
      outboxFlushDelayMs: this.options.outboxFlushDelayMs,
      stopGraceMs: this.options.stopGraceMs,
      onCredentialRefused: () => this.beatNow.abort(),
    });
    this.runners.set(runner.id, runner);
    this.log(
      `workspace ${runner.id} for task ${payload.taskId} (${payload.taskMode} mode, agent ${payload.agentType})`,
    );
    void runner.start().done.finally(() => {
      if (this.runners.get(runner.id) === runner) this.runners.delete(runner.id);
    });
  }
}
