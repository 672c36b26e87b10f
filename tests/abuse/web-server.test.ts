import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveWebApp, type WebApp } from '../../web/serve.ts';
import { rawGet } from './raw-http.ts';

let dir: string;
let app: WebApp;

beforeAll(async () => {
  // A stand-in bundle: the server only needs files, not a vite build.
  dir = mkdtempSync(join(tmpdir(), 'sam-web-abuse-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  app = await serveWebApp({ dir, supabaseUrl: 'http://127.0.0.1:1', publishableKey: 'sb_publishable_x' });
});

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const HOSTILE = [
  '/%00',
  '/assets/%00.js',
  '/%',
  '/%E0%A4%A',
  '/..%2f..%2fetc/passwd',
  '/assets/..%2f..%2f..%2fetc%2fpasswd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/assets%5c..%5c..%5cetc%5cpasswd',
  '//etc/passwd',
  '/a%2fb.js',
];

it('no request path takes the web server down: hostile paths get a 4xx JSON error and the server keeps answering', async () => {
  for (const target of HOSTILE) {
    const answer = await rawGet(app.url, target);
    expect(answer.status, target).toBeGreaterThanOrEqual(400);
    expect(answer.status, target).toBeLessThan(500);
    expect(answer.headers['content-type'], target).toMatch(/application\/json/);
    const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
    expect(typeof body.error.code, target).toBe('string');
    expect(answer.body, target).not.toContain('root:');
  }
  // Still up, still serving the bundle.
  const config = await rawGet(app.url, '/config.json');
  expect(config.status).toBe(200);
  expect(JSON.parse(config.body)).toEqual({ supabaseUrl: 'http://127.0.0.1:1', publishableKey: 'sb_publishable_x' });
  expect((await rawGet(app.url, '/assets/app.js')).status).toBe(200);
  expect((await rawGet(app.url, '/projects/1')).body).toContain('<title>chat</title>');
});
