import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { apiKeyRefusal, CORS_HEADERS, translateAuthorization } from './gateway.ts';
import { loadKeys } from './keys.ts';
import type { Service, ServiceFactory, StackContext, StackOptions } from './service.ts';
import { realtimeService } from './realtime/service.ts';
import { functionsService } from './functions/index.ts';
import { netService } from './net/index.ts';
import { auth } from './auth/index.ts';
import { rest } from './rest/index.ts';

/** How long one service may take to close before close() gives up on it and says so. */
const SERVICE_CLOSE_MS = 15_000;

/** The services of the stand-in, in start order. Each module adds itself here. */
const FACTORIES: ServiceFactory[] = [auth, rest, realtimeService, functionsService, netService];

export interface LocalStack {
  url: string;
  port: number;
  ctx: StackContext;
  services: Service[];
  health(): Promise<Record<string, boolean>>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<StackOptions> {
  database: string;
  databaseUrl(role: string): string;
  runtimeDir: string;
  /** Replace the default service list (tests start only what they need). */
  factories?: ServiceFactory[];
}

/**
 * Starts the Docker-free stand-in for Supabase's services: one HTTP server on one port, routing
 * `/auth/v1`, `/rest/v1`, `/realtime/v1`, `/functions/v1` to their services after translating API
 * keys the way the hosted gateway does. Port 0 picks a free port.
 */
export async function startLocalStack(options: StartOptions): Promise<LocalStack> {
  const server = createServer();
  // Every socket, upgraded ones (Realtime) included, so close() can cut them all.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let closing: Promise<void> | null = null;
  await new Promise<void>((resolve) => server.listen(options.port ?? 54321, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const resolved: StackOptions = {
    port,
    emailConfirmation: options.emailConfirmation ?? true,
    watchFunctions: options.watchFunctions ?? false,
    jwtExpiry: options.jwtExpiry ?? 3600,
    authGitHub: options.authGitHub,
  };
  const ctx: StackContext = {
    url,
    keys: await loadKeys(url),
    databaseUrl: options.databaseUrl,
    database: options.database,
    runtimeDir: options.runtimeDir,
    options: resolved,
  };
  const services: Service[] = [];
  try {
    for (const factory of options.factories ?? FACTORIES) services.push(await factory(ctx));
  } catch (e) {
    await Promise.allSettled(services.map((s) => s.close()));
    server.close();
    throw e;
  }
  const routed = services.filter((s) => s.prefix !== null && s.handle);
  const find = (path: string) => routed.find((s) => path === s.prefix || path.startsWith(`${s.prefix}/`));

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (closing) {
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ message: 'The local stack is shutting down' }));
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/health') {
      void healthOf(services).then((h) => {
        res.writeHead(Object.values(h).every(Boolean) ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(h));
      });
      return;
    }
    const service = find(path);
    if (!service) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'no Route matched with those values' }));
      return;
    }
    // CORS is the gateway's on every route but functions (where it is the function's job on hosted).
    if (service.prefix !== '/functions/v1') {
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
      if (req.method === 'OPTIONS') {
        res.writeHead(200);
        res.end();
        return;
      }
    }
    const query = new URL(req.url ?? '/', url).searchParams;
    const refusal = apiKeyRefusal(path, req.headers, query.get('apikey'), ctx.keys);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(refusal.body));
      return;
    }
    const authorization = translateAuthorization(req.headers, ctx.keys, query.get('apikey'));
    if (authorization) req.headers.authorization = authorization;
    Promise.resolve(service.handle!(req, res)).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: e instanceof Error ? e.message : String(e) }));
    });
  });

  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const service = closing ? undefined : find(path);
    if (!service?.upgrade) return socket.destroy();
    const query = new URL(req.url ?? '/', url).searchParams;
    const refusal = apiKeyRefusal(path, req.headers, query.get('apikey'), ctx.keys);
    if (!refusal) return service.upgrade(req, socket, head);
    const body = JSON.stringify(refusal.body);
    socket.on('error', () => {});
    socket.end(
      `HTTP/1.1 ${refusal.status} Unauthorized\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  return {
    url,
    port,
    ctx,
    services,
    health: () => healthOf(services),
    close() {
      closing ??= closeStack(server, sockets, services);
      return closing;
    },
  };
}

/**
 * Stops in bounded time: no new connections, every open one cut (keep-alive, long-polls, streams,
 * WebSockets), each service closed with a bound (a service that overruns it is named in the error),
 * then whatever connected while the services closed is cut as well.
 */
async function closeStack(server: Server, sockets: Set<Socket>, services: Service[]): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  cut();
  const results = await Promise.all(services.map((s) => closeWithin(s, SERVICE_CLOSE_MS)));
  cut();
  await closed;
  const failures = results.filter((r) => r !== null);
  if (failures.length > 0) throw new Error(`the local stack did not close cleanly: ${failures.join('; ')}`);
}

/** Closes `service`; resolves null when it closed within `ms`, else what went wrong. */
async function closeWithin(service: Service, ms: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${service.name} did not close within ${ms} ms`), ms);
  });
  const closing = service.close().then(
    () => null,
    (e: unknown) => `${service.name} failed to close: ${e instanceof Error ? e.message : String(e)}`,
  );
  try {
    return await Promise.race([closing, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function healthOf(services: Service[]): Promise<Record<string, boolean>> {
  const entries = await Promise.all(services.map(async (s) => [s.name, await s.health().catch(() => false)] as const));
  return Object.fromEntries(entries);
}
