import type { MessageBatch, MessageRecord } from '../common/contracts/messages.ts';

/**
 * One record as `record_messages` reads it (jsonb_to_recordset): the record's own fields by their
 * contract names, without `sessionId` (the session is the function's argument), plus `origin`.
 */
export type BatchRow = Omit<MessageRecord, 'sessionId'> & { origin: string | null };

/**
 * A validated batch as `record_agent_messages` stores it: every field to its own column
 * (supabase/migrations/20261202003000_message_shape.sql), `metadata.origin` (e.g. `system` for
 * SAM's injected instructions) also to `origin`.
 */
export function toMessageRows(batch: MessageBatch): BatchRow[] {
  return batch.messages.map(({ sessionId: _session, ...m }) => ({
    ...m,
    origin: typeof m.metadata.origin === 'string' ? m.metadata.origin : null,
  }));
}
