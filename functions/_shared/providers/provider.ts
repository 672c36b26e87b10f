/**
 * What the orchestrator needs from a cloud: create a machine that boots the vm-agent with its
 * user data, delete it, list SAM's machines by label. Implementations are pure `fetch` (no SDKs)
 * so the same file runs under Deno (the edge function) and Node (tests).
 *
 * Every machine SAM creates carries the labels `sam=node` and `sam-node-id=<node id>`: the positive
 * proof the orphan sweep needs before it deletes a machine that has no node.
 */
import type { Labels, MachineStatus, MachineUserData } from '../common/contracts/local-machines.ts';

export type { Labels, MachineStatus, MachineUserData };

export type VmSize = 'small' | 'medium' | 'large';

/** The labels every SAM machine carries. */
export function nodeLabels(nodeId: string): Labels {
  return { sam: 'node', 'sam-node-id': nodeId };
}

export interface CreateMachineInput {
  nodeId: string;
  /** A DNS-safe name (letters, digits, dashes; ≤ 63). */
  name: string;
  vmSize: VmSize;
  /** At least {@link nodeLabels}. */
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
}

export interface Provider {
  readonly name: string;
  createMachine(input: CreateMachineInput): Promise<CreatedMachine>;
  /** Idempotent: a machine that is already gone counts as deleted. */
  deleteMachine(providerInstanceId: string): Promise<void>;
  /** SAM's machines carrying every one of `labels`. */
  listMachines(labels: Labels): Promise<ProviderMachine[]>;
}

/**
 * A provider could not do what was asked. The message is safe to store and show (no tokens, no
 * request bodies); `retryable` is false when trying again cannot help (not configured, refused).
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly retryable = true,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** A machine name from a node id: `sam-<first 12 hex>` (unique enough per account, DNS-safe). */
export function machineName(nodeId: string): string {
  return `sam-${nodeId.replace(/-/g, '').slice(0, 12)}`;
}
