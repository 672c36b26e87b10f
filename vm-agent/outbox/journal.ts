/**
 * The outbox's file: JSON lines, appended and fsync'ed before an append resolves. A line is either
 * a record (`{"r":…}`) or an acknowledgement of delivered/parked message ids (`{"a":[…]}`).
 * Appends are group-committed (one write + fdatasync for everything queued meanwhile). Loading
 * replays the lines (a torn last line from a crash is cut off); compaction rewrites the file with
 * only the unacknowledged records (temp file + fsync + rename + directory fsync).
 */
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';

type Line = { r: MessageRecord } | { a: string[] };

type Waiter = { resolve: () => void; reject: (error: unknown) => void; onDurable?: () => void };

export type LoadedJournal = { records: MessageRecord[]; acknowledgedLines: number; tornBytes: number };

export class Journal {
  private io: Promise<void> = Promise.resolve();
  private buffer: string[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  /** Ack lines written since the last compaction. */
  ackLines = 0;

  private constructor(
    readonly file: string,
    private handle: FileHandle,
  ) {}

  /** Opens (creating) the journal and returns what is still unacknowledged, in append order. */
  static async open(file: string): Promise<{ journal: Journal; loaded: LoadedJournal }> {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const loaded = await Journal.load(file);
    const handle = await open(file, 'a', 0o600);
    const journal = new Journal(file, handle);
    journal.ackLines = loaded.acknowledgedLines;
    return { journal, loaded };
  }

  private static async load(file: string): Promise<LoadedJournal> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { records: [], acknowledgedLines: 0, tornBytes: 0 };
      throw error;
    }
    const end = text.lastIndexOf('\n') + 1;
    const tornBytes = Buffer.byteLength(text.slice(end));
    if (tornBytes > 0) await truncate(file, Buffer.byteLength(text.slice(0, end)));
    const pending = new Map<string, MessageRecord>();
    let acknowledgedLines = 0;
    for (const raw of text.slice(0, end).split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // only a torn tail can be malformed, and it was cut off; be tolerant anyway
      }
      if ('r' in line) {
        if (!pending.has(line.r.messageId)) pending.set(line.r.messageId, line.r);
      } else if ('a' in line) {
        acknowledgedLines += 1;
        for (const id of line.a) pending.delete(id);
      }
    }
    return { records: [...pending.values()], acknowledgedLines, tornBytes };
  }

  /** Durably appends a record; `onDurable` runs (in append order) right after the fsync. */
  appendRecord(record: MessageRecord, onDurable?: () => void): Promise<void> {
    return this.write(`${JSON.stringify({ r: record })}\n`, onDurable);
  }

  /** Durably records that these message ids need no more delivery. */
  acknowledge(ids: string[]): Promise<void> {
    this.ackLines += 1;
    return this.write(`${JSON.stringify({ a: ids })}\n`);
  }

  private write(line: string, onDurable?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.buffer.push(line);
      this.waiters.push({ resolve, reject, onDurable });
      if (!this.scheduled) {
        this.scheduled = true;
        this.io = this.io.then(() => this.commit());
      }
    });
  }

  private async commit(): Promise<void> {
    this.scheduled = false;
    const lines = this.buffer.splice(0);
    const waiters = this.waiters.splice(0);
    try {
      await this.handle.write(lines.join(''));
      await this.handle.datasync();
    } catch (error) {
      for (const w of waiters) w.reject(error);
      return;
    }
    for (const w of waiters) {
      w.onDurable?.();
      w.resolve();
    }
  }

  /** Rewrites the file with exactly `records` (the unacknowledged ones), atomically. */
  compact(records: () => MessageRecord[]): Promise<void> {
    const run = async () => {
      const tmp = `${this.file}.tmp`;
      const out = await open(tmp, 'w', 0o600);
      try {
        await out.write(
          records()
            .map((r) => `${JSON.stringify({ r })}\n`)
            .join(''),
        );
        await out.sync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.file);
      const dir = await open(path.dirname(this.file), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      await this.handle.close();
      this.handle = await open(this.file, 'a', 0o600);
      this.ackLines = 0;
    };
    const done = this.io.then(run);
    this.io = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    await this.io;
    await this.handle.close();
  }
}

/** Appends one JSON line to a side file (the dead-letter file) and fsyncs it. */
export async function appendJsonLine(file: string, value: unknown): Promise<void> {
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.write(`${JSON.stringify(value)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
