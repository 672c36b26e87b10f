import { describe, expect, it } from 'vitest';
import { PollCommandsResponse } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { registeredNode, useInProcessVmAgent } from './in-process.ts';

/**
 * Node commands are delivered at least once: an answer to a long-poll can be lost on the way
 * (the connection drops after the function took the commands), so a command handed out but not
 * acknowledged within the `node_command_lease` setting is handed out again, with the same id.
 */
const target = useInProcessVmAgent('vm_agent_delivery');

const poll = async (nodeToken: string, wait = 0) => {
  const r = await target.call('GET', `/nodes/commands?wait=${wait}`, nodeToken);
  expect(r.status).toBe(200);
  return PollCommandsResponse.parse(r.body).commands;
};
const setLease = (value: string) =>
  target.db.admin`update public.settings set value = ${JSON.stringify(value)}::jsonb where key = 'node_command_lease'`;

describe('command delivery', () => {
  it('hands a command whose poll answer was lost out again after the lease, with the same id, until it is acknowledged', async () => {
    const node = await registeredNode(target);
    await setLease('1 second');
    try {
      const first = await poll(node.nodeToken); // the answer is "lost": nothing is acknowledged
      expect(first.map((c) => c.kind)).toEqual(['create_workspace']);
      expect(await poll(node.nodeToken)).toEqual([]); // within the lease: not yet

      const again = await poll(node.nodeToken, 5);
      expect(again.map((c) => c.id)).toEqual([first[0]!.id]);
      expect(again[0]!.kind).toBe('create_workspace');
      const [row] = await target.db
        .admin`select status, deliveries from public.node_commands where id = ${first[0]!.id}`;
      expect(row).toMatchObject({ status: 'delivered', deliveries: 2 });

      const ack = await target.call('POST', `/nodes/commands/${first[0]!.id}/ack`, node.nodeToken, { ok: true });
      expect(ack.body).toEqual({ acknowledged: true });
      const repeat = await target.call('POST', `/nodes/commands/${first[0]!.id}/ack`, node.nodeToken, { ok: true });
      expect(repeat).toMatchObject({ status: 200, body: { acknowledged: false } });
      expect(await poll(node.nodeToken, 2)).toEqual([]); // acknowledged: never again, lease or not
    } finally {
      await setLease('60 seconds');
    }
  });

  it('gives up on a command no machine acknowledges after node_command_max_deliveries', async () => {
    const node = await registeredNode(target);
    const [cmd] = await target.db.admin`select id from public.node_commands where node_id = ${node.nodeId}`;
    await target.db.admin`update public.node_commands set status = 'delivered', deliveries = 10,
                            delivered_at = now() - interval '1 hour' where id = ${cmd!.id}`;
    expect(await poll(node.nodeToken)).toEqual([]);
    const [row] = await target.db.admin`select status, result from public.node_commands where id = ${cmd!.id}`;
    expect(row).toMatchObject({ status: 'failed', result: { error: expect.stringMatching(/10 deliveries/) } });
  });

  it("does not hand out another node's commands, nor acknowledge them", async () => {
    const a = await registeredNode(target);
    const b = await registeredNode(target);
    const [cmd] = await poll(a.nodeToken);
    const ack = await target.call('POST', `/nodes/commands/${cmd!.id}/ack`, b.nodeToken, { ok: true });
    expect(ack.body).toEqual({ acknowledged: false });
    expect((await poll(b.nodeToken)).map((c) => c.id)).not.toContain(cmd!.id);
  });
});
