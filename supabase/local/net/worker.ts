import postgres from 'postgres';

/** What pg_net's background worker does, for one database (the queue it drains: sql/bootstrap/40_net.sql). */
export interface NetWorkerOptions {
  databaseUrl: string;
  /** pg_net.batch_size: requests taken from the queue at once. */
  batchSize?: number;
  /** How often the queue is looked at without a wake-up, in ms (a safety net; wake is the norm). */
  pollMs?: number;
  /** pg_net.ttl: how long responses are kept, in ms. */
  ttlMs?: number;
  /** Where problems are reported (the worker never throws). */
  log?: (line: string) => void;
}

export const WAKE_CHANNEL = 'sam_net_wake';
/** pg_net's backend_type; net.check_worker_is_up() looks for it in pg_stat_activity. */
export const WORKER_APPLICATION_NAME = 'pg_net worker';
const USER_AGENT = 'pg_net/0.20.4';

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, unknown> | null;
  body: Buffer | null;
  timeout_milliseconds: number;
}

interface Outcome {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean;
  error_msg: string | null;
}

/**
 * The local pg_net worker: LISTENs for `net.wake()`, takes queued requests with
 * `DELETE … RETURNING` (so each is sent at most once, and only after the enqueuing transaction
 * committed), performs them concurrently with their timeout, and writes `net._http_response`.
 * Responses older than the TTL are deleted in batches.
 */
export class NetWorker {
  private readonly sql: postgres.Sql;
  private readonly batchSize: number;
  private readonly ttlMs: number;
  private readonly log: (line: string) => void;
  private draining: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private listening: { unlisten(): Promise<void> } | null = null;
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly options: NetWorkerOptions) {
    this.batchSize = options.batchSize ?? 200;
    this.ttlMs = options.ttlMs ?? 6 * 3600_000;
    this.log = options.log ?? (() => {});
    this.sql = postgres(options.databaseUrl, {
      max: 3,
      onnotice: () => {},
      connection: { application_name: WORKER_APPLICATION_NAME },
    });
  }

  async start(): Promise<void> {
    this.listening = await this.sql.listen(WAKE_CHANNEL, () => this.wake());
    this.timers.push(setInterval(() => this.wake(), this.options.pollMs ?? 2000));
    this.timers.push(setInterval(() => void this.cleanup(), 60_000));
    for (const t of this.timers) t.unref();
    this.wake();
    void this.cleanup();
  }

  /** Drains the queue now (or once more after the drain under way). */
  wake(): void {
    if (this.closed) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((e: Error) => this.log(`drain failed: ${e.message}`))
      .finally(() => {
        this.draining = null;
        if (this.again && !this.closed) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves when the worker has nothing left to do (the queue was empty at the last look). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const batch = await this.sql<QueuedRequest[]>`
        with taken as (
          select id from net.http_request_queue order by id limit ${this.batchSize} for update skip locked
        )
        delete from net.http_request_queue q using taken where q.id = taken.id
        returning q.id, q.method, q.url, q.headers, q.body, q.timeout_milliseconds`;
      if (batch.length === 0) return;
      await Promise.all(batch.map((r) => this.perform(r).then((o) => this.record(o))));
    }
  }

  private async perform(r: QueuedRequest): Promise<Outcome> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timeout = AbortSignal.timeout(Math.max(1, r.timeout_milliseconds));
    const signal = AbortSignal.any([timeout, controller.signal]);
    const headers = new Headers();
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (v !== null && v !== undefined) headers.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT);
    const failed = (error_msg: string, timed_out = false): Outcome => ({
      id: r.id,
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out,
      error_msg,
    });
    try {
      const res = await fetch(r.url, {
        method: r.method.toUpperCase(),
        headers,
        body: r.body && r.body.length > 0 ? new Uint8Array(r.body) : undefined,
        redirect: 'manual',
        signal,
      });
      const content = await res.text();
      const responseHeaders: Record<string, string> = {};
      res.headers.forEach((value, key) => (responseHeaders[key] = value));
      return {
        id: r.id,
        status_code: res.status,
        content_type: res.headers.get('content-type'),
        headers: responseHeaders,
        content,
        timed_out: false,
        error_msg: null,
      };
    } catch (e) {
      if (timeout.aborted) return failed(`Timeout of ${r.timeout_milliseconds} ms reached`, true);
      if (controller.signal.aborted) return failed('the request was cancelled: the pg_net worker stopped');
      const err = e as Error & { cause?: Error & { code?: string } };
      return failed(err.cause?.code ? `${err.cause.code}: ${err.cause.message}` : (err.cause?.message ?? err.message));
    } finally {
      this.inFlight.delete(controller);
    }
  }

  private async record(o: Outcome): Promise<void> {
    try {
      await this.sql`
        insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
        values (${o.id}, ${o.status_code}, ${o.content_type}, ${o.headers === null ? null : this.sql.json(o.headers)},
                ${o.content}, ${o.timed_out}, ${o.error_msg})`;
    } catch (e) {
      this.log(`could not record the response of request ${o.id}: ${(e as Error).message}`);
    }
  }

  /** Deletes responses older than the TTL, in batches as pg_net does. */
  async cleanup(): Promise<void> {
    try {
      for (;;) {
        const deleted = await this.sql`
          with old as (
            select ctid from net._http_response
            where created < now() - ${this.ttlMs / 1000}::float8 * interval '1 second'
            limit ${this.batchSize}
          )
          delete from net._http_response r using old where r.ctid = old.ctid`;
        if (deleted.count < this.batchSize || this.closed) return;
      }
    } catch (e) {
      if (!this.closed) this.log(`response cleanup failed: ${(e as Error).message}`);
    }
  }

  /** True when the worker's connection answers. */
  async healthy(): Promise<boolean> {
    try {
      await this.sql`select 1`;
      return this.listening !== null;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.inFlight) c.abort();
    await this.draining?.catch(() => {});
    await this.listening?.unlisten().catch(() => {});
    await this.sql.end({ timeout: 2 });
  }
}
