import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic, type StaticRoute, type StaticSite } from '../helpers/browser.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITE = join(REPO_ROOT, 'node_modules', '.bin', 'vite');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Runs `vite build web` (no VITE_* configuration, so the bundle reads `/config.json`). */
export async function buildWeb(outDir?: string): Promise<{ code: number; output: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITE_')));
  const args = ['build', 'web', '--logLevel', 'warn', ...(outDir ? ['--outDir', outDir, '--emptyOutDir'] : [])];
  const child = spawn(VITE, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, output };
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

export interface WebSite extends StaticSite {
  outDir: string;
}

/** Builds the bundle into a temporary folder and serves it with a `/config.json` pointing at `supabaseUrl`. */
export async function serveWeb(supabaseUrl: string, publishableKey: string): Promise<WebSite> {
  const outDir = mkdtempSync(join(tmpdir(), 'sam-web-'));
  const built = await buildWeb(outDir);
  if (built.code !== 0) throw new Error(`vite build failed:\n${built.output}`);
  const routes: Record<string, StaticRoute> = {};
  for (const file of files(outDir)) {
    routes['/' + relative(outDir, file)] = {
      body: readFileSync(file),
      type: TYPES[extname(file)] ?? 'application/octet-stream',
    };
  }
  routes['/'] = routes['/index.html']!;
  routes['/config.json'] = { body: JSON.stringify({ supabaseUrl, publishableKey }), type: TYPES['.json']! };
  const site = await serveStatic(routes);
  return {
    ...site,
    outDir,
    async close() {
      await site.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** An init script that keeps every WebSocket the page opens in `window.__sockets` (to cut them in tests). */
export const TRACK_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
})();`;
