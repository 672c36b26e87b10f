import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { serveWebApp } from '../../web/serve.ts';
import { buildWeb, REPO_ROOT } from './site.ts';

it('vite builds the web chat into web/dist', async () => {
  const { code, output } = await buildWeb();
  expect(code, output).toBe(0);
  const dist = join(REPO_ROOT, 'web', 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  expect(html).toMatch(/<script type="module"[^>]+src="\/assets\/index-[\w-]+\.js"/);
  const assets = readdirSync(join(dist, 'assets'));
  expect(assets.some((f) => f.endsWith('.js'))).toBe(true);
  expect(assets.some((f) => f.endsWith('.css'))).toBe(true);
  // Nothing is fetched from a CDN.
  expect(html).not.toMatch(/https?:\/\//);
  expect(existsSync(join(dist, 'config.json'))).toBe(false);
}, 60_000);

it('the local web server serves the built chat, its /config.json, client routes, and nothing outside the bundle', async () => {
  const dist = join(REPO_ROOT, 'web', 'dist');
  if (!existsSync(join(dist, 'index.html'))) expect((await buildWeb()).code).toBe(0);
  const app = await serveWebApp({ dir: dist, supabaseUrl: 'http://127.0.0.1:1', publishableKey: 'sb_publishable_x' });
  try {
    const config = await fetch(`${app.url}/config.json`);
    expect(config.headers.get('content-type')).toMatch(/application\/json/);
    expect(await config.json()).toEqual({ supabaseUrl: 'http://127.0.0.1:1', publishableKey: 'sb_publishable_x' });
    const index = readFileSync(join(dist, 'index.html'), 'utf8');
    // A reload on a client-side route still gets the app.
    const route = await fetch(`${app.url}/projects/123`);
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(index);
    const asset = readdirSync(join(dist, 'assets')).find((f) => f.endsWith('.js'))!;
    const js = await fetch(`${app.url}/assets/${asset}`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${app.url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${app.url}/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    const post = await fetch(`${app.url}/config.json`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  } finally {
    await app.close();
  }
}, 60_000);
