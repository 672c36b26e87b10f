/**
 * The machine host's HTTP side (contract: `functions/_shared/common/contracts/local-machines.ts`):
 * the bearer token check, the three routes — POST /machines, GET /machines?label=, DELETE
 * /machines/:id — and their errors as `{ error: { code, message } }`. What a route does to machines
 * is the host's (host.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseLabelQuery, type Labels, type Machine } from '../functions/_shared/common/contracts/local-machines.ts';
import { bearerToken, sameSecret } from '../functions/_shared/common/bearer.ts';
import { ID } from './machine-meta.ts';

const MAX_BODY = 64 * 1024;

export class HostError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HostError(413, 'payload_too_large', 'The request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** What the routes ask of the host. */
export interface MachineRoutes {
  /** The bearer token every request must carry. */
  token: string;
  /** Creates a machine from a request body (not yet validated). */
  create(body: unknown): Promise<Machine>;
  /** The machines it runs now. */
  machines(): Machine[];
  /** Deletes machine `id`; nothing when it is gone. */
  remove(id: string): Promise<void>;
  log: (line: string) => void;
}

/** The host's HTTP server (not yet listening). */
export function machineServer(routes: MachineRoutes): Server {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const given = bearerToken(req.headers.authorization);
    if (given === undefined || !(await sameSecret(given, routes.token))) {
      throw new HostError(401, 'unauthorized', 'A valid bearer token is required');
    }
    const url = new URL(req.url ?? '/', 'http://local-machines');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'machines' || parts.length > 2) throw new HostError(404, 'not_found', `No route ${url.pathname}`);

    if (parts.length === 1 && req.method === 'POST') {
      const text = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new HostError(400, 'invalid_json', 'The request body is not valid JSON');
      }
      send(res, 201, await routes.create(json));
      return;
    }
    if (parts.length === 1 && req.method === 'GET') {
      let labels: Labels;
      try {
        labels = parseLabelQuery(url.searchParams.getAll('label'));
      } catch (e) {
        throw new HostError(400, 'invalid_params', e instanceof z.ZodError ? z.prettifyError(e) : (e as Error).message);
      }
      const list = routes.machines().filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
      send(res, 200, { machines: list });
      return;
    }
    if (parts.length === 2 && req.method === 'DELETE') {
      const id = decodeURIComponent(parts[1]!);
      if (!ID.test(id)) throw new HostError(400, 'invalid_params', 'Not a machine id');
      await routes.remove(id);
      send(res, 204);
      return;
    }
    throw new HostError(404, 'not_found', `No route ${req.method} ${url.pathname}`);
  }

  return createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof z.ZodError) {
        send(res, 400, { error: { code: 'invalid_params', message: z.prettifyError(e) } });
      } else if (e instanceof HostError) {
        send(
          res,
          e.status,
          { error: { code: e.code, message: e.message } },
          e.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
        );
      } else {
        routes.log(`request failed: ${req.method} ${req.url?.split('?')[0]}: ${(e as Error).message}`);
        send(res, 500, { error: { code: 'internal', message: 'Internal error' } });
      }
    });
  });
}
