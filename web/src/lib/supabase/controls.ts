// Controls on a task: stop (with a grace for the agent to commit), retry with a note, fork from a message.
import { sb } from './client.ts';

/** Where a stop stands (`stop_task`'s answer, or read from the task row). */
export interface StopState {
  taskId: string;
  status: string;
  /** A graceful stop is under way: the agent was told to wrap up; the task is cancelled at `deadline`. */
  stopping: boolean;
  deadline: string | null;
}

/** Stops a task: at once when `graceSeconds` is 0, else after the agent had that long to commit and finish. */
export async function stopTask(taskId: string, graceSeconds: number, reason?: string): Promise<StopState> {
  const { data, error } = await sb().rpc('stop_task', {
    p_task: taskId,
    p_grace_seconds: graceSeconds,
    ...(reason ? { p_reason: reason } : {}),
  });
  if (error) throw new Error(error.message);
  const r = data as { taskId: string; status: string; stopping: boolean; deadline: string | null };
  return { taskId: r.taskId, status: r.status, stopping: r.stopping, deadline: r.deadline };
}

/** The task's stop, as its row says (under RLS). */
export async function getStopState(taskId: string): Promise<StopState | null> {
  const { data, error } = await sb().from('tasks').select('id, status, stop_deadline').eq('id', taskId).maybeSingle();
  if (error) throw new Error(error.message);
  if (!data) return null;
  const r = data as { id: string; status: string; stop_deadline: string | null };
  const active = ['queued', 'delegated', 'in_progress'].includes(r.status);
  return { taskId: r.id, status: r.status, stopping: active && r.stop_deadline !== null, deadline: r.stop_deadline };
}

export interface StartedTask {
  taskId: string;
  sessionId: string;
}

/** A new attempt of a failed or cancelled task; a note from the user is added to its description. */
export async function retryTask(taskId: string, note?: string): Promise<StartedTask> {
  let description: string | undefined;
  const text = note?.trim();
  if (text) {
    const { data, error } = await sb().from('tasks').select('description, status').eq('id', taskId).single();
    if (error) throw new Error(error.message);
    const r = data as { description: string; status: string };
    description =
      `${r.description}\n\nNote from the user for this attempt: ${text}\n\n` +
      `Note: previous attempt (${taskId}) ended with status '${r.status}'.`;
  }
  const { data, error } = await sb().rpc('retry_task', {
    p_task: taskId,
    ...(description ? { p_description: description.slice(0, 32000) } : {}),
  });
  if (error) throw new Error(error.message);
  const r = data as { taskId: string; sessionId: string };
  return { taskId: r.taskId, sessionId: r.sessionId };
}

/** A new task continuing the conversation up to message `fromMessageId` (a message row's id) with `message`. */
export async function forkTask(taskId: string, message: string, fromMessageId: number): Promise<StartedTask> {
  const { data, error } = await sb().rpc('fork_task', {
    p_task: taskId,
    p_message: message,
    p_options: { fromMessageId },
  });
  if (error) throw new Error(error.message);
  const r = data as { taskId: string; sessionId: string };
  return { taskId: r.taskId, sessionId: r.sessionId };
}
