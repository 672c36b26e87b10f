/**
 * The web chat for the local stack: `vite build web` into a folder, then a small static server for
 * it with `/config.json` telling the bundle where Supabase is (the bundle carries no URL or key, so
 * one build serves any stack). Unknown paths without a file extension get `index.html`, so a
 * reload on a client-side route still loads the app. `/sw.js` (the service worker the build
 * emits) is served as JavaScript, never cached by HTTP, for the scope `/`. The server sets no
 * cookies and no headers about them: the session cookies the app writes itself
 * (`@supabase/ssr`, `SameSite=Lax`, not `Secure` on http) work on `http://127.0.0.1`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { paths } from '../supabase/local/paths.ts';

const VITE = join(paths.root, 'node_modules', '.bin', 'vite');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
};

/** Runs `vite build web` (no VITE_* configuration, so the bundle reads `/config.json`). */
export async function buildWeb(outDir?: string): Promise<{ code: number; output: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITE_')));
  const args = ['build', 'web', '--logLevel', 'warn', ...(outDir ? ['--outDir', outDir, '--emptyOutDir'] : [])];
  const child = spawn(VITE, args, { cwd: paths.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, output };
}

export interface WebAppOptions {
  /** The built bundle (`vite build` output). */
  dir: string;
  supabaseUrl: string;
  publishableKey: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

export interface WebApp {
  url: string;
  close(): Promise<void>;
}

type Answer = (status: number, code: string, message: string) => void;

/** A refusal of the request's path; every one is a 4xx answered in JSON. */
class BadPath extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request target as a path inside the bundle, checked segment by segment before anything
 * touches the file system: it must start with `/`, every segment must percent-decode, and no
 * segment may be `.` or `..`, be empty (`//`), or carry a slash, backslash or control character
 * once decoded (`%2f`, `%5c`, `%00`). Query and fragment are dropped.
 */
function bundlePath(target: string): string {
  const raw = target.split(/[?#]/, 1)[0]!;
  if (!raw.startsWith('/')) throw new BadPath(400, 'bad_path', 'The path must start with /');
  const segments = raw.slice(1).split('/');
  const decoded = segments.map((segment, i) => {
    if (segment === '' && i < segments.length - 1) throw new BadPath(400, 'bad_path', 'Empty path segment');
    let s: string;
    try {
      s = decodeURIComponent(segment);
    } catch {
      throw new BadPath(400, 'bad_path', 'The path is not valid percent-encoded UTF-8');
    }
    if (/[/\\\u0000-\u001f\u007f]/.test(s)) {
      throw new BadPath(400, 'bad_path', 'A path segment carries a slash, backslash or control character');
    }
    if (s === '.' || s === '..') throw new BadPath(400, 'bad_path', 'Dot segments are not allowed');
    return s;
  });
  return `/${decoded.join('/')}`;
}

/** Whether `file` is a regular file; false when missing or unreadable (never throws). */
function isFile(file: string): boolean {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/**
 * Serves the built chat and its `/config.json`. Files are read per request, so a rebuild shows at
 * once. No request can take the process down: bad paths get a 4xx, anything unexpected a 500, all
 * in JSON (`{ error: { code, message } }`).
 */
export async function serveWebApp(options: WebAppOptions): Promise<WebApp> {
  const root = normalize(options.dir);
  const config = JSON.stringify({ supabaseUrl: options.supabaseUrl, publishableKey: options.publishableKey });
  const handle = (req: IncomingMessage, res: ServerResponse, fail: Answer): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return fail(405, 'method_not_allowed', 'Only GET and HEAD');
    }
    const path = bundlePath(req.url ?? '/');
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': TYPES['.json']!, 'cache-control': 'no-store' });
      res.end(config);
      return;
    }
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return fail(404, 'not_found', 'Not found');
    if (!isFile(file)) {
      if (path === '/favicon.ico') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (extname(path) !== '') return fail(404, 'not_found', 'Not found');
      file = join(root, 'index.html');
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      return fail(404, 'not_found', 'Not found');
    }
    const hashed = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-store',
      // The service worker (web/pwa.ts) controls the whole app from the root.
      ...(path === '/sw.js' ? { 'service-worker-allowed': '/' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    const fail: Answer = (status, code, message) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message } }));
    };
    try {
      handle(req, res, fail);
    } catch (e) {
      if (e instanceof BadPath) fail(e.status, e.code, e.message);
      else fail(500, 'internal', 'Internal error');
    }
  });
  // Requests Node cannot even parse: a JSON 400 instead of a bare one.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) {
      const body = JSON.stringify({ error: { code: 'bad_request', message: 'Malformed request' } });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
