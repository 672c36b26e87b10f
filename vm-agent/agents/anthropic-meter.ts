/**
 * Claude Code's token usage, metered on its way to the Anthropic API. Claude Code's transcript
 * keeps each message's usage as the stream began (`message_start`: the input and cache counts are
 * final, the output count is not); the final output count comes in the stream's `message_delta`,
 * which neither the transcript nor claude-code-acp passes on. So the vm-agent gives Claude Code a
 * base URL on 127.0.0.1 with a random path prefix, forwards every request unchanged (its headers,
 * the key among them, are never logged or stored) to the real base URL, and reads the usage of each
 * answer as it streams back: `message_start` then `message_delta` per message, or the `usage` of a
 * non-streamed answer. Every model call counts, Claude Code's small background ones too.
 *
 * The per-message counts are kept in a 0600 file of the vm-agent's (not in the agent's HOME), so a
 * restarted agent or vm-agent of the same session goes on counting from where it was.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addTokens, ZERO_TOKENS, type TokenTotals } from '../acp/usage.ts';

export const ANTHROPIC_API = 'https://api.anthropic.com';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/** Request headers that belong to one hop, not to the request. */
const HOP = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'accept-encoding']);

type MessageUsage = { input: number; output: number; cacheRead: number; cacheWrite: number };

export type AnthropicMeterOptions = {
  /** The real base URL (the credential's, else the Anthropic API). */
  upstream: string;
  /** Where the counts are kept across restarts (a 0600 file of the vm-agent's); none: memory only. */
  stateFile?: string;
  log: (line: string) => void;
};

export class AnthropicMeter {
  private readonly messages = new Map<string, MessageUsage>();
  private anonymous = 0;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly server: Server,
    private readonly options: AnthropicMeterOptions,
    /** The base URL to give Claude Code (`ANTHROPIC_BASE_URL`). */
    readonly url: string,
    private readonly prefix: string,
  ) {
    if (options.stateFile) {
      try {
        const saved = JSON.parse(readFileSync(options.stateFile, 'utf8')) as Record<string, MessageUsage>;
        for (const [id, u] of Object.entries(saved)) this.messages.set(id, u);
      } catch {
        // nothing counted yet
      }
    }
    this.anonymous = this.messages.size;
  }

  static async start(options: AnthropicMeterOptions): Promise<AnthropicMeter> {
    const prefix = `/${randomBytes(16).toString('hex')}`;
    const holder: { meter?: AnthropicMeter } = {};
    const server = createServer((req, res) => void holder.meter!.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    holder.meter = new AnthropicMeter(server, options, `http://127.0.0.1:${port}${prefix}`, prefix);
    return holder.meter;
  }

  /** Every model call's tokens so far, or null before the first answer. */
  totals(): TokenTotals | null {
    if (this.messages.size === 0) return null;
    let t = ZERO_TOKENS;
    for (const u of this.messages.values()) {
      t = addTokens(t, {
        inputTokens: u.input,
        outputTokens: u.output,
        cachedReadTokens: u.cacheRead,
        cachedWriteTokens: u.cacheWrite,
        thoughtTokens: 0,
        totalTokens: u.input + u.output,
      });
    }
    return t;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    await this.saving;
  }

  private count(id: string, usage: Record<string, unknown>, previous?: MessageUsage): MessageUsage {
    const u: MessageUsage = {
      input: usage.input_tokens !== undefined ? n(usage.input_tokens) : (previous?.input ?? 0),
      output: usage.output_tokens !== undefined ? n(usage.output_tokens) : (previous?.output ?? 0),
      cacheRead:
        usage.cache_read_input_tokens !== undefined ? n(usage.cache_read_input_tokens) : (previous?.cacheRead ?? 0),
      cacheWrite:
        usage.cache_creation_input_tokens !== undefined
          ? n(usage.cache_creation_input_tokens)
          : (previous?.cacheWrite ?? 0),
    };
    this.messages.set(id, u);
    return u;
  }

  private save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const content = JSON.stringify(Object.fromEntries(this.messages));
    this.saving = this.saving
      .then(() => writeFile(file, content, { mode: 0o600 }))
      .catch((e: unknown) => this.options.log(`could not keep the model usage: ${String(e)}`));
  }

  /** One SSE stream's events: `message_start` opens a message, `message_delta` gives its final counts. */
  private streamReader(): (text: string, end?: boolean) => void {
    let buffer = '';
    let current: { id: string; usage: MessageUsage } | null = null;
    return (text, end = false) => {
      buffer += text;
      const lines = buffer.split('\n');
      buffer = end ? '' : lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('data:')) continue;
        let event: { type?: string; message?: { id?: string; usage?: Record<string, unknown> }; usage?: unknown };
        try {
          event = JSON.parse(line.slice(5)) as typeof event;
        } catch {
          continue;
        }
        if (event.type === 'message_start' && event.message?.usage) {
          const id = typeof event.message.id === 'string' ? event.message.id : `anonymous-${++this.anonymous}`;
          current = { id, usage: this.count(id, event.message.usage) };
          this.save();
        } else if (event.type === 'message_delta' && current && event.usage && typeof event.usage === 'object') {
          current.usage = this.count(current.id, event.usage as Record<string, unknown>, current.usage);
          this.save();
        }
      }
    };
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url !== this.prefix && !url.startsWith(`${this.prefix}/`) && !url.startsWith(`${this.prefix}?`)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const target = this.options.upstream.replace(/\/+$/, '') + url.slice(this.prefix.length);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (HOP.has(name) || value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    // The answer is read on the way: uncompressed.
    headers.set('accept-encoding', 'identity');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: req.method,
        headers,
        body: ['GET', 'HEAD'].includes(req.method ?? 'GET') ? undefined : Buffer.concat(chunks),
        redirect: 'manual',
        signal: abort.signal,
      });
    } catch (e) {
      // The path only (never a header): which call failed and why.
      this.options.log(`model request ${new URL(target).pathname} failed: ${String(e)}`);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: 'the model endpoint could not be reached' } }));
      return;
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)) out[name] = value;
    });
    res.writeHead(upstream.status, out);
    const type = upstream.headers.get('content-type') ?? '';
    const messages = new URL(target).pathname.endsWith('/messages') && upstream.ok;
    const read = messages && type.includes('text/event-stream') ? this.streamReader() : null;
    const body: Buffer[] = [];
    const decoder = new TextDecoder();
    try {
      for await (const chunk of (upstream.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
        const buf = Buffer.from(chunk as Uint8Array);
        if (read) read(decoder.decode(buf, { stream: true }));
        else if (messages && type.includes('json')) body.push(buf);
        if (!res.write(buf)) await new Promise((resolve) => res.once('drain', resolve));
      }
      if (read) read(decoder.decode(), true);
    } catch (e) {
      if (!abort.signal.aborted) this.options.log(`model answer ${new URL(target).pathname} broke off: ${String(e)}`);
    }
    res.end();
    if (body.length > 0) {
      try {
        const answer = JSON.parse(Buffer.concat(body).toString('utf8')) as {
          id?: string;
          usage?: Record<string, unknown>;
        };
        if (answer.usage) {
          this.count(typeof answer.id === 'string' ? answer.id : `anonymous-${++this.anonymous}`, answer.usage);
          this.save();
        }
      } catch {
        // not an answer with usage
      }
    }
  }
}
