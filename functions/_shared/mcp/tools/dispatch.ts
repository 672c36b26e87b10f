import { defineTool } from '../tool.ts';

const CONVERSATION_WARNING =
  'The sub-task runs in conversation mode: it will not complete by itself. Follow it with get_subtask_status and send_message_to_subtask, or dispatch with taskMode "task".';

export const dispatchTask = defineTool({
  name: 'dispatch_task',
  description:
    "Hand a self-contained piece of your work to a new agent on its own machine. The sub-task gets its own branch and chat; you can message, stop or retry it. Limits: depth 3, 5 active sub-tasks per task, 10 active dispatched tasks per project. `profile` names one of the project's agent profiles (agent, model, modes); options you give win over it.",
  async run(ctx, input) {
    const description = input.references?.length
      ? `${input.description}\n\n## References\n${input.references.map((r) => `- ${r}`).join('\n')}`
      : input.description;
    const options = {
      priority: input.priority,
      agentType: input.agentType,
      workspaceProfile: input.workspaceProfile,
      vmSize: input.vmSize,
      taskMode: input.taskMode,
      branch: input.branch,
      profile: input.profile,
    };
    const [row] = await ctx.tx`select public.dispatch_task(${description}, ${ctx.tx.json(options)}) as result`;
    const result = row!.result as Record<string, unknown>;
    return result.taskMode === 'conversation' ? { ...result, warning: CONVERSATION_WARNING } : result;
  },
});
