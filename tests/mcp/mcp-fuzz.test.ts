import { beforeAll, describe, expect, it } from 'vitest';
import { agentToken, bringUp, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useDenoMcp } from './mcp-harness.ts';

/**
 * Malformed JSON-RPC thrown at the MCP endpoint: bad JSON, wrong types, oversized strings,
 * batches, unknown methods. Every answer is a JSON-RPC error (or, for a well-formed notification,
 * the empty 202 JSON-RPC prescribes) — never a non-JSON body, never a 5xx.
 */
const env = useDenoMcp('mcp_fuzz');
let token: string;

beforeAll(async () => {
  const owner = await createUser(env.db.admin);
  const project = await createProject(env.db.admin, owner);
  token = await agentToken(
    env.mcp.secret,
    await bringUp(env.db.admin, (await submitTask(env.db.admin, owner, project, 'Fuzz target')).taskId),
  );
});

/** mulberry32: a small seeded generator, so a failing case can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIXED_BODIES = [
  '',
  ' ',
  '{',
  '}',
  'null',
  'true',
  '42',
  '"just a string"',
  '[]',
  '[1,2,3]',
  '{"jsonrpc":"2.0"}',
  '{"id":1}',
  '{"jsonrpc":"1.0","id":1,"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":{},"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":[1],"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":true,"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":1,"method":7}',
  '{"jsonrpc":"2.0","id":1,"method":null}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}',
  '{"jsonrpc":"2.0","id":1,"method":"no/such/method"}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dispatch_task","arguments":"go"}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dispatch_task","arguments":[]}}',
  '[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]',
  '[{"jsonrpc":"2.0","id":1,"method":"tools/list"}, 7, "x"]',
  '\u0000\u0001\u0002',
  '{"jsonrpc":"2.0","id":1e999,"method":"tools/list"}',
  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dispatch_task","arguments":{"description":"${'x'.repeat(40_000)}"}}}`,
  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_idea","arguments":{"title":"${'t'.repeat(5_000)}"}}}`,
  '['.repeat(5000) + ']'.repeat(5000),
  `"${'z'.repeat(2 * 1024 * 1024)}"`,
];

const METHODS = [
  'tools/list',
  'tools/call',
  'initialize',
  'ping',
  'resources/list',
  'prompts/get',
  'completion/complete',
  'x',
  '',
];
const TOOLS = [
  'dispatch_task',
  'get_subtask_status',
  'update_idea',
  'search_ideas',
  'get_session_messages',
  'stop_subtask',
  'nope',
];

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 2 ? 6 : 9));
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() > 0.5;
    case 2:
      return Math.floor(r() * 2e9) - 1e9;
    case 3:
      return r() * 1e6;
    case 4:
      return (
        'é\u202e\u0000'.repeat(Math.floor(r() * 4)) +
        String.fromCharCode(...Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 0xffff)))
      );
    case 5:
      return '00000000-0000-0000-0000-00000000000' + Math.floor(r() * 10);
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 4) }, () => [
          ['taskId', 'description', 'status', 'limit', 'query', 'x'][Math.floor(r() * 6)]!,
          randomValue(r, depth + 1),
        ]),
      );
  }
}

function randomMessage(r: () => number): unknown {
  const method = METHODS[Math.floor(r() * METHODS.length)]!;
  const msg: Record<string, unknown> = {
    jsonrpc: r() > 0.1 ? '2.0' : randomValue(r),
    method: r() > 0.1 ? method : randomValue(r),
  };
  if (r() > 0.15) msg.id = r() > 0.2 ? Math.floor(r() * 1000) : randomValue(r);
  msg.params =
    method === 'tools/call' && r() > 0.2
      ? { name: TOOLS[Math.floor(r() * TOOLS.length)], arguments: randomValue(r) }
      : randomValue(r);
  return r() > 0.9 ? [msg, randomValue(r)] : msg;
}

interface Outcome {
  status: number;
  contentType: string | null;
  text: string;
}

async function send(body: string, auth: string | undefined): Promise<Outcome> {
  const res = await env.mcp.post(body, auth);
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

function isWellFormedNotification(body: string): boolean {
  try {
    const v = JSON.parse(body) as Record<string, unknown>;
    return (
      !!v &&
      !Array.isArray(v) &&
      typeof v === 'object' &&
      v.jsonrpc === '2.0' &&
      typeof v.method === 'string' &&
      !('id' in v) &&
      (v.params === undefined || (typeof v.params === 'object' && v.params !== null))
    );
  } catch {
    return false;
  }
}

function expectJsonRpcError(body: string, outcome: Outcome) {
  const where = `request ${body.slice(0, 120)} → ${outcome.status} ${outcome.text.slice(0, 200)}`;
  expect(outcome.status, where).toBeLessThan(500);
  if (outcome.status === 202 && outcome.text === '' && isWellFormedNotification(body)) return;
  expect(outcome.contentType, where).toMatch(/application\/json/);
  const parsed = JSON.parse(outcome.text) as {
    jsonrpc: string;
    id: unknown;
    error?: { code: unknown; message: unknown };
    result?: unknown;
  };
  expect(parsed.jsonrpc, where).toBe('2.0');
  if (parsed.result !== undefined) {
    // A random message can be valid (tools/list, ping): then it is answered, with its id.
    expect(parsed.error, where).toBeUndefined();
    return;
  }
  expect(Number.isInteger(parsed.error?.code), where).toBe(true);
  expect(typeof parsed.error?.message, where).toBe('string');
  try {
    const sent = JSON.parse(body) as { id?: unknown };
    if (
      sent &&
      !Array.isArray(sent) &&
      (typeof sent.id === 'number' || typeof sent.id === 'string') &&
      Number.isFinite(Number(sent.id))
    ) {
      expect(parsed.id, where).toBe(sent.id);
    }
  } catch {
    expect(parsed.id, where).toBeNull();
  }
}

describe('malformed JSON-RPC at the MCP endpoint', () => {
  it('gets JSON-RPC errors only, for fixed nasty bodies with and without a valid token', async () => {
    for (const body of FIXED_BODIES) {
      expectJsonRpcError(body, await send(body, token));
      expectJsonRpcError(body, await send(body, undefined));
    }
  });

  it('gets JSON-RPC errors only, for 400 generated messages', async () => {
    const r = rng(20261121);
    for (let i = 0; i < 400; i++) {
      const body = JSON.stringify(randomMessage(r));
      const auth = r() > 0.1 ? token : r() > 0.5 ? undefined : 'not.a.jwt';
      expectJsonRpcError(body, await send(body, auth));
    }
  });

  it('refuses other HTTP methods with a JSON-RPC error', async () => {
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await env.mcp.fetch(env.mcp.url, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(405);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: expect.any(Number) } });
    }
  });
});
