import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import postgres from 'postgres';
import { WebSocketServer } from 'ws';
import type { ServiceFactory } from '../service.ts';
import type { Service } from '../service.ts';
import type { Channel, RealtimeDeps } from './channel.ts';
import { Connection } from './connection.ts';
import { DbFeed } from './db-feed.ts';
import type { Vsn } from './frames.ts';
import { ChannelRegistry } from './registry.ts';
import { LIMITS } from './limits.ts';
import { handleRestBroadcast } from './rest-broadcast.ts';
import { connectionToken, forwardedHeaders, verifyToken } from './tokens.ts';

export const PREFIX = '/realtime/v1';
/** Phoenix closes a socket that sent nothing for 60 s (clients heartbeat every 25 s). */
const IDLE_TIMEOUT_MS = 60_000;

function refuse(socket: Duplex, status: number, text: string, body: unknown): void {
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n` +
      `connection: close\r\n\r\n${json}`,
  );
}

/**
 * The local Realtime server: Phoenix websocket at `/realtime/v1/websocket` for
 * broadcast and presence channels, private channels authorized by RLS on `realtime.messages`,
 * broadcast from the database via `realtime.send`, and the REST broadcast endpoints.
 */
export const realtimeService: ServiceFactory = async (ctx): Promise<Service> => {
  const logFile = createWriteStream(join(ctx.runtimeDir, 'realtime.log'), { flags: 'a' });
  const log = (message: string) => logFile.write(`${new Date().toISOString()} ${message}\n`);
  // The Realtime admin connection: reads realtime.messages and runs the probes, which switch to the
  // claims' role so RLS decides.
  const sql = postgres(ctx.databaseUrl('supabase_admin'), {
    max: 6,
    onnotice: () => {},
    connection: { application_name: 'sam-realtime' },
  });
  const registry = new ChannelRegistry<Channel>();
  const deps: RealtimeDeps = { sql, keys: ctx.keys, registry, log };
  const feed = new DbFeed(
    sql,
    (m) => registry.broadcast(m.private, m.topic, { event: m.event, payload: m.payload, meta: { id: m.id } }),
    log,
  );
  try {
    await feed.start();
  } catch (e) {
    await sql.end({ timeout: 1 });
    logFile.end();
    throw e;
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.frameBytes });
  const connections = new Set<Connection>();
  const idle = setInterval(() => {
    const cutoff = Date.now() - IDLE_TIMEOUT_MS;
    for (const c of connections) if (c.lastSeen < cutoff) c.terminate();
  }, 15_000);
  idle.unref();

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', ctx.url);
    if (url.pathname !== `${PREFIX}/websocket`) return refuse(socket, 404, 'Not Found', { error: 'Not found' });
    const vsn = url.searchParams.get('vsn') ?? '1.0.0';
    if (vsn !== '1.0.0' && vsn !== '2.0.0') {
      return refuse(socket, 400, 'Bad Request', { error: `Unsupported serializer version: ${vsn}` });
    }
    const verified = await verifyToken(ctx.keys, connectionToken(req, ctx.keys));
    if (!verified.ok) return refuse(socket, 401, 'Unauthorized', { error: verified.reason });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, vsn as Vsn, verified, forwardedHeaders(req), deps);
      connections.add(connection);
      ws.on('close', () => connections.delete(connection));
    });
  }

  return {
    name: 'realtime',
    prefix: PREFIX,
    async handle(req, res) {
      const path = (req.url ?? '/').split('?')[0]!.slice(PREFIX.length);
      if (path.startsWith('/api/')) return handleRestBroadcast(deps, req, res, path);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not found' }));
    },
    upgrade(req, socket, head) {
      upgrade(req, socket, head).catch((e: unknown) => {
        log(`upgrade failed: ${e instanceof Error ? e.message : String(e)}`);
        if (!socket.destroyed) refuse(socket, 500, 'Internal Server Error', { error: 'Internal error' });
      });
    },
    health: () => feed.health(),
    async close() {
      clearInterval(idle);
      for (const c of connections) c.terminate();
      connections.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await feed.close();
      await sql.end({ timeout: 2 });
      await new Promise<void>((resolve) => logFile.end(() => resolve()));
    },
  };
};
