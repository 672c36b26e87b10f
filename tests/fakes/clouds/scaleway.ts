/**
 * A fake of the Scaleway Instance API, only what the provider uses
 * (`functions/_shared/providers/scaleway.ts`): servers (create, list, read, DELETE), the
 * `user_data/cloud-init` PATCH/GET (text/plain, kept for tests), actions (`poweron`, `terminate`),
 * volume deletes (instance and block APIs) and the marketplace image lookup. `X-Auth-Token` checks,
 * paging (`page`, `per_page` ≤ 100, `X-Total-Count`, empty last page), comma-joined `tags` matched
 * exactly with AND (a repeated `tags=` counts only its first value), a request budget after which
 * replies are 429 with `X-RateLimit-Reset`, eventual states (`stopped` without IP → `starting` →
 * `running` with `public_ips`; `terminate` → `stopping` → gone), and the real error bodies.
 */
import { randomUUID } from 'node:crypto';
import { FakeHttpServer, route, type FakeReply, type FakeRequest } from './http.ts';
import { marketplaceImages, NOBLE_IMAGE_ID, type FakeScalewayServer } from './scaleway-catalog.ts';

export { NOBLE_IMAGE_ID, type FakeScalewayServer } from './scaleway-catalog.ts';

export interface ScalewayFakeOptions {
  secretKeys?: string[];
  /** Reads of a starting server before it is `running` (default 2). */
  readsUntilRunning?: number;
  /** Reads of a terminated server that still show `stopping` (default 1). */
  readsWhileStopping?: number;
  /** Servers the project may hold: more is the 403 quota body. */
  serverLimit?: number;
  /** Requests answered before replies become 429 until `resetSeconds` later. */
  requestBudget?: number;
  resetSeconds?: number;
  now?: () => number;
}

export class ScalewayFake {
  readonly servers = new Map<string, FakeScalewayServer>();
  /** Volumes that exist (attached or not), by id. */
  readonly volumes = new Map<string, { id: string; volume_type: string; server: string | null }>();
  readonly userData = new Map<string, string>();
  readonly requests: { method: string; path: string; query: string }[] = [];
  readonly terminated: string[] = [];
  private dropCreates = 0;
  private scripted: { method: string; pathEnds: string; reply: FakeReply }[] = [];
  private used = 0;
  private resetAt = 0;
  private readonly http = new FakeHttpServer((req) => this.handle(req));
  private readonly opts: Required<ScalewayFakeOptions>;

  constructor(options: ScalewayFakeOptions = {}) {
    this.opts = {
      secretKeys: ['scw-secret'],
      readsUntilRunning: 2,
      readsWhileStopping: 1,
      serverLimit: Number.POSITIVE_INFINITY,
      requestBudget: Number.POSITIVE_INFINITY,
      resetSeconds: 30,
      now: Date.now,
      ...options,
    };
  }

  get url(): string {
    return this.http.url;
  }

  start(): Promise<string> {
    return this.http.start();
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  dropCreateAnswers(n = 1): void {
    this.dropCreates = n;
  }

  /** The next request with this method whose path ends so gets this reply instead (after auth and rate limiting). */
  failNext(method: string, pathEnds: string, reply: FakeReply): void {
    this.scripted.push({ method, pathEnds, reply });
  }

  seed(zone: string, project: string, name: string, tags: string[], state = 'running'): string {
    const server = this.newServer(zone, project, name, tags, 'DEV1-M', NOBLE_IMAGE_ID);
    server.state = state;
    return server.id;
  }

  private newServer(zone: string, project: string, name: string, tags: string[], type: string, image: string) {
    const id = randomUUID();
    const volume = { id: randomUUID(), volume_type: 'l_ssd', size: 20_000_000_000 };
    this.volumes.set(volume.id, { id: volume.id, volume_type: 'l_ssd', server: id });
    const server: FakeScalewayServer = {
      id,
      name,
      hostname: name,
      project,
      tags,
      commercial_type: type,
      image,
      creation_date: new Date(this.opts.now()).toISOString(),
      state: 'stopped',
      zone,
      volumes: { '0': volume },
      public_ips: [],
      reads: 0,
    };
    this.servers.set(id, server);
    return server;
  }

  private view(s: FakeScalewayServer, read = true) {
    if (read) {
      s.reads++;
      if (s.state === 'starting' && s.reads >= this.opts.readsUntilRunning) {
        s.state = 'running';
        s.public_ips = [
          { id: randomUUID(), address: '198.51.100.7', family: 'inet', dynamic: true, state: 'attached' },
        ];
      }
    }
    const { reads: _r, image, ...server } = s;
    return {
      ...server,
      image: { id: image },
      public_ip: s.public_ips[0] ?? null,
      state_detail: s.state === 'running' ? 'booted' : '',
      allowed_actions: s.state === 'stopped' ? ['poweron', 'backup'] : ['poweroff', 'terminate', 'reboot'],
      arch: 'x86_64',
    };
  }

  private error(status: number, body: Record<string, unknown>): FakeReply {
    return { status, json: body };
  }

  private handle(req: FakeRequest): FakeReply {
    this.requests.push({ method: req.method, path: req.url.pathname, query: req.url.search });
    const key = String(req.headers['x-auth-token'] ?? '');
    if (!this.opts.secretKeys.includes(key)) {
      return this.error(401, {
        type: 'denied_authentication',
        message: 'authentication is denied',
        method: 'api_key',
        reason: 'not_found',
      });
    }
    const now = this.opts.now();
    if (this.resetAt && now >= this.resetAt) {
      this.used = 0;
      this.resetAt = 0;
    }
    if (this.used >= this.opts.requestBudget) {
      if (!this.resetAt) this.resetAt = now + this.opts.resetSeconds * 1000;
      return {
        status: 429,
        headers: {
          'x-ratelimit-limit': String(this.opts.requestBudget),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.ceil((this.resetAt - now) / 1000)),
        },
        json: { type: 'too_many_requests', message: 'rate limit exceeded' },
      };
    }
    this.used++;
    const i = this.scripted.findIndex((f) => f.method === req.method && req.url.pathname.endsWith(f.pathEnds));
    if (i >= 0) return this.scripted.splice(i, 1)[0]!.reply;
    return this.route(req);
  }

  private route(req: FakeRequest): FakeReply {
    const path = req.url.pathname;
    let p: Record<string, string> | null;
    if ((p = route(path, '/marketplace/v2/local-images')) && req.method === 'GET') return marketplaceImages(req.url);
    if ((p = route(path, '/instance/v1/zones/:zone/servers'))) {
      if (req.method === 'GET') return this.list(p.zone!, req.url);
      if (req.method === 'POST') return this.create(p.zone!, req.body);
    }
    if ((p = route(path, '/instance/v1/zones/:zone/servers/:id/user_data/cloud-init'))) {
      const server = this.find(p.zone!, p.id!);
      if (!server) return this.notFound(p.id!);
      if (req.method === 'PATCH') {
        if (!String(req.headers['content-type'] ?? '').startsWith('text/plain')) {
          return this.error(400, { type: 'invalid_request_error', message: 'content type must be text/plain' });
        }
        this.userData.set(server.id, req.body);
        return { status: 204 };
      }
      if (req.method === 'GET') {
        const text = this.userData.get(server.id);
        return text === undefined ? this.notFound('cloud-init') : { status: 200, text };
      }
    }
    if ((p = route(path, '/instance/v1/zones/:zone/servers/:id/action')) && req.method === 'POST') {
      return this.action(p.zone!, p.id!, req.body);
    }
    if ((p = route(path, '/instance/v1/zones/:zone/servers/:id'))) {
      const server = this.find(p.zone!, p.id!);
      if (req.method === 'GET') return server ? this.readOne(server) : this.notFound(p.id!);
      if (req.method === 'DELETE') {
        if (!server) return this.notFound(p.id!);
        if (server.state !== 'stopped' && server.state !== 'stopped in place') {
          return this.error(400, { type: 'invalid_request_error', message: 'server should be stopped' });
        }
        this.servers.delete(server.id);
        for (const v of Object.values(server.volumes)) this.volumes.get(v.id)!.server = null;
        return { status: 204 };
      }
    }
    if (
      ((p = route(path, '/instance/v1/zones/:zone/volumes/:id')) ||
        (p = route(path, '/block/v1alpha1/zones/:zone/volumes/:id'))) &&
      req.method === 'DELETE'
    ) {
      const volume = this.volumes.get(p.id!);
      if (!volume) return this.notFound(p.id!);
      if (volume.server) return this.error(400, { type: 'invalid_request_error', message: 'volume is attached' });
      this.volumes.delete(volume.id);
      return { status: 204 };
    }
    return this.error(404, { type: 'not_found', message: 'route not found' });
  }

  private notFound(id: string): FakeReply {
    return this.error(404, { type: 'unknown_resource', message: `"${id}" not found` });
  }

  private find(zone: string, id: string): FakeScalewayServer | undefined {
    const server = this.servers.get(id);
    return server && server.zone === zone ? server : undefined;
  }

  private readOne(server: FakeScalewayServer): FakeReply {
    if (server.state === 'stopping') {
      server.reads++;
      if (server.reads > this.opts.readsWhileStopping) {
        this.servers.delete(server.id);
        return this.notFound(server.id);
      }
      return { status: 200, json: { server: this.view(server, false) } };
    }
    return { status: 200, json: { server: this.view(server) } };
  }

  private list(zone: string, url: URL): FakeReply {
    const perPage = Number(url.searchParams.get('per_page') ?? 50);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
      return this.error(400, {
        type: 'invalid_arguments',
        message: 'invalid argument(s)',
        details: [{ argument_name: 'per_page', reason: 'constraint', help_message: 'must be between 1 and 100' }],
      });
    }
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const tags = (url.searchParams.get('tags') ?? '').split(',').filter(Boolean);
    const project = url.searchParams.get('project');
    const name = url.searchParams.get('name');
    const all = [...this.servers.values()]
      .filter((s) => s.zone === zone)
      .filter((s) => project === null || s.project === project)
      .filter((s) => name === null || s.name.includes(name))
      .filter((s) => tags.every((t) => s.tags.includes(t)))
      .sort((a, b) => (a.creation_date < b.creation_date ? 1 : -1));
    const servers = all.slice((page - 1) * perPage, page * perPage).map((s) => this.view(s));
    return { status: 200, headers: { 'x-total-count': String(all.length) }, json: { servers } };
  }

  private create(zone: string, body: string): FakeReply {
    let req: Record<string, unknown>;
    try {
      req = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return this.error(400, {
        type: 'invalid_request_error',
        message: 'Validation Error',
        fields: { body: ['invalid JSON'] },
      });
    }
    const fields: Record<string, string[]> = {};
    for (const f of ['name', 'commercial_type', 'image', 'project']) {
      if (typeof req[f] !== 'string' || !req[f]) fields[f] = ['required key not provided'];
    }
    if (req.tags !== undefined && (!Array.isArray(req.tags) || !req.tags.every((t) => typeof t === 'string'))) {
      fields.tags = ['expected a list of strings'];
    }
    if (Object.keys(fields).length)
      return this.error(400, { type: 'invalid_request_error', message: 'Validation Error', fields });
    if (this.servers.size >= this.opts.serverLimit) {
      return this.error(403, {
        type: 'invalid_request_error',
        message: 'Quota exceeded for this resource.',
        resource: `instances_${String(req.commercial_type).toLowerCase().replace(/-/g, '_')}`,
      });
    }
    const server = this.newServer(
      zone,
      req.project as string,
      req.name as string,
      (req.tags as string[]) ?? [],
      req.commercial_type as string,
      req.image as string,
    );
    if (this.dropCreates > 0) {
      this.dropCreates--;
      return { status: 201, drop: true };
    }
    return { status: 201, json: { server: this.view(server, false) } };
  }

  private action(zone: string, id: string, body: string): FakeReply {
    const server = this.find(zone, id);
    if (!server) return this.notFound(id);
    let action: unknown;
    try {
      action = (JSON.parse(body) as { action?: unknown }).action;
    } catch {
      action = undefined;
    }
    if (action === 'poweron') {
      if (server.state !== 'stopped')
        return this.error(400, { type: 'invalid_request_error', message: 'server should be stopped' });
      server.state = 'starting';
      server.reads = 0;
    } else if (action === 'terminate') {
      if (server.state === 'stopped' || server.state === 'stopped in place') {
        return this.error(400, { type: 'invalid_request_error', message: 'server should be running' });
      }
      server.state = 'stopping';
      server.reads = 0;
      this.terminated.push(server.id);
      // terminate deletes local volumes and only detaches block-storage ones.
      for (const v of Object.values(server.volumes)) {
        if (v.volume_type === 'sbs_volume') this.volumes.get(v.id)!.server = null;
        else this.volumes.delete(v.id);
      }
    } else {
      return this.error(400, {
        type: 'invalid_request_error',
        message: 'Validation Error',
        fields: { action: ['unknown action'] },
      });
    }
    return {
      status: 202,
      json: {
        task: {
          id: randomUUID(),
          description: String(action),
          status: 'pending',
          progress: 0,
          href_from: `/servers/${id}/action`,
          href_result: `/servers/${id}`,
          started_at: new Date(this.opts.now()).toISOString(),
          terminated_at: null,
          zone,
        },
      },
    };
  }
}
