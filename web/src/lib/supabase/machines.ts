// Machines: a project's machine defaults (provider, size, location) and its server types per size.
import type { MachineProvider, VmSizeName } from '../../../../functions/_shared/common/contracts/clouds.ts';
import { sb } from './client.ts';

export interface MachineDefaults {
  provider: MachineProvider;
  vmSize: VmSizeName;
  /** Null: the provider's default location. */
  location: string | null;
  /** Server types per size over the built-in table: `{ hetzner: { small: 'cpx22' } }`. */
  machineTypes: Partial<Record<'hetzner' | 'scaleway', Partial<Record<VmSizeName, string>>>>;
}

interface Row {
  default_provider: MachineProvider;
  default_vm_size: VmSizeName;
  default_location: string | null;
  machine_types: MachineDefaults['machineTypes'] | null;
}

export async function getMachineDefaults(projectId: string): Promise<MachineDefaults> {
  const { data, error } = await sb()
    .from('projects')
    .select('default_provider, default_vm_size, default_location, machine_types')
    .eq('id', projectId)
    .single();
  if (error) throw new Error(error.message);
  const r = data as Row;
  return {
    provider: r.default_provider,
    vmSize: r.default_vm_size,
    location: r.default_location,
    machineTypes: r.machine_types ?? {},
  };
}

export async function saveMachineDefaults(projectId: string, d: MachineDefaults): Promise<void> {
  const { error } = await sb()
    .from('projects')
    .update({
      default_provider: d.provider,
      default_vm_size: d.vmSize,
      default_location: d.location,
      machine_types: d.machineTypes,
    })
    .eq('id', projectId);
  if (error) throw new Error(error.message);
}
