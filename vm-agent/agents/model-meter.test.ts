/**
 * The model meter against the scripted model (tests/fakes) and, for what it does not send, a tiny
 * upstream of the test's own: requests pass through unchanged (path, headers, body), answers come
 * back unchanged. Anthropic Messages: each message counts the final usage of its stream
 * (`message_delta`), not the first (`message_start`). Chat Completions: each completion counts its
 * usage chunk (or a JSON answer's usage), cache and reasoning details included, however the stream
 * is cut; a stream without usage counts nothing. A restarted meter of the same session goes on from
 * its file; other paths and prefixes are refused.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedModel } from '../../tests/fakes/models/scripted-model.ts';
import { ModelMeter } from './model-meter.ts';

const USAGE = { input: 1000, output: 77, cached: 300 };
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(stateFile?: string, base = '') {
  const model = await new ScriptedModel({ usage: USAGE, cwd: '/work', steps: [{ text: 'Hello.' }] }).start();
  open.push(model);
  const meter = await ModelMeter.start({ upstream: model.url + base, stateFile, log: () => {} });
  open.push(meter);
  return { model, meter };
}

const ask = (meter: ModelMeter, stream: boolean) =>
  fetch(`${meter.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'x-api-key': 'sk-ant-test-1', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-x',
      stream,
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'Write' }],
    }),
  });

describe('ModelMeter, Anthropic Messages', () => {
  it('forwards a streamed answer unchanged and counts its final output tokens', async () => {
    const { model, meter } = await setup();
    const res = await ask(meter, true);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text).toContain('"output_tokens":77');
    const [request] = model.requests;
    expect(request).toMatchObject({ api: 'anthropic', path: '/v1/messages?beta=true' });
    expect(request!.headers['x-api-key']).toBe('sk-ant-test-1');
    expect(request!.body.model).toBe('claude-x');
    expect(meter.totals()).toEqual({
      inputTokens: 1000,
      outputTokens: 77,
      cachedReadTokens: 300,
      cachedWriteTokens: 0,
      thoughtTokens: 0,
      totalTokens: 1077,
    });
  });

  it('adds every message, streamed or not; token counting and other calls do not count', async () => {
    const { meter } = await setup();
    await (await ask(meter, true)).text();
    const plain = await ask(meter, false);
    expect(((await plain.json()) as { usage: { output_tokens: number } }).usage.output_tokens).toBe(77);
    const counted = await fetch(`${meter.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"messages":[]}',
    });
    expect(await counted.json()).toEqual({ input_tokens: 10 });
    expect(meter.totals()).toMatchObject({ inputTokens: 2000, outputTokens: 154, cachedReadTokens: 600 });
  });

  it('keeps its counts for a restarted meter of the same session, in a file only its owner reads', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'meter-')), 'usage.json');
    const { model, meter } = await setup(file);
    await (await ask(meter, true)).text();
    await meter.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('sk-ant');
    const again = await ModelMeter.start({ upstream: model.url, stateFile: file, log: () => {} });
    open.push(again);
    expect(again.totals()).toMatchObject({ inputTokens: 1000, outputTokens: 77 });
    await (await ask(again, true)).text();
    expect(again.totals()).toMatchObject({ inputTokens: 2000, outputTokens: 154 });
  });

  it('refuses a request without its random prefix, and says so when the model cannot be reached', async () => {
    const { meter } = await setup();
    const origin = new URL(meter.url).origin;
    expect((await fetch(`${origin}/v1/messages`, { method: 'POST', body: '{}' })).status).toBe(404);
    const down = await ModelMeter.start({ upstream: 'http://127.0.0.1:9', log: () => {} });
    open.push(down);
    const res = await ask(down, true);
    expect(res.status).toBe(502);
    expect(down.totals()).toBeNull();
  });
});

/** OpenCode's call through its openai-compatible provider (its base URL is the meter's, upstream …/v1). */
const chat = (meter: ModelMeter, stream: boolean) =>
  fetch(`${meter.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-chat-test-1', 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'sam-coder',
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });

const CHAT_TOTALS = {
  inputTokens: 1000,
  outputTokens: 77,
  cachedReadTokens: 0,
  cachedWriteTokens: 0,
  thoughtTokens: 0,
  totalTokens: 1077,
};

/** A Chat Completions upstream of the test's own: `answer` writes each response as the test needs it. */
async function upstream(answer: (res: ServerResponse) => Promise<void>) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => void answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const closing = {
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  open.push(closing);
  const meter = await ModelMeter.start({
    upstream: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    log: () => {},
  });
  open.push(meter);
  return meter;
}

const chunk = (data: Record<string, unknown>) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-own-1', object: 'chat.completion.chunk', ...data })}\n\n`;

describe('ModelMeter, Chat Completions', () => {
  it('forwards a streamed answer unchanged and counts its usage chunk, once per completion', async () => {
    const { model, meter } = await setup(undefined, '/v1');
    const res = await chat(meter, true);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).toContain('"object":"chat.completion.chunk"');
    expect(text).toContain('"prompt_tokens":1000');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const [request] = model.requests;
    expect(request).toMatchObject({ api: 'chat', path: '/v1/chat/completions' });
    expect(request!.headers.authorization).toBe('Bearer sk-chat-test-1');
    expect(request!.body.stream_options).toEqual({ include_usage: true });
    expect(meter.totals()).toEqual(CHAT_TOTALS);
    await (await chat(meter, true)).text();
    expect(meter.totals()).toMatchObject({ inputTokens: 2000, outputTokens: 154, totalTokens: 2154 });
  });

  it('counts a JSON answer, and not a model list or an error', async () => {
    const { meter } = await setup(undefined, '/v1');
    const plain = await chat(meter, false);
    const answer = (await plain.json()) as { object: string; usage: { completion_tokens: number } };
    expect(answer).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 77 } });
    expect(meter.totals()).toEqual(CHAT_TOTALS);
    expect((await fetch(`${meter.url}/models`)).status).toBe(404);
    expect(meter.totals()).toEqual(CHAT_TOTALS);
  });

  it('reads a usage chunk cut across writes, with its cache and reasoning details', async () => {
    const usage = chunk({
      choices: [],
      usage: {
        prompt_tokens: 500,
        completion_tokens: 90,
        total_tokens: 600,
        prompt_tokens_details: { cached_tokens: 200 },
        completion_tokens_details: { reasoning_tokens: 40 },
      },
    });
    const cut = usage.indexOf('"completion_tokens"');
    const first = chunk({ choices: [{ index: 0, delta: { content: 'Bonjour ça va' }, finish_reason: 'stop' }] });
    let forwarded!: () => void;
    const firstPartSeen = new Promise<void>((resolve) => (forwarded = resolve));
    const meter = await upstream(async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(first + usage.slice(0, cut));
      // The rest only once the client has what came before: two reads for the meter too.
      await firstPartSeen;
      res.end(usage.slice(cut) + 'data: [DONE]\n\n');
    });
    const res = await chat(meter, true);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.includes('"prompt_tokens":500')) forwarded();
    }
    expect(text).toBe(first + usage + 'data: [DONE]\n\n');
    expect(meter.totals()).toEqual({
      inputTokens: 500,
      outputTokens: 90,
      cachedReadTokens: 200,
      cachedWriteTokens: 0,
      thoughtTokens: 40,
      totalTokens: 600,
    });
  });

  it('counts nothing for a stream without usage (no include_usage)', async () => {
    const meter = await upstream(async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }));
      res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }));
      res.end('data: [DONE]\n\n');
    });
    expect(await (await chat(meter, true)).text()).toContain('"content":"Hi"');
    expect(meter.totals()).toBeNull();
  });

  it('keeps its counts for a restarted meter of the same session', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'meter-')), 'usage.json');
    const { model, meter } = await setup(file, '/v1');
    await (await chat(meter, true)).text();
    await meter.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('sk-chat');
    const again = await ModelMeter.start({ upstream: `${model.url}/v1`, stateFile: file, log: () => {} });
    open.push(again);
    expect(again.totals()).toEqual(CHAT_TOTALS);
    await (await chat(again, false)).json();
    expect(again.totals()).toMatchObject({ inputTokens: 2000, outputTokens: 154, totalTokens: 2154 });
  });
});
