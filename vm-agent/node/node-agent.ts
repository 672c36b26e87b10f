/**
 * The vm-agent's main loop on one machine: register with the one-time bootstrap token (the node
 * token then lives only in memory, replaced whenever a heartbeat re-signs it), heartbeat, long-poll
 * commands and acknowledge each, run one {@link WorkspaceRunner} per workspace. Outages of the
 * control plane are ridden out with backoff.
 *
 * This file owns registration (or resuming as the node an earlier vm-agent here was), the
 * workspaces' runners and stopping; its parts: the node token and its renewal in node-identity.ts,
 * the heartbeat in node-heartbeat.ts, the commands (polled, applied once, acknowledged) in
 * node-commands.ts.
 *
 * - A node token the server will not renew (revoked: the node was destroyed), a `shutdown` command
 *   or `stop()` (SIGTERM) stop every workspace gracefully and resolve `stopped`.
 */
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type { RepositoryPolicy } from '../git/policy.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import { ControlPlaneClient } from './control-plane.ts';
import { dockerAvailable, primaryIpAddress } from './machine.ts';
import { readWorkspaceStates, type NodeState, type WorkspaceState } from './machine-state.ts';
import { NodeCommands } from './node-commands.ts';
import { Heartbeat } from './node-heartbeat.ts';
import { NodeIdentity } from './node-identity.ts';
import { retrying } from './retry.ts';
import { WorkspaceRunner } from './workspace-runner.ts';

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
  readonly stopped: Promise<StopReason>;
  private readonly identity: NodeIdentity;
  private readonly heartbeat: Heartbeat;
  private readonly commands: NodeCommands;
  private readonly runners = new Map<string, WorkspaceRunner>();
  private readonly abort = new AbortController();
  private resolveStopped!: (reason: StopReason) => void;
  private stopping: Promise<void> | null = null;
  private readonly log: (line: string) => void;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: NodeAgentOptions) {
    this.client = new ControlPlaneClient({ baseUrl: options.controlPlaneUrl, fetch: options.fetch });
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.log = options.log ?? ((line) => console.log(`vm-agent: ${line}`));
    this.backoff = options.backoff ?? { initialMs: 500, maxMs: 10_000 };
    const shared = { client: this.client, signal: this.abort.signal, log: this.log };
    this.identity = new NodeIdentity({
      ...shared,
      machineDir: options.machineDir,
      backoff: this.backoff,
      onLost: (reason) => void this.stop(reason),
    });
    this.heartbeat = new Heartbeat({
      ...shared,
      identity: this.identity,
      machineDir: options.machineDir,
      agentVersion: options.agentVersion,
      workspaces: this.runners,
    });
    this.commands = new NodeCommands({
      ...shared,
      identity: this.identity,
      pollWaitSeconds: options.pollWaitSeconds,
      backoff: this.backoff,
      workspaces: this.runners,
      createWorkspace: (payload) => this.createWorkspace(payload),
      shutdown: () => this.stop('shutdown'),
    });
  }

  /** This machine's node id, once registered (or resumed). */
  get nodeId(): string | null {
    return this.identity.nodeId;
  }

  /** Workspaces this machine runs now. */
  get workspaces(): ReadonlyMap<string, WorkspaceRunner> {
    return this.runners;
  }

  /** Registers (retrying while the control plane is unreachable), then runs the loops. */
  async start(): Promise<void> {
    const o = this.options;
    if (o.resume) {
      this.identity.nodeId = o.resume.nodeId;
      this.identity.token = o.resume.nodeToken;
      this.log(`resuming as node ${o.resume.nodeId}`);
      await this.resumeWorkspaces();
      // A resumed node beats at once (fresh workspace tokens, or a renewal), then on its interval.
      this.heartbeat.now();
      this.runLoops(o.heartbeatIntervalMs ?? 60_000);
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
    this.identity.nodeId = registered.nodeId;
    this.identity.token = registered.nodeToken;
    this.log(`registered as node ${registered.nodeId}`);
    await this.identity.keep();
    await o.onRegistered?.(registered.nodeId);
    this.runLoops(o.heartbeatIntervalMs ?? registered.heartbeatIntervalSeconds * 1000);
  }

  private runLoops(heartbeatIntervalMs: number): void {
    void this.heartbeat.run(heartbeatIntervalMs);
    void this.commands.poll();
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

  /** A `create_workspace` command: its runner started once; the status to acknowledge. */
  private createWorkspace(payload: CreateWorkspacePayload): string {
    const existing = this.runners.get(payload.workspaceId);
    if (existing) return existing.phase;
    this.startRunner(payload);
    return 'creating';
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
      onCredentialRefused: () => this.heartbeat.now(),
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
