import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { storeCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { titleConfigFrom, type TitleConfig, type TitleModel } from '../../functions/_shared/titles/config.ts';
import { cleanTitle, generateTitle, type Clock } from '../../functions/_shared/titles/generate.ts';
import { createOrchestratorApp } from '../../functions/orchestrator/app.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Titles from a model, against a scripted model server that speaks OpenAI's chat completions and
 * Anthropic's messages API (non-streaming, as the title call uses them). Timings are asserted on
 * a fake clock: nothing here waits for a timeout or a backoff to pass.
 */

type Mode = 'ok' | 'hang' | '500' | '400' | 'markdown';
interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

class ScriptedModel {
  seen: Seen[] = [];
  /** What each next request gets; the last one repeats. */
  script: Mode[] = ['ok'];
  private server!: Server;
  private hanging: ServerResponse[] = [];
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        this.seen.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(raw || '{}') });
        const mode = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
        if (mode === 'hang') {
          this.hanging.push(res);
          return;
        }
        if (mode === '500' || mode === '400') {
          res.writeHead(Number(mode), { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'scripted failure' } }));
          return;
        }
        const text =
          mode === 'markdown' ? '**"Add rate limiting to uploads"**\n\nThis title…' : 'Add rate limiting to uploads';
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url?.endsWith('/v1/messages')) {
          res.end(
            JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text }] }),
          );
        } else {
          res.end(
            JSON.stringify({
              id: 'c1',
              object: 'chat.completion',
              choices: [{ index: 0, message: { role: 'assistant', content: text } }],
            }),
          );
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close() {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A clock whose sleeps end only when the test says so. */
class FakeClock implements Clock {
  requested: number[] = [];
  private pending: { ms: number; resolve: () => void }[] = [];

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.requested.push(ms);
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { ms, resolve };
      this.pending.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.pending = this.pending.filter((p) => p !== entry);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Ends the oldest pending sleep of `ms` (waiting until one is pending). */
  async elapse(ms: number) {
    const entry = await waitFor(`a ${ms} ms sleep`, () => this.pending.find((p) => p.ms === ms), 10_000, 5);
    this.pending = this.pending.filter((p) => p !== entry);
    entry.resolve();
  }
}

const LONG = 'Please add rate limiting to the upload endpoint so that one client cannot exhaust the workers; '.repeat(
  2,
);
const config: Pick<TitleConfig, 'enabled' | 'shortMessageThreshold' | 'timeoutMs' | 'maxRetries' | 'backoffMs'> = {
  enabled: true,
  shortMessageThreshold: 100,
  timeoutMs: 5000,
  maxRetries: 2,
  backoffMs: 1000,
};

let model: ScriptedModel;
beforeAll(async () => {
  model = new ScriptedModel();
  await model.start();
});
afterAll(async () => {
  await model?.close();
});
beforeEach(() => {
  model.seen = [];
  model.script = ['ok'];
});

const openai = (): TitleModel => ({
  api: 'openai',
  baseUrl: `${model.url}/v1`,
  model: 'title-mini',
  apiKey: 'sk-platform-1',
});
const anthropic = (): TitleModel => ({
  api: 'anthropic',
  baseUrl: model.url,
  model: 'claude-title',
  apiKey: 'sk-ant-2',
});

describe('generateTitle', () => {
  it('uses a message of at most 100 characters as it is, without a model call', async () => {
    const r = await generateTitle('  Fix the   flaky test ', openai(), config, { clock: new FakeClock() });
    expect(r).toEqual({ title: 'Fix the flaky test', source: 'message', attempts: 0 });
    expect(model.seen).toHaveLength(0);
  });

  it('asks an OpenAI-compatible model with the configured model and key, and cleans its answer', async () => {
    model.script = ['markdown'];
    const r = await generateTitle(LONG, openai(), config, { clock: new FakeClock() });
    expect(r).toEqual({ title: 'Add rate limiting to uploads', source: 'model', attempts: 1 });
    expect(model.seen).toHaveLength(1);
    const [req] = model.seen;
    expect(req!.path).toBe('/v1/chat/completions');
    expect(req!.headers.authorization).toBe('Bearer sk-platform-1');
    expect(req!.body.model).toBe('title-mini');
    const messages = req!.body.messages as { role: string; content: string }[];
    expect(messages[0]!.role).toBe('system');
    expect(messages[0]!.content).toMatch(/Do not do the task/);
    expect(messages[1]).toEqual({ role: 'user', content: LONG });
  });

  it('asks an Anthropic model through the messages API with its key header', async () => {
    const r = await generateTitle(LONG, anthropic(), config, { clock: new FakeClock() });
    expect(r.source).toBe('model');
    const [req] = model.seen;
    expect(req!.path).toBe('/v1/messages');
    expect(req!.headers['x-api-key']).toBe('sk-ant-2');
    expect(req!.headers['anthropic-version']).toBe('2023-06-01');
    expect(req!.body).toMatchObject({ model: 'claude-title', messages: [{ role: 'user', content: LONG }] });
    expect(typeof req!.body.system).toBe('string');
  });

  it('retries after a timeout, waiting 1 s, and uses the second answer', async () => {
    model.script = ['hang', 'ok'];
    const clock = new FakeClock();
    const pending = generateTitle(LONG, openai(), config, { clock });
    await waitFor('the first request', () => model.seen.length === 1, 10_000, 5);
    await clock.elapse(5000); // attempt 1 times out
    await clock.elapse(1000); // backoff
    const r = await pending;
    expect(r).toEqual({ title: 'Add rate limiting to uploads', source: 'model', attempts: 2 });
    expect(model.seen).toHaveLength(2);
    // attempt 1's limit, the backoff, attempt 2's limit (cancelled by the answer)
    expect(clock.requested).toEqual([5000, 1000, 5000]);
  });

  it('falls back to the truncation after three failed attempts, backing off 1 s then 4 s', async () => {
    model.script = ['500'];
    const clock = new FakeClock();
    const pending = generateTitle(LONG, openai(), config, { clock });
    await clock.elapse(1000);
    await clock.elapse(4000);
    const r = await pending;
    expect(r.source).toBe('truncation');
    expect(r.attempts).toBe(3);
    expect(r.reason).toBe('the title model answered 500');
    expect(r.title).toHaveLength(100);
    expect(r.title.endsWith('…')).toBe(true);
    expect(model.seen).toHaveLength(3);
    expect(clock.requested.filter((ms) => ms !== 5000)).toEqual([1000, 4000]);
  });

  it('does not retry a request the model refuses (4xx)', async () => {
    model.script = ['400'];
    const r = await generateTitle(LONG, openai(), config, { clock: new FakeClock() });
    expect(r).toMatchObject({ source: 'truncation', attempts: 1, reason: 'the title model answered 400' });
    expect(model.seen).toHaveLength(1);
  });

  it('keeps the truncation when generation is off or no model is known', async () => {
    expect(await generateTitle(LONG, openai(), { ...config, enabled: false })).toMatchObject({
      source: 'truncation',
      attempts: 0,
    });
    expect(await generateTitle(LONG, null, config)).toMatchObject({ source: 'truncation', attempts: 0 });
    expect(model.seen).toHaveLength(0);
  });

  it('reads TASK_TITLE_* settings', () => {
    const env: Record<string, string> = {
      TASK_TITLE_API: 'anthropic',
      TASK_TITLE_API_KEY: 'k',
      TASK_TITLE_MODEL: 'm',
      TASK_TITLE_TIMEOUT_MS: '2500',
      TASK_TITLE_SHORT_MESSAGE_THRESHOLD: '60',
      TASK_TITLE_GENERATION_ENABLED: 'false',
    };
    const c = titleConfigFrom((n) => env[n]);
    expect(c).toMatchObject({
      enabled: false,
      timeoutMs: 2500,
      shortMessageThreshold: 60,
      platform: { api: 'anthropic', model: 'm', apiKey: 'k', baseUrl: 'https://api.anthropic.com' },
    });
    expect(titleConfigFrom(() => undefined)).toMatchObject({ enabled: true, timeoutMs: 5000, platform: null });
  });

  it('cleans a model answer into one plain line of at most 100 characters', () => {
    expect(cleanTitle('Title: "Fix login"')).toBe('Fix login');
    expect(cleanTitle('# Add `retry` to uploads.\nmore')).toBe('Add retry to uploads');
    expect(cleanTitle('x'.repeat(300))).toHaveLength(100);
  });
});

describe('the generate_title job', () => {
  const db = useTestDatabase('orchestrator_titles');
  let sql: Sql;
  let user: string;
  let project: string;
  const key = importCredentialKey(randomBytes(32).toString('base64'));

  beforeAll(() => {
    sql = connect(db.url('postgres'));
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
  });
  beforeEach(async () => {
    await db.admin`update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running')`;
    user = await createUser(db.admin);
    project = await createProject(db.admin, user);
  });

  async function runTitles(titles: TitleConfig) {
    const app = createOrchestratorApp({
      sql,
      secret: 'orchestrator-secret',
      providers: providerRegistry({}),
      controlPlaneUrl: 'https://sam.example.test/functions/v1/vm-agent',
      titles,
      credentialKey: await key,
      clock: new FakeClock(),
      run: { kinds: ['generate_title'] },
    });
    const res = await app.request('http://o.test/orchestrator/run', {
      method: 'POST',
      headers: { authorization: 'Bearer orchestrator-secret', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    return res.json();
  }

  const task = async (id: string) =>
    (
      await db.admin`select t.title, s.topic, j.payload -> 'result' as result from public.tasks t
                       join public.chat_sessions s on s.id = t.chat_session_id
                       join public.orchestrator_jobs j on j.task_id = t.id and j.kind = 'generate_title'
                      where t.id = ${id}`
    )[0]!;

  it("writes the platform model's title back to the task and its chat, and broadcasts it", async () => {
    const r = await submitTask(db.admin, user, project, LONG);
    expect((await task(r.taskId)).title).toMatch(/…$/);
    const env: Record<string, string> = { TASK_TITLE_API_KEY: 'sk-platform', TASK_TITLE_BASE_URL: `${model.url}/v1` };
    expect(await runTitles(titleConfigFrom((n) => env[n]))).toMatchObject({ ran: 1, succeeded: 1 });
    const after = await task(r.taskId);
    expect(after).toMatchObject({
      title: 'Add rate limiting to uploads',
      topic: 'Add rate limiting to uploads',
      result: { source: 'model', applied: true, attempts: 1 },
    });
    expect(model.seen[0]!.headers.authorization).toBe('Bearer sk-platform');
    const sent = await db.admin`select payload from realtime.messages
                                  where topic = ${'session:' + r.sessionId} and event = 'task'
                                    and payload ->> 'title' = 'Add rate limiting to uploads'`;
    expect(sent.length).toBeGreaterThan(0);
  });

  it("uses the owner's own stored model key (base URL included) when the platform has none", async () => {
    await storeCredential(
      sql,
      await key,
      { sub: user, role: 'authenticated' },
      {
        type: 'agent-api-key',
        provider: 'anthropic',
        secret: 'sk-ant-owner-7777',
        baseUrl: model.url,
      },
    );
    const r = await submitTask(db.admin, user, project, LONG);
    await runTitles(titleConfigFrom(() => undefined));
    expect((await task(r.taskId)).title).toBe('Add rate limiting to uploads');
    expect(model.seen).toHaveLength(1);
    expect(model.seen[0]!.path).toBe('/v1/messages');
    expect(model.seen[0]!.headers['x-api-key']).toBe('sk-ant-owner-7777');
  });

  it('keeps the truncated title, saying why, when no model is known', async () => {
    const r = await submitTask(db.admin, user, project, LONG);
    const before = (await task(r.taskId)).title;
    await runTitles(titleConfigFrom(() => undefined));
    expect(await task(r.taskId)).toMatchObject({
      title: before,
      result: { source: 'truncation', reason: 'no model is configured for titles and the owner has no model key' },
    });
    expect(model.seen).toHaveLength(0);
  });

  it('never overwrites a title the user changed meanwhile', async () => {
    const r = await submitTask(db.admin, user, project, LONG);
    await db.admin`update public.tasks set title = 'My own title' where id = ${r.taskId}`;
    const env: Record<string, string> = { TASK_TITLE_API_KEY: 'sk-platform', TASK_TITLE_BASE_URL: `${model.url}/v1` };
    await runTitles(titleConfigFrom((n) => env[n]));
    expect(await task(r.taskId)).toMatchObject({ title: 'My own title', result: { applied: false } });
  });
});
