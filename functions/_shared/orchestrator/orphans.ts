/**
 * The orphan sweep (flow 5): a provider machine is deleted only with positive proof it is this
 * installation's and unwanted — it carries `sam=node` and our `sam-installation` id (machines of
 * another installation sharing the cloud account are never touched), a `sam-node-id` that names no
 * node this control plane keeps (`provider_nodes_to_keep`: not destroyed, not failed), and it was
 * created before now − `orphan_min_age` (`orphan_sweep_policy()`; a machine whose age the provider
 * does not say is never old enough). The machines are listed before the nodes are read: a machine
 * exists only after its node row committed, so a node created meanwhile can never be missed.
 *
 * Which accounts: the registry's providers (local) once each; a cloud the registry leaves to owners
 * (Hetzner, Scaleway) once per stored `cloud-provider` credential — each is an account SAM may have
 * made machines in — and, for Scaleway, per zone its nodes used (a listing covers one zone).
 */
import type { OrphanSweep } from '../common/contracts/orchestrator.ts';
import { INSTALLATION_LABEL, installationLabels, type Provider, type ProviderMachine } from '../providers/provider.ts';
import { KNOWN_CLOUDS } from '../providers/registry.ts';
import { failureMessage } from './job-failure.ts';
import type { JobContext } from './jobs.ts';
import { fromRegistry, providerFor, type MachineScope } from './machines.ts';
import { asOrchestrator } from './system.ts';

interface Policy {
  installation: string;
  createdBefore: number;
}

export async function sweepOrphans(ctx: JobContext): Promise<OrphanSweep[]> {
  const [row] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select installation_id, created_before from public.orphan_sweep_policy()`,
  );
  const policy: Policy = {
    installation: String(row!.installation_id),
    createdBefore: new Date(row!.created_before as Date).getTime(),
  };

  const rows = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select provider from public.nodes
               union select provider from public.credentials where credential_type = 'cloud-provider' and is_active`,
  );
  const names = new Set(['local', ...rows.map((r) => String(r.provider))]);
  const out: OrphanSweep[] = [];
  for (const name of names) {
    let registered: Provider | null;
    try {
      registered = fromRegistry(ctx, name);
    } catch (e) {
      // A provider this deployment has not configured has nothing to sweep here.
      out.push({ provider: name, listed: 0, deleted: [], error: failureMessage(e) });
      continue;
    }
    // Several credentials may open one account: a machine deleted through one is not deleted again.
    const done = new Set<string>();
    if (registered) {
      out.push(await sweepAccount(ctx, policy, name, () => Promise.resolve(registered), done));
    } else if (KNOWN_CLOUDS.has(name)) {
      for (const scope of await cloudAccounts(ctx, name)) {
        out.push(await sweepAccount(ctx, policy, name, () => providerFor(ctx, scope), done));
      }
    }
  }
  return out;
}

/** One scope per stored credential of that cloud (and, for Scaleway, per zone its owner's nodes used). */
async function cloudAccounts(ctx: JobContext, name: string): Promise<MachineScope[]> {
  const rows = await asOrchestrator(
    ctx.sql,
    (tx) => tx`
      select c.owner_id, c.project_id,
             coalesce((select array_agg(distinct n.location) from public.nodes n
                        where n.owner_id = c.owner_id and n.provider = c.provider and n.location is not null),
                      '{}') as locations
        from public.credentials c
       where c.credential_type = 'cloud-provider' and c.provider = ${name} and c.is_active
       order by c.owner_id, c.project_id nulls first`,
  );
  const scopes: MachineScope[] = [];
  for (const r of rows) {
    const base = { provider: name, ownerId: String(r.owner_id), projectId: (r.project_id as string | null) ?? null };
    scopes.push(base);
    if (name === 'scaleway') for (const location of r.locations as string[]) scopes.push({ ...base, location });
  }
  return scopes;
}

async function sweepAccount(
  ctx: JobContext,
  policy: Policy,
  name: string,
  open: () => Promise<Provider>,
  done: Set<string>,
): Promise<OrphanSweep> {
  const sweep: OrphanSweep = { provider: name, listed: 0, deleted: [] };
  const oldEnough = (m: ProviderMachine) => {
    const created = m.createdAt ? Date.parse(m.createdAt) : NaN;
    return Number.isFinite(created) && created < policy.createdBefore;
  };
  try {
    const provider = await open();
    const machines = await provider.listMachines(installationLabels(policy.installation));
    sweep.listed = machines.length;
    const keep = await asOrchestrator(
      ctx.sql,
      (tx) => tx`select node_id, provider_instance_id from public.provider_nodes_to_keep(${name})`,
    );
    const keepNodes = new Set(keep.map((k) => String(k.node_id)));
    const keepInstances = new Set(keep.map((k) => k.provider_instance_id as string | null).filter(Boolean));
    for (const m of machines) {
      // The provider filtered by label; the proof is checked here again, not assumed.
      const nodeId = m.labels['sam-node-id'];
      if (m.labels.sam !== 'node' || m.labels[INSTALLATION_LABEL] !== policy.installation || !nodeId) continue;
      if (keepNodes.has(nodeId) || keepInstances.has(m.providerInstanceId) || !oldEnough(m)) continue;
      if (done.has(m.providerInstanceId) || m.status === 'deleting') continue;
      done.add(m.providerInstanceId);
      await provider.deleteMachine(m.providerInstanceId);
      sweep.deleted.push(m.providerInstanceId);
    }
  } catch (e) {
    sweep.error = failureMessage(e);
  }
  return sweep;
}
