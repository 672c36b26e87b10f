/**
 * Where a task's machine can run: the providers, their locations and what each size means. The web
 * offers these (composer, project settings), `submit_task` checks the same lists in SQL
 * (`sam_provider_locations`, migration 20261202050000_cloud_choice.sql), and the providers turn a
 * size into a server type with {@link DEFAULT_SERVER_TYPES} (a project may override it:
 * `projects.machine_types`).
 *
 * Plain data on purpose: the web bundle, Deno and Node all import this file.
 */
export const MACHINE_PROVIDERS = [
  { id: 'local', label: 'Local machine (this control plane)', cloud: false },
  { id: 'hetzner', label: 'Hetzner Cloud', cloud: true },
  { id: 'scaleway', label: 'Scaleway', cloud: true },
] as const;
export type MachineProvider = (typeof MACHINE_PROVIDERS)[number]['id'];
export type CloudName = 'hetzner' | 'scaleway';

export const VM_SIZES = ['small', 'medium', 'large'] as const;
export type VmSizeName = (typeof VM_SIZES)[number];

/** Locations (Hetzner) and zones (Scaleway) SAM offers; the first is the default. */
export const MACHINE_LOCATIONS: Record<MachineProvider, readonly string[]> = {
  local: [],
  hetzner: ['fsn1', 'nbg1', 'hel1', 'ash', 'hil', 'sin'],
  scaleway: [
    'fr-par-1',
    'fr-par-2',
    'fr-par-3',
    'nl-ams-1',
    'nl-ams-2',
    'nl-ams-3',
    'pl-waw-1',
    'pl-waw-2',
    'pl-waw-3',
    'it-mil-1',
  ],
};

/**
 * | size   | Hetzner (shared vCPU, EU)   | Scaleway               |
 * |--------|-----------------------------|------------------------|
 * | small  | cx23: 2 vCPU, 4 GB, 40 GB   | DEV1-M: 3 vCPU, 4 GB   |
 * | medium | cx33: 4 vCPU, 8 GB, 80 GB   | DEV1-XL: 4 vCPU, 12 GB |
 * | large  | cx43: 8 vCPU, 16 GB, 160 GB | GP1-S: 8 vCPU, 32 GB   |
 */
export const DEFAULT_SERVER_TYPES: Record<CloudName, Record<VmSizeName, string>> = {
  hetzner: { small: 'cx23', medium: 'cx33', large: 'cx43' },
  scaleway: { small: 'DEV1-M', medium: 'DEV1-XL', large: 'GP1-S' },
};

/** A server type name as a project may write it (the same rule as `sam_machine_types_ok`). */
export const SERVER_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export function isMachineProvider(value: string): value is MachineProvider {
  return MACHINE_PROVIDERS.some((p) => p.id === value);
}

/** Why a provider/location pair is not offered (null: it is). No location means the provider's default. */
export function machineChoiceProblem(provider: string, location: string | null | undefined): string | null {
  if (!isMachineProvider(provider)) return `unknown machine provider "${provider}"`;
  if (!location) return null;
  if (provider === 'local') return 'local machines have no location';
  const list = MACHINE_LOCATIONS[provider];
  return list.includes(location) ? null : `${provider} has no location "${location}" (one of ${list.join(', ')})`;
}
