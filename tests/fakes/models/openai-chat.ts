/**
 * The OpenAI Chat Completions API as OpenCode speaks it: `POST /v1/chat/completions` answered as one
 * `chat.completion` or, with `stream: true`, as `chat.completion.chunk` server-sent events (the
 * delta, the finish reason, the usage chunk with no choices, then `[DONE]`); `tool_calls` for tool
 * calls, `tool` messages for their results.
 * https://platform.openai.com/docs/api-reference/chat, https://platform.openai.com/docs/api-reference/chat-streaming
 */
import type { ServerResponse } from 'node:http';
import { json, sse } from './http.ts';
import type { Turn } from './script.ts';

/** How many `tool` messages (tool results) the conversation holds. */
export function chatToolResults(body: Record<string, unknown>): number {
  return ((body.messages as { role: string }[] | undefined) ?? []).filter((m) => m.role === 'tool').length;
}

/** A request without tools (OpenCode's title call) gets a title, not a step of the script. */
export function answerChat(res: ServerResponse, turn: Turn) {
  const { request, usage } = turn;
  const step = request.tools.length > 0 ? turn.step() : { text: 'Scripted title' };
  const call = turn.toolCall(step);
  const seq = turn.nextSeq();
  const base = {
    id: `chatcmpl-${seq}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: request.body.model,
  };
  if (request.body.stream !== true) {
    return json(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: call
            ? {
                role: 'assistant',
                content: null,
                tool_calls: [
                  {
                    id: `call_${seq}`,
                    type: 'function',
                    function: { name: call.name, arguments: JSON.stringify(call.args) },
                  },
                ],
              }
            : { role: 'assistant', content: (step as { text: string }).text },
          finish_reason: call ? 'tool_calls' : 'stop',
        },
      ],
      usage: {
        prompt_tokens: usage.input,
        completion_tokens: usage.output,
        total_tokens: usage.input + usage.output,
      },
    });
  }
  const delta = call
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            index: 0,
            id: `call_${seq}`,
            type: 'function',
            function: { name: call.name, arguments: JSON.stringify(call.args) },
          },
        ],
      }
    : { role: 'assistant', content: (step as { text: string }).text };
  sse(res, [
    { data: { ...base, choices: [{ index: 0, delta, finish_reason: null }] } },
    { data: { ...base, choices: [{ index: 0, delta: {}, finish_reason: call ? 'tool_calls' : 'stop' }] } },
    {
      data: {
        ...base,
        choices: [],
        usage: {
          prompt_tokens: usage.input,
          completion_tokens: usage.output,
          total_tokens: usage.input + usage.output,
        },
      },
    },
    'done',
  ]);
}
