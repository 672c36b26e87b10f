import type postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { realtimeService } from '../../supabase/local/realtime/service.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import {
  applyRooms,
  Clients,
  createUser,
  Inbox,
  subscribe,
  tokenFor,
  type TestUser,
} from '../helpers/realtime-fixtures.ts';

type Broadcast = { type: string; event: string; payload: Record<string, unknown>; meta?: { id?: string } };

const t = useTestStack({ factories: [realtimeService] }, 'realtime');
const clients = new Clients(
  () => t.url,
  () => t.publishableKey,
);
let app: postgres.Sql;
let alice: TestUser; // member of room 1 (writes), room 3
let erin: TestUser; // member of room 1 (writes)
let grace: TestUser; // member of room 1, may not write
let bob: TestUser; // member of nothing

beforeAll(async () => {
  app = await applyRooms(t.db);
  [alice, erin, grace, bob] = (await Promise.all(
    ['alice', 'erin', 'grace', 'bob'].map((l) => createUser(t.db, l)),
  )) as [TestUser, TestUser, TestUser, TestUser];
  await app`insert into public.room_members (room_id, user_id, can_write) values
    (1, ${alice.id}, true), (1, ${erin.id}, true), (1, ${grace.id}, false), (3, ${alice.id}, true)`;
});

afterEach(async () => {
  await clients.closeAll();
});

afterAll(async () => {
  await app?.end();
});

const token = (u: TestUser, seconds?: number) => tokenFor(t.stack.ctx.keys, u, seconds);

async function joinRoom(user: TestUser, room: string, config: Record<string, unknown> = {}) {
  const client = await clients.as(await token(user));
  const inbox = new Inbox<Broadcast>();
  const channel = client.channel(room, { config: { private: true, ...config } });
  channel.on('broadcast', { event: '*' }, (m) => inbox.push(m as Broadcast));
  const outcome = await subscribe(channel);
  return { client, channel, inbox, outcome };
}

describe('broadcast from the database', () => {
  it('delivers what the trigger sends on insert to a member of the private channel', async () => {
    const { inbox, outcome } = await joinRoom(alice, 'room:1');
    expect(outcome.status).toBe('SUBSCRIBED');
    const [row] = await app`insert into public.chat_messages (room_id, body) values (1, 'hello room') returning id`;
    const m = await inbox.next((x) => x.payload.body === 'hello room');
    expect(m.event).toBe('message');
    expect(m.payload.message_id).toBe(Number(row!.id));
    expect(typeof m.meta?.id).toBe('string');
    expect(m.payload.id).toBe(m.meta?.id); // realtime.send injects the row id into the payload
    const [stored] = await app`select private, topic from realtime.messages where id = ${m.meta!.id!}`;
    expect(stored).toEqual({ private: true, topic: 'room:1' });
  });

  it('refuses a user whose RLS denies the topic, who then receives nothing; public "room:1" is another topic', async () => {
    const member = await joinRoom(alice, 'room:1');
    expect(member.outcome.status).toBe('SUBSCRIBED');
    const denied = await joinRoom(bob, 'room:1');
    expect(denied.outcome.status).toBe('CHANNEL_ERROR');
    expect(denied.outcome.error?.message).toBe(
      'Unauthorized: You do not have permissions to read from this Channel topic: room:1',
    );
    const publicClient = clients.make();
    const publicInbox = new Inbox<Broadcast>();
    const publicChannel = publicClient
      .channel('room:1')
      .on('broadcast', { event: '*' }, (m) => publicInbox.push(m as Broadcast));
    expect((await subscribe(publicChannel)).status).toBe('SUBSCRIBED');

    await app`insert into public.chat_messages (room_id, body) values (1, 'members only')`;
    await member.inbox.next((x) => x.payload.body === 'members only');
    await new Promise((r) => setTimeout(r, 300));
    expect(denied.inbox.items).toEqual([]);
    expect(publicInbox.items).toEqual([]);
  });

  it('broadcasts nothing for a rolled-back insert', async () => {
    const { inbox } = await joinRoom(alice, 'room:1');
    await app
      .begin(async (tx) => {
        await tx`insert into public.chat_messages (room_id, body) values (1, 'rolled back')`;
        throw new Error('roll back');
      })
      .catch(() => {});
    await app`insert into public.chat_messages (room_id, body) values (1, 'committed')`;
    await inbox.next((x) => x.payload.body === 'committed');
    expect(inbox.items.map((x) => x.payload.body)).toEqual(['committed']);
  });

  it('speaks vsn 1.0.0 (JSON object frames, JSON client broadcasts) too', async () => {
    const client = await clients.as(await token(alice), { vsn: '1.0.0' });
    const inbox = new Inbox<Broadcast>();
    const channel = client
      .channel('room:3', { config: { private: true, broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: '*' }, (m) => inbox.push(m as Broadcast));
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED');
    await app`insert into public.chat_messages (room_id, body) values (3, 'over json objects')`;
    expect((await inbox.next()).payload.body).toBe('over json objects');
    expect(await channel.send({ type: 'broadcast', event: 'echo', payload: { v: 1 } })).toBe('ok');
    expect((await inbox.next((x) => x.event === 'echo')).payload).toEqual({ v: 1 });
  });

  it('replays stored messages to a private join with broadcast.replay, and reports replication_ready', async () => {
    await app`insert into public.room_members (room_id, user_id) values (5, ${alice.id})`;
    const since = Date.now() - 1000;
    await app`insert into public.chat_messages (room_id, body) values (5, 'one')`;
    await app`insert into public.chat_messages (room_id, body) values (5, 'two')`;
    const client = await clients.as(await token(alice));
    const inbox = new Inbox<Broadcast & { meta?: { replayed?: boolean } }>();
    const system = new Inbox<Record<string, unknown>>();
    const channel = client
      .channel('room:5', {
        config: { private: true, broadcast: { replay: { since, limit: 10 }, replication_ready: true } },
      })
      .on('broadcast', { event: '*' }, (m) => inbox.push(m as Broadcast))
      .on('system', {}, (p) => system.push(p as Record<string, unknown>));
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED');
    expect(await system.next()).toMatchObject({ status: 'ok', message: 'Replication connection established' });
    await inbox.next((x) => x.payload.body === 'two');
    expect(inbox.items.map((x) => [x.payload.body, x.meta?.replayed])).toEqual([
      ['one', true],
      ['two', true],
    ]);
  });
});

describe('access tokens', () => {
  it('closes a channel whose refreshed token lost access', async () => {
    const dave = await createUser(t.db, 'dave');
    await app`insert into public.room_members (room_id, user_id) values (2, ${dave.id})`;
    const client = await clients.as(await token(dave));
    const statuses = new Inbox<string>();
    const system = new Inbox<Record<string, unknown>>();
    const channel = client
      .channel('room:2', { config: { private: true } })
      .on('system', {}, (p) => system.push(p as Record<string, unknown>));
    channel.subscribe((s) => statuses.push(s));
    await statuses.next((s) => s === 'SUBSCRIBED');

    // Membership changes alone do not reach a joined channel (authorization is cached per token)...
    await app`delete from public.room_members where room_id = 2 and user_id = ${dave.id}`;
    // ...the next access token re-runs the probe.
    await client.realtime.setAuth(await token(dave, 1800));
    await statuses.next((s) => s === 'CLOSED');
    const msg = await system.next();
    expect(msg).toMatchObject({
      extension: 'system',
      status: 'error',
      message: 'You no longer have permission to read from this Channel topic: room:2',
    });
  });

  it('keeps a channel whose refreshed token still grants access', async () => {
    const { client, inbox, outcome } = await joinRoom(alice, 'room:1');
    expect(outcome.status).toBe('SUBSCRIBED');
    await client.realtime.setAuth(await token(alice, 1800));
    await new Promise((r) => setTimeout(r, 200));
    await app`insert into public.chat_messages (room_id, body) values (1, 'still here')`;
    await inbox.next((x) => x.payload.body === 'still here');
  });

  it('closes the channel with a system error when the token expires', async () => {
    const client = await clients.as(await token(alice, 2));
    const statuses = new Inbox<string>();
    const system = new Inbox<Record<string, unknown>>();
    const channel = client
      .channel('room:1', { config: { private: true } })
      .on('system', {}, (p) => system.push(p as Record<string, unknown>));
    channel.subscribe((s) => statuses.push(s));
    await statuses.next((s) => s === 'SUBSCRIBED');
    await statuses.next((s) => s === 'CLOSED', 6000);
    expect(String((await system.next()).message)).toMatch(/^Token has expired \d+ seconds ago$/);
  });

  it('rejects a join with an expired token', async () => {
    const client = await clients.as(await token(alice, -10));
    const outcome = await subscribe(client.channel('room:1', { config: { private: true } }));
    expect(outcome.status).toBe('CHANNEL_ERROR');
    expect(outcome.error?.message).toMatch(/^InvalidJWTToken: Token has expired \d+ seconds ago$/);
  });
});

describe('client broadcast', () => {
  it('sends binary broadcasts with self and ack on a private channel, honouring the write policy', async () => {
    const sender = await joinRoom(alice, 'room:1', { broadcast: { self: true, ack: true } });
    const peer = await joinRoom(erin, 'room:1');
    const readOnly = await joinRoom(grace, 'room:1', { broadcast: { ack: true } });
    for (const j of [sender, peer, readOnly]) expect(j.outcome.status).toBe('SUBSCRIBED');

    expect(await sender.channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1, text: 'héllo ✓' } })).toBe(
      'ok',
    );
    for (const inbox of [sender.inbox, peer.inbox, readOnly.inbox]) {
      expect(await inbox.next((x) => x.event === 'ping')).toMatchObject({
        type: 'broadcast',
        event: 'ping',
        payload: { n: 1, text: 'héllo ✓' },
      });
    }

    // grace may read but not write: dropped without a reply, so the ack times out.
    expect(await readOnly.channel.send({ type: 'broadcast', event: 'pong', payload: {} }, { timeout: 800 })).toBe(
      'timed out',
    );
    await sender.channel.send({ type: 'broadcast', event: 'after', payload: {} });
    await peer.inbox.next((x) => x.event === 'after');
    expect(peer.inbox.items.some((x) => x.event === 'pong')).toBe(false);
  });

  it('does not echo to the sender without self, and carries raw bytes', async () => {
    const a = clients.make();
    const b = clients.make();
    const aInbox = new Inbox<Broadcast>();
    const bInbox = new Inbox<{ payload: unknown; event: string }>();
    const ca = a.channel('lobby').on('broadcast', { event: '*' }, (m) => aInbox.push(m as Broadcast));
    const cb = b.channel('lobby').on('broadcast', { event: '*' }, (m) => bInbox.push(m as Broadcast));
    expect((await subscribe(ca)).status).toBe('SUBSCRIBED');
    expect((await subscribe(cb)).status).toBe('SUBSCRIBED');
    const bytes = new Uint8Array([0, 1, 2, 250, 255]).buffer;
    expect(await ca.send({ type: 'broadcast', event: 'bin', payload: bytes })).toBe('ok');
    const got = await bInbox.next((x) => x.event === 'bin');
    expect([...new Uint8Array(got.payload as ArrayBuffer)]).toEqual([0, 1, 2, 250, 255]);
    // An echo of its own message would reach `a` before anything sent after it: wait for b's.
    expect(await cb.send({ type: 'broadcast', event: 'after', payload: {} })).toBe('ok');
    await aInbox.next((x) => x.event === 'after');
    expect(aInbox.items.map((x) => x.event)).toEqual(['after']);
  });
});

describe('presence', () => {
  it('syncs presence state, joins and leaves on a private channel', async () => {
    const a = await clients.as(await token(alice));
    const e = await clients.as(await token(erin));
    const ca = a.channel('room:1', { config: { private: true, presence: { key: 'alice' } } });
    const ce = e.channel('room:1', { config: { private: true, presence: { key: 'erin' } } });
    const syncs = new Inbox<string[]>();
    const leaves = new Inbox<string>();
    ca.on('presence', { event: 'sync' }, () => syncs.push(Object.keys(ca.presenceState()).sort()));
    ca.on('presence', { event: 'leave' }, ({ key }) => leaves.push(key));
    ce.on('presence', { event: 'sync' }, () => {});
    expect((await subscribe(ca)).status).toBe('SUBSCRIBED');
    expect((await subscribe(ce)).status).toBe('SUBSCRIBED');
    expect(await ca.track({ online_at: 'now', name: 'Alice' })).toBe('ok');
    expect(await ce.track({ name: 'Erin' })).toBe('ok');
    await syncs.next((k) => k.join() === 'alice,erin');
    const state = ca.presenceState<{ name: string }>();
    expect(state.erin?.[0]).toMatchObject({ name: 'Erin' });
    expect(typeof state.erin?.[0]?.presence_ref).toBe('string');

    // A late joiner gets the whole state in presence_state.
    const late = await clients.as(await token(erin));
    const cl = late.channel('room:1', { config: { private: true, presence: { key: 'late' } } });
    const lateSyncs = new Inbox<string[]>();
    cl.on('presence', { event: 'sync' }, () => lateSyncs.push(Object.keys(cl.presenceState()).sort()));
    expect((await subscribe(cl)).status).toBe('SUBSCRIBED');
    await lateSyncs.next((k) => k.join() === 'alice,erin');

    expect(await ce.untrack()).toBe('ok');
    expect(await leaves.next()).toBe('erin');
    await syncs.next((k) => k.join() === 'alice');
  });

  it('refuses presence on a private channel to a non-member', async () => {
    const client = await clients.as(await token(bob));
    const outcome = await subscribe(client.channel('room:1', { config: { private: true, presence: { key: 'bob' } } }));
    expect(outcome.status).toBe('CHANNEL_ERROR');
  });
});

describe('REST broadcast', () => {
  it('POST /api/broadcast: 202 empty, unauthorized private messages skipped', async () => {
    const member = await joinRoom(alice, 'room:1');
    const anonClient = clients.make();
    const publicInbox = new Inbox<Broadcast>();
    const pub = anonClient.channel('news').on('broadcast', { event: '*' }, (m) => publicInbox.push(m as Broadcast));
    expect((await subscribe(pub)).status).toBe('SUBSCRIBED');

    const post = (auth: Record<string, string>, messages: unknown[]) =>
      fetch(`${t.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ messages }),
      });
    const asService = await post({ apikey: t.secretKey }, [
      { topic: 'room:1', event: 'rest', payload: { from: 'service' }, private: true },
      { topic: 'news', event: 'rest', payload: { from: 'service' } },
    ]);
    expect(asService.status).toBe(202);
    expect(await asService.text()).toBe('');
    await member.inbox.next((x) => x.event === 'rest' && x.payload.from === 'service');
    await publicInbox.next((x) => x.payload.from === 'service');

    const asBob = await post({ apikey: t.publishableKey, authorization: `Bearer ${await token(bob)}` }, [
      { topic: 'room:1', event: 'rest', payload: { from: 'bob' }, private: true },
      { topic: 'news', event: 'rest', payload: { from: 'bob' } },
    ]);
    expect(asBob.status).toBe(202);
    await publicInbox.next((x) => x.payload.from === 'bob');
    const asErin = await post({ apikey: t.publishableKey, authorization: `Bearer ${await token(erin)}` }, [
      { topic: 'room:1', event: 'rest', payload: { from: 'erin' }, private: true },
    ]);
    expect(asErin.status).toBe(202);
    await member.inbox.next((x) => x.payload.from === 'erin');
    expect(member.inbox.items.some((x) => x.payload.from === 'bob')).toBe(false);

    expect((await post({}, [])).status).toBe(401);
    expect((await post({ apikey: t.publishableKey }, [{ topic: '', event: 'x', payload: {} }])).status).toBe(422);
  });

  it('channel.httpSend: 202 for a writer, an error for a denied private write', async () => {
    const member = await joinRoom(alice, 'room:1');
    const sender = await clients.as(await token(erin));
    const viaHttp = sender.channel('room:1', { config: { private: true } });
    expect(await viaHttp.httpSend('http', { n: 7 })).toEqual({ success: true });
    expect((await member.inbox.next((x) => x.event === 'http')).payload).toEqual({ n: 7 });

    const denied = (await clients.as(await token(grace))).channel('room:1', { config: { private: true } });
    await expect(denied.httpSend('http', { n: 8 })).rejects.toThrow('Unauthorized');
  });
});

describe('socket', () => {
  const wsUrl = (key: string) => `${t.url.replace('http', 'ws')}/realtime/v1/websocket?apikey=${key}&vsn=2.0.0`;

  it('answers 401 JSON to an upgrade without a valid key', async () => {
    const ws = new WebSocket(wsUrl('not-a-key'));
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    // The gateway refuses it before Realtime sees it, in hosted's words.
    expect(status).toBe(401);
    expect(JSON.parse(body)).toEqual({
      message: 'Invalid API key',
      hint: 'Double check your Supabase `anon` or `service_role` API key.',
    });
  });

  it('replies to heartbeats, unmatched topics, and leaves with phx_close', async () => {
    const ws = new WebSocket(wsUrl(t.publishableKey));
    const frames = new Inbox<unknown[]>();
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as unknown[]));
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify([null, '1', 'phoenix', 'heartbeat', {}]));
    expect(await frames.next((f) => f[1] === '1')).toEqual([
      null,
      '1',
      'phoenix',
      'phx_reply',
      { status: 'ok', response: {} },
    ]);
    ws.send(
      JSON.stringify(['9', '2', 'realtime:nowhere', 'broadcast', { type: 'broadcast', event: 'x', payload: {} }]),
    );
    expect((await frames.next((f) => f[1] === '2'))[4]).toEqual({
      status: 'error',
      response: { reason: 'unmatched topic' },
    });
    ws.send(JSON.stringify(['3', '3', 'realtime:lobby', 'phx_join', { config: { private: false } }]));
    expect((await frames.next((f) => f[1] === '3'))[4]).toEqual({ status: 'ok', response: { postgres_changes: [] } });
    ws.send(JSON.stringify(['3', '4', 'realtime:lobby', 'phx_leave', {}]));
    expect(await frames.next((f) => f[1] === '4')).toEqual([
      '3',
      '4',
      'realtime:lobby',
      'phx_reply',
      { status: 'ok', response: {} },
    ]);
    expect(await frames.next((f) => f[3] === 'phx_close')).toEqual(['3', '3', 'realtime:lobby', 'phx_close', {}]);
    ws.close();
  });

  it('reports health through the listener connection', async () => {
    expect(await t.stack.health()).toEqual({ realtime: true });
  });

  it('recovers when the listener connection is killed, catching up on what was sent meanwhile', async () => {
    const { inbox } = await joinRoom(alice, 'room:1');
    const killed = await t.db.admin`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'sam-realtime' and query ilike 'listen%'`;
    expect(killed.length).toBeGreaterThan(0);
    await app`insert into public.chat_messages (room_id, body) values (1, 'while reconnecting')`;
    await inbox.next((x) => x.payload.body === 'while reconnecting', 15_000);
    await app`insert into public.chat_messages (room_id, body) values (1, 'after reconnecting')`;
    await inbox.next((x) => x.payload.body === 'after reconnecting');
    expect(inbox.items.filter((x) => x.payload.body === 'while reconnecting')).toHaveLength(1);
    expect(await t.stack.health()).toEqual({ realtime: true });
  }, 30_000);
});
