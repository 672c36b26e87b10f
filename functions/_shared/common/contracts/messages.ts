/**
 * The message-record contract between the VM agent's outbox and the `vm-agent` edge function.
 *
 * A record is one step of an agent session as the chat shows it: a (possibly coalesced) message or
 * thought chunk, one tool call or tool-call update (keyed by `toolCallId`), a plan, or a system
 * event. Records are append-only; the server stores each (sessionId, messageId) once, so a batch
 * that is re-sent after a lost acknowledgement is a no-op.
 *
 * The same message as the chat reads it back ({@link ChatMessage}) has the same field names, plus
 * what the database adds; {@link toChatMessage} is the one mapping from the stored row. Two clocks, one name each everywhere (contract, columns, broadcast, web):
 * `producedAt` / `produced_at` is when the VM agent made the record, `createdAt` / `created_at`
 * when the database stored it.
 *
 * Pure TypeScript on purpose: Deno (edge function) and Node (vm-agent, tests) both import this file.
 */
import { z } from 'zod';

/** Batch limits (the outbox packs batches within them; the server refuses anything larger). */
export const MAX_MESSAGES_PER_BATCH = 100;
export const MAX_BATCH_BYTES = 256 * 1024;
/** One record's `content` is truncated by the producer to this many UTF-8 bytes. */
export const MAX_CONTENT_BYTES = 100 * 1024;
export const MAX_ID_LENGTH = 200;

export const MESSAGE_ROLES = ['user', 'assistant', 'thought', 'tool', 'plan', 'system'] as const;
export const MessageRole = z.enum(MESSAGE_ROLES);
export type MessageRole = z.infer<typeof MessageRole>;

/**
 * Roles a record may carry: the agent's side of the chat. The user's own messages are written only
 * by SAM (`post_message`); an agent's echo of a prompt is an `assistant` record marked
 * `metadata.echo = 'user'` (vm-agent/acp/records.ts).
 */
export const RECORD_ROLES = ['assistant', 'thought', 'tool', 'plan', 'system'] as const;
export const RecordRole = z.enum(RECORD_ROLES);
export type RecordRole = z.infer<typeof RecordRole>;

export const TOOL_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const;
export const ToolStatus = z.enum(TOOL_STATUSES);
export type ToolStatus = z.infer<typeof ToolStatus>;

const utf8 = new TextEncoder();
/** Byte length of a string as UTF-8 (what the wire carries). */
export function utf8Bytes(text: string): number {
  return utf8.encode(text).byteLength;
}

const Id = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(/^[A-Za-z0-9._:@/-]+$/, 'ids use only letters, digits and . _ : @ / -');

export const MessageRecord = z
  .object({
    /** Stable per record: the outbox keeps it across restarts, the server dedupes on it. */
    messageId: Id,
    /** SAM's agent-session id (not the ACP agent's own session id, which goes in metadata). */
    sessionId: Id,
    role: RecordRole,
    content: z.string().refine((s) => utf8Bytes(s) <= MAX_CONTENT_BYTES, {
      message: `content exceeds ${MAX_CONTENT_BYTES} bytes`,
    }),
    toolCallId: z.string().min(1).max(MAX_ID_LENGTH).optional(),
    toolStatus: ToolStatus.optional(),
    /** Structured detail: the ACP update kind, tool kind/locations/diffs, plan entries, stop reasons. */
    metadata: z.record(z.string(), z.unknown()),
    /** ISO 8601 timestamp taken when the update reached the VM agent (stored as `produced_at`). */
    producedAt: z.iso.datetime({ offset: true }),
  })
  .strict()
  .superRefine((record, ctx) => {
    if (record.role === 'tool' && record.toolCallId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['toolCallId'], message: 'tool records carry a toolCallId' });
    }
    if (record.role !== 'tool' && (record.toolCallId !== undefined || record.toolStatus !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['toolCallId'], message: 'only tool records carry tool fields' });
    }
  });
export type MessageRecord = z.infer<typeof MessageRecord>;

/** `POST …/messages` body: 1–100 records of one session, in the order they happened. */
export const MessageBatch = z
  .object({ messages: z.array(MessageRecord).min(1).max(MAX_MESSAGES_PER_BATCH) })
  .strict()
  .superRefine((batch, ctx) => {
    const first = batch.messages[0]?.sessionId;
    batch.messages.forEach((m, i) => {
      if (m.sessionId !== first) {
        ctx.addIssue({ code: 'custom', path: ['messages', i, 'sessionId'], message: 'one session per batch' });
      }
    });
    const ids = new Set<string>();
    batch.messages.forEach((m, i) => {
      if (ids.has(m.messageId)) {
        ctx.addIssue({ code: 'custom', path: ['messages', i, 'messageId'], message: 'duplicate messageId in batch' });
      }
      ids.add(m.messageId);
    });
  });
export type MessageBatch = z.infer<typeof MessageBatch>;

/** The server's answer: how many records were new and how many it already had. */
export const MessageBatchResult = z
  .object({ persisted: z.number().int().min(0), duplicates: z.number().int().min(0) })
  .strict();
export type MessageBatchResult = z.infer<typeof MessageBatchResult>;

/** Serialized size of a batch body, for packing batches under {@link MAX_BATCH_BYTES}. */
export function batchBytes(messages: readonly MessageRecord[]): number {
  return utf8Bytes(JSON.stringify({ messages }));
}

/**
 * A stored message as the database sends it: a `messages` row, the same object in the Realtime
 * broadcast on `session:<id>` (`to_jsonb` of the inserted rows) and in each row `get_session_messages`
 * returns (supabase/migrations/20261202003000_message_shape.sql). Other columns are ignored.
 */
export const MessageRow = z.object({
  id: z.coerce.number().int(),
  message_id: z.string(),
  role: MessageRole,
  content: z.string(),
  tool_call_id: z.string().nullable(),
  tool_status: ToolStatus.nullable(),
  tool_metadata: z.record(z.string(), z.unknown()).nullable(),
  origin: z.string().nullable(),
  produced_at: z.string().nullable(),
  created_at: z.string(),
});
export type MessageRow = z.infer<typeof MessageRow>;

/** One message as the chat holds it: the record's field names, plus what the database adds. */
export interface ChatMessage {
  /** The database's id: increasing in the order messages were stored. */
  id: number;
  messageId: string;
  role: MessageRole;
  content: string;
  toolCallId: string | null;
  toolStatus: ToolStatus | null;
  metadata: Record<string, unknown> | null;
  /** Who wrote it on SAM's side (`user`, `system`, `agent`, …); null for the agent's own records. */
  origin: string | null;
  /** When the VM agent produced the record; null for messages SAM wrote itself. */
  producedAt: string | null;
  /** When the database stored it. */
  createdAt: string;
}

/** The row -> chat message mapping, written once: the broadcast, the re-read and the MCP tool use it. */
export function toChatMessage(row: MessageRow): ChatMessage {
  return {
    id: row.id,
    messageId: row.message_id,
    role: row.role,
    content: row.content,
    toolCallId: row.tool_call_id,
    toolStatus: row.tool_status,
    metadata: row.tool_metadata,
    origin: row.origin,
    producedAt: row.produced_at,
    createdAt: row.created_at,
  };
}

/**
 * Whether `next` goes on with `prev`'s text: both are records of the same streamed agent message or
 * thought (same chunk kind and ACP message id), which the vm-agent cut into several records to
 * stream it live (vm-agent/acp/records.ts flushes on a timer). Readers join them back into one
 * text: the web chat into one message, the CLI into one paragraph.
 */
export function continuesChunk(prev: ChatMessage, next: ChatMessage): boolean {
  return (
    isChunkRecord(next) &&
    prev.role === next.role &&
    prev.metadata?.sessionUpdate === next.metadata?.sessionUpdate &&
    (prev.metadata?.acpMessageId ?? null) === (next.metadata?.acpMessageId ?? null)
  );
}

/** Whether a record is (part of) a streamed agent message or thought, which later records may continue. */
export function isChunkRecord(m: ChatMessage): boolean {
  const kind = m.metadata?.sessionUpdate;
  return kind === 'agent_message_chunk' || kind === 'agent_thought_chunk';
}

/** Parses what the database sent (an array of rows) into chat messages; throws on anything else. */
export function toChatMessages(json: unknown): ChatMessage[] {
  return z
    .array(MessageRow)
    .parse(json ?? [])
    .map(toChatMessage);
}

/**
 * A crash report: what the chat shows when an agent died mid-turn. It rides on a `system` message
 * with `metadata.event = 'crash_report'` and the report in `metadata.crashReport`; the vm-agent
 * builds it (vm-agent/acp/crash.ts) with the stderr tail already redacted of every credential and
 * token. The agent's own ACP session id is never part of it.
 */
export const CRASH_REPORT_EVENT = 'crash_report';
export const MAX_CRASH_STDERR_BYTES = 4096;
export const CRASH_ATTRIBUTIONS = ['agent_process', 'workspace_runner'] as const;
export const CrashReport = z
  .object({
    agentType: z.string().min(1).max(64),
    /** True when the agent was restarted and its session loaded again (`session/load`). */
    recovered: z.boolean(),
    occurredAt: z.iso.datetime({ offset: true }),
    /** Who died: the agent's process, or the vm-agent running the workspace (a machine restart). */
    attribution: z.enum(CRASH_ATTRIBUTIONS),
    message: z.string().max(2000),
    suggestion: z.string().max(2000),
    /** Why `session/load` failed (recovered = false). */
    recoveryError: z.string().max(2000).nullable(),
    /** The last bytes of the agent's stderr, redacted. */
    stderr: z.string().max(MAX_CRASH_STDERR_BYTES * 2),
    /** Whether older stderr was cut off. */
    stderrTruncated: z.boolean(),
  })
  .strict();
export type CrashReport = z.infer<typeof CrashReport>;

/** The crash report a message carries, or null (not a crash report, or malformed). */
export function crashReportOf(message: Pick<ChatMessage, 'metadata'>): CrashReport | null {
  if (message.metadata?.event !== CRASH_REPORT_EVENT) return null;
  const parsed = CrashReport.safeParse(message.metadata.crashReport);
  return parsed.success ? parsed.data : null;
}
