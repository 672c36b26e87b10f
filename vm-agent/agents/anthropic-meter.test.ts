/**
 * The Anthropic usage meter against the scripted Anthropic model (tests/fakes): requests pass
 * through unchanged (path, headers, body), answers come back unchanged, and each message counts
 * the final usage of its stream (`message_delta`), not the first (`message_start`); a restarted
 * meter of the same session goes on from its file; other paths and prefixes are refused.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedModel } from '../../tests/fakes/models/scripted-model.ts';
import { AnthropicMeter } from './anthropic-meter.ts';

const USAGE = { input: 1000, output: 77, cached: 300 };
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(stateFile?: string) {
  const model = await new ScriptedModel({ usage: USAGE, cwd: '/work', steps: [{ text: 'Hello.' }] }).start();
  open.push(model);
  const meter = await AnthropicMeter.start({ upstream: model.url, stateFile, log: () => {} });
  open.push(meter);
  return { model, meter };
}

const ask = (meter: AnthropicMeter, stream: boolean) =>
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

describe('AnthropicMeter', () => {
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
    const again = await AnthropicMeter.start({ upstream: model.url, stateFile: file, log: () => {} });
    open.push(again);
    expect(again.totals()).toMatchObject({ inputTokens: 1000, outputTokens: 77 });
    await (await ask(again, true)).text();
    expect(again.totals()).toMatchObject({ inputTokens: 2000, outputTokens: 154 });
  });

  it('refuses a request without its random prefix, and says so when the model cannot be reached', async () => {
    const { meter } = await setup();
    const origin = new URL(meter.url).origin;
    expect((await fetch(`${origin}/v1/messages`, { method: 'POST', body: '{}' })).status).toBe(404);
    const down = await AnthropicMeter.start({ upstream: 'http://127.0.0.1:9', log: () => {} });
    open.push(down);
    const res = await ask(down, true);
    expect(res.status).toBe(502);
    expect(down.totals()).toBeNull();
  });
});
