import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { realtimeService } from '../../supabase/local/realtime/service.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { Inbox } from '../helpers/realtime-fixtures.ts';

const t = useTestStack({ factories: [realtimeService] }, 'abuse_realtime');
const open: WebSocket[] = [];

afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/** A raw Phoenix socket (vsn 2.0.0) and the frames it receives. */
async function socket(): Promise<{ ws: WebSocket; frames: Inbox<Frame>; closed: Promise<number> }> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/realtime/v1/websocket?apikey=${t.publishableKey}&vsn=2.0.0`);
  open.push(ws);
  const frames = new Inbox<Frame>();
  ws.on('message', (d, isBinary) => {
    if (!isBinary) frames.push(JSON.parse(String(d)) as Frame);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames, closed };
}

let ref = 0;
async function push(
  s: { ws: WebSocket; frames: Inbox<Frame> },
  joinRef: string,
  topic: string,
  event: string,
  payload: unknown,
): Promise<Frame[4]> {
  const r = String(++ref);
  s.ws.send(JSON.stringify([joinRef, r, topic, event, payload]));
  return (await s.frames.next((f) => f[1] === r && f[3] === 'phx_reply'))[4];
}

const join = (s: { ws: WebSocket; frames: Inbox<Frame> }, topic: string, config: Record<string, unknown> = {}) =>
  push(s, `j-${topic}`, `realtime:${topic}`, 'phx_join', { config: { private: false, ...config } });

describe('the local Realtime server bounds what one socket can make it hold', () => {
  it('refuses a join past 100 channels on one socket with ChannelRateLimitReached, and the socket stays usable', async () => {
    const s = await socket();
    for (let i = 0; i < 100; i++) expect(await join(s, `many-${i}`), `join ${i}`).toMatchObject({ status: 'ok' });
    expect(await join(s, 'one-too-many')).toEqual({
      status: 'error',
      response: { reason: 'ChannelRateLimitReached: Too many channels' },
    });
    // Joining a topic again replaces its channel (not one more); leaving frees a place.
    expect(await join(s, 'many-0')).toMatchObject({ status: 'ok' });
    expect(await push(s, 'j-many-1', 'realtime:many-1', 'phx_leave', {})).toMatchObject({ status: 'ok' });
    expect(await join(s, 'one-too-many')).toMatchObject({ status: 'ok' });
  });

  it('refuses a presence with more than 10 keys, or bigger than 64 KiB, with an error reply, and tracks nothing', async () => {
    const s = await socket();
    await join(s, 'room', { presence: { enabled: true, key: 'me' } });
    await s.frames.next((f) => f[3] === 'presence_state');
    const track = (payload: Record<string, unknown>) =>
      push(s, 'j-room', 'realtime:room', 'presence', { type: 'presence', event: 'track', payload });
    const keys = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i]));
    expect(await track(keys)).toEqual({
      status: 'error',
      response: { reason: 'PresenceKeysLimitReached: A presence may have at most 10 keys' },
    });
    expect(await track({ blob: 'x'.repeat(70 * 1024) })).toEqual({
      status: 'error',
      response: { reason: 'PresencePayloadTooLarge: A presence may take at most 65536 bytes' },
    });
    expect(s.frames.items.some((f) => f[3] === 'presence_diff')).toBe(false);
    expect(await track({ online: true })).toEqual({ status: 'ok', response: {} });
    const diff = await s.frames.next((f) => f[3] === 'presence_diff');
    expect(Object.keys((diff[4] as { joins: object }).joins)).toEqual(['me']);
  });

  it('closes a socket that sends a frame over the frame size limit (1009), and the server keeps serving', async () => {
    const s = await socket();
    s.ws.send(JSON.stringify([null, '1', 'phoenix', 'heartbeat', { blob: 'x'.repeat(4 * 1024 * 1024) }]));
    expect(await s.closed).toBe(1009);
    const again = await socket();
    expect(await push(again, null as never, 'phoenix', 'heartbeat', {})).toEqual({ status: 'ok', response: {} });
  });

  it('disconnects a consumer that stops reading instead of buffering for it without end', async () => {
    const slow = await socket();
    await join(slow, 'flood');
    const sender = await socket();
    await join(sender, 'flood', { broadcast: { ack: true } });
    // The slow consumer stops reading: what the server sends piles up in its buffers.
    slow.ws.pause();
    const payload = { blob: 'x'.repeat(1024 * 1024) };
    const SENT = 48;
    for (let i = 0; i < SENT; i++) {
      const reply = await push(sender, 'j-flood', 'realtime:flood', 'broadcast', {
        type: 'broadcast',
        event: 'big',
        payload,
      });
      expect(reply).toMatchObject({ status: 'ok' });
    }
    // Reading again, it finds the server cut it off part way rather than holding all 48 MiB for it.
    slow.ws.resume();
    expect(await slow.closed).toBe(1006);
    const got = slow.frames.items.filter((f) => f[3] === 'broadcast').length;
    expect(got).toBeLessThan(SENT);
    // The sender was not affected.
    expect(await push(sender, null as never, 'phoenix', 'heartbeat', {})).toEqual({ status: 'ok', response: {} });
  }, 60_000);
});
