import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';

/** The local-only notify channel of sql/bootstrap/30_realtime.sql (payload `{id, inserted_at}`). */
export const MESSAGES_CHANNEL = 'sam_realtime_messages';
const HEALTH_CHANNEL = 'sam_realtime_health';
const RETENTION = '72 hours';
const CLEANUP_EVERY_MS = 60 * 60 * 1000;
const WATCH_EVERY_MS = 10_000;
const BATCH = 500;
const REMEMBERED_IDS = 10_000;

export interface FeedMessage {
  id: string;
  topic: string;
  event: string;
  private: boolean;
  /** JSON payload, or the bytes of `binary_payload`. */
  payload: unknown;
}

interface Key {
  id: string;
  inserted_at: string;
}

/**
 * Broadcast from the database: hosted Realtime tails `realtime.messages`
 * by logical replication; here a dedicated connection LISTENs to the local notify trigger, fetches
 * the committed rows as admin in notification order and hands them to `deliver`. NOTIFY is sent on
 * commit only, so rolled-back inserts never arrive. Rows older than 72 h are deleted periodically.
 */
export class DbFeed {
  private pending: Key[] = [];
  private draining = false;
  private listener: { unlisten(): Promise<void> } | undefined;
  private healthListener: { unlisten(): Promise<void> } | undefined;
  private readonly pings = new Map<string, () => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private listens = 0;
  private lastInsertedAt: string | undefined;
  /** The database's clock when the feed started: catch-up never reaches before it. */
  private startedAt = '';
  private readonly recent = new Set<string>();
  private closed = false;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly deliver: (message: FeedMessage) => void,
    private readonly log: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    const [now] = await this.sql<{ t: string }[]>`select localtimestamp::text as t`;
    this.startedAt = now!.t;
    await this.listen();
    this.healthListener = await this.sql.listen(HEALTH_CHANNEL, (nonce) => this.pings.get(nonce)?.());
    void this.cleanup();
    this.timers.push(setInterval(() => void this.cleanup(), CLEANUP_EVERY_MS));
    // postgres.js re-listens after a dropped connection but gives up if the database is still down;
    // a failed round trip through the listener re-establishes it.
    this.timers.push(
      setInterval(() => {
        void this.health().then((ok) => (ok || this.closed ? undefined : this.relisten()));
      }, WATCH_EVERY_MS),
    );
    for (const t of this.timers) t.unref();
  }

  private async listen(): Promise<void> {
    this.listener = await this.sql.listen(
      MESSAGES_CHANNEL,
      (payload) => this.onNotify(payload),
      () => {
        // Every (re)connect after the first may have missed notifications: catch up.
        if (this.listens++ > 0) void this.catchUp();
      },
    );
  }

  private async relisten(): Promise<void> {
    this.log('realtime listener lost; reconnecting');
    await Promise.allSettled([this.listener?.unlisten(), this.healthListener?.unlisten()]);
    try {
      await this.listen();
      this.healthListener = await this.sql.listen(HEALTH_CHANNEL, (nonce) => this.pings.get(nonce)?.());
      await this.catchUp();
    } catch (e) {
      this.log(`realtime listener reconnect failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** True when a notification makes the round trip through the listener connection. */
  async health(timeoutMs = 2000): Promise<boolean> {
    if (this.closed) return false;
    const nonce = randomUUID();
    const received = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.pings.set(nonce, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    try {
      await this.sql`select pg_notify(${HEALTH_CHANNEL}, ${nonce})`;
      return await received;
    } catch {
      return false;
    } finally {
      this.pings.delete(nonce);
    }
  }

  private onNotify(payload: string): void {
    try {
      const key = JSON.parse(payload) as Key;
      if (typeof key.id !== 'string' || typeof key.inserted_at !== 'string') return;
      this.pending.push(key);
    } catch {
      return;
    }
    void this.drain();
  }

  /** Fetches queued rows in batches, one batch at a time, and delivers them in notification order. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending.splice(0, BATCH);
        try {
          // Timestamps travel as text: postgres.js would turn a `timestamp` parameter into a JS Date
          // and lose the microseconds the key needs.
          const rows = await this.sql<(FeedMessage & { binary_payload: Buffer | null; inserted_at: string })[]>`
            select m.id::text, m.topic, coalesce(m.event, '') as event, m.private, m.payload, m.binary_payload,
                   m.inserted_at::text as inserted_at
            from unnest(${batch.map((k) => k.id)}::uuid[], ${batch.map((k) => k.inserted_at)}::text[]::timestamp[])
                 with ordinality as k(id, inserted_at, n)
            join realtime.messages m on m.id = k.id and m.inserted_at = k.inserted_at
            where m.extension = 'broadcast'
            order by k.n`;
          for (const row of rows) this.emit(row);
        } catch (e) {
          this.log(`realtime feed fetch failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private emit(row: FeedMessage & { binary_payload: Buffer | null; inserted_at: string }): void {
    if (this.recent.has(row.id)) return;
    this.recent.add(row.id);
    if (this.recent.size > REMEMBERED_IDS) this.recent.delete(this.recent.values().next().value!);
    if (!this.lastInsertedAt || row.inserted_at > this.lastInsertedAt) this.lastInsertedAt = row.inserted_at;
    try {
      this.deliver({
        id: row.id,
        topic: row.topic,
        event: row.event,
        private: row.private === true,
        payload: row.binary_payload ?? row.payload,
      });
    } catch (e) {
      this.log(`realtime delivery failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * After a reconnect: rows inserted since shortly before the last delivered one (inserted_at is
   * the transaction's start, so late commits can carry earlier times); already delivered ids are skipped.
   */
  private async catchUp(): Promise<void> {
    if (this.closed) return;
    try {
      const keys = await this.sql<Key[]>`
        select id::text, inserted_at::text from realtime.messages
        where extension = 'broadcast'
          and inserted_at >= greatest(${this.startedAt}::text::timestamp,
                                      ${this.lastInsertedAt ?? this.startedAt}::text::timestamp - interval '1 minute')
        order by inserted_at, id limit 5000`;
      this.pending.push(...keys.filter((k) => !this.recent.has(k.id)));
      void this.drain();
    } catch (e) {
      this.log(`realtime catch-up failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async cleanup(): Promise<number> {
    try {
      const r = await this.sql`delete from realtime.messages where inserted_at < now() - ${RETENTION}::interval`;
      return r.count;
    } catch (e) {
      if (!this.closed) this.log(`realtime cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      return 0;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([this.listener?.unlisten(), this.healthListener?.unlisten()]);
  }
}
