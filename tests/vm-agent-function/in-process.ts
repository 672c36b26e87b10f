import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { createVmAgentApp, type VmAgentDeps } from '../../functions/vm-agent/app.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import type { Reply } from './harness.ts';

export const MCP_URL = 'https://sam.example.test/functions/v1/mcp';

export interface InProcessVmAgent {
  readonly db: TestDatabase;
  readonly secret: string;
  call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    token?: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Reply<T> & { headers: Record<string, string> }>;
}

/**
 * The `vm-agent` app in-process (`app.request()`) over a fresh test database: for what needs no
 * Deno process (settings and token rows are changed directly to stand for the passing of time).
 */
export function useInProcessVmAgent(label: string, deps: Partial<VmAgentDeps> = {}): InProcessVmAgent {
  const db = useTestDatabase(label);
  const secret = randomBytes(32).toString('base64url');
  let sql: Sql;
  let app: ReturnType<typeof createVmAgentApp>;
  beforeAll(() => {
    sql = connect(db.url('postgres'));
    app = createVmAgentApp({ sql, secret, mcpUrl: MCP_URL, pollIntervalMs: 50, ...deps });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
  });
  return {
    db,
    secret,
    async call(method, path, token, body, headers = {}) {
      const started = Date.now();
      const res = await app.request(`http://vm-agent.test/vm-agent${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      const answerHeaders = Object.fromEntries(res.headers.entries());
      return {
        status: res.status,
        body: text ? JSON.parse(text) : {},
        ms: Date.now() - started,
        headers: answerHeaders,
      } as never;
    },
  };
}

/** A user's task placed on a new node, and that node's one-time bootstrap token. */
export async function provisionedNode(target: InProcessVmAgent, message = 'Fix the flaky upload test') {
  const admin = target.db.admin;
  const owner = await createUser(admin);
  const project = await createProject(admin, owner);
  const task = await submitTask(admin, owner, project, message, { agentType: 'demo' });
  const [t] = await admin`select auto_provisioned_node_id from public.tasks where id = ${task.taskId}`;
  const nodeId = t!.auto_provisioned_node_id as string;
  const [b] = await admin`select public.issue_bootstrap_token(${nodeId}) as token`;
  return { owner, project, task, nodeId, bootstrapToken: b!.token as string };
}

/** The same, registered: the node token. */
export async function registeredNode(target: InProcessVmAgent, message?: string) {
  const node = await provisionedNode(target, message);
  const r = await target.call<{ nodeToken: string; expiresAt: string }>('POST', '/nodes/register', undefined, {
    bootstrapToken: node.bootstrapToken,
    agentVersion: 'test',
  });
  if (r.status !== 200) throw new Error(`register answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { ...node, nodeToken: r.body.nodeToken };
}
