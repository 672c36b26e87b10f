/**
 * The provider a job's machine lives on. `local` (and any provider the deployment's registry names
 * itself, as tests do) comes from the registry; Hetzner and Scaleway are the task owner's own
 * accounts, built per job from the owner's stored `cloud-provider` credential (the project's
 * override first) with {@link providerFromCredential}: the node's location goes into it, and the
 * project's server types (`projects.machine_types`) over the built-in size table, and the vm-agent
 * bundle this control plane serves (`vm_agent_bundles`) as what the machine installs. Everything that
 * stops it is a permanent {@link ProviderError} in words: no credential key on this control plane,
 * no credential stored, one that cannot be read.
 */
import type { CloudName } from '../common/contracts/clouds.ts';
import { resolveCredential } from '../credentials/store.ts';
import { HttpError } from '../http-error.ts';
import type { CloudFactoryOptions } from '../providers/from-credential.ts';
import { ProviderError, type Provider } from '../providers/provider.ts';
import { KNOWN_CLOUDS, providerFromCredential } from '../providers/registry.ts';
import type { JobContext } from './jobs.ts';
import { agentBundleFor } from '../vm-agent/bundle.ts';
import { asOrchestrator } from './system.ts';

/** Whose machine, where. */
export interface MachineScope {
  provider: string;
  ownerId: string | null;
  projectId: string | null;
  /** The node's location (a Hetzner location, a Scaleway zone); null: the credential's or the default. */
  location?: string | null;
}

const DISPLAY: Record<CloudName, string> = { hetzner: 'Hetzner', scaleway: 'Scaleway' };

/** The registry's provider of that name, or null when the name is a cloud the registry leaves to owners. */
export function fromRegistry(ctx: JobContext, name: string): Provider | null {
  try {
    return ctx.providers(name);
  } catch (e) {
    if (e instanceof ProviderError && e.code === 'not_configured' && KNOWN_CLOUDS.has(name)) return null;
    throw e;
  }
}

export async function providerFor(ctx: JobContext, scope: MachineScope): Promise<Provider> {
  const name = scope.provider || 'local';
  const registered = fromRegistry(ctx, name);
  if (registered) return registered;
  const cloud = name as CloudName;
  const display = DISPLAY[cloud];
  if (!ctx.credentialKey) {
    throw new ProviderError(
      name,
      `${display} machines need SAM_CREDENTIAL_KEY on the control plane to read tokens`,
      false,
      {
        code: 'not_configured',
      },
    );
  }
  if (!scope.ownerId) throw new ProviderError(name, `A ${display} machine needs an owner whose account it is`, false);
  let cred;
  try {
    cred = await resolveCredential(ctx.sql, ctx.credentialKey, scope.ownerId, scope.projectId, 'cloud-provider', name);
  } catch (e) {
    if (e instanceof HttpError) {
      throw new ProviderError(
        name,
        `The stored ${display} credential could not be read; store it again in Settings`,
        false,
      );
    }
    throw e;
  }
  if (!cred) {
    throw new ProviderError(name, `No ${display} credential is stored: add one in Settings → Cloud providers`, false, {
      code: 'no_credential',
    });
  }
  const config: Record<string, unknown> = { ...cred.config };
  if (scope.location) config[cloud === 'scaleway' ? 'zone' : 'location'] = scope.location;
  const sizes = await projectServerTypes(ctx, scope.projectId, cloud);
  if (sizes) config.sizes = sizes;
  // The vm-agent the machine installs: the build this control plane serves (pinned by its sha256).
  const functionsUrl = ctx.controlPlaneUrl.replace(/\/+$/, '').replace(/\/vm-agent$/, '');
  const agentBundle = ctx.clouds?.agentBundle ?? (await agentBundleFor(ctx.sql, functionsUrl));
  return providerFromCredential(name, cred.secret, config, {
    ...ctx.clouds,
    ...(agentBundle ? { agentBundle } : {}),
  });
}

/** The project's server types for that cloud (`projects.machine_types`), if it names any. */
async function projectServerTypes(ctx: JobContext, projectId: string | null, cloud: CloudName) {
  if (!projectId) return null;
  const [row] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select machine_types -> ${cloud} as types from public.projects where id = ${projectId}`,
  );
  const types = row?.types as Record<string, string> | null | undefined;
  return types && Object.keys(types).length ? types : null;
}

export type { CloudFactoryOptions };
