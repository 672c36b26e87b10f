/** What the provider tests create machines with: a node, its labels and user data, a vm-agent bundle. */
import { randomUUID } from 'node:crypto';
import {
  machineLabels,
  machineName,
  type CreateMachineInput,
  type VmSize,
} from '../../functions/_shared/providers/provider.ts';

export const AGENT_BUNDLE = {
  url: 'http://127.0.0.1:54321/functions/v1/vm-agent/bundle',
  sha256: 'ab'.repeat(32),
};

export const INSTALLATION = 'inst-a';

export function machineInput(vmSize: VmSize = 'small', installation = INSTALLATION): CreateMachineInput {
  const nodeId = randomUUID();
  return {
    nodeId,
    name: machineName(nodeId),
    vmSize,
    labels: machineLabels(installation, nodeId),
    userData: {
      controlPlaneUrl: 'http://127.0.0.1:54321/functions/v1/vm-agent',
      bootstrapToken: `bootstrap_${randomUUID().replace(/-/g, '')}`,
    },
  };
}

/** Reads until `check` holds (each read advances the fake's eventual state), at most `reads` times. */
export async function readUntil<T>(read: () => Promise<T>, check: (value: T) => boolean, reads = 20): Promise<T> {
  let value = await read();
  for (let i = 1; i < reads && !check(value); i++) value = await read();
  return value;
}
