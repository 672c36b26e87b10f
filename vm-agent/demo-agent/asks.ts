/**
 * What the demo agent asks of others, steered by markers in its prompt: the client's permission
 * before its edit (`[permission]`), and a sub-task it dispatches and messages over SAM's MCP
 * tools (`{{subtask: …}}`, `{{tell: …}}`).
 */
import * as acp from '@agentclientprotocol/sdk';
import { callSamTool } from './mcp-tools.ts';
import type { planTurn } from './scenario.ts';

/**
 * Dispatches a sub-task; with a message, waits (up to a minute) until the sub-task's agent is
 * running and sends it the message. Each MCP call shows as a tool call.
 */
export async function delegate(
  servers: acp.McpServer[],
  description: string,
  message: string | null,
  n: number,
  send: (update: acp.SessionUpdate) => Promise<boolean>,
  signal: AbortSignal,
): Promise<void> {
  const step = async (tool: string, args: Record<string, unknown>, id: string) => {
    await send({
      sessionUpdate: 'tool_call',
      toolCallId: id,
      title: tool,
      kind: 'other',
      status: 'in_progress',
      rawInput: args,
    });
    const result = await callSamTool(servers, tool, args, signal);
    await send({
      sessionUpdate: 'tool_call_update',
      toolCallId: id,
      status: result?.ok ? 'completed' : 'failed',
      content: [{ type: 'content', content: { type: 'text', text: result?.text ?? 'no MCP server' } }],
    });
    return result;
  };
  const dispatched = await step('dispatch_task', { description, taskMode: 'task' }, `call-${n}-dispatch`);
  const taskId = dispatched?.ok ? (JSON.parse(dispatched.text) as { taskId?: string }).taskId : undefined;
  if (!taskId || !message) return;
  for (let i = 0; i < 120 && !signal.aborted; i++) {
    const status = await callSamTool(servers, 'get_subtask_status', { taskId }, signal);
    const state = status?.ok ? (JSON.parse(status.text) as { status?: string; executionStep?: string }) : {};
    if (state.status === 'in_progress' && state.executionStep === 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await step('send_message_to_subtask', { taskId, message }, `call-${n}-tell`);
}

/** Asks the client before the edit; true when it chose an `allow_*` option. */
export async function askPermission(
  client: acp.AgentContext,
  sessionId: string,
  file: string,
  plan: ReturnType<typeof planTurn>,
  toolCallId: string,
  signal: AbortSignal,
): Promise<boolean> {
  const pending = client.request(acp.methods.client.session.requestPermission, {
    sessionId,
    toolCall: {
      toolCallId,
      title: `Append a line to ${plan.targetFile}`,
      kind: 'edit',
      status: 'pending',
      locations: [{ path: file }],
      rawInput: { path: file, line: plan.line },
    },
    options: [
      { optionId: 'allow-once', name: 'Allow once', kind: 'allow_once' },
      { optionId: 'allow-always', name: 'Always allow', kind: 'allow_always' },
      { optionId: 'reject', name: 'Reject', kind: 'reject_once' },
    ],
  });
  const cancelled = new Promise<null>((resolve) =>
    signal.addEventListener('abort', () => resolve(null), { once: true }),
  );
  const answer = await Promise.race([pending, cancelled]).catch(() => null);
  if (!answer || answer.outcome.outcome !== 'selected') return false;
  return answer.outcome.optionId.startsWith('allow');
}
