/**
 * A scripted model server speaking the streaming APIs the real coding agents use: Anthropic
 * Messages (Claude Code), OpenAI Responses (Codex), OpenAI Chat Completions (OpenCode) and Gemini
 * generateContent (Gemini CLI). A fake of a third-party service, built from the vendors' documented
 * wire formats: SSE framing, content blocks, tool calls and usage as each agent parses them.
 *
 * What the model does is a script of steps. The step is chosen by how many tool results the
 * conversation already holds, so an agent's loop (call a tool, send its result, call the next)
 * walks the script. Every request is recorded for tests to assert its shape (model, auth header,
 * tools).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export type Step =
  /** Write `content` to `file` (relative to the session's working directory) with the agent's own write tool. */
  | { write: { file: string; content: string } }
  /** Call a tool of SAM's MCP server (`update_task_status`, `complete_task`, …). */
  | { mcp: { server: string; tool: string; args: Record<string, unknown> } }
  /** Run a shell command with the agent's own shell tool (Bash, exec_command, …). */
  | { shell: { command: string } }
  /**
   * Answer with text and end the turn. With `stream` (Anthropic Messages only) the text is followed
   * by `chunks` numbered deltas ` [#1]` … ` [#N]`, `delayMs` apart: a turn slow enough to be
   * interrupted mid-stream.
   */
  | { text: string; stream?: { chunks: number; delayMs: number } };

export interface RecordedRequest {
  api: 'anthropic' | 'responses' | 'chat' | 'gemini' | 'count_tokens' | 'other';
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Tool names offered in this request. */
  tools: string[];
}

export interface ScriptedModelOptions {
  steps: Step[];
  /** The session's working directory for relative write paths; found in the request when absent. */
  cwd?: string | ((request: RecordedRequest) => string | undefined);
  /** Token usage every answer reports (cached: input tokens served from the prompt cache). */
  usage?: { input: number; output: number; cached?: number };
  /**
   * Holds the answer to every request at step `step` (0-based, as the script counts) until `until`
   * settles: a test's way to look at the chat while the agent is mid-task, whatever the load.
   */
  hold?: { step: number; until: Promise<unknown> };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function sse(res: ServerResponse, events: ({ event?: string; data: unknown } | 'done')[]) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) {
    if (e === 'done') res.write('data: [DONE]\n\n');
    else res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
  }
  res.end();
}

/** Tool names a request offers, whichever API it speaks. */
function toolNames(body: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const t of (body.tools as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof t.name === 'string') names.push(t.name);
    const fn = t.function as { name?: string } | undefined;
    if (fn?.name) names.push(fn.name);
    for (const d of (t.functionDeclarations as { name: string }[] | undefined) ?? []) names.push(d.name);
    if (t.type === 'namespace' && typeof t.name === 'string') {
      for (const inner of (t.tools as { name: string }[] | undefined) ?? []) names.push(`${t.name}__${inner.name}`);
    }
  }
  return names;
}

/** How many tool results the conversation holds (the step index). */
function toolResults(api: RecordedRequest['api'], body: Record<string, unknown>): number {
  let n = 0;
  if (api === 'anthropic') {
    for (const m of (body.messages as { content: unknown }[] | undefined) ?? []) {
      if (Array.isArray(m.content)) n += m.content.filter((c: { type?: string }) => c.type === 'tool_result').length;
    }
  } else if (api === 'responses') {
    for (const item of (body.input as { type?: string }[] | undefined) ?? []) {
      if (typeof item.type === 'string' && item.type.endsWith('_output')) n++;
    }
  } else if (api === 'chat') {
    n = ((body.messages as { role: string }[] | undefined) ?? []).filter((m) => m.role === 'tool').length;
  } else if (api === 'gemini') {
    for (const c of (body.contents as { parts?: { functionResponse?: unknown }[] }[] | undefined) ?? []) {
      n += (c.parts ?? []).filter((p) => p.functionResponse).length;
    }
  }
  return n;
}

const WRITE_TOOLS = ['mcp__acp__Write', 'Write', 'write_file', 'write', 'apply_patch'];
/** Each agent's shell tool and the name of its command argument. */
const SHELL_TOOLS: [string, string][] = [
  ['Bash', 'command'],
  ['exec_command', 'cmd'],
  ['run_shell_command', 'command'],
  ['bash', 'command'],
];

/** The name an agent gives `tool` of MCP server `server`, from the tools it offered. */
function mcpToolName(tools: string[], server: string, tool: string): string | undefined {
  const candidates = [`mcp__${server}__${tool}`, `mcp_${server}_${tool}`, `${server}_${tool}`, `${server}__${tool}`];
  return candidates.find((c) => tools.includes(c));
}

export class ScriptedModel {
  readonly requests: RecordedRequest[] = [];
  private server: Server | null = null;
  url = '';
  private callSeq = 0;

  constructor(private readonly options: ScriptedModelOptions) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const { request, answer } = this.handle(req, Buffer.concat(chunks).toString('utf8'));
          const hold = this.options.hold;
          const held = hold && request.tools.length > 0 && toolResults(request.api, request.body) === hold.step;
          if (!held) return answer(res);
          void hold.until.then(
            () => answer(res),
            () => answer(res),
          );
        } catch (e) {
          json(res, 500, { error: { message: e instanceof Error ? e.message : String(e) } });
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
    this.server = null;
  }

  /** The text of every tool result the agent sent back (Anthropic `tool_result` blocks, Chat `tool` messages). */
  toolResults(): string[] {
    const texts = new Set<string>();
    for (const r of this.requests) {
      for (const m of (r.body.messages as { role?: string; content?: unknown }[] | undefined) ?? []) {
        if (m.role === 'tool' && typeof m.content === 'string') texts.add(m.content);
        if (!Array.isArray(m.content)) continue;
        for (const c of m.content as { type?: string; content?: unknown }[]) {
          if (c.type !== 'tool_result') continue;
          if (typeof c.content === 'string') texts.add(c.content);
          else if (Array.isArray(c.content)) {
            texts.add((c.content as { text?: string }[]).map((p) => p.text ?? '').join(''));
          }
        }
      }
    }
    return [...texts];
  }

  /** Requests of one API that made the model act (not token counts or routing calls). */
  turns(api: RecordedRequest['api']): RecordedRequest[] {
    return this.requests.filter((r) => r.api === api && r.tools.length > 0);
  }

  private cwdFor(request: RecordedRequest): string {
    const option = this.options.cwd;
    const given = typeof option === 'function' ? option(request) : option;
    if (given) return given;
    const text = JSON.stringify(request.body);
    const m = /(?:Working directory|Primary working directory|cwd)["']?:?\s*\\?"?(\/[^\s"\\]+)/i.exec(text);
    if (!m) throw new Error('the scripted model cannot find the working directory in the request');
    return m[1]!;
  }

  private step(request: RecordedRequest): Step {
    const i = toolResults(request.api, request.body);
    return this.options.steps[Math.min(i, this.options.steps.length - 1)]!;
  }

  /** The tool call for a step, as name + JSON arguments (or a patch for apply_patch). */
  private toolCall(request: RecordedRequest, step: Step): { name: string; args: Record<string, unknown> } | null {
    if ('write' in step) {
      const name = WRITE_TOOLS.find((t) => request.tools.includes(t));
      if (!name) throw new Error(`no write tool among ${request.tools.join(', ')}`);
      const file = path.join(this.cwdFor(request), step.write.file);
      if (name === 'apply_patch') {
        const lines = step.write.content.replace(/\n$/, '').split('\n');
        return {
          name,
          args: {
            patch: `*** Begin Patch\n*** Add File: ${file}\n${lines.map((l) => `+${l}`).join('\n')}\n*** End Patch\n`,
          },
        };
      }
      const key = name === 'write' ? 'filePath' : 'file_path';
      return { name, args: { [key]: file, content: step.write.content } };
    }
    if ('shell' in step) {
      const tool = SHELL_TOOLS.find(([t]) => request.tools.includes(t));
      if (!tool) throw new Error(`no shell tool among ${request.tools.join(', ')}`);
      return { name: tool[0], args: { [tool[1]]: step.shell.command, description: 'Run a command' } };
    }
    if ('mcp' in step) {
      const name = mcpToolName(request.tools, step.mcp.server, step.mcp.tool);
      if (!name) throw new Error(`no MCP tool ${step.mcp.server}/${step.mcp.tool} among ${request.tools.join(', ')}`);
      return { name, args: step.mcp.args };
    }
    return null;
  }

  /** Records a request and names how to answer it. */
  private handle(
    req: IncomingMessage,
    raw: string,
  ): { request: RecordedRequest; answer: (res: ServerResponse) => void } {
    const url = new URL(req.url ?? '/', 'http://model');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const p = url.pathname;
    const api: RecordedRequest['api'] = p.endsWith('/messages/count_tokens')
      ? 'count_tokens'
      : p.endsWith('/messages')
        ? 'anthropic'
        : p.endsWith('/responses')
          ? 'responses'
          : p.endsWith('/chat/completions')
            ? 'chat'
            : /\/models\/[^/]+:(stream)?[gG]enerateContent$/.test(p)
              ? 'gemini'
              : 'other';
    const request: RecordedRequest = { api, path: p + url.search, headers: req.headers, body, tools: toolNames(body) };
    this.requests.push(request);
    const answer = (res: ServerResponse) => {
      try {
        this.answer(res, request, p);
      } catch (e) {
        json(res, 500, { error: { message: e instanceof Error ? e.message : String(e) } });
      }
    };
    return { request, answer };
  }

  private answer(res: ServerResponse, request: RecordedRequest, p: string) {
    switch (request.api) {
      case 'count_tokens':
        return json(res, 200, { input_tokens: 10 });
      case 'anthropic':
        return this.anthropic(res, request);
      case 'responses':
        return this.responses(res, request);
      case 'chat':
        return this.chat(res, request);
      case 'gemini':
        return this.gemini(res, request, p.includes(':streamGenerateContent'));
      default:
        return json(res, 404, { error: { message: `the scripted model has no ${p}` } });
    }
  }

  private usage() {
    return { cached: 0, ...(this.options.usage ?? { input: 120, output: 30 }) };
  }

  private anthropic(res: ServerResponse, request: RecordedRequest) {
    const step: Step = request.tools.length > 0 ? this.step(request) : { text: 'Scripted title' };
    const call = this.toolCall(request, step);
    const id = `msg_${++this.callSeq}`;
    const usage = this.usage();
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model: request.body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input, cache_read_input_tokens: usage.cached, output_tokens: 1 },
    };
    const block = call
      ? { type: 'tool_use', id: `toolu_${this.callSeq}`, name: call.name, input: {} }
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
    if (stream) return this.slowAnthropic(res, message, block, delta, stream, usage.output);
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
  private slowAnthropic(
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

  private responses(res: ServerResponse, request: RecordedRequest) {
    const step = this.step(request);
    const call = this.toolCall(request, step);
    const seq = ++this.callSeq;
    const usage = this.usage();
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

  private chat(res: ServerResponse, request: RecordedRequest) {
    const step = request.tools.length > 0 ? this.step(request) : { text: 'Scripted title' };
    const call = this.toolCall(request, step);
    const seq = ++this.callSeq;
    const usage = this.usage();
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

  private gemini(res: ServerResponse, request: RecordedRequest, stream: boolean) {
    const usage = this.usage();
    const usageMetadata = {
      promptTokenCount: usage.input,
      candidatesTokenCount: usage.output,
      totalTokenCount: usage.input + usage.output,
    };
    const schema = (request.body.generationConfig as { responseJsonSchema?: unknown } | undefined)?.responseJsonSchema;
    let parts: Record<string, unknown>[];
    if (schema) {
      parts = [{ text: JSON.stringify({ complexity_reasoning: 'a scripted task', complexity_score: 1 }) }];
    } else {
      const step = request.tools.length > 0 ? this.step(request) : { text: 'Scripted title' };
      const call = this.toolCall(request, step);
      parts = call
        ? [{ functionCall: { name: call.name, args: call.args } }]
        : [{ text: (step as { text: string }).text }];
    }
    const answer = {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
      usageMetadata,
    };
    if (!stream) return json(res, 200, answer);
    sse(res, [{ data: answer }]);
  }
}
