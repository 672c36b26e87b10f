/**
 * The node's commands: long-polled (with backoff through outages), each dispatched to the node or
 * to its workspace and acknowledged (`ok` + `result`), retrying until the acknowledgement lands.
 * Commands come at least once: each command id is applied once; a repeat (its answer or its
 * acknowledgement was lost) is acknowledged again with the first result, or ignored while the
 * first is still being applied.
 */
import { PermissionAnswerPayload } from '../../functions/_shared/common/contracts/cards.ts';
import type { CreateWorkspacePayload, NodeCommand } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { pause } from '../../functions/_shared/common/pause.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import { type ControlPlaneClient, isUnauthorized } from './control-plane.ts';
import { errorText } from './machine.ts';
import type { NodeIdentity } from './node-identity.ts';
import { retrying } from './retry.ts';
import type { WorkspaceRunner } from './workspace-runner.ts';

type Acknowledgement = { ok: boolean; result: Record<string, unknown> };

/** How many applied command ids are remembered (far more than can be in flight at once). */
const REMEMBERED_COMMANDS = 1000;

export type NodeCommandsOptions = {
  client: ControlPlaneClient;
  identity: NodeIdentity;
  /** Long-poll wait (s); default 25. */
  pollWaitSeconds?: number;
  backoff: BackoffOptions;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  log: (line: string) => void;
  /** The workspaces this machine runs now. */
  workspaces: ReadonlyMap<string, WorkspaceRunner>;
  /** `create_workspace`: starts its runner unless it runs; the status to acknowledge. */
  createWorkspace: (payload: CreateWorkspacePayload) => string;
  /** `shutdown`, once acknowledged. */
  shutdown: () => Promise<void>;
};

export class NodeCommands {
  /** Command ids applied (their acknowledgement) or being applied. */
  private readonly applied = new Map<string, Acknowledgement | 'applying'>();

  constructor(private readonly options: NodeCommandsOptions) {}

  /** Polls until the node stops or its token is lost for good. */
  async poll(): Promise<void> {
    const { client, identity, signal, log } = this.options;
    const wait = this.options.pollWaitSeconds ?? 25;
    let failures = 0;
    while (!signal.aborted) {
      const token = identity.token;
      try {
        const polled = await client.pollCommands(token, wait, { signal });
        if (failures > 0) log('control plane reachable again');
        failures = 0;
        for (const p of polled) {
          if (p.ok) this.dispatch(p.command);
          else if (p.id) void this.ack(p.id, false, { error: `cannot handle a ${p.kind} command: ${p.reason}` });
        }
      } catch (error) {
        if (signal.aborted || (await identity.lost(error, token))) return;
        failures++; // also after a renewal: a token refused again right away is not polled with in a loop
        if (failures === 1 || failures % 10 === 0) log(`polling commands failed: ${errorText(error)}`);
        const delay = Math.max(
          Math.min(15_000, 500 * 2 ** Math.min(failures - 1, 5)),
          (error as { retryAfterMs?: number }).retryAfterMs ?? 0,
        );
        await pause(delay, signal);
      }
    }
  }

  /** Acknowledges a command (remembering the answer for repeats), retrying through outages. */
  private async ack(id: string, ok: boolean, result: Record<string, unknown>): Promise<void> {
    const { client, identity, signal, backoff, log } = this.options;
    this.remember(id, { ok, result });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const token = identity.token;
      try {
        await retrying('ack', (s) => client.ack(token, id, { ok, result }, { signal: s }), { signal, backoff, log });
        return;
      } catch (error) {
        if (signal.aborted || (await identity.lost(error, token))) return;
        if (isUnauthorized(error) && attempt < 3) continue; // renewed: once more with the new token
        // Not acknowledged: the command comes again after its lease and is acknowledged then.
        log(`could not acknowledge command ${id}: ${errorText(error)}`);
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
    const { workspaces, log } = this.options;
    const what = `command ${command.kind} ${command.id}${command.workspaceId ? ` for workspace ${command.workspaceId}` : ''}`;
    const seen = this.applied.get(command.id);
    if (seen) {
      // Delivered again (an answer or an acknowledgement was lost): never applied twice.
      log(`${what} again: already applied${seen === 'applying' ? ' (still applying)' : '; acknowledging again'}`);
      if (seen !== 'applying') void this.ack(command.id, seen.ok, seen.result);
      return;
    }
    this.remember(command.id, 'applying');
    log(what);
    const refuse = (error: string) => void this.ack(command.id, false, { error });
    if (command.kind === 'create_workspace') {
      const status = this.options.createWorkspace(command.payload);
      return void this.ack(command.id, true, { workspaceId: command.payload.workspaceId, status });
    }
    if (command.kind === 'shutdown') {
      void this.ack(command.id, true, { stopping: workspaces.size }).then(() => this.options.shutdown());
      return;
    }
    const runner = command.workspaceId ? workspaces.get(command.workspaceId) : undefined;
    // Stopping a workspace this machine does not run (its create never came, or it already ended)
    // is done: the control plane then knows it is stopped (ack_node_command).
    if (!runner && command.kind === 'stop_workspace') return void this.ack(command.id, true, { running: false });
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
}
