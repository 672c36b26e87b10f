/**
 * The OpenAI Responses API as Codex speaks it: `POST /v1/responses` answered with its streaming
 * events (`response.created`, `response.output_item.added`, `response.output_text.delta`,
 * `response.output_item.done`, `response.completed` with usage); a `message` output item for text,
 * a `function_call` item for a tool call (with its `namespace` for an MCP tool offered as a
 * `namespace` tool), a `custom_tool_call` item for `apply_patch`; `*_output` input items for the
 * tool results. https://platform.openai.com/docs/api-reference/responses,
 * https://platform.openai.com/docs/api-reference/responses-streaming
 */
import type { ServerResponse } from 'node:http';
import { sse } from './http.ts';
import type { Turn } from './script.ts';

/** How many `*_output` input items (tool results) the conversation holds. */
export function responsesToolResults(body: Record<string, unknown>): number {
  let n = 0;
  for (const item of (body.input as { type?: string }[] | undefined) ?? []) {
    if (typeof item.type === 'string' && item.type.endsWith('_output')) n++;
  }
  return n;
}

export function answerResponses(res: ServerResponse, turn: Turn) {
  const { request, usage } = turn;
  const step = turn.step();
  const call = turn.toolCall(step);
  const seq = turn.nextSeq();
  let item: Record<string, unknown>;
  if (call?.name === 'apply_patch') {
    item = {
      type: 'custom_tool_call',
      id: `ctc_${seq}`,
      call_id: `call_${seq}`,
      name: 'apply_patch',
      input: call.args.patch,
      status: 'completed',
    };
  } else if (call) {
    const ns = /^(mcp__[^_]+(?:_[^_]+)*)__(.+)$/.exec(call.name);
    item = {
      type: 'function_call',
      id: `fc_${seq}`,
      call_id: `call_${seq}`,
      name: ns ? ns[2] : call.name,
      ...(ns ? { namespace: ns[1] } : {}),
      arguments: JSON.stringify(call.args),
      status: 'completed',
    };
  } else {
    const text = (step as { text: string }).text;
    item = {
      type: 'message',
      id: `msg_${seq}`,
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text, annotations: [] }],
    };
  }
  const response = {
    id: `resp_${seq}`,
    object: 'response',
    status: 'in_progress',
    model: request.body.model,
    output: [],
  };
  const events: { event: string; data: unknown }[] = [
    { event: 'response.created', data: { type: 'response.created', response } },
    { event: 'response.output_item.added', data: { type: 'response.output_item.added', output_index: 0, item } },
  ];
  if (item.type === 'message') {
    events.push({
      event: 'response.output_text.delta',
      data: {
        type: 'response.output_text.delta',
        item_id: item.id,
        output_index: 0,
        content_index: 0,
        delta: (step as { text: string }).text,
      },
    });
  }
  events.push(
    { event: 'response.output_item.done', data: { type: 'response.output_item.done', output_index: 0, item } },
    {
      event: 'response.completed',
      data: {
        type: 'response.completed',
        response: {
          ...response,
          status: 'completed',
          output: [item],
          usage: {
            input_tokens: usage.input,
            input_tokens_details: { cached_tokens: usage.cached },
            output_tokens: usage.output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.input + usage.output,
          },
        },
      },
    },
  );
  sse(res, events);
}
