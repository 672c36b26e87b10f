import type { Task } from '../types.ts';
import { sb } from './client.ts';

interface TaskRow {
  id: string;
  project_id: string;
  title: string;
  status: Task['status'];
  execution_step: Task['executionStep'];
  chat_session_id: string | null;
  branch: string | null;
  pr_url: string | null;
  pr_number: number | null;
  pushed: string | null;
  commit_sha: string | null;
  summary: string | null;
  error_message: string | null;
  created_at: string;
  parent_task_id: string | null;
  source_task_id: string | null;
  triggered_by: string;
}

const TASK_COLUMNS =
  'id, project_id, title, status, execution_step, chat_session_id, branch, pr_url, pr_number, summary, error_message, created_at, ' +
  'parent_task_id, source_task_id, triggered_by, ' +
  'pushed:completion_evidence->gitPush->>pushed, commit_sha:completion_evidence->gitPush->>commitSha';

const toTask = (r: TaskRow): Task => ({
  id: r.id,
  projectId: r.project_id,
  title: r.title,
  status: r.status,
  executionStep: r.execution_step,
  sessionId: r.chat_session_id,
  branch: r.branch,
  prUrl: r.pr_url,
  prNumber: r.pr_number,
  pushed: r.pushed === 'true',
  commitSha: r.commit_sha,
  summary: r.summary,
  errorMessage: r.error_message,
  createdAt: r.created_at,
  parentTaskId: r.parent_task_id,
  sourceTaskId: r.source_task_id,
  triggeredBy: r.triggered_by,
});

/** How many trees the sidebar reads: the newest root tasks, each with everything under it. */
const ROOTS = 50;
/** Tasks read by id per request (keeps the URL short). */
const BY_ID = 100;

/**
 * The project's newest root tasks and every task in their trees (sub-tasks, retries, forks, at any
 * depth, as the `task_lineage` view walks them), newest roots first; web/src/lib/task-tree.ts nests them.
 */
export async function listTasks(projectId: string): Promise<Task[]> {
  const { data, error } = await sb()
    .from('tasks')
    .select(TASK_COLUMNS)
    .eq('project_id', projectId)
    .is('parent_task_id', null)
    .order('created_at', { ascending: false })
    .limit(ROOTS);
  if (error) throw new Error(error.message);
  const roots = (data as unknown as TaskRow[]).map(toTask);
  if (roots.length === 0) return roots;
  const lineage = await sb()
    .from('task_lineage')
    .select('task_id')
    .eq('project_id', projectId)
    .in(
      'root_task_id',
      roots.map((t) => t.id),
    )
    .gt('tree_depth', 0)
    .limit(2000);
  if (lineage.error) throw new Error(lineage.error.message);
  const ids = (lineage.data as { task_id: string }[]).map((r) => r.task_id);
  const below: Task[] = [];
  for (let i = 0; i < ids.length; i += BY_ID) {
    const page = await sb()
      .from('tasks')
      .select(TASK_COLUMNS)
      .in('id', ids.slice(i, i + BY_ID));
    if (page.error) throw new Error(page.error.message);
    below.push(...(page.data as unknown as TaskRow[]).map(toTask));
  }
  return [...roots, ...below];
}

export async function getTask(taskId: string): Promise<Task | null> {
  const { data, error } = await sb().from('tasks').select(TASK_COLUMNS).eq('id', taskId).maybeSingle();
  if (error) throw new Error(error.message);
  return data ? toTask(data as unknown as TaskRow) : null;
}

export interface Submitted {
  taskId: string;
  sessionId: string;
}

export interface SubmitOptions {
  agentType?: string;
  /** A profile's id; null runs with no profile (not even the project's default); absent lets the server choose. */
  profile?: string | null;
  /** Where the machine runs, as picked in the composer; absent: the profile's or the project's. */
  provider?: string;
  vmSize?: string;
  location?: string;
  /** 'task' (commits, pushes, opens a PR) or 'conversation'; absent: the profile's or the default. */
  taskMode?: string;
  /** One of the user's idle nodes to run on; absent: SAM places the task. */
  nodeId?: string;
}

export async function submitTask(projectId: string, message: string, options: SubmitOptions = {}): Promise<Submitted> {
  const { data, error } = await sb().rpc('submit_task', {
    p_project: projectId,
    p_message: message,
    p_options: {
      ...(options.agentType ? { agentType: options.agentType } : {}),
      ...(options.profile !== undefined ? { profile: options.profile } : {}),
      ...(options.provider ? { provider: options.provider } : {}),
      ...(options.vmSize ? { vmSize: options.vmSize } : {}),
      ...(options.location ? { location: options.location } : {}),
      ...(options.taskMode ? { taskMode: options.taskMode } : {}),
      ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    },
  });
  if (error) throw new Error(error.message);
  const r = data as { taskId: string; sessionId: string };
  return { taskId: r.taskId, sessionId: r.sessionId };
}
