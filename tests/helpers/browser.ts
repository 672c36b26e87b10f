import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { procStat } from '../../supabase/local/child-process.ts';

/** The Debian Chromium that `npm test`'s bootstrap installs (`apt-get install -y chromium`). */
export const CHROMIUM_PATH = process.env.SAM_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, sandbox off (tests may run as root), and nothing that reaches the internet. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** supabase-js as a browser script (`window.supabase`), served locally: there is no CDN here. */
export const SUPABASE_UMD_PATH = fileURLToPath(
  new URL('../../node_modules/@supabase/supabase-js/dist/umd/supabase.js', import.meta.url),
);

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: run \`apt-get install -y chromium\` (or npm test's bootstrap)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** Chromium processes this process launched (Playwright runs in-process: they are our children). */
function chromiumChildren(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      if (procStat(pid)?.ppid !== process.pid) return false;
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(CHROMIUM_PATH);
      } catch {
        return false;
      }
    });
}

/**
 * Closes the browser in bounded time: when Chromium does not quit within `ms`, it is killed with
 * its process group (Playwright starts it as a group leader) and the close counts as done.
 */
export async function closeBrowser(browser: Browser, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const quit = await Promise.race([
    browser.close().then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  if (quit) return;
  for (const pid of chromiumChildren()) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
    }
  }
}

export interface StaticRoute {
  body: string | Buffer;
  type: string;
}

export interface StaticSite {
  url: string;
  close(): Promise<void>;
}

/** The supabase-js UMD bundle as a route, e.g. `{ '/supabase.js': supabaseScript() }`. */
export function supabaseScript(): StaticRoute {
  return { body: readFileSync(SUPABASE_UMD_PATH), type: 'text/javascript; charset=utf-8' };
}

export function html(body: string): StaticRoute {
  return { body, type: 'text/html; charset=utf-8' };
}

/** Serves fixed routes on a free loopback port (404 for anything else). */
export async function serveStatic(routes: Record<string, StaticRoute>): Promise<StaticSite> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route && path === '/favicon.ico') {
      // Browsers ask for it on every page; a 404 would show up as a console error.
      res.writeHead(204);
      res.end();
      return;
    }
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' });
    res.end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    // Stop listening first, then cut what is open (kept-alive connections included).
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestBrowser {
  readonly browser: Browser;
  /** A fresh page in its own context; page errors and console errors are collected in `errors`, 5xx answers printed. */
  newPage(): Promise<Page & { errors: string[] }>;
}

/** One Chromium for the calling test file, closed after its tests; every page gets its own context. */
export function useBrowser(): TestBrowser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    if (browser) await closeBrowser(browser);
  });
  const get = () => {
    if (!browser) throw new Error('the browser starts in beforeAll; use it inside tests or hooks');
    return browser;
  };
  return {
    get browser() {
      return get();
    },
    async newPage() {
      const context = await get().newContext();
      const page = (await context.newPage()) as Page & { errors: string[] };
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') page.errors.push(m.text());
      });
      // The console says only "status of 500": the server's words go to the test's output.
      page.on('response', (r) => {
        if (r.status() < 500) return;
        void r
          .text()
          .then((body) => console.log(`${r.status()} from ${r.request().method()} ${r.url()}: ${body.slice(0, 2000)}`))
          .catch(() => {});
      });
      return page;
    },
  };
}
