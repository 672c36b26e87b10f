import { pause } from '../../common/pause.ts';
import type { Tx } from '../../db.ts';
import { HttpError } from '../../http-error.ts';
import { defineTool, defineWaitingTool, type WaitingToolContext } from '../tool.ts';

/** A direct child of the calling agent's task, or a refusal: the same 404 whether it exists elsewhere or not. */
async function ownChild(tx: Tx, taskId: string) {
  const [child] = await tx`
    select id, title, status, execution_step, task_mode, branch, pr_url, summary, error_message, chat_session_id,
           triggered_by, dispatch_depth, created_at, completed_at
    from public.tasks where id = ${taskId} and parent_task_id = public.current_agent_task_id()`;
  if (!child) throw new HttpError(403, 'not_allowed', `Task ${taskId} is not a sub-task of yours`);
  return child;
}

function describeChild(c: Record<string, unknown>) {
  return {
    taskId: c.id,
    title: c.title,
    status: c.status,
    executionStep: c.execution_step,
    taskMode: c.task_mode,
    branch: c.branch,
    prUrl: c.pr_url,
    summary: c.summary,
    error: c.error_message,
    sessionId: c.chat_session_id,
    triggeredBy: c.triggered_by,
    dispatchDepth: c.dispatch_depth,
    createdAt: c.created_at,
    completedAt: c.completed_at,
  };
}

export const listSubtasks = defineTool({
  name: 'list_subtasks',
  description: 'List the sub-tasks you dispatched (your direct children), newest first, optionally by status.',
  async run(ctx, input) {
    const rows = await ctx.tx`
      select id, title, status, execution_step, task_mode, branch, pr_url, summary, error_message, chat_session_id,
             triggered_by, dispatch_depth, created_at, completed_at
      from public.tasks
      where parent_task_id = public.current_agent_task_id()
        and (${input.status ?? null}::public.task_status is null or status = ${input.status ?? null}::public.task_status)
      order by created_at desc limit 100`;
    return { subtasks: rows.map(describeChild) };
  },
});

export const getSubtaskStatus = defineTool({
  name: 'get_subtask_status',
  description: 'Status, step, branch, summary or error of one of your sub-tasks.',
  async run(ctx, input) {
    return describeChild(await ownChild(ctx.tx, input.taskId));
  },
});

export const sendMessageToSubtask = defineTool({
  name: 'send_message_to_subtask',
  description:
    "Send a directive to one of your sub-tasks' agents. It is queued durably and delivered to that agent (it reads it with get_pending_messages, and it appears in the sub-task's chat).",
  async run(ctx, input) {
    await ownChild(ctx.tx, input.taskId);
    const [row] = await ctx.tx`select public.send_directive(${input.taskId}::uuid, 'message', ${input.message}) as id`;
    return { directiveId: row!.id, delivered: false, queued: true };
  },
});

/** How often a grace period looks whether the sub-task already ended. */
const GRACE_POLL_MS = 1000;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * The grace period after a stop warning: up to `ms`, ended early once the sub-task reached a
 * terminal status by itself. Each look is its own short transaction; no connection is held between.
 */
async function grace(ctx: WaitingToolContext, taskId: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    await pause(Math.min(GRACE_POLL_MS, left));
    const [row] = await ctx.step((tx) => tx`select status from public.tasks where id = ${taskId}`);
    if (!row || TERMINAL.has(row.status as string)) return;
  }
}

export const stopSubtask = defineWaitingTool({
  name: 'stop_subtask',
  description:
    'Stop one of your sub-tasks. With a warning, its agent is told first and the sub-task is cancelled after a grace period (default 5 s, at most 30 s, shorter if it ends by itself); without one it is cancelled at once.',
  async run(ctx, input) {
    // The warning is committed (and so deliverable) before the grace period starts, and the grace
    // period holds no transaction: the cancel is a step of its own.
    await ctx.step(async (tx) => {
      await ownChild(tx, input.taskId);
      if (input.warning)
        await tx`select public.send_directive(${input.taskId}::uuid, 'stop_warning', ${input.warning})`;
    });
    const warned = Boolean(input.warning);
    if (warned) await grace(ctx, input.taskId, (input.graceSeconds ?? 5) * 1000);
    return ctx.step(async (tx) => {
      const [row] =
        await tx`select public.cancel_task(${input.taskId}::uuid, ${input.reason ?? 'stopped by parent'}) as moved`;
      const [after] = await tx`select status from public.tasks where id = ${input.taskId}`;
      return { taskId: input.taskId, warned, stopped: row!.moved, status: after?.status };
    });
  },
});

export const retrySubtask = defineTool({
  name: 'retry_subtask',
  description:
    'Start a new attempt of one of your sub-tasks (stopping it first if it is still running). What went wrong is carried into the new description.',
  async run(ctx, input) {
    const child = await ownChild(ctx.tx, input.taskId);
    const note = [
      `Note: previous attempt (${child.id}) ended with status '${child.status}'.`,
      child.error_message ? `Error: ${child.error_message}` : null,
      child.branch ? `Branch with partial work: ${child.branch}` : null,
    ]
      .filter(Boolean)
      .join(' ');
    const [orig] = await ctx.tx`select description from public.tasks where id = ${child.id}`;
    const description = `${input.newDescription ?? (orig!.description as string)}\n\n${note}`;
    const [row] = await ctx.tx`select public.retry_task(${child.id}::uuid, ${description}) as result`;
    return row!.result as Record<string, unknown>;
  },
});

export const getPendingMessages = defineTool({
  name: 'get_pending_messages',
  description:
    'Directives from your parent task and answers to your questions that arrived since your last call, oldest first. Each is returned once.',
  async run(ctx) {
    const [row] = await ctx.tx`select public.take_pending_directives() as messages`;
    return { messages: row!.messages as unknown[] };
  },
});
