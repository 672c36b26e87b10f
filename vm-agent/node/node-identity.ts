/**
 * The node's identity: its id and node token, held in memory and kept on disk (machine-state.ts)
 * for a restarted vm-agent. A token refused with 401 (it lapsed during an outage) is renewed once
 * for every call that saw it refused; one the server will not renew (revoked: the node was
 * destroyed, or expired beyond the grace) is lost for good and the node stops.
 */
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
import { type ControlPlaneClient, isUnauthorized } from './control-plane.ts';
import { errorText } from './machine.ts';
import { writeNodeState } from './machine-state.ts';
import { retrying } from './retry.ts';

export type NodeIdentityOptions = {
  client: ControlPlaneClient;
  machineDir: string;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  backoff: BackoffOptions;
  log: (line: string) => void;
  /** The node token is gone for good: the node stops with this reason. */
  onLost: (reason: 'token_revoked' | 'unauthorized') => void;
};

export class NodeIdentity {
  nodeId: string | null = null;
  /** The node token in use (replaced whenever a heartbeat re-signs it or it is renewed). */
  token = '';
  private renewing: Promise<boolean> | null = null;

  constructor(private readonly options: NodeIdentityOptions) {}

  /** The node token on disk (0600), for a restarted vm-agent. */
  async keep(): Promise<void> {
    if (!this.nodeId) return;
    await writeNodeState(this.options.machineDir, { nodeId: this.nodeId, nodeToken: this.token }).catch((e: unknown) =>
      this.options.log(`could not keep the node token: ${errorText(e)}`),
    );
  }

  /**
   * After a node call failed: false to go on (not a 401, or the token was renewed), true when the
   * node token is gone for good (then the agent stops).
   */
  async lost(error: unknown, usedToken: string): Promise<boolean> {
    if (!isUnauthorized(error)) return false;
    if (this.token !== usedToken) return false; // renewed meanwhile
    if (error.code !== 'missing_token' && error.code !== 'invalid_token') {
      this.options.log(`the node token was refused (${error.code ?? 'unauthorized'}); renewing it`);
      this.renewing ??= this.renew(usedToken).finally(() => (this.renewing = null));
      if (await this.renewing) return false;
    }
    this.options.log(`the node token was refused for good (${error.code ?? 'unauthorized'})`);
    this.options.onLost(error.code === 'token_revoked' ? 'token_revoked' : 'unauthorized');
    return true;
  }

  /** Renews the node token (through outages); false when the server refuses (revoked, too old). */
  private async renew(token: string): Promise<boolean> {
    const { client, signal, backoff, log } = this.options;
    try {
      const renewed = await retrying('renew the node token', (s) => client.renewNodeToken(token, { signal: s }), {
        signal,
        backoff,
        log,
      });
      this.token = renewed.nodeToken;
      log(`node token renewed (until ${renewed.expiresAt})`);
      await this.keep();
      return true;
    } catch (error) {
      if (isUnauthorized(error)) {
        log(`renewing the node token was refused (${error.code ?? 'unauthorized'})`);
        // Stop with the renewal's reason (revoked stays revoked).
        if (error.code === 'token_revoked') this.options.onLost('token_revoked');
      }
      return false;
    }
  }
}
