import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import type { JobContext } from '../../functions/_shared/orchestrator/jobs.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { createOrchestratorApp } from '../../functions/orchestrator/app.ts';
import { as, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { FakeCloud } from './fake-cloud.ts';

export const CONTROL_PLANE = 'https://sam.example.test/functions/v1/vm-agent';

/**
 * The orchestrator in-process over a real test database of its own, with the fake cloud as
 * provider `hetzner`. Each test starts with nothing due, a fresh user and project, and a cloud
 * that answers.
 */
export function useOrchestrator(label: string) {
  const db = useTestDatabase(label);
  const secret = randomBytes(32).toString('base64url');
  const cloud = new FakeCloud();
  const h = {
    db,
    cloud,
    sql: undefined as unknown as Sql,
    app: undefined as unknown as ReturnType<typeof createOrchestratorApp>,
    ctx: undefined as unknown as JobContext,
    user: '',
    project: '',

    async run(body: unknown = {}) {
      const res = await h.app.request('http://orchestrator.test/orchestrator/run', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },

    /** A user's task on a new `hetzner` node: its provision_node job is due. */
    async submit(message = 'Fix the flaky test') {
      const r = await submitTask(db.admin, h.user, h.project, message, { provider: 'hetzner' });
      const [t] = await db.admin`select auto_provisioned_node_id as node from public.tasks where id = ${r.taskId}`;
      return { taskId: r.taskId, nodeId: t!.node as string };
    },

    async node(id: string) {
      const [n] = await db.admin`
        select status::text as status, provider_instance_id, ip_address from public.nodes where id = ${id}`;
      return n!;
    },

    async job(id: string) {
      const [j] = await db.admin`
        select kind, status::text as status, attempts, last_error, payload, locked_until, run_after
          from public.orchestrator_jobs where id = ${id}`;
      return j!;
    },

    destroy(nodeId: string, reason = 'done') {
      return as(
        db.admin,
        'authenticated',
        { sub: h.user },
        (tx) => tx`select public.destroy_node(${nodeId}, ${reason})`,
      );
    },
  };

  beforeAll(() => {
    h.sql = connect(db.url('postgres'));
    h.ctx = { sql: h.sql, providers: providerRegistry({ hetzner: cloud }), controlPlaneUrl: CONTROL_PLANE };
    h.app = createOrchestratorApp({
      sql: h.sql,
      secret,
      providers: h.ctx.providers,
      controlPlaneUrl: CONTROL_PLANE,
      run: { concurrency: 2 },
    });
  });
  afterAll(async () => {
    await h.sql?.end({ timeout: 5 });
  });
  beforeEach(async () => {
    await db.admin`update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running')`;
    h.user = await createUser(db.admin);
    h.project = await createProject(db.admin, h.user);
    cloud.failCreate = null;
    cloud.loseCreateAnswer = false;
    cloud.createGate = null;
    cloud.beforeListAnswer = null;
  });
  return h;
}
