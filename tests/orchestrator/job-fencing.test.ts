import { describe, expect, it } from 'vitest';
import type { Job } from '../../functions/_shared/orchestrator/jobs.ts';
import { runJob } from '../../functions/_shared/orchestrator/run.ts';
import { nodeLabels } from '../../functions/_shared/providers/provider.ts';
import { waitFor } from '../helpers/wait.ts';
import { useOrchestrator } from './harness.ts';

/**
 * Fencing: every claim of a job is a new attempt, and only the current attempt may end it. A
 * worker whose lease ran out (it hung, its run was cut off) and whose job another worker claimed
 * again can neither complete nor fail that job.
 */
const h = useOrchestrator('orchestrator_fencing');

/** One worker's claim, as the runner makes it. */
async function claim(jobId: string): Promise<Job> {
  const [row] = await h.db.admin`
    select id, kind, owner_id, project_id, task_id, node_id, payload, attempts, max_attempts
      from public.claim_orchestrator_jobs(1)`;
  expect(row?.id).toBe(jobId);
  return row as unknown as Job;
}

/** The worker holding the job vanished: its lease runs out, the sweep counts the attempt, the retry is due. */
async function leaseExpires(jobId: string) {
  await h.db.admin`update public.orchestrator_jobs set locked_until = now() - interval '1 second' where id = ${jobId}`;
  await h.db.admin`select public.sweep_orchestrator_jobs()`;
  await h.db.admin`update public.orchestrator_jobs set run_after = now() where id = ${jobId} and status = 'pending'`;
}

describe('orchestrator job fencing', () => {
  it('a stale worker’s completion is refused once the job was claimed again; the job stays the new worker’s', async () => {
    const [j] = await h.db.admin`
      insert into public.orchestrator_jobs (kind, owner_id) values ('notify', ${h.user}) returning id`;
    const id = j!.id as string;
    const stale = await claim(id);
    expect(stale.attempts).toBe(1);
    await leaseExpires(id);
    const current = await claim(id);
    expect(current.attempts).toBe(2);

    const outcome = await runJob(h.ctx, stale);
    const after = await h.job(id);
    expect(after).toMatchObject({ status: 'running', attempts: 2, last_error: 'lease expired' });
    expect(after.payload).not.toHaveProperty('result');
    expect(outcome).toBe('superseded');

    expect(await runJob(h.ctx, current)).toBe('succeeded');
    expect(await h.job(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    // Later still, the stale worker changes nothing.
    expect(await runJob(h.ctx, stale)).toBe('superseded');
    expect(await h.job(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a stale worker’s failure neither reschedules nor kills the current attempt', async () => {
    const { nodeId } = await h.submit();
    const [j] = await h.db
      .admin`select id from public.orchestrator_jobs where kind = 'provision_node' and node_id = ${nodeId}`;
    const id = j!.id as string;
    await h.db.admin`update public.orchestrator_jobs set max_attempts = 2 where id = ${id}`;
    const stale = await claim(id);
    await leaseExpires(id);
    const current = await claim(id);
    const lease = (await h.job(id)).locked_until as Date;

    h.cloud.failCreate = 'Hetzner says: server limit reached';
    const outcome = await runJob(h.ctx, stale);
    // Accepted, the failure would have ended the current attempt (the job's last: it would be dead).
    expect(await h.job(id)).toMatchObject({
      status: 'running',
      attempts: 2,
      last_error: 'lease expired',
      locked_until: lease,
    });
    expect((await h.node(nodeId)).status).toBe('provisioning');
    expect(outcome).toBe('superseded');

    h.cloud.failCreate = null;
    expect(await runJob(h.ctx, current)).toBe('succeeded');
    expect(await h.job(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    const n = await h.node(nodeId);
    expect(h.cloud.machines.has(n.provider_instance_id as string)).toBe(true);
  });

  it('a worker whose lease the sweep already counted cannot finish the job before it is claimed again', async () => {
    const [j] = await h.db.admin`
      insert into public.orchestrator_jobs (kind, owner_id) values ('notify', ${h.user}) returning id`;
    const id = j!.id as string;
    const stale = await claim(id);
    await leaseExpires(id);
    expect(await runJob(h.ctx, stale)).toBe('superseded');
    expect(await h.job(id)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'lease expired' });
    // The retry runs as attempt 2 through the ordinary run.
    expect((await h.run()).body).toEqual({ ran: 1, succeeded: 1, failed: 0 });
    expect(await h.job(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a stale provision attempt cannot record its machine once the job is claimed again: the node keeps one live machine', async () => {
    const { nodeId } = await h.submit();
    const [j] = await h.db
      .admin`select id from public.orchestrator_jobs where kind = 'provision_node' and node_id = ${nodeId}`;
    const id = j!.id as string;
    const stale = await claim(id);
    // The stale worker's machine exists, but the cloud's answer is slow to come back.
    let answer!: () => void;
    h.cloud.createGate = new Promise<void>((resolve) => (answer = resolve));
    const before = h.cloud.created.length;
    const staleRun = runJob(h.ctx, stale);
    await waitFor('the stale worker’s machine', () => h.cloud.created.length === before + 1);
    h.cloud.createGate = null;
    const staleMachine = String(100000 + before + 1);

    await leaseExpires(id);
    const current = await claim(id);
    // The new attempt lists the node's machines (an earlier attempt's must go); meanwhile the stale
    // worker gets its answer and tries to record its machine.
    h.cloud.beforeListAnswer = async () => {
      answer();
      await staleRun;
    };
    expect(await runJob(h.ctx, current)).toBe('succeeded');
    expect(await staleRun).toBe('superseded');

    const recorded = (await h.node(nodeId)).provider_instance_id as string;
    expect(recorded).not.toBe(staleMachine);
    expect(h.cloud.machines.has(recorded)).toBe(true);
    expect((await h.cloud.listMachines(nodeLabels(nodeId))).map((m) => m.providerInstanceId)).toEqual([recorded]);
    expect(await h.job(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a run whose attempt was superseded says so, and the machine it made is gone', async () => {
    const { nodeId } = await h.submit();
    const [j] = await h.db
      .admin`select id from public.orchestrator_jobs where kind = 'provision_node' and node_id = ${nodeId}`;
    const id = j!.id as string;
    let answer!: () => void;
    h.cloud.createGate = new Promise<void>((resolve) => (answer = resolve));
    const before = h.cloud.created.length;
    const slowRun = h.run();
    await waitFor('the slow run’s machine', () => h.cloud.created.length === before + 1);
    h.cloud.createGate = null;
    await leaseExpires(id);
    await claim(id);
    answer();
    expect((await slowRun).body).toEqual({ ran: 1, succeeded: 0, failed: 0, superseded: 1 });
    expect(h.cloud.machines.has(String(100000 + before + 1))).toBe(false);
    expect(await h.job(id)).toMatchObject({ status: 'running', attempts: 2 });
    expect((await h.node(nodeId)).provider_instance_id).toBeNull();
  });
});
