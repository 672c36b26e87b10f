/**
 * A machine for a submitted task, the way the local provider prepares one: a user, a project on a
 * fresh local git repository, the task (placed on a new node in `provisioning`), the node's
 * one-time bootstrap token, and a machine directory holding bootstrap.json (0600).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import type { RepositoryPolicy } from '../../vm-agent/git/policy.ts';
import { makeRemote } from '../../vm-agent/test-support/git-repos.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { waitFor } from '../helpers/wait.ts';

/** What a local machine may clone in these tests: https, and local repositories under the temp dir. */
export const LOCAL_REPOSITORIES: RepositoryPolicy = { protocols: ['https', 'file'], localRoots: [tmpdir()] };

export interface PreparedMachine {
  owner: string;
  project: string;
  /** The project's repository: a bare repo with README.md on main. */
  bare: string;
  task: { taskId: string; sessionId: string; branchName: string };
  nodeId: string;
  bootstrapToken: string;
  dir: string;
  cleanup(): Promise<void>;
}

export async function prepareMachine(
  admin: postgres.Sql,
  controlPlaneUrl: string,
  message: string,
  options: Record<string, unknown> = {},
  agentEnv: Record<string, string> = { SAM_DEMO_AGENT_DELAY_MS: '1' },
  /** Runs before the task is submitted (a profile, project settings). */
  beforeSubmit?: (owner: string, project: string) => Promise<unknown>,
): Promise<PreparedMachine> {
  const owner = await createUser(admin);
  const project = await createProject(admin, owner);
  const { root, bare } = await makeRemote();
  await admin`update public.projects set repository = ${bare}, repo_provider = 'local', default_branch = 'main'
               where id = ${project}`;
  await beforeSubmit?.(owner, project);
  const task = await submitTask(admin, owner, project, message, { agentType: 'demo', ...options });
  const [t] = await admin`select auto_provisioned_node_id from public.tasks where id = ${task.taskId}`;
  const nodeId = t!.auto_provisioned_node_id as string;
  const [b] = await admin`select public.issue_bootstrap_token(${nodeId}) as token`;
  const bootstrapToken = b!.token as string;
  const dir = await mkdtemp(path.join(tmpdir(), 'sam-machine-'));
  await writeFile(
    path.join(dir, 'bootstrap.json'),
    JSON.stringify({
      controlPlaneUrl,
      bootstrapToken,
      providerInstanceId: `local-${nodeId.slice(0, 8)}`,
      agentEnv,
      // The project's repository is local, under the temp dir (local-machines/host.ts allows the same).
      git: LOCAL_REPOSITORIES,
    }),
    { mode: 0o600 },
  );
  return {
    owner,
    project,
    bare,
    task,
    nodeId,
    bootstrapToken,
    dir,
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface TaskView {
  status: string;
  execution_step: string | null;
  branch: string;
  summary: string | null;
  error_message: string | null;
  node_id: string | null;
  workspace_id: string | null;
  completion_evidence: { gitPush?: Record<string, unknown> } | null;
  workspace_status: string | null;
  node_status: string | null;
}

export async function taskView(admin: postgres.Sql, taskId: string): Promise<TaskView> {
  const [row] = await admin`
    select t.status, t.execution_step, t.branch, t.summary, t.error_message, t.node_id, t.workspace_id,
           t.completion_evidence, w.status as workspace_status, n.status as node_status
      from public.tasks t
      left join public.workspaces w on w.id = t.workspace_id
      left join public.nodes n on n.id = t.node_id
     where t.id = ${taskId}`;
  return row as unknown as TaskView;
}

/** Until the task's workspace stopped (or failed) and its node went warm. */
export function settled(admin: postgres.Sql, taskId: string, timeoutMs = 60_000): Promise<TaskView> {
  return waitFor(
    `task ${taskId} to settle`,
    async () => {
      const t = await taskView(admin, taskId);
      return ['stopped', 'failed'].includes(t.workspace_status ?? '') && t.node_status === 'warm' ? t : null;
    },
    timeoutMs,
  );
}

export interface ChatMessage {
  message_id: string;
  role: string;
  content: string;
  tool_call_id: string | null;
  tool_status: string | null;
  tool_metadata: Record<string, unknown> | null;
}

export async function chatMessages(admin: postgres.Sql, chatSessionId: string): Promise<ChatMessage[]> {
  return (await admin`
    select message_id, role::text as role, content, tool_call_id, tool_status::text as tool_status, tool_metadata
      from public.messages
     where session_id = ${chatSessionId} order by id`) as unknown as ChatMessage[];
}

/** The statuses one tool call went through, in order. */
export function toolStatuses(messages: ChatMessage[], toolCallId: string): unknown[] {
  return messages.filter((m) => m.tool_call_id === toolCallId).map((m) => m.tool_status);
}

export { waitFor };
