/**
 * The durable message outbox: records are appended to an on-disk journal (fsync'ed before
 * `append` resolves, so they survive a crash or restart) and delivered in batches through an
 * injected `send(batch)` — at least once, with stable message ids (the server dedupes per
 * (session, messageId)), in order per session, one batch in flight at a time.
 *
 * - batches hold records of one session, ≤ `maxMessages` and ≤ `maxBytes` of the JSON that is sent
 *   (escaping counts: `"` takes two bytes, a control character six); a record whose JSON alone
 *   would not fit has its content cut to fit at append (`metadata.truncated: true`);
 * - a batch goes out `flushDelayMs` after records are waiting, at once when a full batch waits or
 *   when nothing was sent for `flushDelayMs` (so the first record after a quiet spell — the first
 *   thing a user sees of a turn — is not held back; a steady stream still goes out in batches);
 * - transient failures are retried with exponential backoff + jitter, forever (the records wait);
 * - a batch the server rejects as invalid (4xx except 401/408/429) is parked in `dead-letter.jsonl`,
 *   acknowledged, and reported through `onDeadLetter` — never retried forever; a 401 means the
 *   credential lapsed, not the batch: it is retried with backoff (the token is refreshed meanwhile);
 * - acknowledged records are compacted away.
 */
import path from 'node:path';
import {
  batchBytes,
  MAX_BATCH_BYTES,
  MAX_MESSAGES_PER_BATCH,
  MessageRecord,
  type MessageBatch,
  utf8Bytes,
} from '../../functions/_shared/common/contracts/messages.ts';
import {
  backoffDelay,
  type BackoffOptions,
  errorStatus,
  isCredentialRefusal,
  isPermanentRejection,
} from './delivery-errors.ts';
import { appendJsonLine, Journal } from './journal.ts';

export type DeadLetter = { at: string; status: number | undefined; error: string; messages: MessageRecord[] };

export type OutboxOptions = {
  /** Directory of `outbox.jsonl` and `dead-letter.jsonl`. */
  dir: string;
  /** Delivers one batch; resolve = acknowledged. Must honour `signal` (aborted after `sendTimeoutMs`). */
  send: (batch: MessageBatch, options: { signal: AbortSignal }) => Promise<unknown>;
  /** A send that takes longer counts as a transient failure; default 10 s. */
  sendTimeoutMs?: number;
  maxMessages?: number;
  maxBytes?: number;
  flushDelayMs?: number;
  backoff?: BackoffOptions;
  /** Rewrite the journal after this many acknowledgement lines. */
  compactAfterAcks?: number;
  onDeadLetter?: (entry: DeadLetter) => void;
  log?: (line: string) => void;
};

type Entry = { record: MessageRecord; bytes: number };

export const OUTBOX_FILE = 'outbox.jsonl';
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

export class Outbox {
  private readonly pending = new Map<string, Entry>();
  /** Ids queued or pending; the value resolves once the id's record is durable. */
  private readonly known = new Map<string, Promise<void>>();
  private wake: (() => void) | null = null;
  /** What the delivery loop is waiting for; decides which events may wake it. */
  private mode: 'idle' | 'delay' | 'backoff' | 'sending' = 'sending';
  private flushRequested = false;
  private closed = false;
  private loop: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  /** When the last send ended (ms since epoch); 0 = never. */
  private lastSendAt = 0;
  /** Consecutive failed attempts of the current batch. */
  attempts = 0;
  delivered = 0;

  private constructor(
    private readonly options: OutboxOptions,
    private readonly journal: Journal,
  ) {}

  /** Opens the outbox in `options.dir`, recovering what a previous run left undelivered. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const { journal, loaded } = await Journal.open(path.join(options.dir, OUTBOX_FILE));
    const outbox = new Outbox(options, journal);
    for (const record of loaded.records) outbox.remember(record);
    if (loaded.tornBytes > 0) options.log?.(`outbox: cut a torn last line (${loaded.tornBytes} bytes) after a crash`);
    if (loaded.acknowledgedLines > 0) await outbox.compact();
    return outbox;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Records not yet acknowledged, in delivery order. */
  pendingRecords(): MessageRecord[] {
    return [...this.pending.values()].map((e) => e.record);
  }

  /** Durably queues a record (resolves after fsync). A message id already queued is ignored. */
  async append(input: MessageRecord): Promise<void> {
    const parsed = MessageRecord.safeParse(input);
    if (!parsed.success) throw new Error(`outbox: invalid message record: ${parsed.error.message}`);
    const record = fitRecord(input, this.options.maxBytes ?? MAX_BATCH_BYTES);
    const queued = this.known.get(record.messageId);
    if (queued) return queued;
    const durable = this.journal.appendRecord(record, () => this.remember(record));
    this.known.set(record.messageId, durable);
    durable.catch(() => this.known.delete(record.messageId));
    await durable;
    this.kick();
  }

  /** Starts delivering in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Sends waiting records now instead of after `flushDelayMs`. */
  flush(): void {
    this.flushRequested = true;
    this.kick();
  }

  /** Resolves once nothing is pending (delivered or dead-lettered). Flushes meanwhile. */
  drained(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    this.flush();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivery (an in-flight send finishes) and closes the journal. Pending records stay on disk. */
  async close(): Promise<void> {
    this.closed = true;
    this.kick();
    await this.loop;
    await this.journal.close();
  }

  private remember(record: MessageRecord): void {
    if (!this.known.has(record.messageId)) this.known.set(record.messageId, Promise.resolve());
    this.pending.set(record.messageId, { record, bytes: utf8Bytes(JSON.stringify(record)) });
  }

  private kick(): void {
    const maxMessages = this.options.maxMessages ?? MAX_MESSAGES_PER_BATCH;
    if (!this.closed) {
      if (this.mode === 'backoff' || this.mode === 'sending') return;
      if (this.mode === 'delay' && !this.flushRequested && this.pending.size < maxMessages) return;
    }
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Waits `ms` (forever when null) or until {@link kick} lets the loop go on. */
  private wait(mode: 'idle' | 'delay' | 'backoff', ms: number | null): Promise<void> {
    this.mode = mode;
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        this.mode = 'sending';
        resolve();
      };
      if (ms !== null) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** The next batch: the oldest record's session, its records in order, within the limits. */
  nextBatch(): MessageRecord[] {
    const maxMessages = this.options.maxMessages ?? MAX_MESSAGES_PER_BATCH;
    const maxBytes = this.options.maxBytes ?? MAX_BATCH_BYTES;
    const batch: MessageRecord[] = [];
    let bytes = batchBytes([]);
    let session: string | null = null;
    for (const { record, bytes: size } of this.pending.values()) {
      session ??= record.sessionId;
      if (record.sessionId !== session) continue;
      const added = size + (batch.length > 0 ? 1 : 0);
      if (batch.length > 0 && (batch.length >= maxMessages || bytes + added > maxBytes)) break;
      batch.push(record);
      bytes += added;
    }
    return batch;
  }

  private async run(): Promise<void> {
    const maxMessages = this.options.maxMessages ?? MAX_MESSAGES_PER_BATCH;
    while (!this.closed) {
      if (this.pending.size === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        await this.wait('idle', null);
        continue;
      }
      const delay = this.options.flushDelayMs ?? 2000;
      const quiet = Date.now() - this.lastSendAt >= delay;
      if (!this.flushRequested && !quiet && this.pending.size < maxMessages) {
        await this.wait('delay', delay);
        if (this.closed) break;
      }
      this.flushRequested = false;
      const batch = this.nextBatch();
      try {
        await this.sendWithTimeout(batch).finally(() => (this.lastSendAt = Date.now()));
        await this.settle(batch);
        this.delivered += batch.length;
        this.attempts = 0;
      } catch (error) {
        if (isPermanentRejection(error) && !isCredentialRefusal(error)) {
          await this.deadLetter(batch, error);
          this.attempts = 0;
          continue;
        }
        this.attempts += 1;
        const wait = Math.max(
          backoffDelay(this.attempts, this.options.backoff),
          (error as { retryAfterMs?: number }).retryAfterMs ?? 0,
        );
        this.options.log?.(
          `outbox: sending ${batch.length} messages failed (${describe(error)}); retry ${this.attempts} in ${wait} ms`,
        );
        await this.wait('backoff', wait);
        this.flushRequested = true;
      }
    }
  }

  private async sendWithTimeout(batch: MessageRecord[]): Promise<void> {
    const timeoutMs = this.options.sendTimeoutMs ?? 10_000;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`send timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.options.send({ messages: batch }, { signal: controller.signal }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async settle(batch: MessageRecord[]): Promise<void> {
    const ids = batch.map((r) => r.messageId);
    await this.journal.acknowledge(ids);
    for (const id of ids) {
      this.pending.delete(id);
      this.known.delete(id);
    }
    const compactAfter = this.options.compactAfterAcks ?? 200;
    if (this.pending.size === 0 || this.journal.ackLines >= compactAfter) await this.compact();
  }

  private async deadLetter(batch: MessageRecord[], error: unknown): Promise<void> {
    const entry: DeadLetter = {
      at: new Date().toISOString(),
      status: errorStatus(error),
      error: describe(error),
      messages: batch,
    };
    await appendJsonLine(path.join(this.options.dir, DEAD_LETTER_FILE), entry);
    await this.settle(batch);
    this.options.log?.(
      `outbox: server refused ${batch.length} messages as invalid (${entry.error}); parked in ${DEAD_LETTER_FILE}`,
    );
    this.options.onDeadLetter?.(entry);
  }

  private async compact(): Promise<void> {
    await this.journal.compact(() => this.pendingRecords());
  }
}

/**
 * `record` as sent alone within `maxBytes` of JSON: unchanged when it fits, else with its content
 * cut (on a character boundary) to the longest prefix that fits, and `metadata.truncated: true`.
 */
export function fitRecord(record: MessageRecord, maxBytes: number): MessageRecord {
  if (batchBytes([record]) <= maxBytes) return record;
  const cut = (length: number): MessageRecord => {
    let content = record.content.slice(0, length);
    if (/[\uD800-\uDBFF]$/.test(content)) content = content.slice(0, -1);
    return { ...record, content, metadata: { ...record.metadata, truncated: true } };
  };
  let low = 0;
  let high = record.content.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (batchBytes([cut(mid)]) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  return cut(low);
}

function describe(error: unknown): string {
  const status = errorStatus(error);
  const message = error instanceof Error ? error.message : String(error);
  return status === undefined ? message : `${status} ${message}`;
}
