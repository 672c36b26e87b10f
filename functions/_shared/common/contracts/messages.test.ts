import { describe, expect, it } from 'vitest';
import {
  batchBytes,
  MAX_CONTENT_BYTES,
  MessageBatch,
  MessageBatchResult,
  MessageRecord,
  utf8Bytes,
} from './messages.ts';

const base = {
  messageId: 'ep-1',
  sessionId: 'sess-1',
  role: 'assistant' as const,
  content: 'hello',
  metadata: { seq: 1 },
  producedAt: '2026-01-01T00:00:00.000Z',
};

describe('MessageRecord', () => {
  it('accepts each role and tool records with a toolCallId', () => {
    for (const role of ['assistant', 'thought', 'plan', 'system']) {
      expect(MessageRecord.safeParse({ ...base, role }).success).toBe(true);
    }
    expect(
      MessageRecord.safeParse({ ...base, role: 'tool', toolCallId: 'call-1', toolStatus: 'in_progress' }).success,
    ).toBe(true);
  });

  it.each([
    ['an unknown role', { role: 'thinking' }],
    // Records are the agent's side of the chat: only SAM writes the user's messages (post_message).
    ['the user role', { role: 'user' }],
    ['a tool record without toolCallId', { role: 'tool' }],
    ['tool fields on a non-tool record', { toolCallId: 'x' }],
    ['an unknown tool status', { role: 'tool', toolCallId: 'x', toolStatus: 'done' }],
    ['an empty messageId', { messageId: '' }],
    ['a messageId with spaces', { messageId: 'a b' }],
    ['a non-ISO producedAt', { producedAt: 'yesterday' }],
    ['content over the byte limit', { content: 'é'.repeat(MAX_CONTENT_BYTES / 2 + 1) }],
    ['unknown fields', { extra: 1 }],
    ['missing metadata', { metadata: undefined }],
  ])('refuses %s', (_what, patch) => {
    expect(MessageRecord.safeParse({ ...base, ...patch }).success).toBe(false);
  });
});

describe('MessageBatch', () => {
  const many = (n: number, session = 'sess-1') =>
    Array.from({ length: n }, (_, i) => ({ ...base, messageId: `ep-${i}`, sessionId: session }));

  it('accepts 1–100 records of one session', () => {
    expect(MessageBatch.safeParse({ messages: many(1) }).success).toBe(true);
    expect(MessageBatch.safeParse({ messages: many(100) }).success).toBe(true);
  });

  it('refuses empty, oversized, mixed-session and duplicate-id batches', () => {
    expect(MessageBatch.safeParse({ messages: [] }).success).toBe(false);
    expect(MessageBatch.safeParse({ messages: many(101) }).success).toBe(false);
    expect(
      MessageBatch.safeParse({ messages: [...many(2), ...many(1, 'sess-2').map((m) => ({ ...m, messageId: 'z' }))] })
        .success,
    ).toBe(false);
    expect(MessageBatch.safeParse({ messages: [...many(2), ...many(1)] }).success).toBe(false);
  });

  it('measures batches in UTF-8 bytes', () => {
    expect(utf8Bytes('é')).toBe(2);
    expect(batchBytes([])).toBe('{"messages":[]}'.length);
    const one = many(1);
    expect(batchBytes(one)).toBe(new TextEncoder().encode(JSON.stringify({ messages: one })).byteLength);
  });

  it('defines the server answer', () => {
    expect(MessageBatchResult.parse({ persisted: 3, duplicates: 1 })).toEqual({ persisted: 3, duplicates: 1 });
    expect(MessageBatchResult.safeParse({ persisted: -1, duplicates: 0 }).success).toBe(false);
  });
});
