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
 *
 * This file is the HTTP server, the recording and the stepping; each wire format is its own module
 * (`anthropic.ts`, `openai-responses.ts`, `openai-chat.ts`, `gemini.ts`), the agents' tool names
 * are `tools.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicToolResults, answerAnthropic, answerCountTokens } from './anthropic.ts';
import { answerGemini, geminiToolResults } from './gemini.ts';
import { json } from './http.ts';
import { answerChat, chatToolResults } from './openai-chat.ts';
import { answerResponses, responsesToolResults } from './openai-responses.ts';
import type { RecordedRequest, Step, Turn } from './script.ts';
import { toolCall, toolNames } from './tools.ts';

export type { RecordedRequest, Step } from './script.ts';

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

/** How many tool results the conversation holds (the step index). */
function toolResults(api: RecordedRequest['api'], body: Record<string, unknown>): number {
  switch (api) {
    case 'anthropic':
      return anthropicToolResults(body);
    case 'responses':
      return responsesToolResults(body);
    case 'chat':
      return chatToolResults(body);
    case 'gemini':
      return geminiToolResults(body);
    default:
      return 0;
  }
}

/** Which API a request path speaks. */
function apiOf(p: string): RecordedRequest['api'] {
  if (p.endsWith('/messages/count_tokens')) return 'count_tokens';
  if (p.endsWith('/messages')) return 'anthropic';
  if (p.endsWith('/responses')) return 'responses';
  if (p.endsWith('/chat/completions')) return 'chat';
  if (/\/models\/[^/]+:(stream)?[gG]enerateContent$/.test(p)) return 'gemini';
  return 'other';
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

  /** A request as the vendor modules answer it: its step, tool calls, ids and usage. */
  private turn(request: RecordedRequest): Turn {
    return {
      request,
      step: () => {
        const i = toolResults(request.api, request.body);
        return this.options.steps[Math.min(i, this.options.steps.length - 1)]!;
      },
      toolCall: (step) => toolCall(request.tools, step, () => this.cwdFor(request)),
      nextSeq: () => ++this.callSeq,
      usage: { cached: 0, ...(this.options.usage ?? { input: 120, output: 30 }) },
    };
  }

  /** Records a request and names how to answer it. */
  private handle(
    req: IncomingMessage,
    raw: string,
  ): { request: RecordedRequest; answer: (res: ServerResponse) => void } {
    const url = new URL(req.url ?? '/', 'http://model');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const p = url.pathname;
    const request: RecordedRequest = {
      api: apiOf(p),
      path: p + url.search,
      headers: req.headers,
      body,
      tools: toolNames(body),
    };
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
    const turn = this.turn(request);
    switch (request.api) {
      case 'count_tokens':
        return answerCountTokens(res);
      case 'anthropic':
        return answerAnthropic(res, turn);
      case 'responses':
        return answerResponses(res, turn);
      case 'chat':
        return answerChat(res, turn);
      case 'gemini':
        return answerGemini(res, turn, p.includes(':streamGenerateContent'));
      default:
        return json(res, 404, { error: { message: `the scripted model has no ${p}` } });
    }
  }
}
