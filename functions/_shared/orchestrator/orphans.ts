/**
 * The orphan sweep (flow 5): a provider machine is deleted only with positive proof it is this
 * installation's and unwanted — it carries `sam=node` and our `sam-installation` id (machines of
 * another installation sharing the cloud account are never touched), a `sam-node-id` that names no
 * node this control plane keeps (`provider_nodes_to_keep`: not destroyed, not failed), and it was
 * created before now − `orphan_min_age` (`orphan_sweep_policy()`; a machine whose age the provider
 * does not say is never old enough). The machines are listed before the nodes are read: a machine
 * exists only after its node row committed, so a node created meanwhile can never be missed.
 */
import type { OrphanSweep } from '../common/contracts/orchestrator.ts';
import { INSTALLATION_LABEL, installationLabels, type ProviderMachine } from '../providers/provider.ts';
import { failureMessage } from './job-failure.ts';
import type { JobContext } from './jobs.ts';
import { asOrchestrator } from './system.ts';

export async function sweepOrphans(ctx: JobContext): Promise<OrphanSweep[]> {
  const [policy] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select installation_id, created_before from public.orphan_sweep_policy()`,
  );
  const installation = String(policy!.installation_id);
  const createdBefore = new Date(policy!.created_before as Date).getTime();
  const oldEnough = (m: ProviderMachine) => {
    const created = m.createdAt ? Date.parse(m.createdAt) : NaN;
    return Number.isFinite(created) && created < createdBefore;
  };

  const rows = await asOrchestrator(ctx.sql, (tx) => tx`select distinct provider from public.nodes`);
  const names = new Set(['local', ...rows.map((r) => String(r.provider))]);
  const out: OrphanSweep[] = [];
  for (const name of names) {
    const sweep: OrphanSweep = { provider: name, listed: 0, deleted: [] };
    out.push(sweep);
    try {
      const provider = ctx.providers(name);
      const machines = await provider.listMachines(installationLabels(installation));
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
        if (m.labels.sam !== 'node' || m.labels[INSTALLATION_LABEL] !== installation || !nodeId) continue;
        if (keepNodes.has(nodeId) || keepInstances.has(m.providerInstanceId) || !oldEnough(m)) continue;
        await provider.deleteMachine(m.providerInstanceId);
        sweep.deleted.push(m.providerInstanceId);
      }
    } catch (e) {
      // A provider this deployment has not configured has nothing to sweep here.
      sweep.error = failureMessage(e);
    }
  }
  return out;
}
