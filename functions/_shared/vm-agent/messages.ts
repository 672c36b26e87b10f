import type { MessageBatch } from '../common/contracts/messages.ts';

/** One row as `record_messages` reads it (jsonb_to_recordset). */
export interface MessageRow {
  messageId: string;
  role: string;
  content: string;
  toolMetadata: Record<string, unknown>;
  origin: string | null;
  timestamp: string;
}

/**
 * A validated batch as `record_agent_messages` stores it: the record's metadata (plus its tool
 * call id and status) goes to `tool_metadata`, `createdAt` to `sent_at`, `metadata.origin`
 * (e.g. `system` for SAM's injected instructions) to `origin`.
 */
export function toMessageRows(batch: MessageBatch): MessageRow[] {
  return batch.messages.map((m) => ({
    messageId: m.messageId,
    role: m.role,
    content: m.content,
    toolMetadata: {
      ...m.metadata,
      ...(m.toolCallId === undefined ? {} : { toolCallId: m.toolCallId }),
      ...(m.toolStatus === undefined ? {} : { toolStatus: m.toolStatus }),
    },
    origin: typeof m.metadata.origin === 'string' ? m.metadata.origin : null,
    timestamp: m.createdAt,
  }));
}
