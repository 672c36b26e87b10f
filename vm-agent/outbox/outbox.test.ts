import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  batchBytes,
  MAX_BATCH_BYTES,
  MAX_CONTENT_BYTES,
  MessageBatch,
  type MessageRecord,
} from '../../functions/_shared/common/contracts/messages.ts';
import { makeRecord } from '../test-support/records.ts';
import { backoffDelay, isPermanentRejection, SendError } from './delivery-errors.ts';
import { DEAD_LETTER_FILE, Outbox, OUTBOX_FILE, type DeadLetter, type OutboxOptions } from './outbox.ts';

let dir: string;
const open: Outbox[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sam-outbox-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) await o.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function openOutbox(options: Partial<OutboxOptions> & Pick<OutboxOptions, 'send'>): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, flushDelayMs: 5, backoff: { initialMs: 10, maxMs: 50 }, ...options });
  open.push(outbox);
  return outbox;
}

function collector() {
  const batches: MessageRecord[][] = [];
  return { batches, send: async (b: MessageBatch) => void batches.push(b.messages) };
}

describe('Outbox', () => {
  it('keeps appended records across a close and reopen, in order, then delivers them', async () => {
    const first = await openOutbox({ send: () => new Promise(() => {}) });
    for (let i = 0; i < 5; i++) await first.append(makeRecord(i));
    await first.append(makeRecord(2)); // same id: ignored
    await first.close();
    open.pop();

    const { batches, send } = collector();
    const second = await openOutbox({ send });
    expect(second.pendingRecords().map((r) => r.messageId)).toEqual([0, 1, 2, 3, 4].map((i) => `m-session-a-${i}`));
    second.start();
    await second.drained();
    expect(batches.flat().map((r) => r.content)).toEqual([0, 1, 2, 3, 4].map((i) => `chunk ${i}`));
    expect((await stat(path.join(dir, OUTBOX_FILE))).size).toBe(0); // compacted once empty
  });

  it('survives SIGKILL mid-stream: every append that resolved is still there, in order', async () => {
    const writer = fileURLToPath(new URL('../test-support/outbox-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (text: string) => {
        buffer += text;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('ok ')) acked.push(line.slice(3));
        if (acked.length >= 150) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.once('exit', r));

    const outbox = await openOutbox({ send: () => new Promise(() => {}) });
    const ids = outbox.pendingRecords().map((r) => r.messageId);
    expect(ids.slice(0, acked.length)).toEqual(acked);
    expect(new Set(ids).size).toBe(ids.length);
    const a = outbox.pendingRecords().filter((r) => r.sessionId === 'session-a');
    expect(a.map((r) => r.metadata.seq)).toEqual([...a.map((r) => r.metadata.seq as number)].sort((x, y) => x - y));
  });

  it('cuts a torn last line and keeps working', async () => {
    const first = await openOutbox({ send: () => new Promise(() => {}) });
    await first.append(makeRecord(0));
    await first.append(makeRecord(1));
    await first.close();
    open.pop();
    await appendFile(path.join(dir, OUTBOX_FILE), '{"r":{"messageId":"m-session-a-2","sess');

    const logs: string[] = [];
    const { batches, send } = collector();
    const second = await openOutbox({ send, log: (l) => logs.push(l) });
    expect(second.pendingRecords().map((r) => r.messageId)).toEqual(['m-session-a-0', 'm-session-a-1']);
    expect(logs.some((l) => l.includes('torn'))).toBe(true);
    await second.append(makeRecord(3));
    await second.close();
    open.pop();
    const third = await openOutbox({ send });
    expect(third.pendingRecords().map((r) => r.messageId)).toEqual(['m-session-a-0', 'm-session-a-1', 'm-session-a-3']);
    third.start();
    await third.drained();
    expect(batches.flat()).toHaveLength(3);
  });

  it('packs batches within the message count and byte limits, one session per batch, ordered per session', async () => {
    const { batches, send } = collector();
    const outbox = await openOutbox({ send, maxMessages: 100, maxBytes: 64 * 1024 });
    for (let i = 0; i < 230; i++) await outbox.append(makeRecord(i, i % 3 === 0 ? 'session-b' : 'session-a'));
    for (let i = 230; i < 250; i++) await outbox.append(makeRecord(i, 'session-a', 'y'.repeat(10_000)));
    outbox.start();
    await outbox.drained();
    for (const batch of batches) {
      expect(MessageBatch.safeParse({ messages: batch }).success).toBe(true);
      expect(batch.length).toBeLessThanOrEqual(100);
      expect(batchBytes(batch)).toBeLessThanOrEqual(64 * 1024);
    }
    expect(batches.some((b) => b.length === 100)).toBe(true);
    expect(batches.some((b) => b.some((r) => r.content.length === 10_000) && b.length < 10)).toBe(true);
    for (const session of ['session-a', 'session-b']) {
      const seqs = batches
        .flat()
        .filter((r) => r.sessionId === session)
        .map((r) => r.metadata.seq as number);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    expect(batches.flat()).toHaveLength(250);
  });

  it('retries transient failures with growing backoff, resending the same message ids', async () => {
    const calls: { at: number; ids: string[] }[] = [];
    const statuses = [503, 429, undefined];
    const outbox = await openOutbox({
      backoff: { initialMs: 40, maxMs: 1000, random: () => 1 },
      send: async (b) => {
        calls.push({ at: Date.now(), ids: b.messages.map((r) => r.messageId) });
        if (calls.length === 3) throw new Error('socket hang up');
        if (calls.length <= statuses.length) throw new SendError('unavailable', statuses[calls.length - 1]);
      },
    });
    for (let i = 0; i < 3; i++) await outbox.append(makeRecord(i));
    outbox.start();
    await outbox.drained();
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => c.ids.join(',')))).toEqual(new Set(['m-session-a-0,m-session-a-1,m-session-a-2']));
    const gaps = calls.slice(1).map((c, i) => c.at - (calls[i]?.at ?? 0));
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
    expect(outbox.size).toBe(0);
  });

  it('parks a batch the server rejects as invalid in the dead-letter file and goes on', async () => {
    const delivered: string[] = [];
    const dead: DeadLetter[] = [];
    let rejections = 0;
    const outbox = await openOutbox({
      maxMessages: 2,
      onDeadLetter: (d) => dead.push(d),
      send: async (b) => {
        if (b.messages.some((r) => r.content === 'poison')) {
          rejections += 1;
          throw new SendError('invalid message', 422);
        }
        delivered.push(...b.messages.map((r) => r.messageId));
      },
    });
    await outbox.append(makeRecord(0));
    await outbox.append(makeRecord(1, 'session-a', 'poison'));
    await outbox.append(makeRecord(2));
    await outbox.append(makeRecord(3));
    outbox.start();
    await outbox.drained();
    expect(rejections).toBe(1);
    expect(delivered).toEqual(['m-session-a-2', 'm-session-a-3']);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.status).toBe(422);
    const lines = (await readFile(path.join(dir, DEAD_LETTER_FILE), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect((JSON.parse(lines[0] ?? '{}') as DeadLetter).messages.map((r) => r.messageId)).toEqual([
      'm-session-a-0',
      'm-session-a-1',
    ]);
    await outbox.close();
    open.pop();
    expect((await openOutbox({ send: async () => {} })).size).toBe(0); // not resurrected on restart
  });

  it('compacts acknowledged records out of the journal while others wait', async () => {
    let allow = 2;
    const outbox = await openOutbox({
      maxMessages: 1,
      compactAfterAcks: 1,
      send: async () => {
        if (allow-- <= 0) throw new SendError('down', 503);
      },
    });
    for (let i = 0; i < 4; i++) await outbox.append(makeRecord(i));
    outbox.start();
    await expect.poll(() => outbox.size, { timeout: 5000 }).toBe(2);
    await expect
      .poll(async () => (await readFile(path.join(dir, OUTBOX_FILE), 'utf8')).trim().split('\n').length)
      .toBe(2);
    const text = await readFile(path.join(dir, OUTBOX_FILE), 'utf8');
    expect(text).not.toContain('m-session-a-0');
    expect(text).toContain('m-session-a-3');
  });

  it('treats a send that hangs past sendTimeoutMs as transient, aborting it, and retries', async () => {
    const signals: AbortSignal[] = [];
    const outbox = await openOutbox({
      sendTimeoutMs: 50,
      send: (_b, { signal }) => {
        signals.push(signal);
        return signals.length === 1 ? new Promise(() => {}) : Promise.resolve();
      },
    });
    await outbox.append(makeRecord(0));
    outbox.start();
    await outbox.drained();
    expect(signals).toHaveLength(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('sends the first record after a quiet spell at once, and a steady stream in batches', async () => {
    const sent: { at: number; ids: string[] }[] = [];
    const outbox = await openOutbox({
      flushDelayMs: 400,
      send: async (b) => void sent.push({ at: Date.now(), ids: b.messages.map((m) => m.messageId) }),
    });
    outbox.start();
    const t0 = Date.now();
    await outbox.append(makeRecord(0));
    await vi.waitFor(() => expect(sent).toHaveLength(1), { timeout: 2000, interval: 5 });
    // Not held for the 400 ms batching delay: nothing had been sent for longer than that.
    expect(sent[0]!.at - t0).toBeLessThan(300);
    // Right after a send, records wait for the delay and go out together.
    for (let i = 1; i <= 5; i++) await outbox.append(makeRecord(i));
    await vi.waitFor(() => expect(sent).toHaveLength(2), { timeout: 2000, interval: 5 });
    expect(sent.slice(1).map((s) => s.ids.length)).toEqual([5]);
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(380);
  });

  /** Answers like the vm-agent function: a body over the limit is refused with 413. */
  function serverLike() {
    const delivered: MessageRecord[][] = [];
    const dead: DeadLetter[] = [];
    const send = async (b: MessageBatch) => {
      if (batchBytes(b.messages) > MAX_BATCH_BYTES) throw new SendError('payload_too_large', 413);
      if (!MessageBatch.safeParse(b).success) throw new SendError('invalid_params', 400);
      delivered.push(b.messages);
    };
    return { delivered, dead, send, onDeadLetter: (d: DeadLetter) => dead.push(d) };
  }

  it('sizes batches by what is sent: records full of escaped characters go in batches under the server limit', async () => {
    const server = serverLike();
    const outbox = await openOutbox(server);
    const quotes = '"'.repeat(MAX_CONTENT_BYTES); // 100 KiB that JSON sends as 200 KiB
    for (let i = 0; i < 3; i++) await outbox.append(makeRecord(i, 'session-a', quotes));
    outbox.start();
    await outbox.drained();
    expect(server.dead).toEqual([]);
    expect(server.delivered.flat().map((r) => r.content)).toEqual([quotes, quotes, quotes]);
    expect(server.delivered.every((b) => batchBytes(b) <= MAX_BATCH_BYTES)).toBe(true);
  });

  it('truncates a record whose JSON alone would be over the server limit, and delivers it', async () => {
    const server = serverLike();
    const outbox = await openOutbox(server);
    const control = '\u0001'.repeat(MAX_CONTENT_BYTES); // 100 KiB that JSON sends as 600 KiB
    await outbox.append(makeRecord(0, 'session-a', control));
    await outbox.append(makeRecord(1, 'session-a', 'after'));
    outbox.start();
    await outbox.drained();
    expect(server.dead).toEqual([]);
    const [first, second] = server.delivered.flat();
    expect(first!.content.length).toBeLessThan(control.length);
    expect(first!.content.length).toBeGreaterThan(30_000);
    expect(control.startsWith(first!.content)).toBe(true);
    expect(first!.metadata).toMatchObject({ seq: 0, truncated: true });
    expect(second!.content).toBe('after');
  });

  it('retries a batch refused with 401 (the token is refreshed meanwhile), never dead-letters it', async () => {
    const dead: DeadLetter[] = [];
    let refusals = 0;
    const delivered: string[] = [];
    const outbox = await openOutbox({
      onDeadLetter: (d) => dead.push(d),
      send: async (b) => {
        if (refusals++ < 3) throw new SendError('token_expired', 401);
        delivered.push(...b.messages.map((r) => r.messageId));
      },
    });
    await outbox.append(makeRecord(0));
    outbox.start();
    await outbox.drained();
    expect(dead).toEqual([]);
    expect(delivered).toEqual(['m-session-a-0']);
  });

  it('refuses invalid records at append', async () => {
    const outbox = await openOutbox({ send: async () => {} });
    await expect(outbox.append({ ...makeRecord(0), role: 'tool' })).rejects.toThrow(/toolCallId/);
    expect(outbox.size).toBe(0);
  });
});

describe('delivery errors', () => {
  it('classifies 4xx except 408/429 as permanent', () => {
    expect([400, 401, 404, 413, 422].map((s) => isPermanentRejection(new SendError('x', s)))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([408, 429, 500, 503].map((s) => isPermanentRejection(new SendError('x', s)))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(isPermanentRejection(new Error('ECONNRESET'))).toBe(false);
  });

  it('grows exponentially, caps, and jitters within [base/2, base]', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 1000, random: () => 1 }))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(backoffDelay(3, { initialMs: 100, maxMs: 1000, random: () => 0 })).toBe(200);
  });
});
