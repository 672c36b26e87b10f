/**
 * Builds the vm-agent into one self-contained ES module (`./entry.ts` and everything it imports,
 * npm packages included) that runs with plain Node ≥ 20 and no node_modules: what cloud machines
 * and brought machines download from the control plane. esbuild (already a dependency through
 * Vite) bundles it; the output depends only on the sources, so the same tree gives the same bytes
 * and the same sha256 (no timestamps, paths relative to the repository root).
 *
 * The file is stored content-addressed, `<SAM_HOME>/vm-agent/<sha256>.mjs`, so builds from
 * different checkouts sharing one SAM_HOME never replace each other's bundle under a reader.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { paths } from '../../supabase/local/paths.ts';

export interface VmAgentBundle {
  /** `<package.json version>`; the vm-agent reports `sam-vm-agent/<version>`. */
  version: string;
  /** sha256 of the file, lowercase hex. */
  sha256: string;
  bytes: number;
  /** Where the file is. */
  file: string;
}

/** The bundle as text, built in memory. */
export async function bundleSource(): Promise<{ version: string; code: string }> {
  const pkg = JSON.parse(readFileSync(path.join(paths.root, 'package.json'), 'utf8')) as { version: string };
  const result = await build({
    absWorkingDir: paths.root,
    entryPoints: ['vm-agent/bundle/entry.ts'],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies call require(); an ES module has none, so the bundle makes one.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __samCreateRequire } from 'node:module';\nconst require = __samCreateRequire(import.meta.url);",
    },
    define: { SAM_VM_AGENT_VERSION: JSON.stringify(pkg.version) },
    legalComments: 'none',
    logLevel: 'silent',
    minifySyntax: true,
    treeShaking: true,
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no vm-agent bundle');
  return { version: pkg.version, code: file.text };
}

/** Builds kept in `<samHome>/vm-agent/` besides the newest (other checkouts may still serve them). */
const KEEP_BUILDS = 10;

/** Builds the bundle into `<samHome>/vm-agent/<sha256>.mjs` (atomically) and says what it is. */
export async function buildVmAgentBundle(samHome = paths.samHome): Promise<VmAgentBundle> {
  const { version, code } = await bundleSource();
  const sha256 = createHash('sha256').update(code).digest('hex');
  const dir = path.join(samHome, 'vm-agent');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${sha256}.mjs`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, code, { mode: 0o644 });
  renameSync(tmp, file);
  const now = new Date();
  utimesSync(file, now, now);
  const builds = readdirSync(dir)
    .filter((f) => /^[0-9a-f]{64}\.mjs$/.test(f))
    .map((f) => ({ f, at: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of builds.slice(KEEP_BUILDS)) rmSync(path.join(dir, old.f), { force: true });
  return { version, sha256, bytes: Buffer.byteLength(code), file };
}
