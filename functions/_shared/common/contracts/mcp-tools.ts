import { z } from 'zod';

/**
 * Inputs of SAM's MCP tools: the one contract, imported by the `mcp` function (which validates
 * every call against it) and by anything that calls the tools (the demo agent, tests). Limits
 * follow the original SAM.
 */

/** Text from an agent: no NUL bytes, no bidi overrides or other control characters but tab/newline. */
const cleanText = (max: number) =>
  z
    .string()
    .max(max)
    .transform((s) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, ''));
const requiredText = (max: number) => cleanText(max).refine((s) => s.trim().length > 0, 'must not be empty');
const id = z.uuid();

const taskStatus = z.enum(['draft', 'ready', 'queued', 'delegated', 'in_progress', 'completed', 'failed', 'cancelled']);

export const toolInputs = {
  get_instructions: z.object({}).strict(),

  dispatch_task: z
    .object({
      description: requiredText(32_000),
      priority: z.number().int().min(0).max(100).optional(),
      references: z.array(cleanText(500)).max(20).optional(),
      agentType: z.string().min(1).max(64).optional(),
      workspaceProfile: z.enum(['full', 'lightweight']).optional(),
      vmSize: z.enum(['small', 'medium', 'large']).optional(),
      taskMode: z.enum(['task', 'conversation']).optional(),
      branch: z.string().min(1).max(255).optional(),
      /** An agent profile of the project, by name or id; its settings apply where no option is given. */
      profile: z.string().min(1).max(64).optional(),
    })
    .strict(),

  send_message_to_subtask: z.object({ taskId: id, message: requiredText(32_768) }).strict(),
  stop_subtask: z
    .object({
      taskId: id,
      reason: cleanText(2000).optional(),
      warning: cleanText(2000).optional(),
      graceSeconds: z.number().int().min(0).max(30).optional(),
    })
    .strict(),
  retry_subtask: z.object({ taskId: id, newDescription: cleanText(32_000).optional() }).strict(),
  list_subtasks: z.object({ status: taskStatus.optional() }).strict(),
  get_subtask_status: z.object({ taskId: id }).strict(),
  get_pending_messages: z.object({}).strict(),

  create_idea: z
    .object({
      title: requiredText(200),
      content: cleanText(65_536).optional(),
      priority: z.number().int().min(0).max(100).optional(),
    })
    .strict(),
  update_idea: z
    .object({
      ideaId: id,
      title: requiredText(200).optional(),
      content: cleanText(65_536).optional(),
      append: cleanText(65_536).optional(),
      priority: z.number().int().min(0).max(100).optional(),
      status: z.enum(['draft', 'ready', 'completed', 'cancelled']).optional(),
    })
    .strict(),
  list_ideas: z.object({ limit: z.number().int().min(1).max(100).optional() }).strict(),
  get_idea: z.object({ ideaId: id }).strict(),
  search_ideas: z.object({ query: requiredText(500), limit: z.number().int().min(1).max(20).optional() }).strict(),

  update_task_status: z.object({ message: requiredText(2000) }).strict(),
  complete_task: z
    .object({
      summary: requiredText(10_000),
      evidence: z
        .object({
          filesChanged: z.array(z.string().max(500)).max(500).optional(),
          testsRun: z.array(z.string().max(500)).max(100).optional(),
          commands: z.array(z.string().max(1000)).max(100).optional(),
          notes: cleanText(4000).optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  request_human_input: z
    .object({
      context: requiredText(4000),
      category: z.enum(['decision', 'clarification', 'approval', 'error_help']).optional(),
      options: z.array(requiredText(200)).max(10).optional(),
    })
    .strict(),

  list_tasks: z.object({ status: taskStatus.optional(), limit: z.number().int().min(1).max(50).optional() }).strict(),
  get_task_details: z.object({ taskId: id }).strict(),
  get_session_messages: z
    .object({
      sessionId: id,
      limit: z.number().int().min(1).max(200).optional(),
      roles: z
        .array(z.enum(['user', 'assistant', 'system', 'thought', 'tool', 'plan']))
        .max(6)
        .optional(),
    })
    .strict(),
} as const;

export type ToolName = keyof typeof toolInputs;
export type ToolInput<N extends ToolName> = z.output<(typeof toolInputs)[N]>;

export function isToolName(name: string): name is ToolName {
  return Object.hasOwn(toolInputs, name);
}
