import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useOrchestrator } from './harness.ts';

/**
 * A machine's provider instance id comes from one place: the provider's answer when the
 * orchestrator created it (node_provisioned). What a registering agent says about its instance is
 * not trusted, so a node cannot point its destroy job at another machine.
 */
const h = useOrchestrator('orchestrator_instance_id');

/** Registers a node as its agent would, saying it runs on `claimed`. */
async function register(bootstrapToken: string, claimed: string) {
  const [r] = await h.db.admin`
    select public.register_node(${bootstrapToken}, ${h.db.admin.json({ agentVersion: 'test', providerInstanceId: claimed })}) as r`;
  return r!.r as { nodeId: string };
}

async function provisioned() {
  const { nodeId } = await h.submit();
  expect((await h.run()).body).toMatchObject({ succeeded: 1 });
  const machine = (await h.node(nodeId)).provider_instance_id as string;
  expect(h.cloud.machines.has(machine)).toBe(true);
  return { nodeId, machine, token: h.cloud.machines.get(machine)!.userData.bootstrapToken };
}

describe('provider instance ids', () => {
  it('a node that registers claiming another machine keeps its own; destroying it spares the other', async () => {
    const victim = await provisioned();
    const liar = await provisioned();
    expect((await register(liar.token, victim.machine)).nodeId).toBe(liar.nodeId);
    expect(await h.node(liar.nodeId)).toMatchObject({ status: 'active', provider_instance_id: liar.machine });

    await h.destroy(liar.nodeId);
    expect((await h.run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect((await h.node(liar.nodeId)).status).toBe('destroyed');
    expect(h.cloud.machines.has(liar.machine)).toBe(false);
    expect(h.cloud.machines.has(victim.machine)).toBe(true);
    expect((await h.node(victim.nodeId)).status).toBe('provisioning');
  });

  it('a node that registers before its machine is recorded cannot claim another machine either', async () => {
    const victim = await provisioned();
    const { nodeId } = await h.submit('Another one');
    const [t] = await h.db.admin`select public.issue_bootstrap_token(${nodeId}) as token`;
    await register(t!.token as string, victim.machine);
    expect(await h.node(nodeId)).toMatchObject({ status: 'active', provider_instance_id: null });

    await h.destroy(nodeId);
    await h.run();
    expect((await h.node(nodeId)).status).toBe('destroyed');
    expect(h.cloud.machines.has(victim.machine)).toBe(true);
  });

  it('destroy deletes a recorded machine only when the provider lists it under the node’s labels', async () => {
    // A row written before register_node stopped trusting agents: it names another node's machine.
    const victim = await provisioned();
    const poisoned = await provisioned();
    await h.db.admin`update public.nodes set provider_instance_id = ${victim.machine} where id = ${poisoned.nodeId}`;

    await h.destroy(poisoned.nodeId);
    expect((await h.run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(h.cloud.machines.has(victim.machine)).toBe(true);
    expect(h.cloud.machines.has(poisoned.machine)).toBe(false);
    const [j] = await h.db.admin`
      select payload -> 'result' as result from public.orchestrator_jobs where kind = 'destroy_node' and node_id = ${poisoned.nodeId}`;
    expect(j!.result).toEqual({ deleted: [poisoned.machine], notListed: [victim.machine] });
    expect((await h.node(poisoned.nodeId)).status).toBe('destroyed');
  });

  it('a destroy job whose node row is gone deletes the machine it names only if it is this installation’s', async () => {
    const ours = await provisioned();
    h.cloud.put('foreign-1', { sam: 'node', 'sam-node-id': randomUUID(), 'sam-installation': randomUUID() });
    await h.db.admin`
      insert into public.orchestrator_jobs (kind, owner_id, payload) values
        ('destroy_node', ${h.user}, ${h.db.admin.json({ provider: 'hetzner', providerInstanceId: 'foreign-1' })}),
        ('destroy_node', ${h.user}, ${h.db.admin.json({ provider: 'hetzner', providerInstanceId: ours.machine })})`;
    expect((await h.run()).body).toEqual({ ran: 2, succeeded: 2, failed: 0 });
    expect(h.cloud.machines.has('foreign-1')).toBe(true);
    expect(h.cloud.machines.has(ours.machine)).toBe(false);
    const results = await h.db.admin`
      select payload -> 'result' as result from public.orchestrator_jobs
       where kind = 'destroy_node' and node_id is null and status = 'succeeded' order by payload ->> 'providerInstanceId'`;
    expect(results.map((r) => r.result)).toEqual([
      { deleted: [ours.machine] },
      { deleted: [], notListed: ['foreign-1'] },
    ]);
  });
});
