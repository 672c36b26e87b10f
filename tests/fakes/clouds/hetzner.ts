/**
 * A fake of the Hetzner Cloud API v1, only the endpoints the provider uses
 * (`functions/_shared/providers/hetzner.ts`): `POST/GET /v1/servers`, `GET/DELETE /v1/servers/:id`,
 * plus `GET /v1/datacenters` (410 since 2026-10-01). Bearer tokens (a read-only token is refused on
 * writes), a per-token rate bucket with `RateLimit-*` on every reply, paging with
 * `meta.pagination` and `Link`, the label selector of `./hetzner-selector.ts`, eventual states
 * (`initializing` → `running` after N reads; `deleting` for N reads before 404), errors with the
 * real bodies `{error:{code,message,details}}`, and a dropped create answer on demand.
 */
import { FakeHttpServer, route, type FakeReply, type FakeRequest } from './http.ts';
import { parseSelector, validLabels } from './hetzner-selector.ts';

export interface HetznerFakeOptions {
  tokens?: string[];
  readonlyTokens?: string[];
  /** Reads of a new server before it is `running` (default 2). */
  readsUntilRunning?: number;
  /** Reads of a deleted server that still show `deleting` (default 1). */
  readsWhileDeleting?: number;
  /** Servers the project may hold (default unlimited): more is 403 resource_limit_exceeded. */
  serverLimit?: number;
  /** Requests per token bucket (default 3600), refilling 1 per second. */
  rateLimit?: number;
  notEqualMatchesMissing?: boolean;
  now?: () => number;
}

export interface FakeHetznerServer {
  id: number;
  name: string;
  status: string;
  created: string;
  labels: Record<string, string>;
  server_type: { name: string };
  location: { name: string };
  image: { name: string };
  public_net: { ipv4: { id: number; ip: string } | null; ipv6: null };
  userData: string | null;
  reads: number;
}

const HOSTNAME = /^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export class HetznerFake {
  readonly servers = new Map<number, FakeHetznerServer>();
  readonly deleted: number[] = [];
  readonly requests: { method: string; path: string; query: string }[] = [];
  private nextId = 1000;
  private dropCreates = 0;
  private scripted: FakeReply[] = [];
  private buckets = new Map<string, { tokens: number; at: number }>();
  private readonly http = new FakeHttpServer((req) => this.handle(req));
  private readonly opts: Required<HetznerFakeOptions>;

  constructor(options: HetznerFakeOptions = {}) {
    this.opts = {
      tokens: ['hetzner-token'],
      readonlyTokens: [],
      readsUntilRunning: 2,
      readsWhileDeleting: 1,
      serverLimit: Number.POSITIVE_INFINITY,
      rateLimit: 3600,
      notEqualMatchesMissing: true,
      now: Date.now,
      ...options,
    };
  }

  /** The API root (`…/v1`). */
  get url(): string {
    return `${this.http.url}/v1`;
  }

  start(): Promise<string> {
    return this.http.start().then(() => this.url);
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  /** The next `n` creates happen, but their answers are dropped. */
  dropCreateAnswers(n = 1): void {
    this.dropCreates = n;
  }

  /** The next request gets this reply instead (after auth and rate limiting). */
  failNext(reply: FakeReply): void {
    this.scripted.push(reply);
  }

  /** A server made outside the provider (another installation, an unlabeled legacy server). */
  seed(name: string, labels: Record<string, string>, created = new Date(this.opts.now()).toISOString()): number {
    const server = this.newServer(name, labels, 'cx23', 'fsn1', 'ubuntu-24.04', null);
    server.status = 'running';
    server.created = created;
    return server.id;
  }

  private newServer(
    name: string,
    labels: Record<string, string>,
    type: string,
    location: string,
    image: string,
    userData: string | null,
  ): FakeHetznerServer {
    const id = this.nextId++;
    const server: FakeHetznerServer = {
      id,
      name,
      status: 'initializing',
      created: new Date(this.opts.now()).toISOString(),
      labels,
      server_type: { name: type },
      location: { name: location },
      image: { name: image },
      public_net: { ipv4: { id: id + 5000, ip: `203.0.113.${id % 250}` }, ipv6: null },
      userData,
      reads: 0,
    };
    this.servers.set(id, server);
    return server;
  }

  private view(s: FakeHetznerServer, read = true) {
    if (read) {
      s.reads++;
      if (s.status === 'initializing' && s.reads >= this.opts.readsUntilRunning) s.status = 'running';
    }
    const { userData: _u, reads: _r, ...server } = s;
    return server;
  }

  private error(status: number, code: string, message: string, details: unknown = null): FakeReply {
    return { status, json: { error: { code, message, details } } };
  }

  private rate(token: string): { headers: Record<string, string>; empty: boolean } {
    const now = this.opts.now();
    const limit = this.opts.rateLimit;
    const bucket = this.buckets.get(token) ?? { tokens: limit, at: now };
    bucket.tokens = Math.min(limit, bucket.tokens + Math.floor((now - bucket.at) / 1000));
    bucket.at = now;
    this.buckets.set(token, bucket);
    const empty = bucket.tokens <= 0;
    if (!empty) bucket.tokens--;
    const reset = Math.ceil(now / 1000) + (limit - bucket.tokens);
    return {
      empty,
      headers: {
        'ratelimit-limit': String(limit),
        'ratelimit-remaining': String(bucket.tokens),
        'ratelimit-reset': String(reset),
      },
    };
  }

  private handle(req: FakeRequest): FakeReply {
    this.requests.push({ method: req.method, path: req.url.pathname, query: req.url.search });
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const known = this.opts.tokens.includes(token) || this.opts.readonlyTokens.includes(token);
    if (!known) return this.error(401, 'unauthorized', 'unable to authenticate');
    const { headers, empty } = this.rate(token);
    const reply = empty
      ? this.error(429, 'rate_limit_exceeded', 'limit of 3600 requests per hour reached')
      : (this.scripted.shift() ?? this.route(req, this.opts.readonlyTokens.includes(token)));
    return { ...reply, headers: { ...headers, ...reply.headers } };
  }

  private route(req: FakeRequest, readonly: boolean): FakeReply {
    const path = req.url.pathname;
    if (req.method !== 'GET' && readonly) return this.error(401, 'token_readonly', 'the token is read-only');
    if (route(path, '/v1/datacenters')) {
      return this.error(410, 'deprecated_api_endpoint', 'the datacenters endpoint was removed');
    }
    if (route(path, '/v1/servers')) {
      if (req.method === 'GET') return this.list(req.url);
      if (req.method === 'POST') return this.create(req.body);
      return this.error(405, 'method_not_allowed', 'method not allowed');
    }
    const one = route(path, '/v1/servers/:id');
    if (one) {
      const server = this.servers.get(Number(one.id));
      if (!server) return this.error(404, 'not_found', `server with ID '${one.id}' not found`);
      if (req.method === 'GET') return this.readOne(server);
      if (req.method === 'DELETE') {
        if (server.status !== 'deleting') this.deleted.push(server.id);
        server.status = 'deleting';
        server.reads = 0;
        return { status: 200, json: { action: this.action('delete_server', server.id) } };
      }
      return this.error(405, 'method_not_allowed', 'method not allowed');
    }
    return this.error(404, 'not_found', 'not found');
  }

  private readOne(server: FakeHetznerServer): FakeReply {
    if (server.status === 'deleting') {
      server.reads++;
      if (server.reads > this.opts.readsWhileDeleting) {
        this.servers.delete(server.id);
        return this.error(404, 'not_found', `server with ID '${server.id}' not found`);
      }
      return { status: 200, json: { server: this.view(server, false) } };
    }
    return { status: 200, json: { server: this.view(server) } };
  }

  private action(command: string, id: number) {
    return {
      id: this.nextId++,
      command,
      status: 'running',
      progress: 0,
      started: new Date(this.opts.now()).toISOString(),
      finished: null,
      resources: [{ id, type: 'server' }],
      error: null,
    };
  }

  private list(url: URL): FakeReply {
    const selectorText = url.searchParams.get('label_selector');
    const selector = selectorText === null ? () => true : parseSelector(selectorText, this.opts.notEqualMatchesMissing);
    if (!selector) return this.error(400, 'invalid_input', 'invalid label_selector');
    const name = url.searchParams.get('name');
    const perPage = Math.min(50, Math.max(1, Number(url.searchParams.get('per_page') ?? 25) || 25));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const all = [...this.servers.values()].filter((s) => selector(s.labels) && (name === null || s.name === name));
    const lastPage = Math.max(1, Math.ceil(all.length / perPage));
    const servers = all.slice((page - 1) * perPage, page * perPage).map((s) => this.view(s));
    const link = (p: number) => {
      const u = new URL(url);
      u.searchParams.set('page', String(p));
      return `<${u.pathname}${u.search}>`;
    };
    const links = [
      ...(page < lastPage ? [`${link(page + 1)}; rel="next"`] : []),
      ...(page > 1 ? [`${link(page - 1)}; rel="prev"`] : []),
      `${link(lastPage)}; rel="last"`,
    ];
    return {
      status: 200,
      headers: { link: links.join(', ') },
      json: {
        servers,
        meta: {
          pagination: {
            page,
            per_page: perPage,
            previous_page: page > 1 ? page - 1 : null,
            next_page: page < lastPage ? page + 1 : null,
            last_page: lastPage,
            total_entries: all.length,
          },
        },
      },
    };
  }

  private create(body: string): FakeReply {
    let req: Record<string, unknown>;
    try {
      req = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return this.error(400, 'json_error', 'invalid JSON');
    }
    const fields: { name: string; messages: string[] }[] = [];
    if (typeof req.name !== 'string' || !HOSTNAME.test(req.name))
      fields.push({ name: 'name', messages: ['invalid name'] });
    if (typeof req.server_type !== 'string') fields.push({ name: 'server_type', messages: ['is required'] });
    if (typeof req.image !== 'string') fields.push({ name: 'image', messages: ['is required'] });
    if ('datacenter' in req) fields.push({ name: 'datacenter', messages: ['is no longer accepted'] });
    if (
      req.user_data !== undefined &&
      (typeof req.user_data !== 'string' || Buffer.byteLength(req.user_data) > 32768)
    ) {
      fields.push({ name: 'user_data', messages: ['user_data must be at most 32768 bytes'] });
    }
    const labelProblems = validLabels(req.labels);
    if (labelProblems.length) fields.push({ name: 'labels', messages: labelProblems });
    if (fields.length)
      return this.error(422, 'invalid_input', `invalid input in field '${fields[0]!.name}'`, { fields });
    if ([...this.servers.values()].some((s) => s.name === req.name)) {
      return this.error(409, 'uniqueness_error', 'server name is already used', { fields: [{ name: 'name' }] });
    }
    if (this.servers.size >= this.opts.serverLimit) {
      return this.error(403, 'resource_limit_exceeded', 'server limit exceeded', {
        limits: [{ name: 'project_limit' }],
      });
    }
    const server = this.newServer(
      req.name as string,
      (req.labels as Record<string, string>) ?? {},
      req.server_type as string,
      typeof req.location === 'string' ? req.location : 'fsn1',
      req.image as string,
      (req.user_data as string | undefined) ?? null,
    );
    if (this.dropCreates > 0) {
      this.dropCreates--;
      return { status: 201, drop: true };
    }
    return {
      status: 201,
      json: {
        server: this.view(server, false),
        action: this.action('create_server', server.id),
        next_actions: [this.action('start_server', server.id)],
        root_password: null,
      },
    };
  }
}
