/**
 * What the demo agent asks of others, steered by markers in its prompt: the client's permission
 * before its edit (`[permission]`), the human's answer to a question (`{{ask: …}}`), and a sub-task it dispatches and messages over SAM's MCP
 * tools (`{{subtask: …}}`, `{{tell: …}}`).
 */
import * as acp from '@agentclientprotocol/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { callSamTool, httpServers, resultText } from './mcp-tools.ts';
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

type Directive = { kind?: string; content?: string; metadata?: { humanInputRequestId?: string } };

/**
 * Asks the human (request_human_input) and waits in its turn for the answer: a task-mode turn that
 * ended would finish the task. Shows as one tool call; returns the answer, or null when none came
 * (the question expired, or the turn was cancelled).
 */
export async function askHuman(
  servers: acp.McpServer[],
  ask: { question: string; options: string[] },
  n: number,
  send: (update: acp.SessionUpdate) => Promise<boolean>,
  signal: AbortSignal,
): Promise<string | null> {
  const id = `call-${n}-ask`;
  const args = { context: ask.question, category: 'decision', ...(ask.options.length ? { options: ask.options } : {}) };
  await send({
    sessionUpdate: 'tool_call',
    toolCallId: id,
    title: 'request_human_input',
    kind: 'other',
    status: 'in_progress',
    rawInput: args,
  });
  const asked = await callSamTool(servers, 'request_human_input', args, signal);
  const requestId = asked?.ok ? (JSON.parse(asked.text) as { requestId?: string }).requestId : undefined;
  const reply = requestId ? await awaitAnswer(servers, requestId, signal) : null;
  const outcome = reply
    ? reply.answer !== null
      ? `Answer: ${reply.answer}`
      : 'The question expired unanswered.'
    : (asked?.text ?? 'no MCP server');
  await send({
    sessionUpdate: 'tool_call_update',
    toolCallId: id,
    status: reply?.answer != null ? 'completed' : 'failed',
    content: [{ type: 'content', content: { type: 'text', text: outcome } }],
  });
  return reply?.answer ?? null;
}

/**
 * Reads get_pending_messages every two seconds over one MCP connection (each call is one request
 * against the agent token's rate limit) until the answer, or word that the question expired, comes.
 */
async function awaitAnswer(
  servers: acp.McpServer[],
  requestId: string,
  signal: AbortSignal,
): Promise<{ answer: string | null } | null> {
  const server = httpServers(servers)[0];
  if (!server) return null;
  const headers = Object.fromEntries(server.headers.map((h) => [h.name, h.value]));
  const client = new Client({ name: 'sam-demo-agent', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } }), {
      signal,
    });
    while (!signal.aborted) {
      const result = await client
        .callTool({ name: 'get_pending_messages', arguments: {} }, undefined, { signal })
        .catch(() => null);
      let messages: Directive[] = [];
      try {
        messages = result ? ((JSON.parse(resultText(result)) as { messages?: Directive[] }).messages ?? []) : [];
      } catch {
        // not JSON (an error text): try again
      }
      for (const m of messages) {
        if (m.metadata?.humanInputRequestId !== requestId) continue;
        return { answer: m.kind === 'answer' ? (m.content ?? '') : null };
      }
      await pause(2000, signal);
    }
    return null;
  } catch {
    return null;
  } finally {
    await client.close().catch(() => {});
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
