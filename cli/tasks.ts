/** The rows the CLI reads, under the signed-in user's RLS: projects, tasks, profiles, questions. */
import type { SupabaseClient } from '@supabase/supabase-js';
import { CliError, usageError } from './errors.ts';

export interface ProjectRow {
  id: string;
  name: string;
  repository: string;
  default_branch: string;
}

export interface TaskRow {
  id: string;
  project_id: string;
  parent_task_id: string | null;
  title: string;
  status: string;
  execution_step: string | null;
  chat_session_id: string | null;
  branch: string | null;
  pr_url: string | null;
  summary: string | null;
  error_message: string | null;
  created_at: string;
  /** Whether the machine pushed the branch ('true'/'false' once it reported; null before). */
  pushed: string | null;
}

export interface QuestionRow {
  id: string;
  task_id: string | null;
  category: string;
  context: string;
  options: unknown;
  status: string;
  expires_at: string;
}

const TASK_COLUMNS =
  'id, project_id, parent_task_id, title, status, execution_step, chat_session_id, branch, pr_url, summary, error_message, created_at, ' +
  'pushed:completion_evidence->gitPush->>pushed';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function failed(what: string, error: { message: string }): CliError {
  return new CliError(`Could not ${what}: ${error.message}`);
}

export async function listProjects(client: SupabaseClient): Promise<ProjectRow[]> {
  const { data, error } = await client
    .from('projects')
    .select('id, name, repository, default_branch')
    .order('created_at', { ascending: true });
  if (error) throw failed('list your projects', error);
  return data as ProjectRow[];
}

/** A project by id or name; with none named, the user's only project. */
export async function resolveProject(client: SupabaseClient, named?: string): Promise<ProjectRow> {
  const projects = await listProjects(client);
  if (projects.length === 0) throw new CliError('You have no projects yet. Create one in the web app first.');
  if (!named) {
    if (projects.length === 1) return projects[0]!;
    throw usageError(`Which project? Use --project with one of: ${projects.map((p) => p.name).join(', ')}`);
  }
  const found = projects.find((p) => p.id === named) ?? projects.find((p) => p.name === named);
  if (!found) throw usageError(`No project "${named}". Yours: ${projects.map((p) => p.name).join(', ')}`);
  return found;
}

/** A profile of the project by name or id. */
export async function resolveProfile(client: SupabaseClient, projectId: string, named: string): Promise<string> {
  const { data, error } = await client.from('agent_profiles').select('id, name').eq('project_id', projectId);
  if (error) throw failed('read the project’s agent profiles', error);
  const rows = data as { id: string; name: string }[];
  const found = rows.find((p) => p.id === named) ?? rows.find((p) => p.name === named);
  if (!found) {
    const names = rows.map((p) => p.name);
    throw usageError(
      `No agent profile "${named}" in this project${names.length ? `. Its profiles: ${names.join(', ')}` : ''}`,
    );
  }
  return found.id;
}

export function checkId(id: string | undefined, what = 'task'): string {
  if (!id) throw usageError(`Name the ${what} by its id (see sam tasks).`);
  if (!UUID.test(id)) throw usageError(`"${id}" is not a ${what} id (a UUID, as sam tasks shows).`);
  return id;
}

export async function getTask(client: SupabaseClient, id: string): Promise<TaskRow> {
  const { data, error } = await client.from('tasks').select(TASK_COLUMNS).eq('id', id).maybeSingle();
  if (error) throw failed(`read task ${id}`, error);
  if (!data) throw new CliError(`No task ${id} (or it is not yours).`);
  return data as unknown as TaskRow;
}

export async function listTasks(client: SupabaseClient, projectId?: string, limit = 30): Promise<TaskRow[]> {
  let query = client.from('tasks').select(TASK_COLUMNS).order('created_at', { ascending: false }).limit(limit);
  if (projectId) query = query.eq('project_id', projectId);
  const { data, error } = await query;
  if (error) throw failed('list your tasks', error);
  return data as unknown as TaskRow[];
}

export async function pendingQuestions(client: SupabaseClient): Promise<QuestionRow[]> {
  const { data, error } = await client
    .from('human_input_requests')
    .select('id, task_id, category, context, options, status, expires_at')
    .eq('status', 'pending')
    .order('created_at', { ascending: true });
  if (error) throw failed('list the agents’ questions', error);
  return data as QuestionRow[];
}

/** An RPC's answer, or its error in the database's words. */
export async function call<T>(
  client: SupabaseClient,
  fn: string,
  args: Record<string, unknown>,
  what: string,
): Promise<T> {
  const { data, error } = await client.rpc(fn, args);
  if (error) throw failed(what, error);
  return data as T;
}
