import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb, serveWebApp, type WebApp } from '../../web/serve.ts';

export { buildWeb };
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WebSite extends WebApp {
  outDir: string;
}

/** Builds the bundle into a temporary folder and serves it as `sam start` does, with `/config.json` pointing at `supabaseUrl`. */
export async function serveWeb(supabaseUrl: string, publishableKey: string): Promise<WebSite> {
  const outDir = mkdtempSync(join(tmpdir(), 'sam-web-'));
  const built = await buildWeb(outDir);
  if (built.code !== 0) throw new Error(`vite build failed:\n${built.output}`);
  const site = await serveWebApp({ dir: outDir, supabaseUrl, publishableKey });
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
