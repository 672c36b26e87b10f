/**
 * What the orchestrator needs from a cloud: create a machine that boots the vm-agent with its
 * user data, delete it, list SAM's machines by label. Implementations are pure `fetch` (no SDKs)
 * so the same file runs under Deno (the edge function) and Node (tests).
 *
 * Every machine SAM creates carries the labels `sam=node`, `sam-node-id=<node id>` and
 * `sam-installation=<installation id>` ({@link machineLabels}): the positive proof the orphan sweep
 * needs before it deletes a machine that has no node, and that it is this installation's (two
 * installations may share a cloud account).
 */
import type { Labels, MachineStatus, MachineUserData } from '../common/contracts/local-machines.ts';

export type { Labels, MachineStatus, MachineUserData };

export type VmSize = 'small' | 'medium' | 'large';

/** The label naming the SAM installation (its database: `sam_installation_id()`) that made a machine. */
export const INSTALLATION_LABEL = 'sam-installation';

/** The labels of one node's machines. */
export function nodeLabels(nodeId: string): Labels {
  return { sam: 'node', 'sam-node-id': nodeId };
}

/** The labels of every machine one installation made. */
export function installationLabels(installationId: string): Labels {
  return { sam: 'node', [INSTALLATION_LABEL]: installationId };
}

/** The labels every SAM machine is created with. */
export function machineLabels(installationId: string, nodeId: string): Labels {
  return { ...nodeLabels(nodeId), ...installationLabels(installationId) };
}

export interface CreateMachineInput {
  nodeId: string;
  /** A DNS-safe name (letters, digits, dashes; ≤ 63). */
  name: string;
  vmSize: VmSize;
  /** At least {@link machineLabels}; the provider sets them on the machine. */
  labels: Labels;
  /** What the machine's vm-agent reads at boot (cloud-init; locally bootstrap.json). */
  userData: MachineUserData;
}

export interface CreatedMachine {
  providerInstanceId: string;
  ipAddress?: string;
}

export interface ProviderMachine {
  providerInstanceId: string;
  name: string;
  labels: Labels;
  status: MachineStatus | string;
  ipAddress?: string;
  /** When the provider created it (ISO 8601); without it a machine is never old enough to be an orphan. */
  createdAt?: string;
}

export interface Provider {
  readonly name: string;
  /**
   * A retried create finds the machine an earlier attempt made (by its name and node label) and
   * answers with it instead of making a second one. Providers that cannot (local) have the
   * orchestrator delete such a machine before trying again.
   */
  readonly adoptsRetriedCreate?: boolean;
  createMachine(input: CreateMachineInput): Promise<CreatedMachine>;
  /** Idempotent: a machine that is already gone counts as deleted. */
  deleteMachine(providerInstanceId: string): Promise<void>;
  /** SAM's machines carrying every one of `labels`. */
  listMachines(labels: Labels): Promise<ProviderMachine[]>;
}

/** What a cloud said about a failure, beyond the words. */
export interface ProviderErrorDetails {
  /** How long the API asked us to wait before trying again (rate limit reset, Retry-After). */
  retryAfterMs?: number;
  /** The API's error code (`resource_limit_exceeded`, `quotas_exceeded`, …). */
  code?: string;
  /** The HTTP status, when there was an answer. */
  status?: number;
}

/**
 * A provider could not do what was asked. The message is safe to store and show (no tokens, no
 * request bodies); `retryable` is false when trying again cannot help (not configured, refused,
 * quota reached, invalid input): such a job should fail at once. `retryAfterMs` is the wait the API
 * gave, when it gave one.
 */
export class ProviderError extends Error {
  readonly retryAfterMs?: number;
  readonly code?: string;
  readonly status?: number;

  constructor(
    readonly provider: string,
    message: string,
    readonly retryable = true,
    details: ProviderErrorDetails = {},
  ) {
    super(message);
    this.name = 'ProviderError';
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.code !== undefined) this.code = details.code;
    if (details.status !== undefined) this.status = details.status;
  }

  /** Trying again cannot help. */
  get permanent(): boolean {
    return !this.retryable;
  }
}

/** A cloud provider also answers what became of one machine (null: it is gone). */
export interface CloudProvider extends Provider {
  getMachine(providerInstanceId: string): Promise<ProviderMachine | null>;
  /** One cheap read with the credential: resolves when the cloud accepts it (to check a credential on save). */
  verifyCredential(): Promise<void>;
}

/** A machine name from a node id: `sam-<first 12 hex>` (unique enough per account, DNS-safe). */
export function machineName(nodeId: string): string {
  return `sam-${nodeId.replace(/-/g, '').slice(0, 12)}`;
}
