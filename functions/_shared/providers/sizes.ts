/**
 * What `small`/`medium`/`large` mean on each cloud (the table lives in `common/contracts/clouds.ts`
 * so the web shows the same), and where machines go by default. A project may override the types
 * (`projects.machine_types`), a task the location, and the credential's config `location`/`zone`/`image`;
 * {@link resolveSizes} checks an override before a request carries it.
 *
 * | size   | Hetzner (shared vCPU, EU)   | Scaleway                  |
 * |--------|-----------------------------|---------------------------|
 * | small  | cx23: 2 vCPU, 4 GB, 40 GB   | DEV1-M: 3 vCPU, 4 GB      |
 * | medium | cx33: 4 vCPU, 8 GB, 80 GB   | DEV1-XL: 4 vCPU, 12 GB    |
 * | large  | cx43: 8 vCPU, 16 GB, 160 GB | GP1-S: 8 vCPU, 32 GB      |
 *
 * Hetzner's CX types are offered in its EU locations (fsn1, nbg1, hel1); for ash/hil override the
 * sizes with cpx types. Scaleway's DEV1/GP1 types boot from local SSD (`l_ssd`), so `terminate`
 * removes the root volume with the server.
 */
import { DEFAULT_SERVER_TYPES, SERVER_TYPE_PATTERN } from '../common/contracts/clouds.ts';
import { ProviderError, type VmSize } from './provider.ts';

export type SizeTable = Record<VmSize, string>;

export const HETZNER_SIZES: SizeTable = DEFAULT_SERVER_TYPES.hetzner;
export const HETZNER_DEFAULT_LOCATION = 'fsn1';
export const HETZNER_DEFAULT_IMAGE = 'ubuntu-24.04';

export const SCALEWAY_SIZES: SizeTable = DEFAULT_SERVER_TYPES.scaleway;
export const SCALEWAY_DEFAULT_ZONE = 'fr-par-1';
/** A marketplace image label (resolved to the zone's image id at create) or an image UUID. */
export const SCALEWAY_DEFAULT_IMAGE = 'ubuntu_noble';

const SERVER_TYPE = SERVER_TYPE_PATTERN;
const SIZES: readonly VmSize[] = ['small', 'medium', 'large'];

/** The table with a project's overrides applied; an override that is not a plausible type name is refused. */
export function resolveSizes(provider: string, base: SizeTable, overrides?: unknown): SizeTable {
  if (overrides === undefined || overrides === null) return { ...base };
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new ProviderError(provider, `The ${provider} size overrides must be an object like {"small":"…"}`, false);
  }
  const out = { ...base };
  for (const [size, type] of Object.entries(overrides as Record<string, unknown>)) {
    if (!SIZES.includes(size as VmSize)) {
      throw new ProviderError(provider, `Unknown size "${size}" in the ${provider} size overrides`, false);
    }
    if (typeof type !== 'string' || !SERVER_TYPE.test(type)) {
      throw new ProviderError(provider, `The ${provider} server type for ${size} is not a valid type name`, false);
    }
    out[size as VmSize] = type;
  }
  return out;
}
