// The Hetzner fake behaves as Hetzner's API documents: auth, label selector grammar, paging,
// rate-limit headers and 429, eventual states, error bodies, a dropped create answer.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HetznerFake } from '../fakes/clouds/hetzner.ts';

let clock = 1_800_000_000_000;
let fake: HetznerFake;

async function api(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  const res = await fetch(`${fake.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.token ?? 'hetzner-token'}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

const create = (name: string, extra: Record<string, unknown> = {}) =>
  api('/servers', {
    method: 'POST',
    body: { name, server_type: 'cx23', image: 'ubuntu-24.04', location: 'fsn1', ...extra },
  });

async function start(options: ConstructorParameters<typeof HetznerFake>[0] = {}) {
  fake = new HetznerFake({ readonlyTokens: ['ro-token'], now: () => clock, ...options });
  await fake.start();
}

afterEach(async () => {
  await fake.stop();
});

describe('Hetzner fake: auth and deprecations', () => {
  beforeEach(() => start());

  it('refuses an unknown token with 401 unauthorized and a read-only token only on writes', async () => {
    const bad = await api('/servers', { token: 'nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('unauthorized');
    expect((await api('/servers', { token: 'ro-token' })).status).toBe(200);
    const write = await api('/servers', { method: 'POST', token: 'ro-token', body: { name: 'a' } });
    expect(write.status).toBe(401);
    expect(write.body.error.code).toBe('token_readonly');
  });

  it('answers /datacenters with 410 deprecated_api_endpoint', async () => {
    const res = await api('/datacenters');
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('deprecated_api_endpoint');
  });
});

describe('Hetzner fake: label selectors', () => {
  beforeEach(() => start());

  async function names(selector: string) {
    const res = await api(`/servers?label_selector=${encodeURIComponent(selector)}`);
    expect(res.status).toBe(200);
    return (res.body.servers as { name: string }[]).map((s) => s.name).sort();
  }

  it('implements k=v, k==v, k, !k, k!=v, in, notin and comma as AND', async () => {
    fake.seed('a', { sam: 'node', env: 'prod' });
    fake.seed('b', { sam: 'node', env: 'dev' });
    fake.seed('c', { env: 'prod' });
    fake.seed('d', {});
    expect(await names('sam=node')).toEqual(['a', 'b']);
    expect(await names('sam==node')).toEqual(['a', 'b']);
    expect(await names('sam')).toEqual(['a', 'b']);
    expect(await names('!sam')).toEqual(['c', 'd']);
    expect(await names('env!=prod')).toEqual(['b', 'd']);
    expect(await names('env in (dev,prod)')).toEqual(['a', 'b', 'c']);
    expect(await names('env notin (prod)')).toEqual(['b', 'd']);
    expect(await names('sam=node,env=prod')).toEqual(['a']);
    expect(await names('sam,!env')).toEqual([]);
    expect((await api(`/servers?label_selector=${encodeURIComponent('a=b=c')}`)).status).toBe(400);
  });

  it('k!=v on a server without k follows the notEqualMatchesMissing switch', async () => {
    await fake.stop();
    await start({ notEqualMatchesMissing: false });
    fake.seed('with', { env: 'dev' });
    fake.seed('without', {});
    expect(await names('env!=prod')).toEqual(['with']);
  });

  it('refuses invalid labels at create with 422 invalid_input and details.fields', async () => {
    const res = await create('bad-labels', { labels: { 'bad key!': 'x', ok: 'has space' } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid_input');
    expect(res.body.error.details.fields[0].name).toBe('labels');
  });
});

describe('Hetzner fake: paging', () => {
  beforeEach(() => start());

  it('pages 25 by default, caps per_page at 50, has null edges and Link, and every server is reached', async () => {
    for (let i = 0; i < 53; i++) fake.seed(`s${i}`, { sam: 'node' });
    const first = await api('/servers?label_selector=sam%3Dnode');
    expect(first.body.servers).toHaveLength(25);
    expect(first.body.meta.pagination).toMatchObject({
      page: 1,
      per_page: 25,
      previous_page: null,
      next_page: 2,
      last_page: 3,
      total_entries: 53,
    });
    expect(first.headers.get('link')).toContain('rel="next"');

    const seen = new Set<number>();
    let page: number | null = 1;
    while (page !== null) {
      const res = await api(`/servers?label_selector=sam%3Dnode&per_page=100&page=${page}`);
      expect(res.body.meta.pagination.per_page).toBe(50);
      for (const s of res.body.servers) seen.add(s.id);
      page = res.body.meta.pagination.next_page;
    }
    expect(seen.size).toBe(53);
  });
});

describe('Hetzner fake: rate limit', () => {
  beforeEach(() => start({ rateLimit: 3 }));

  it('carries RateLimit-* on every reply, answers 429 when the bucket is empty, and refills 1/s', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await api('/servers');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe('3');
      expect(res.headers.get('ratelimit-remaining')).toBe(String(2 - i));
    }
    const limited = await api('/servers');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(limited.headers.get('ratelimit-reset')) * 1000).toBeGreaterThan(clock);
    clock += 1000;
    expect((await api('/servers')).status).toBe(200);
    expect((await api('/servers')).status).toBe(429);
  });
});

describe('Hetzner fake: states and errors', () => {
  beforeEach(() => start({ readsUntilRunning: 2, readsWhileDeleting: 1, serverLimit: 2 }));

  it('creates initializing with an action, runs after N reads, deletes through deleting to 404', async () => {
    const created = await create('one', { labels: { sam: 'node' }, user_data: '#cloud-config\n' });
    expect(created.status).toBe(201);
    expect(created.body.server.status).toBe('initializing');
    expect(created.body.action.command).toBe('create_server');
    expect(created.body.server.public_net.ipv4.ip).toMatch(/^203\.0\.113\./);
    const id = created.body.server.id;
    expect((await api(`/servers/${id}`)).body.server.status).toBe('initializing');
    expect((await api(`/servers/${id}`)).body.server.status).toBe('running');
    const del = await api(`/servers/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body.action.command).toBe('delete_server');
    expect((await api(`/servers/${id}`)).body.server.status).toBe('deleting');
    const gone = await api(`/servers/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
    expect((await api(`/servers/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('answers a duplicate name with 409 uniqueness_error and a full project with 403 resource_limit_exceeded', async () => {
    expect((await create('dup')).status).toBe(201);
    const dup = await create('dup');
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('uniqueness_error');
    expect((await create('two')).status).toBe(201);
    const full = await create('three');
    expect(full.status).toBe(403);
    expect(full.body.error).toMatchObject({
      code: 'resource_limit_exceeded',
      details: { limits: [{ name: 'project_limit' }] },
    });
  });

  it('refuses user data over 32768 bytes with 422 invalid_input naming user_data', async () => {
    const res = await create('big', { user_data: 'x'.repeat(32769) });
    expect(res.status).toBe(422);
    expect(res.body.error.details.fields[0].name).toBe('user_data');
    expect((await create('fits', { user_data: 'x'.repeat(32768) })).status).toBe(201);
  });

  it('drops a create answer on demand, the server existing all the same', async () => {
    fake.dropCreateAnswers();
    await expect(create('lost')).rejects.toThrow();
    expect([...fake.servers.values()].map((s) => s.name)).toEqual(['lost']);
  });
});
