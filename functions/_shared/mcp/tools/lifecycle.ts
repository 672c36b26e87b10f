import { HttpError } from '../../http-error.ts';
import { defineTool, type ToolContext } from '../tool.ts';

/** The calling agent's task, read under its own identity (RLS). */
export async function currentTask(ctx: ToolContext) {
  const [task] = await ctx.tx`
    select t.id, t.title, t.description, t.status, t.execution_step, t.task_mode, t.priority, t.branch,
           t.chat_session_id, t.project_id, t.dispatch_depth, t.parent_task_id
    from public.tasks t where t.id = public.current_agent_task_id()`;
  if (!task) throw new HttpError(404, 'not_found', 'This agent token is not attached to a task');
  return task;
}

const TASK_MODE_STEPS = [
  'Read the task description below; it is what the human asked for.',
  'Work in the repository checked out in your workspace, on the task branch. Commit as you go.',
  'Report progress with update_task_status at meaningful milestones.',
  'When a part of the work is independent, hand it to another agent with dispatch_task and follow it with get_subtask_status.',
  'If you are blocked on a decision only the human can make, call request_human_input and check get_pending_messages.',
  'When the work is done, call complete_task with a summary and evidence (files changed, tests run). SAM then pushes the branch.',
];

const CONVERSATION_MODE_STEPS = [
  'This is a conversation: the human will reply in the chat. Answer, explore, and make changes when asked.',
  'Do NOT call complete_task to end the conversation; when you finish a turn, call complete_task only to signal you are waiting (it moves the task to awaiting follow-up).',
  'Check get_pending_messages for directives and answers to your questions.',
];

export const getInstructions = defineTool({
  name: 'get_instructions',
  description:
    'Call this first. Returns your task (title, description, status, branch), the project (repository, default branch), your chat session, and what to do in this mode (task or conversation).',
  async run(ctx) {
    const task = await currentTask(ctx);
    const [project] = await ctx.tx`
      select id, name, repository, default_branch, repo_provider from public.projects where id = ${task.project_id}`;
    const [session] = await ctx.tx`select id, topic from public.chat_sessions where id = ${task.chat_session_id}`;
    const conversation = task.task_mode === 'conversation';
    return {
      context: {
        type: task.task_mode,
        chatSessionId: task.chat_session_id,
        workspaceId: ctx.claims.workspace_id ?? null,
        agentSessionId: ctx.claims.agent_session_id ?? null,
      },
      task: {
        id: task.id,
        title: task.title,
        description: task.description,
        status: task.status,
        executionStep: task.execution_step,
        priority: task.priority,
        outputBranch: task.branch,
        dispatchDepth: task.dispatch_depth,
        parentTaskId: task.parent_task_id,
      },
      session: session ? { id: session.id, topic: session.topic } : null,
      project: project
        ? {
            id: project.id,
            name: project.name,
            repository: project.repository,
            defaultBranch: project.default_branch,
            repoProvider: project.repo_provider,
          }
        : null,
      instructions: conversation ? CONVERSATION_MODE_STEPS : TASK_MODE_STEPS,
    };
  },
});

export const updateTaskStatus = defineTool({
  name: 'update_task_status',
  description:
    'Report progress on your task in one or two sentences (shown live in the chat and as a low-urgency notification). Refused once the task has ended.',
  async run(ctx, input) {
    const [row] = await ctx.tx`select public.report_task_progress(${input.message}) as result`;
    return row!.result as Record<string, unknown>;
  },
});

export const completeTask = defineTool({
  name: 'complete_task',
  description:
    'Finish your task with a summary of what you did and evidence (files changed, tests run). In task mode this completes the task and SAM pushes the branch; in conversation mode it marks the session as awaiting the human.',
  async run(ctx, input) {
    const task = await currentTask(ctx);
    const [row] = await ctx.tx`
      select public.complete_task(${task.id}::uuid, ${input.summary}, null, ${input.evidence ? ctx.tx.json(input.evidence) : null}) as moved`;
    const [after] = await ctx.tx`select status, execution_step from public.tasks where id = ${task.id}`;
    return {
      taskId: task.id,
      changed: row!.moved,
      status: after?.status,
      executionStep: after?.execution_step ?? null,
      taskMode: task.task_mode,
    };
  },
});

export const requestHumanInput = defineTool({
  name: 'request_human_input',
  description:
    'Ask the human a question you cannot answer yourself (a decision, a clarification, an approval). Returns at once; the answer arrives later through get_pending_messages: call it every few seconds until the answer (or word that the question expired) comes, without ending your turn, since a task that ends its turn is finished. If your turn does end first, the answer comes as your next prompt.',
  async run(ctx, input) {
    const [row] = await ctx.tx`
      select public.request_human_input(${input.context}, ${input.category ?? 'clarification'},
                                        ${ctx.tx.json(input.options ?? [])}) as id`;
    return {
      requestId: row!.id,
      status: 'pending',
      message: 'The human has been notified. Check get_pending_messages for the answer.',
    };
  },
});
