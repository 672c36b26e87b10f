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
}

const TASK_COLUMNS =
  'id, project_id, title, status, execution_step, chat_session_id, branch, pr_url, pr_number, summary, error_message, created_at, ' +
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
});

export async function listTasks(projectId: string): Promise<Task[]> {
  const { data, error } = await sb()
    .from('tasks')
    .select(TASK_COLUMNS)
    .eq('project_id', projectId)
    .is('parent_task_id', null)
    .order('created_at', { ascending: false })
    .limit(50);
  if (error) throw new Error(error.message);
  return (data as unknown as TaskRow[]).map(toTask);
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
