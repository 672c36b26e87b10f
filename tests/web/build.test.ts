import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
