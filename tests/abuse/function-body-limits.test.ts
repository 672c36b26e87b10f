import { describe, expect, it } from 'vitest';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { lazyUpload, MiB } from './streams.ts';

const env = useFunctionsStack('abuse_bodies');

/** A JSON-RPC request no agent token backs: the function is alive when it refuses it with 401. */
async function mcpAnswers(): Promise<number> {
  const res = await fetch(env.functionUrl('mcp'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return res.status;
}

describe('functions bound request bodies while streaming, before parsing and before auth', () => {
  it('mcp refuses a chunked body over its limit with HTTP 413 and a JSON-RPC error, and keeps answering', async () => {
    const { response } = await lazyUpload(env.functionUrl('mcp'), 2 * MiB, { accept: 'application/json' });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBeNull();
    expect(body.error.code).toBe(-32600);
    expect(body.error.message).toMatch(/exceeds/);
    expect(await mcpAnswers()).toBe(401);
  });

  it('mcp neither buffers nor dies on an unauthenticated 300 MB stream: 413, and it keeps answering', async () => {
    const before = process.memoryUsage().rss;
    const { response, pulled } = await lazyUpload(env.functionUrl('mcp'), 300 * MiB);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(-32600);
    // The upload was cut off near the limit rather than read to the end.
    expect(pulled).toBeLessThan(64 * MiB);
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * MiB);
    expect(await mcpAnswers()).toBe(401);
  });

  it('vm-agent refuses a chunked body over its limit with 413 payload_too_large, even before auth, and keeps answering', async () => {
    for (const path of [
      'nodes/register',
      'workspaces/ready',
      'sessions/00000000-0000-4000-8000-000000000000/messages',
    ]) {
      const { response } = await lazyUpload(`${env.functionUrl('vm-agent')}/${path}`, 2 * MiB);
      expect(response.status, path).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code, path).toBe('payload_too_large');
    }
    const alive = await fetch(`${env.functionUrl('vm-agent')}/workspaces/ready`, { method: 'POST', body: '{}' });
    expect(alive.status).toBe(401);
  });

  it('orchestrator refuses a chunked body over its limit with 413 payload_too_large, even before auth, and keeps answering', async () => {
    const { response } = await lazyUpload(`${env.functionUrl('orchestrator')}/run`, 2 * MiB);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    const alive = await fetch(`${env.functionUrl('orchestrator')}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.orchestratorSecret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(alive.status).toBe(200);
  });
});
