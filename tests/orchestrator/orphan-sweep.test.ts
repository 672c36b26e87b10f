import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useOrchestrator } from './harness.ts';

/**
 * The orphan sweep deletes a machine only with proof it is this installation's and unwanted: it
 * carries our installation id, names no node we keep, and is older than `orphan_min_age`. Two SAM
 * installations sharing a cloud account leave each other's machines alone.
 */
const h = useOrchestrator('orchestrator_orphans');
const MINUTE = 60_000;

async function ourInstallation(): Promise<string> {
  const [row] = await h.db.admin`select public.sam_installation_id() as id`;
  return row!.id as string;
}

async function sweep() {
  const r = await h.run({ sweepOrphans: true });
  expect(r.status).toBe(200);
  const sweeps = r.body.orphans as { provider: string; deleted: string[]; error?: string }[];
  const hetzner = sweeps.find((s) => s.provider === 'hetzner')!;
  expect(hetzner.error).toBeUndefined();
  return hetzner.deleted;
}

describe('the orphan sweep', () => {
  it('has one installation id, and every machine SAM creates carries it', async () => {
    const ours = await ourInstallation();
    expect(ours).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await ourInstallation()).toBe(ours);
    const { nodeId } = await h.submit();
    await h.run();
    const machine = h.cloud.machines.get((await h.node(nodeId)).provider_instance_id as string)!;
    expect(machine.labels).toEqual({ sam: 'node', 'sam-node-id': nodeId, 'sam-installation': ours });
  });

  it('deletes only old machines of ours that name no node we keep', async () => {
    const ours = await ourInstallation();
    const { nodeId } = await h.submit();
    await h.run();
    const kept = (await h.node(nodeId)).provider_instance_id as string;
    const [gone] = await h.db.admin`
      insert into public.nodes (owner_id, provider, status) values (${h.user}, 'hetzner', 'destroyed') returning id`;
    const label = (installation: string | null, node: string = randomUUID()) => ({
      sam: 'node',
      'sam-node-id': node,
      ...(installation ? { 'sam-installation': installation } : {}),
    });
    h.cloud.put('ours-old-unknown', label(ours), 120 * MINUTE);
    h.cloud.put('ours-old-destroyed', label(ours, gone!.id as string), 120 * MINUTE);
    h.cloud.put('ours-young-unknown', label(ours), 5 * MINUTE);
    h.cloud.put('ours-of-unknown-age', label(ours), null);
    h.cloud.put('foreign-old-unknown', label(randomUUID()), 120 * MINUTE);
    h.cloud.put('no-installation-old-unknown', label(null), 120 * MINUTE);
    h.cloud.put('not-sams', { team: 'web' }, 120 * MINUTE);

    expect((await sweep()).sort()).toEqual(['ours-old-destroyed', 'ours-old-unknown']);
    for (const id of [
      kept,
      'ours-young-unknown',
      'ours-of-unknown-age',
      'foreign-old-unknown',
      'no-installation-old-unknown',
      'not-sams',
    ]) {
      expect(h.cloud.machines.has(id), id).toBe(true);
    }
    expect(h.cloud.machines.has('ours-old-unknown')).toBe(false);
    expect(h.cloud.machines.has('ours-old-destroyed')).toBe(false);
  });

  it('waits orphan_min_age (a setting, 30 minutes by default) before deleting one', async () => {
    const ours = await ourInstallation();
    h.cloud.put(
      'twenty-minutes-old',
      { sam: 'node', 'sam-node-id': randomUUID(), 'sam-installation': ours },
      20 * MINUTE,
    );
    expect(await sweep()).toEqual([]);
    await h.db.admin`update public.settings set value = '"10 minutes"' where key = 'orphan_min_age'`;
    try {
      expect(await sweep()).toEqual(['twenty-minutes-old']);
    } finally {
      await h.db.admin`update public.settings set value = '"30 minutes"' where key = 'orphan_min_age'`;
    }
  });
});
