/**
 * Picks the provider a node names (`nodes.provider`). `local` (the default) is the local machine
 * host. Hetzner and Scaleway are per user: a job builds them from the task owner's `cloud-provider`
 * credential with {@link providerFromCredential}; this deployment-wide registry only names them.
 */
import { env as readEnv } from '../env.ts';
import { localProvider } from './local.ts';
import { ProviderError, type Provider } from './provider.ts';

import type { CloudFactoryOptions } from './from-credential.ts';

export { providerFromCredential, type CloudFactoryOptions } from './from-credential.ts';

export type ProviderRegistry = (name: string | null | undefined) => Provider;

export const KNOWN_CLOUDS: ReadonlySet<string> = new Set(['hetzner', 'scaleway']);

/** The registry over explicit providers (tests pass a fake one for a cloud). */
export function providerRegistry(providers: Record<string, Provider | (() => Provider)>): ProviderRegistry {
  const cache = new Map<string, Provider>();
  return (name) => {
    const key = name || 'local';
    const hit = cache.get(key);
    if (hit) return hit;
    const entry = providers[key];
    if (!entry) {
      if (KNOWN_CLOUDS.has(key)) {
        throw new ProviderError(key, `The ${key} provider is not configured on this control plane`, false, {
          code: 'not_configured',
        });
      }
      throw new ProviderError(key, `Unknown provider "${key}"`, false);
    }
    const provider = typeof entry === 'function' ? entry() : entry;
    cache.set(key, provider);
    return provider;
  };
}

/**
 * The providers this deployment has, from the environment: `local` when SAM_LOCAL_MACHINES_URL
 * and SAM_LOCAL_MACHINES_TOKEN are set (otherwise asking for it explains what is missing).
 */
export function providersFromEnv(get: (name: string) => string | undefined = readEnv): ProviderRegistry {
  return providerRegistry({
    local: () => {
      const url = get('SAM_LOCAL_MACHINES_URL');
      const token = get('SAM_LOCAL_MACHINES_TOKEN');
      if (!url || !token) {
        throw new ProviderError(
          'local',
          'The local provider is not configured: SAM_LOCAL_MACHINES_URL and SAM_LOCAL_MACHINES_TOKEN are not set',
          false,
        );
      }
      return localProvider({ url, token });
    },
  });
}

/**
 * How this deployment reaches the clouds, from the environment: other API roots, for tests against
 * the fakes (SAM_HETZNER_API_URL, SAM_SCALEWAY_API_URL). (The vm-agent bundle machines install is
 * the one the control plane serves: `vm-agent/bundle.ts`.)
 */
export function cloudOptionsFromEnv(get: (name: string) => string | undefined = readEnv): CloudFactoryOptions {
  const hetzner = get('SAM_HETZNER_API_URL');
  const scaleway = get('SAM_SCALEWAY_API_URL');
  return {
    ...(hetzner || scaleway
      ? { baseUrls: { ...(hetzner ? { hetzner } : {}), ...(scaleway ? { scaleway } : {}) } }
      : {}),
  };
}
