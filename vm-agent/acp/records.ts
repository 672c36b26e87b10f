/**
 * Turns ACP `session/update` notifications into SAM message records, in arrival order.
 *
 * - message / thought / user chunks with text are coalesced while consecutive (same kind, same ACP
 *   messageId) up to `coalesceMaxBytes`, and flushed by the next other update, by `flush()` (the
 *   session calls it on a timer and at the end of a turn) — never dropped;
 * - a `user_message_chunk` is the agent repeating what it says the user said: it becomes an
 *   `assistant` record marked `metadata.echo = 'user'`, never a `user` record (only SAM writes the
 *   user's messages, and it already stored every prompt it sent);
 * - `tool_call` and every `tool_call_update` become `tool` records keyed by `toolCallId`;
 * - `plan` becomes a `plan` record with its entries; everything else a `system` record.
 *
 * With a `workspaceRoot`, paths inside it are repository-relative in every record (content and
 * every string of the metadata: titles, locations, diffs, raw input and output; relative-paths.ts).
 *
 * `messageId` = `<epoch>-<seq>` where `seq` counts updates: stable for the record once made (the
 * outbox persists it), unique across restarts because every recorder gets a fresh epoch.
 */
import { randomBytes } from 'node:crypto';
import type { ContentBlock, SessionUpdate, ToolCallContent } from '@agentclientprotocol/sdk';
import {
  MAX_CONTENT_BYTES,
  type MessageRecord,
  type RecordRole,
  type ToolStatus,
  utf8Bytes,
} from '../../functions/_shared/common/contracts/messages.ts';
import { type PathRewriter, relativeTo, rewriteStrings, rootForms } from './relative-paths.ts';

export type RecordSink = (record: MessageRecord) => void;

export type RecorderOptions = {
  /** SAM's agent-session id, put on every record. */
  sessionId: string;
  /** Prefix of message ids; a fresh random one by default. */
  epoch?: string;
  now?: () => Date;
  coalesceMaxBytes?: number;
  /** The session's working directory (the checkout): paths inside it are recorded relative to it. */
  workspaceRoot?: string;
};

/** Bound for the JSON of one record's metadata; larger strings inside are cut. */
const MAX_METADATA_BYTES = 64 * 1024;
const MAX_METADATA_STRING = 16 * 1024;

export function newEpoch(): string {
  return `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (utf8Bytes(text) <= maxBytes) return { text, truncated: false };
  const bytes = new TextEncoder().encode(text).subarray(0, maxBytes);
  const cut = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/\uFFFD$/, '');
  return { text: cut, truncated: true };
}

function boundStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return truncateUtf8(value, MAX_METADATA_STRING).text;
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 200).map((v) => boundStrings(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, boundStrings(v, depth + 1)]));
}

/** Keeps metadata within {@link MAX_METADATA_BYTES}: long strings cut, bulky fields dropped last. */
export function boundMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  if (utf8Bytes(JSON.stringify(metadata)) <= MAX_METADATA_BYTES) return metadata;
  const bounded = boundStrings(metadata) as Record<string, unknown>;
  if (utf8Bytes(JSON.stringify(bounded)) <= MAX_METADATA_BYTES) return { ...bounded, truncated: true };
  const { content: _c, rawInput: _i, rawOutput: _o, entries: _e, update: _u, ...rest } = bounded;
  return { ...rest, truncated: true };
}

export function blockText(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'resource_link':
      return block.uri;
    case 'resource':
      return 'text' in block.resource ? block.resource.text : block.resource.uri;
    default:
      return `[${block.type}]`;
  }
}

function toolContentText(content: ToolCallContent[] | null | undefined): string {
  return (content ?? [])
    .map((c) => (c.type === 'content' ? blockText(c.content) : c.type === 'diff' ? `edited ${c.path}` : ''))
    .filter((t) => t !== '')
    .join('\n');
}

type ChunkKind = 'user_message_chunk' | 'agent_message_chunk' | 'agent_thought_chunk';

/** The role of each chunk kind, and what marks it: the agent's echo of a user message is the agent's. */
const CHUNKS: Record<ChunkKind, { role: RecordRole; marks: Record<string, unknown> }> = {
  user_message_chunk: { role: 'assistant', marks: { echo: 'user' } },
  agent_message_chunk: { role: 'assistant', marks: {} },
  agent_thought_chunk: { role: 'thought', marks: {} },
};
const isChunk = (kind: string): kind is ChunkKind => Object.hasOwn(CHUNKS, kind);

type Pending = {
  kind: ChunkKind;
  acpMessageId: string | null;
  seq: number;
  parts: string[];
  bytes: number;
  producedAt: string;
  updates: number;
};

export class MessageRecorder {
  readonly epoch: string;
  private seq = 0;
  private pending: Pending | null = null;
  private readonly now: () => Date;
  private readonly coalesceMaxBytes: number;
  private readonly relative: PathRewriter | null;

  constructor(
    private readonly options: RecorderOptions,
    private readonly sink: RecordSink,
  ) {
    this.epoch = options.epoch ?? newEpoch();
    this.now = options.now ?? (() => new Date());
    this.coalesceMaxBytes = options.coalesceMaxBytes ?? 16 * 1024;
    this.relative = options.workspaceRoot ? relativeTo(rootForms(options.workspaceRoot)) : null;
  }

  /** `value` with paths inside the workspace root made relative to it (as records have them). */
  withRelativePaths<T>(value: T): T {
    return this.relative ? rewriteStrings(value, this.relative) : value;
  }

  /** Handles one update; records come out through the sink synchronously, in order. */
  handle(update: SessionUpdate): void {
    const seq = this.seq++;
    const kind = update.sessionUpdate;
    const block = isChunk(kind) ? (update as { content?: ContentBlock }).content : undefined;
    if (isChunk(kind) && block?.type === 'text') {
      const text = block.text;
      const acpMessageId = ('messageId' in update ? update.messageId : null) ?? null;
      const bytes = utf8Bytes(text);
      const p = this.pending;
      if (p && p.kind === kind && p.acpMessageId === acpMessageId && p.bytes + bytes <= this.coalesceMaxBytes) {
        p.parts.push(text);
        p.bytes += bytes;
        p.updates += 1;
        return;
      }
      this.flush();
      this.pending = { kind, acpMessageId, seq, parts: [text], bytes, producedAt: this.stamp(), updates: 1 };
      return;
    }
    this.flush();
    this.emitUpdate(seq, update);
  }

  /** Emits the coalesced chunk record, if any. */
  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const { role, marks } = CHUNKS[p.kind];
    const metadata: Record<string, unknown> = { seq: p.seq, sessionUpdate: p.kind, chunks: p.updates, ...marks };
    if (p.acpMessageId) metadata.acpMessageId = p.acpMessageId;
    this.emit(p.seq, role, p.parts.join(''), metadata, p.producedAt);
  }

  /** A record of SAM's own (turn end, agent crash, …), in order with the updates. */
  system(content: string, metadata: Record<string, unknown>): void {
    this.flush();
    const seq = this.seq++;
    this.emit(seq, 'system', content, { ...metadata, seq });
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private emitUpdate(seq: number, update: SessionUpdate): void {
    const kind = update.sessionUpdate;
    switch (update.sessionUpdate) {
      case 'user_message_chunk':
      case 'agent_message_chunk':
      case 'agent_thought_chunk': {
        const { role, marks } = CHUNKS[update.sessionUpdate];
        this.emit(seq, role, blockText(update.content), { seq, sessionUpdate: kind, ...marks, block: update.content });
        return;
      }
      case 'tool_call':
        this.emit(
          seq,
          'tool',
          update.title,
          {
            seq,
            sessionUpdate: kind,
            title: update.title,
            kind: update.kind,
            locations: update.locations,
            content: update.content,
            rawInput: update.rawInput,
            rawOutput: update.rawOutput,
          },
          undefined,
          { toolCallId: update.toolCallId, toolStatus: update.status ?? 'pending' },
        );
        return;
      case 'tool_call_update': {
        const metadata: Record<string, unknown> = { seq, sessionUpdate: kind };
        for (const key of ['title', 'kind', 'locations', 'content', 'rawInput', 'rawOutput'] as const) {
          if (update[key] !== undefined && update[key] !== null) metadata[key] = update[key];
        }
        this.emit(seq, 'tool', update.title ?? toolContentText(update.content), metadata, undefined, {
          toolCallId: update.toolCallId,
          toolStatus: update.status ?? undefined,
        });
        return;
      }
      case 'plan':
        this.emit(seq, 'plan', update.entries.map((e) => `[${e.status}] ${e.content}`).join('\n'), {
          seq,
          sessionUpdate: kind,
          entries: update.entries,
        });
        return;
      case 'notice':
        this.emit(seq, 'system', [update.title, update.description].filter(Boolean).join('\n'), {
          seq,
          sessionUpdate: kind,
          severity: update.severity,
        });
        return;
      default: {
        const { sessionUpdate: _k, ...rest } = update as { sessionUpdate: string } & Record<string, unknown>;
        this.emit(seq, 'system', kind, { seq, sessionUpdate: kind, update: rest });
      }
    }
  }

  private emit(
    seq: number,
    role: RecordRole,
    content: string,
    metadata: Record<string, unknown>,
    producedAt?: string,
    tool?: { toolCallId: string; toolStatus: ToolStatus | undefined },
  ): void {
    const cut = truncateUtf8(this.withRelativePaths(content), MAX_CONTENT_BYTES);
    const relative = this.withRelativePaths(metadata);
    const meta = boundMetadata(cut.truncated ? { ...relative, contentTruncated: true } : relative);
    const record: MessageRecord = {
      messageId: `${this.epoch}-${seq}`,
      sessionId: this.options.sessionId,
      role,
      content: cut.text,
      metadata: meta,
      producedAt: producedAt ?? this.stamp(),
    };
    if (tool) {
      record.toolCallId = tool.toolCallId;
      if (tool.toolStatus) record.toolStatus = tool.toolStatus;
    }
    this.sink(record);
  }
}
