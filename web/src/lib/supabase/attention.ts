// What needs the user in a project's tasks: open questions, permission requests and budget pauses.
import type { Attention } from '../task-tree.ts';
import { sb } from './client.ts';

export interface PendingAttention {
  taskId: string;
  kind: Attention;
}

/** A change broadcast on `project:<id>` (event `attention`) when one of those opens or closes. */
export interface AttentionEvent {
  taskId: string;
  projectId: string;
  kind: Exclude<Attention, 'followup'>;
  pending: boolean;
}

async function taskIds(query: PromiseLike<{ data: unknown; error: { message: string } | null }>): Promise<string[]> {
  const { data, error } = await query;
  if (error) throw new Error(error.message);
  return (data as { task_id: string | null }[]).flatMap((r) => (r.task_id ? [r.task_id] : []));
}

/** The project's pending questions, permission requests and paused budgets (read under RLS: the owner's). */
export async function listAttention(projectId: string): Promise<PendingAttention[]> {
  const [questions, permissions, budgets] = await Promise.all([
    taskIds(
      sb()
        .from('human_input_requests')
        .select('task_id')
        .eq('project_id', projectId)
        .eq('status', 'pending')
        .limit(500),
    ),
    taskIds(
      sb().from('permission_requests').select('task_id').eq('project_id', projectId).eq('status', 'pending').limit(500),
    ),
    taskIds(sb().from('task_budgets').select('task_id').eq('project_id', projectId).eq('state', 'paused').limit(500)),
  ]);
  return [
    ...questions.map((taskId) => ({ taskId, kind: 'question' as const })),
    ...permissions.map((taskId) => ({ taskId, kind: 'permission' as const })),
    ...budgets.map((taskId) => ({ taskId, kind: 'budget' as const })),
  ];
}
