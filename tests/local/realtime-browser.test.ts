import type postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { realtimeService } from '../../supabase/local/realtime/service.ts';
import { html, serveStatic, supabaseScript, useBrowser, type StaticSite } from '../helpers/browser.ts';
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

/**
 * The unmodified supabase-js browser bundle in a real Chromium: native WebSocket, default protocol
 * vsn 2.0.0 (client broadcasts as binary frames), private channel authorized by RLS.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><script src="/supabase.js"></script></head>
<body><script>
  window.received = [];
  window.start = async (url, key, token, room) => {
    const client = supabase.createClient(url, key, { auth: { persistSession: false } });
    await client.realtime.setAuth(token);
    const channel = client.channel(room, { config: { private: true, broadcast: { self: true, ack: true } } });
    channel.on('broadcast', { event: '*' }, (m) => window.received.push(m));
    window.channel = channel;
    return new Promise((resolve) =>
      channel.subscribe((status, err) => resolve(err ? status + ': ' + err.message : status)));
  };
</script></body></html>`;

declare global {
  interface Window {
    received: { event: string; payload: Record<string, unknown>; meta?: { id: string } }[];
    start(url: string, key: string, token: string, room: string): Promise<string>;
    channel: { send(m: unknown): Promise<string> };
  }
}

const t = useTestStack({ factories: [realtimeService] }, 'realtime_browser');
const browser = useBrowser();
const clients = new Clients(
  () => t.url,
  () => t.publishableKey,
);
let site: StaticSite;
let app: postgres.Sql;
let member: TestUser;
let peer: TestUser;

beforeAll(async () => {
  site = await serveStatic({ '/': html(PAGE), '/supabase.js': supabaseScript() });
  app = await applyRooms(t.db);
  member = await createUser(t.db, 'browser');
  peer = await createUser(t.db, 'peer');
  await app`insert into public.room_members (room_id, user_id) values (7, ${member.id}), (7, ${peer.id})`;
});

afterAll(async () => {
  await clients.closeAll();
  await app?.end();
  await site?.close();
});

it('a browser page receives broadcast from the database and sends binary broadcasts on a private channel', async () => {
  const page = await browser.newPage();
  await page.goto(site.url);
  const token = await tokenFor(t.stack.ctx.keys, member);
  const status = await page.evaluate(([u, k, tk]) => window.start(u, k, tk, 'room:7'), [
    t.url,
    t.publishableKey,
    token,
  ] as const);
  expect(status).toBe('SUBSCRIBED');

  const nodePeer = await clients.as(await tokenFor(t.stack.ctx.keys, peer));
  const peerInbox = new Inbox<{ event: string; payload: Record<string, unknown> }>();
  const peerChannel = nodePeer
    .channel('room:7', { config: { private: true } })
    .on('broadcast', { event: '*' }, (m) => peerInbox.push(m as never));
  expect((await subscribe(peerChannel)).status).toBe('SUBSCRIBED');

  await app`insert into public.chat_messages (room_id, body) values (7, 'to the browser')`;
  await page.waitForFunction(() => window.received.some((m) => m.payload.body === 'to the browser'), null, {
    timeout: 5000,
  });
  const fromDb = await page.evaluate(() => window.received.find((m) => m.event === 'message'));
  expect(fromDb?.meta?.id).toEqual(fromDb?.payload.id);

  const ack = await page.evaluate(() =>
    window.channel.send({ type: 'broadcast', event: 'typing', payload: { who: 'browser' } }),
  );
  expect(ack).toBe('ok');
  await page.waitForFunction(() => window.received.some((m) => m.event === 'typing'), null, { timeout: 5000 });
  expect((await peerInbox.next((m) => m.event === 'typing')).payload).toEqual({ who: 'browser' });
  expect(page.errors).toEqual([]);
});
