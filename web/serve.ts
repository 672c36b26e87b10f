/**
 * The web chat for the local stack: `vite build web` into a folder, then a small static server for
 * it with `/config.json` telling the bundle where Supabase is (the bundle carries no URL or key, so
 * one build serves any stack). Unknown paths without a file extension get `index.html`, so a
 * reload on a client-side route still loads the app.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
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

/** Serves the built chat and its `/config.json`. Files are read per request, so a rebuild shows at once. */
export async function serveWebApp(options: WebAppOptions): Promise<WebApp> {
  const root = normalize(options.dir);
  const config = JSON.stringify({ supabaseUrl: options.supabaseUrl, publishableKey: options.publishableKey });
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'Only GET and HEAD' } }));
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad path');
      return;
    }
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': TYPES['.json']!, 'cache-control': 'no-store' });
      res.end(config);
      return;
    }
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const isFile = statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
    if (!isFile) {
      if (path === '/favicon.ico') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (extname(path) !== '') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      file = join(root, 'index.html');
    }
    const hashed = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
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
