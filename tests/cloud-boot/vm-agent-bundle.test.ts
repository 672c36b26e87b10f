/**
 * The vm-agent as one file: the same sources give the same bytes; the file runs with plain Node and
 * no node_modules (the vm-agent, and the demo agent it starts from itself); the control plane serves
 * it with its sha256, and refuses to publish bytes that do not match the sha256 they come with.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_SHA256_HEADER, BUNDLE_VERSION_HEADER } from '../../functions/_shared/vm-agent/bundle.ts';
import { bundleSource } from '../../vm-agent/bundle/build.ts';
import { builtBundleFromEnv } from '../../vm-agent/bundle/publish.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';

const stack = useFunctionsStack('bundle');
const bundle = builtBundleFromEnv()!;
const away = mkdtempSync(path.join(tmpdir(), 'sam-bundle-'));
afterAll(() => rmSync(away, { recursive: true, force: true }));

describe('the vm-agent bundle', () => {
  it('is one deterministic file: building twice gives the sha256 the test setup built', async () => {
    expect(bundle, 'tests/setup/global.ts builds it').toBeTruthy();
    const [a, b] = [await bundleSource(), await bundleSource()];
    expect(a.code).toBe(b.code);
    expect(createHash('sha256').update(a.code).digest('hex')).toBe(bundle.sha256);
    expect(a.code.startsWith('#!/usr/bin/env node\n')).toBe(true);
  }, 120_000);

  it('runs with plain Node and no node_modules, the demo agent included', async () => {
    const file = path.join(away, 'vm-agent.mjs');
    copyFileSync(bundle.file, file);
    const env = { PATH: '/usr/bin:/bin', HOME: away };
    const version = spawnSync(process.execPath, [file, '--version'], { cwd: away, env, encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(`sam-vm-agent/${bundle.version}`);
    const usage = spawnSync(process.execPath, [file], { cwd: away, env, encoding: 'utf8' });
    expect([usage.status, usage.stderr]).toEqual([2, expect.stringContaining('usage:')]);
    // The demo agent, started from the same file, answers ACP initialize.
    const demo = spawn(process.execPath, [file, 'demo-agent'], { cwd: away, env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const answered = new Promise<void>((resolve) => demo.stdout.on('data', () => out.includes('\n') && resolve()));
    demo.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1, clientCapabilities: {} } })}\n`,
    );
    await answered;
    demo.stdin.end();
    await new Promise((resolve) => demo.on('exit', resolve));
    expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ id: 1, result: { agentInfo: { name: 'sam-demo-agent' } } });
  }, 120_000);

  it('is served by the control plane with its sha256, to anyone (no token: it holds no secret)', async () => {
    const base = `${stack.functionUrl('vm-agent')}/bundle`;
    for (const url of [base, `${base}?sha256=${bundle.sha256}`]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get(BUNDLE_SHA256_HEADER)).toBe(bundle.sha256);
      expect(res.headers.get(BUNDLE_VERSION_HEADER)).toBe(bundle.version);
      const body = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex')).toBe(bundle.sha256);
    }
    const unknown = await fetch(`${base}?sha256=${'0'.repeat(64)}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    const bad = await fetch(`${base}?sha256=../../etc`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_params' } });
  });

  it('refuses to publish bytes under a sha256 that is not theirs, and users cannot read the table', async () => {
    const admin = stack.db.admin;
    await expect(admin`select public.publish_vm_agent_bundle('9.9.9', ${'a'.repeat(64)}, 'export {}')`).rejects.toThrow(
      /does not have the sha256/,
    );
    const [current] = await admin`select sha256 from public.current_vm_agent_bundle()`;
    expect(current!.sha256).toBe(bundle.sha256);
    await expect(
      admin.begin(async (tx) => {
        await tx.unsafe(
          'set local role authenticated; set local request.jwt.claims = \'{"sub":"00000000-0000-0000-0000-000000000001","role":"authenticated"}\'',
        );
        return tx`select count(*) from public.vm_agent_bundles`;
      }),
    ).rejects.toThrow(/permission denied/);
  });
});
