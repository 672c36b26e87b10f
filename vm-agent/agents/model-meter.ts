/**
 * Every model call of an agent, metered on its way to the model's API. An agent's own account of
 * its usage misses calls or counts: Claude Code's transcript keeps each message's usage as the
 * stream began (`message_start`: the input and cache counts are final, the output count is not;
 * the final one comes in `message_delta`, which neither the transcript nor claude-code-acp passes
 * on), and OpenCode's ACP prompt result gives only the turn's last model call (not its title call
 * or the tool-calling calls before). So the vm-agent gives the agent a base URL on 127.0.0.1 with a
 * random path prefix, forwards every request unchanged (its headers, the key among them, are never
 * logged or stored) to the real base URL, and reads the usage of each answer as it comes back, in
 * the format the request path names (meter-formats.ts: Anthropic Messages, OpenAI Chat
 * Completions). Every model call counts, an agent's small background ones too.
 *
 * The per-call counts are kept in a 0600 file of the vm-agent's (not in the agent's HOME), so a
 * restarted agent or vm-agent of the same session goes on counting from where it was.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addTokens, ZERO_TOKENS, type TokenTotals } from '../acp/usage.ts';
import { formatOf, type CallUsage, type UsageSink } from './meter-formats.ts';

/** Request headers that belong to one hop, not to the request. */
const HOP = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'accept-encoding']);

export type ModelMeterOptions = {
  /** The real base URL (the credential's, else the vendor's API). */
  upstream: string;
  /** Where the counts are kept across restarts (a 0600 file of the vm-agent's); none: memory only. */
  stateFile?: string;
  log: (line: string) => void;
};

export class ModelMeter {
  private readonly calls = new Map<string, CallUsage>();
  private anonymous = 0;
  private saving: Promise<void> = Promise.resolve();
  /** What the format readers count into: each call's usage by its id, saved as it changes. */
  private readonly sink: UsageSink = {
    get: (id) => this.calls.get(id),
    set: (id, usage) => {
      this.calls.set(id, usage);
      this.save();
    },
    anonymousId: () => `anonymous-${++this.anonymous}`,
  };

  private constructor(
    private readonly server: Server,
    private readonly options: ModelMeterOptions,
    /** The base URL to give the agent (`ANTHROPIC_BASE_URL`, OpenCode's provider `baseURL`). */
    readonly url: string,
    private readonly prefix: string,
  ) {
    if (options.stateFile) {
      try {
        const saved = JSON.parse(readFileSync(options.stateFile, 'utf8')) as Record<string, CallUsage>;
        for (const [id, u] of Object.entries(saved)) this.calls.set(id, u);
      } catch {
        // nothing counted yet
      }
    }
    this.anonymous = this.calls.size;
  }

  static async start(options: ModelMeterOptions): Promise<ModelMeter> {
    const prefix = `/${randomBytes(16).toString('hex')}`;
    const holder: { meter?: ModelMeter } = {};
    const server = createServer((req, res) => void holder.meter!.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    holder.meter = new ModelMeter(server, options, `http://127.0.0.1:${port}${prefix}`, prefix);
    return holder.meter;
  }

  /** Every model call's tokens so far, or null before the first answer. */
  totals(): TokenTotals | null {
    if (this.calls.size === 0) return null;
    let t = ZERO_TOKENS;
    for (const u of this.calls.values()) {
      t = addTokens(t, {
        inputTokens: u.input,
        outputTokens: u.output,
        cachedReadTokens: u.cacheRead,
        cachedWriteTokens: u.cacheWrite,
        thoughtTokens: u.thought ?? 0,
        totalTokens: u.total ?? u.input + u.output,
      });
    }
    return t;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    await this.saving;
  }

  private save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const content = JSON.stringify(Object.fromEntries(this.calls));
    this.saving = this.saving
      .then(() => writeFile(file, content, { mode: 0o600 }))
      .catch((e: unknown) => this.options.log(`could not keep the model usage: ${String(e)}`));
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
    // Model answers only (not token counts, model lists or errors), read in the path's format.
    const format = upstream.ok ? formatOf(new URL(target).pathname) : null;
    const read = format && type.includes('text/event-stream') ? format.stream(this.sink) : null;
    const body: Buffer[] = [];
    const decoder = new TextDecoder();
    try {
      for await (const chunk of (upstream.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
        const buf = Buffer.from(chunk as Uint8Array);
        if (read) read(decoder.decode(buf, { stream: true }));
        else if (format && type.includes('json')) body.push(buf);
        if (!res.write(buf)) await new Promise((resolve) => res.once('drain', resolve));
      }
      if (read) read(decoder.decode(), true);
    } catch (e) {
      if (!abort.signal.aborted) this.options.log(`model answer ${new URL(target).pathname} broke off: ${String(e)}`);
    }
    res.end();
    if (format && body.length > 0) {
      let answer: unknown;
      try {
        answer = JSON.parse(Buffer.concat(body).toString('utf8'));
      } catch {
        return; // not an answer with usage
      }
      format.answer(this.sink, answer);
    }
  }
}
