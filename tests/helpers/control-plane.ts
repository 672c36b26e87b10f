import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { signSamToken } from '../../functions/_shared/sam-tokens.ts';

/**
 * Builds control-plane state through the real SQL functions, acting as the identities that call
 * them in production: the user submits, the node registers with its bootstrap token, the workspace
 * reports ready and starts the agent. Only the cloud (creating the machine) is skipped.
 */
type Sql = postgres.Sql;

export async function createUser(admin: Sql, email = `${randomUUID()}@example.com`): Promise<string> {
  const [row] =
    await admin`insert into auth.users (id, email, aud, role) values (${randomUUID()}, ${email}, 'authenticated', 'authenticated') returning id`;
  return row!.id as string;
}

export async function createProject(
  admin: Sql,
  ownerId: string,
  name = `p-${randomUUID().slice(0, 8)}`,
): Promise<string> {
  const [row] = await admin`
    insert into public.projects (owner_id, name, repository, repo_provider, default_branch)
    values (${ownerId}, ${name}, ${'/tmp/' + name}, 'local', 'main') returning id`;
  return row!.id as string;
}

/** Runs `fn` in a transaction as `role` with `claims`, as PostgREST and our functions do. */
export async function as<T>(
  sql: Sql,
  role: string,
  claims: Record<string, unknown>,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx.unsafe(`set local role ${role}`);
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role, ...claims })}, true)`;
    return fn(tx);
  })) as T;
}

export async function submitTask(
  admin: Sql,
  userId: string,
  projectId: string,
  message: string,
  options: Record<string, unknown> = {},
) {
  const [row] = await as(
    admin,
    'authenticated',
    { sub: userId },
    (tx) => tx`select public.submit_task(${projectId}, ${message}, ${tx.json(options as never)}) as r`,
  );
  return row!.r as { taskId: string; sessionId: string; branchName: string; status: string };
}

export interface RunningAgent {
  taskId: string;
  agentSessionId: string;
  workspaceId: string;
  claims: Record<string, unknown> & { jti: string; exp: number };
}

/** Takes a placed task to a running agent: node registration (if it needed a new node), workspace ready, agent session ready. */
export async function bringUp(admin: Sql, taskId: string, agentType = 'demo'): Promise<RunningAgent> {
  const [t] =
    await admin`select node_id, auto_provisioned_node_id, workspace_id from public.tasks where id = ${taskId}`;
  if (!t) throw new Error(`no task ${taskId}`);
  if (!t.workspace_id && t.auto_provisioned_node_id) {
    const [{ token }] =
      (await admin`select public.issue_bootstrap_token(${t.auto_provisioned_node_id}) as token`) as unknown as [
        { token: string },
      ];
    await admin`select public.register_node(${token}, '{}')`;
  }
  const [w] =
    await admin`select id from public.workspaces where task_id = ${taskId} and status in ('creating', 'ready')`;
  if (!w) throw new Error(`task ${taskId} has no workspace`);
  await admin`select public.workspace_ready(${w.id})`;
  const [s] = await admin`select public.start_agent_session(${agentType}, ${w.id}) as s`;
  const claims = s!.s as RunningAgent['claims'] & { agentSessionId: string };
  await admin`select public.agent_session_ready(${claims.agentSessionId})`;
  return { taskId, agentSessionId: claims.agentSessionId, workspaceId: w.id as string, claims };
}

export function agentToken(secret: string, agent: RunningAgent): Promise<string> {
  const { agentSessionId: _drop, ...claims } = agent.claims as RunningAgent['claims'] & { agentSessionId?: string };
  return signSamToken(secret, 'agent', claims);
}
