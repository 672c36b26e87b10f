/**
 * The node's heartbeat: every interval (or at once when asked: a resumed node, a refused
 * workspace token) the active workspaces and the machine's metrics go to the control plane; the
 * answer's re-signed node token is kept, its fresh workspace tokens go to their workspaces, and
 * the workspaces it names as ended stop.
 */
import type { HeartbeatResponse } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { pause } from '../../functions/_shared/common/pause.ts';
import { type ControlPlaneClient, isUnauthorized } from './control-plane.ts';
import { errorText, machineMetrics } from './machine.ts';
import type { NodeIdentity } from './node-identity.ts';
import type { WorkspaceRunner } from './workspace-runner.ts';
import { isActivePhase } from './workspace-phases.ts';

export type HeartbeatOptions = {
  client: ControlPlaneClient;
  identity: NodeIdentity;
  machineDir: string;
  agentVersion: string;
  /** The workspaces this machine runs now. */
  workspaces: ReadonlyMap<string, WorkspaceRunner>;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  log: (line: string) => void;
};

export class Heartbeat {
  /** Aborted to heartbeat at once. */
  private beatNow = new AbortController();

  constructor(private readonly options: HeartbeatOptions) {}

  /** The next beat goes now instead of at the end of the interval. */
  now(): void {
    this.beatNow.abort();
  }

  /** Beats until the node stops or its token is lost for good. */
  async run(intervalMs: number): Promise<void> {
    const { client, identity, signal, log } = this.options;
    let wait = intervalMs;
    while (!signal.aborted) {
      await pause(wait, AbortSignal.any([signal, this.beatNow.signal]));
      if (signal.aborted) return;
      if (this.beatNow.signal.aborted) this.beatNow = new AbortController();
      const token = identity.token;
      try {
        const active = [...this.options.workspaces.values()].filter((r) => isActivePhase(r.phase));
        const beat = await client.heartbeat(
          token,
          {
            agentVersion: this.options.agentVersion,
            metrics: await machineMetrics(this.options.machineDir),
            activeWorkspaces: active.map((r) => r.id).slice(0, 100),
          },
          { signal },
        );
        if (beat.nodeToken && beat.nodeToken !== identity.token) {
          identity.token = beat.nodeToken;
          await identity.keep();
        }
        this.applyWorkspaceTokens(beat);
        wait = intervalMs;
      } catch (error) {
        if (signal.aborted || (await identity.lost(error, token))) return;
        log(`heartbeat failed: ${errorText(error)}`);
        wait = Math.min(intervalMs, isUnauthorized(error) ? 1000 : 10_000); // renewed: beat again soon
      }
    }
  }

  /** Fresh workspace tokens to their workspaces; workspaces that ended on the control plane stop. */
  private applyWorkspaceTokens(beat: HeartbeatResponse): void {
    const { workspaces } = this.options;
    for (const t of beat.workspaceTokens ?? []) workspaces.get(t.workspaceId)?.setWorkspaceToken(t.workspaceToken);
    for (const id of beat.endedWorkspaces ?? []) {
      const runner = workspaces.get(id);
      if (!runner || !isActivePhase(runner.phase)) continue;
      this.options.log(`workspace ${id} ended on the control plane; stopping it`);
      void runner.stop('the workspace ended on the control plane', true);
    }
  }
}
