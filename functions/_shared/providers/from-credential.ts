/**
 * A cloud provider built from a user's `cloud-provider` credential (`credentials/store.ts`
 * `resolveCredential`): the secret is the Hetzner API token or the Scaleway secret key; the config
 * holds the rest (Scaleway: `projectId` and `zone`; both: optional `location`/`zone`, `image`,
 * `sizes` overrides of `./sizes.ts`). Bad config is a permanent {@link ProviderError} in words.
 */
import { z } from 'zod';
import type { CloudHttpOptions } from './cloud-http.ts';
import type { AgentBundle } from './cloud-http.ts';
import { hetznerProvider } from './hetzner.ts';
import { ProviderError, type CloudProvider } from './provider.ts';
import { scalewayProvider } from './scaleway.ts';

export interface CloudFactoryOptions extends CloudHttpOptions {
  /** The vm-agent bundle the control plane serves (URL and sha256) for machines to install. */
  agentBundle?: AgentBundle;
  /** API roots (tests: the fakes). */
  baseUrls?: { hetzner?: string; scaleway?: string };
}

const Sizes = z.record(z.string(), z.string()).optional();
const HetznerConfig = z.object({ location: z.string().optional(), image: z.string().optional(), sizes: Sizes });
const ScalewayConfig = z.object({
  projectId: z.string().optional(),
  project_id: z.string().optional(),
  zone: z.string().optional(),
  image: z.string().optional(),
  sizes: Sizes,
});

export function providerFromCredential(
  name: string,
  secret: string,
  config: Record<string, unknown> | null | undefined,
  options: CloudFactoryOptions = {},
): CloudProvider {
  const http: CloudHttpOptions = {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  if (!secret) throw new ProviderError(name, `The ${name} credential has no secret`, false);
  if (name === 'hetzner') {
    const parsed = HetznerConfig.safeParse(config ?? {});
    if (!parsed.success) throw new ProviderError(name, 'The Hetzner credential settings are not valid', false);
    return hetznerProvider({
      ...http,
      token: secret,
      ...parsed.data,
      ...(options.baseUrls?.hetzner ? { baseUrl: options.baseUrls.hetzner } : {}),
      ...(options.agentBundle ? { agentBundle: options.agentBundle } : {}),
    });
  }
  if (name === 'scaleway') {
    const parsed = ScalewayConfig.safeParse(config ?? {});
    if (!parsed.success) throw new ProviderError(name, 'The Scaleway credential settings are not valid', false);
    const { projectId, project_id, ...rest } = parsed.data;
    const project = projectId ?? project_id;
    if (!project) throw new ProviderError(name, 'The Scaleway credential names no project id', false);
    return scalewayProvider({
      ...http,
      secretKey: secret,
      projectId: project,
      ...rest,
      ...(options.baseUrls?.scaleway ? { baseUrl: options.baseUrls.scaleway } : {}),
      ...(options.agentBundle ? { agentBundle: options.agentBundle } : {}),
    });
  }
  throw new ProviderError(name, `"${name.slice(0, 40)}" is not a cloud provider`, false);
}
