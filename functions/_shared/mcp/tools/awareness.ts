import { toChatMessages } from '../../common/contracts/messages.ts';
import { HttpError } from '../../http-error.ts';
import { defineTool } from '../tool.ts';

export const listTasks = defineTool({
  name: 'list_tasks',
  description: 'Recent tasks in this project (default 10, at most 50), optionally by status.',
  async run(ctx, input) {
    const rows = await ctx.tx`
      select id, title, status, execution_step, task_mode, branch, parent_task_id, triggered_by, created_at
      from public.tasks
      where project_id = public.current_agent_project_id()
        and (${input.status ?? null}::public.task_status is null or status = ${input.status ?? null}::public.task_status)
      order by created_at desc limit ${input.limit ?? 10}`;
    return {
      tasks: rows.map((r) => ({
        taskId: r.id,
        title: r.title,
        status: r.status,
        executionStep: r.execution_step,
        taskMode: r.task_mode,
        branch: r.branch,
        parentTaskId: r.parent_task_id,
        triggeredBy: r.triggered_by,
        createdAt: r.created_at,
      })),
    };
  },
});

export const getTaskDetails = defineTool({
  name: 'get_task_details',
  description:
    'Everything about one task in this project: description, status, lineage, branch, PR, summary, error and its chat session id.',
  async run(ctx, input) {
    const [t] = await ctx.tx`
      select * from public.tasks where id = ${input.taskId} and project_id = public.current_agent_project_id()`;
    if (!t) throw new HttpError(404, 'not_found', `No task ${input.taskId} in this project`);
    return {
      taskId: t.id,
      title: t.title,
      description: t.description,
      status: t.status,
      executionStep: t.execution_step,
      taskMode: t.task_mode,
      priority: t.priority,
      parentTaskId: t.parent_task_id,
      sourceTaskId: t.source_task_id,
      dispatchDepth: t.dispatch_depth,
      triggeredBy: t.triggered_by,
      branch: t.branch,
      prUrl: t.pr_url,
      summary: t.summary,
      error: t.error_message,
      sessionId: t.chat_session_id,
      createdAt: t.created_at,
      completedAt: t.completed_at,
    };
  },
});

export const getSessionMessages = defineTool({
  name: 'get_session_messages',
  description:
    "Messages of a chat session in this project, oldest first (default the user's and the assistant's; at most 200).",
  async run(ctx, input) {
    const [session] = await ctx.tx`
      select id from public.chat_sessions where id = ${input.sessionId} and project_id = public.current_agent_project_id()`;
    if (!session) throw new HttpError(404, 'not_found', `No session ${input.sessionId} in this project`);
    const roles = input.roles ?? ['user', 'assistant'];
    // The chat's own message objects: rows as JSON, mapped as the web maps them.
    const rows = await ctx.tx`
      select to_jsonb(m) as row from (
        select * from public.messages
        where session_id = ${input.sessionId} and role = any(${roles}::public.message_role[])
        order by id desc limit ${input.limit ?? 50}) m
      order by m.id`;
    return { sessionId: input.sessionId, messages: toChatMessages(rows.map((r) => r.row)) };
  },
});
