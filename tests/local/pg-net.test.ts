import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../supabase/local/paths.ts';
import { functionsFactory } from '../../supabase/local/functions/index.ts';
import { freePort } from '../../supabase/local/functions/process.ts';
import { netFactory } from '../../supabase/local/net/index.ts';
import type { NetWorker } from '../../supabase/local/net/worker.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { waitFor } from '../helpers/wait.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const FIXTURE_CONFIG = join(paths.root, 'tests', 'fixtures', 'supabase', 'config.toml');
const t = useTestStack({ factories: [netFactory(), functionsFactory({ configPath: FIXTURE_CONFIG })] }, 'pg_net');

let server: Server;
let base: string;
let sql: postgres.Sql;
const received: Received[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url!.startsWith('/slow')) {
        setTimeout(() => res.end('late'), 3000).unref();
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json', 'x-answer': '42' });
      res.end(JSON.stringify({ ok: true, got: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sql = postgres(t.db.url('postgres'), { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const worker = () => (t.stack.services.find((s) => s.name === 'net') as unknown as { worker: NetWorker }).worker;

async function first<T>(rows: PromiseLike<readonly T[]>): Promise<T> {
  const [row] = await rows;
  if (row === undefined) throw new Error('the query returned no row');
  return row;
}

function responseOf(id: string | number) {
  return waitFor(
    `the response to request ${id}`,
    async () => (await sql`select * from net._http_response where id = ${id}`)[0],
    60_000,
    25,
  );
}

describe('pg_net lookalike', () => {
  it('sends a request enqueued by a committed transaction, as the caller wrote it', async () => {
    const { id } = await sql.begin(async (tx) => {
      // Any API role may enqueue: the request functions are SECURITY DEFINER.
      await tx`set local role authenticated`;
      return first(tx<{ id: string }[]>`
        select net.http_post(
          url := ${`${base}/hook?from=sql`},
          body := '{"task": 7, "name": "ünïcode"}'::jsonb,
          headers := '{"Content-Type": "application/json", "Authorization": "Bearer abc", "X-Custom": "yes"}'::jsonb
        ) as id`);
    });
    const row = await responseOf(id);
    const hit = received.find((r) => r.url === '/hook?from=sql');
    expect(hit).toBeDefined();
    expect(hit!.method).toBe('POST');
    expect(JSON.parse(hit!.body)).toEqual({ task: 7, name: 'ünïcode' });
    expect(hit!.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer abc',
      'x-custom': 'yes',
    });
    expect(hit!.headers['user-agent']).toMatch(/^pg_net\//);
    expect(row).toMatchObject({
      status_code: 201,
      content_type: 'application/json',
      timed_out: false,
      error_msg: null,
    });
    expect(row.headers['x-answer']).toBe('42');
    expect(JSON.parse(row.content)).toEqual({ ok: true, got: '/hook?from=sql' });
    const { result } = await first(sql<{ result: string }[]>`select net._http_collect_response(${id}) as result`);
    expect(result).toContain('SUCCESS');
    // The queue holds nothing once the worker took the request.
    const { count } = await first(sql<{ count: number }[]>`select count(*)::int as count from net.http_request_queue`);
    expect(count).toBe(0);
  });

  it('sends nothing while the transaction is open, and nothing at all when it rolls back', async () => {
    let openId: string | undefined;
    await sql
      .begin(async (tx) => {
        ({ id: openId } = await first(tx<{ id: string }[]>`select net.http_get(${`${base}/rolled-back`}) as id`));
        // Even a worker looking right now sees no request: it is not committed.
        worker().wake();
        await worker().idle();
        expect(received.some((r) => r.url === '/rolled-back')).toBe(false);
        throw new Error('roll back');
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'));
    expect(openId).toBeDefined();

    // A request committed afterwards is sent; the rolled-back one never is.
    const { id } = await first(sql<{ id: string }[]>`select net.http_get(${`${base}/after`}) as id`);
    await responseOf(id);
    await worker().idle();
    expect(received.some((r) => r.url === '/after')).toBe(true);
    expect(received.some((r) => r.url === '/rolled-back')).toBe(false);
    const rows = await sql`select 1 from net._http_response where id = ${openId!}`;
    expect(rows).toHaveLength(0);
  });

  it('records a request that takes longer than timeout_milliseconds as timed out', async () => {
    const { id } = await first(
      sql<{ id: string }[]>`select net.http_get(${`${base}/slow`}, timeout_milliseconds := 200) as id`,
    );
    const row = await responseOf(id);
    expect(row).toMatchObject({ timed_out: true, status_code: null });
    expect(row.error_msg).toMatch(/Timeout of 200 ms/);
    const { result } = await first(
      sql<{ result: string }[]>`select (net._http_collect_response(${id})).status::text as result`,
    );
    expect(result).toBe('ERROR');
  });

  it('encodes params into the URL for GET and DELETE, and records connection errors', async () => {
    const { get } = await first(sql<{ get: string }[]>`
      select net.http_get(${`${base}/params`}, params := '{"q": "a b&c", "n": "1"}'::jsonb) as get`);
    const { del } = await first(sql<{ del: string }[]>`select net.http_delete(${`${base}/things/9?x=1`}) as del`);
    await responseOf(get);
    await responseOf(del);
    const url = received.find((r) => r.url.startsWith('/params'))!.url;
    expect(new URL(url, base).searchParams.get('q')).toBe('a b&c');
    expect(new URL(url, base).searchParams.get('n')).toBe('1');
    expect(received.find((r) => r.url === '/things/9?x=1')?.method).toBe('DELETE');

    const closed = `http://127.0.0.1:${await freePort()}/nothing-listens`;
    const { id } = await first(sql<{ id: string }[]>`select net.http_get(${closed}) as id`);
    const row = await responseOf(id);
    expect(row.status_code).toBeNull();
    expect(row.timed_out).toBe(false);
    expect(row.error_msg).toMatch(/ECONNREFUSED/);
  });

  it('calls an edge function through the gateway, as the documented scheduled-function recipe does', async () => {
    const { id } = await first(sql<{ id: string }[]>`
      select net.http_post(
        url := ${`${t.url}/functions/v1/hello/echo/from-cron`},
        headers := jsonb_build_object('Content-Type', 'application/json', 'apikey', ${t.secretKey}::text),
        body := jsonb_build_object('time', 'now')
      ) as id`);
    const row = await responseOf(id);
    expect(row.status_code).toBe(200);
    const echoed = JSON.parse(row.content);
    expect(echoed).toMatchObject({ method: 'POST', body: { time: 'now' } });
    expect(new URL(echoed.url).pathname).toBe('/hello/echo/from-cron');
    // verify_jwt accepted the secret key; the gateway handed the function the service_role JWT.
    expect(echoed.authorization).toBe(`Bearer ${t.stack.ctx.keys.serviceRoleJwt}`);
  });

  it('refuses a POST that is not JSON, as pg_net does', async () => {
    await expect(
      sql`select net.http_post(${base}, '{}'::jsonb, headers := '{"Content-Type": "text/plain"}'::jsonb)`,
    ).rejects.toThrow(/Content-Type header must be "application\/json"/);
  });

  it('reports the worker as up, and deletes responses past the TTL', async () => {
    await sql`select net.check_worker_is_up()`;
    await sql`
      insert into net._http_response (id, status_code, created)
      values (-1, 200, now() - interval '7 hours'), (-2, 200, now() - interval '5 hours')`;
    await worker().cleanup();
    const ids = await sql`select id from net._http_response where id < 0 order by id`;
    expect(ids.map((r) => Number(r.id))).toEqual([-2]);
  });
});
