import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paths } from '../../supabase/local/paths.ts';
import { as, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { processAlive } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Flow 2 and the end of flow 5 through the real parts: a user's submit enqueues provision_node,
 * the statement trigger wakes the orchestrator through pg_net, the orchestrator (Deno, behind the
 * gateway) asks the local provider, and the local machine host starts a process for the node with
 * a bootstrap.json whose one-time token the vm-agent function accepts. Destroying the node takes
 * the same path back and the process is gone. The machine runs a stand-in for vm-agent/bin.mjs.
 */
const STAND_IN = join(paths.root, 'local-machines', 'fixtures', 'stand-in-agent.mjs');
const stack = useFunctionsStack('orchestrator_flow', {
  machines: { command: [process.execPath, STAND_IN], stopTimeoutMs: 3000 },
});

describe('submit → pg_net → orchestrator → local provider → machine process', () => {
  it('provisions a machine whose token registers the node, and destroys it again', { timeout: 120_000 }, async () => {
    const { admin } = stack.db;
    const user = await createUser(admin);
    const project = await createProject(admin, user);
    const { taskId } = await submitTask(admin, user, project, 'Add a health endpoint');
    const [t] = await admin`select auto_provisioned_node_id as node from public.tasks where id = ${taskId}`;
    const nodeId = t!.node as string;

    // The orchestrator ran (nobody called it but Postgres) and the host runs the node's machine.
    const machine = await waitFor('a machine for the node', () =>
      stack.machines.machines().find((m) => m.labels['sam-node-id'] === nodeId),
    );
    expect(machine).toMatchObject({ status: 'running', labels: { sam: 'node', 'sam-node-id': nodeId } });
    const [n] = await waitFor('the machine recorded on the node', async () => {
      const rows =
        await admin`select provider_instance_id, status::text as status from public.nodes where id = ${nodeId}`;
      return rows[0]?.provider_instance_id ? rows : undefined;
    });
    expect(n).toEqual({ provider_instance_id: machine.id, status: 'provisioning' });
    // The machine is recorded before the job's attempt is completed (two transactions).
    await waitFor('the provision job succeeded', async () => {
      const [job] =
        await admin`select status::text as status from public.orchestrator_jobs where kind = 'provision_node' and node_id = ${nodeId}`;
      return job!.status === 'succeeded';
    });

    const dir = join(stack.machines.baseDir, machine.id);
    await waitFor('the stand-in agent to start', () => existsSync(join(dir, 'started.json')));
    const bootstrap = JSON.parse(readFileSync(join(dir, 'bootstrap.json'), 'utf8')) as Record<string, string>;
    expect(bootstrap).toMatchObject({
      controlPlaneUrl: stack.functionUrl('vm-agent'),
      providerInstanceId: machine.id,
    });

    // What the real vm-agent does with it: register through the vm-agent function.
    const reg = await fetch(`${stack.functionUrl('vm-agent')}/nodes/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        bootstrapToken: bootstrap.bootstrapToken,
        agentVersion: 'stand-in',
        providerInstanceId: bootstrap.providerInstanceId,
      }),
    });
    expect(reg.status).toBe(200);
    expect(await reg.json()).toMatchObject({ nodeId, nodeToken: expect.any(String) });
    const [ready] = await admin`select status::text as status from public.nodes where id = ${nodeId}`;
    expect(ready!.status).toBe('active');

    // Destroying the node: the destroy_node job wakes the orchestrator, which deletes the machine.
    await as(admin, 'authenticated', { sub: user }, (tx) => tx`select public.destroy_node(${nodeId}, 'done here')`);
    await waitFor('the node destroyed', async () => {
      const [row] = await admin`select status::text as status from public.nodes where id = ${nodeId}`;
      return row!.status === 'destroyed';
    });
    expect(stack.machines.machines().find((m) => m.id === machine.id)).toBeUndefined();
    expect(processAlive(machine.pid!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
