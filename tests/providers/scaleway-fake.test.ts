// The Scaleway fake behaves as the Instance API is documented: auth, tags and paging, states and
// actions, user data as text, deletes and volumes, the quota body, 429 with reset headers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOBLE_IMAGE_ID, ScalewayFake } from '../fakes/clouds/scaleway.ts';

const PROJECT = '11111111-2222-4333-8444-555555555555';
let clock = 1_800_000_000_000;
let fake: ScalewayFake;
const zoneUrl = () => `${fake.url}/instance/v1/zones/fr-par-1`;

async function api(path: string, init: { method?: string; body?: unknown; text?: string; key?: string } = {}) {
  const res = await fetch(`${zoneUrl()}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'x-auth-token': init.key ?? 'scw-secret',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.text !== undefined ? { 'content-type': 'text/plain' } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : init.text,
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json');
  const body = json ? JSON.parse(text) : text || null;
  return { status: res.status, headers: res.headers, body };
}

const create = (name: string, tags: string[] = []) =>
  api('/servers', {
    method: 'POST',
    body: { name, commercial_type: 'DEV1-M', image: NOBLE_IMAGE_ID, project: PROJECT, tags },
  });

async function start(options: ConstructorParameters<typeof ScalewayFake>[0] = {}) {
  fake = new ScalewayFake({ now: () => clock, ...options });
  await fake.start();
}

afterEach(async () => {
  await fake.stop();
});

describe('Scaleway fake: auth, tags and paging', () => {
  beforeEach(() => start());

  it('refuses a wrong secret key with 401 denied_authentication', async () => {
    const res = await api('/servers', { key: 'nope' });
    expect(res.status).toBe(401);
    expect(res.body.type).toBe('denied_authentication');
  });

  it('matches comma-joined tags exactly with AND, counts only the first of repeated tags=, and name as a substring', async () => {
    fake.seed('fr-par-1', PROJECT, 'server1', ['sam=node', 'sam-installation=a']);
    fake.seed('fr-par-1', PROJECT, 'server100', ['sam=node', 'sam-installation=b']);
    fake.seed('fr-par-1', PROJECT, 'other', ['sam=nodex']);
    const names = async (q: string) =>
      ((await api(`/servers?${q}`)).body.servers as { name: string }[]).map((s) => s.name).sort();
    expect(await names('tags=sam%3Dnode')).toEqual(['server1', 'server100']);
    expect(await names('tags=sam%3Dnode,sam-installation%3Da')).toEqual(['server1']);
    expect(await names('tags=sam-installation%3Da&tags=sam-installation%3Db')).toEqual(['server1']);
    expect(await names('name=server1')).toEqual(['server1', 'server100']);
  });

  it('pages with per_page ≤ 100, X-Total-Count, and an empty page after the last', async () => {
    for (let i = 0; i < 7; i++) fake.seed('fr-par-1', PROJECT, `s${i}`, ['sam=node']);
    const tooMany = await api('/servers?per_page=101');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.type).toBe('invalid_arguments');
    const seen = new Set<string>();
    for (let page = 1; ; page++) {
      const res = await api(`/servers?tags=sam%3Dnode&per_page=3&page=${page}`);
      expect(res.headers.get('x-total-count')).toBe('7');
      if (res.body.servers.length === 0) {
        expect(page).toBe(4);
        break;
      }
      for (const s of res.body.servers) seen.add(s.id);
    }
    expect(seen.size).toBe(7);
  });
});

describe('Scaleway fake: states, user data, actions and deletes', () => {
  beforeEach(() => start({ readsUntilRunning: 2, readsWhileStopping: 1, serverLimit: 2 }));

  it('creates stopped without IP; PATCH text/plain user data → 204; poweron → starting → running with public_ips', async () => {
    const created = await create('one', ['sam=node']);
    expect(created.status).toBe(201);
    expect(created.body.server).toMatchObject({
      state: 'stopped',
      public_ip: null,
      public_ips: [],
      allowed_actions: ['poweron', 'backup'],
    });
    expect(created.body.server.volumes['0'].volume_type).toBe('l_ssd');
    const id = created.body.server.id;
    expect((await api(`/servers/${id}/user_data/cloud-init`, { method: 'PATCH', body: { x: 1 } })).status).toBe(400);
    expect(
      (await api(`/servers/${id}/user_data/cloud-init`, { method: 'PATCH', text: '#cloud-config\n' })).status,
    ).toBe(204);
    expect((await api(`/servers/${id}/user_data/cloud-init`)).body).toBe('#cloud-config\n');
    const on = await api(`/servers/${id}/action`, { method: 'POST', body: { action: 'poweron' } });
    expect(on.status).toBe(202);
    expect(on.body.task.status).toBe('pending');
    expect((await api(`/servers/${id}`)).body.server.state).toBe('starting');
    const running = (await api(`/servers/${id}`)).body.server;
    expect(running.state).toBe('running');
    expect(running.public_ips[0].address).toBe('198.51.100.7');
  });

  it('refuses terminate on a stopped server and DELETE on a running one; DELETE leaves volumes, terminate removes l_ssd', async () => {
    const stopped = (await create('stopped')).body.server;
    const term = await api(`/servers/${stopped.id}/action`, { method: 'POST', body: { action: 'terminate' } });
    expect(term.status).toBe(400);
    expect(term.body).toEqual({ type: 'invalid_request_error', message: 'server should be running' });
    expect((await api(`/servers/${stopped.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(fake.volumes.has(stopped.volumes['0'].id)).toBe(true);
    expect((await api(`/volumes/${stopped.volumes['0'].id}`, { method: 'DELETE' })).status).toBe(204);

    const running = (await create('running')).body.server;
    await api(`/servers/${running.id}/action`, { method: 'POST', body: { action: 'poweron' } });
    expect((await api(`/servers/${running.id}`, { method: 'DELETE' })).status).toBe(400);
    expect((await api(`/servers/${running.id}/action`, { method: 'POST', body: { action: 'terminate' } })).status).toBe(
      202,
    );
    expect(fake.volumes.has(running.volumes['0'].id)).toBe(false);
    expect((await api(`/servers/${running.id}`)).body.server.state).toBe('stopping');
    const gone = await api(`/servers/${running.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.type).toBe('unknown_resource');
  });

  it('answers a full project with the 403 quota body', async () => {
    await create('a');
    await create('b');
    const res = await create('c');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      type: 'invalid_request_error',
      message: 'Quota exceeded for this resource.',
      resource: 'instances_dev1_m',
    });
  });

  it('drops a create answer on demand, the server existing all the same', async () => {
    fake.dropCreateAnswers();
    await expect(create('lost')).rejects.toThrow();
    expect([...fake.servers.values()].map((s) => s.name)).toEqual(['lost']);
  });

  it('resolves ubuntu_noble in the marketplace to an image for DEV1-M', async () => {
    const res = await fetch(`${fake.url}/marketplace/v2/local-images?image_label=ubuntu_noble&zone=fr-par-1`, {
      headers: { 'x-auth-token': 'scw-secret' },
    });
    const body = await res.json();
    expect(body.local_images[0]).toMatchObject({ id: NOBLE_IMAGE_ID, zone: 'fr-par-1' });
    expect(body.local_images[0].compatible_commercial_types).toContain('DEV1-M');
  });
});

describe('Scaleway fake: rate limit', () => {
  beforeEach(() => start({ requestBudget: 2, resetSeconds: 30 }));

  it('answers 429 with X-RateLimit-Reset once the budget is spent, and serves again after the reset', async () => {
    expect((await api('/servers')).status).toBe(200);
    expect((await api('/servers')).status).toBe(200);
    const limited = await api('/servers');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-reset')).toBe('30');
    clock += 10_000;
    expect((await api('/servers')).headers.get('x-ratelimit-reset')).toBe('20');
    clock += 20_000;
    expect((await api('/servers')).status).toBe(200);
  });
});
