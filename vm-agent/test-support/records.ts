/** Builds valid message records for tests. */
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';

export function makeRecord(i: number, sessionId = 'session-a', content = `chunk ${i}`): MessageRecord {
  return {
    messageId: `m-${sessionId}-${i}`,
    sessionId,
    role: 'assistant',
    content,
    metadata: { seq: i },
    producedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
  };
}
