/**
 * The Anthropic Messages API as Claude Code speaks it: `POST /v1/messages`, answered as one JSON
 * message or, with `stream: true`, as its server-sent events (`message_start`,
 * `content_block_start`/`_delta`/`_stop` with `text_delta` or `input_json_delta`, `message_delta`
 * carrying the stop reason and usage, `message_stop`); `tool_use` blocks for tool calls,
 * `tool_result` blocks for their results; and `POST /v1/messages/count_tokens`.
 * https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/docs/build-with-claude/streaming
 */
import type { ServerResponse } from 'node:http';
import { json, sse } from './http.ts';
import type { Step, Turn } from './script.ts';

/** How many `tool_result` blocks the conversation holds. */
export function anthropicToolResults(body: Record<string, unknown>): number {
  let n = 0;
  for (const m of (body.messages as { content: unknown }[] | undefined) ?? []) {
    if (Array.isArray(m.content)) n += m.content.filter((c: { type?: string }) => c.type === 'tool_result').length;
  }
  return n;
}

/** `POST /v1/messages/count_tokens`. */
export function answerCountTokens(res: ServerResponse) {
  return json(res, 200, { input_tokens: 10 });
}

/** A request without tools (Claude Code's title call) gets a title, not a step of the script. */
export function answerAnthropic(res: ServerResponse, turn: Turn) {
  const { request, usage } = turn;
  const step: Step = request.tools.length > 0 ? turn.step() : { text: 'Scripted title' };
  const call = turn.toolCall(step);
  const seq = turn.nextSeq();
  const message = {
    id: `msg_${seq}`,
    type: 'message',
    role: 'assistant',
    model: request.body.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: usage.input, cache_read_input_tokens: usage.cached, output_tokens: 1 },
  };
  const block = call
    ? { type: 'tool_use', id: `toolu_${seq}`, name: call.name, input: {} }
    : { type: 'text', text: '' };
  const delta = call
    ? { type: 'input_json_delta', partial_json: JSON.stringify(call.args) }
    : { type: 'text_delta', text: (step as { text: string }).text };
  if (request.body.stream !== true) {
    const content = call
      ? [{ type: 'tool_use', id: block.id, name: call.name, input: call.args }]
      : [{ type: 'text', text: (step as { text: string }).text }];
    return json(res, 200, {
      ...message,
      content,
      stop_reason: call ? 'tool_use' : 'end_turn',
      usage: { input_tokens: usage.input, cache_read_input_tokens: usage.cached, output_tokens: usage.output },
    });
  }
  const stream = !call && 'text' in step ? step.stream : undefined;
  if (stream) return slowAnthropic(res, message, block, delta, stream, usage.output);
  sse(res, [
    { event: 'message_start', data: { type: 'message_start', message } },
    { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: block } },
    { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta } },
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: call ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: usage.output },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ]);
}

/** A text answer streamed as numbered deltas, `delayMs` apart; stops when the client goes. */
function slowAnthropic(
  res: ServerResponse,
  message: Record<string, unknown>,
  block: Record<string, unknown>,
  first: Record<string, unknown>,
  stream: { chunks: number; delayMs: number },
  outputTokens: number,
) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: unknown) => {
    if (!res.destroyed && !res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send('message_start', { type: 'message_start', message });
  send('content_block_start', { type: 'content_block_start', index: 0, content_block: block });
  send('content_block_delta', { type: 'content_block_delta', index: 0, delta: first });
  let n = 0;
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) return clearInterval(timer);
    if (n < stream.chunks) {
      n++;
      send('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: ` [#${n}]` },
      });
      return;
    }
    clearInterval(timer);
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: outputTokens },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }, stream.delayMs);
  res.once('close', () => clearInterval(timer));
}
