/**
 * Builds the web chat for a benchmark: the working tree's (`vite build web`, as the tests do), or
 * the tree of a git revision (`--rev <rev>`: `git archive` of web/ and functions/_shared into a
 * temporary folder sharing this checkout's node_modules), so a change can be measured before and
 * after in one run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { paths } from '../supabase/local/paths.ts';
import { buildWeb } from '../web/serve.ts';

export interface BuiltWeb {
  dir: string;
  /** What was built: `working tree` or the revision's short sha. */
  label: string;
  remove(): void;
}

export async function buildWebAt(rev?: string): Promise<BuiltWeb> {
  const outDir = mkdtempSync(join(tmpdir(), 'sam-bench-web-'));
  if (!rev) {
    const built = await buildWeb(outDir);
    if (built.code !== 0) throw new Error(`vite build failed:\n${built.output}`);
    return { dir: outDir, label: 'working tree', remove: () => rmSync(outDir, { recursive: true, force: true }) };
  }
  const sha = execFileSync('git', ['-C', paths.root, 'rev-parse', '--short', rev], { encoding: 'utf8' }).trim();
  const tree = mkdtempSync(join(tmpdir(), 'sam-bench-tree-'));
  const archive = spawnSync('sh', [
    '-c',
    `git -C "$0" archive "$1" web functions/_shared | tar -x -C "$2"`,
    paths.root,
    sha,
    tree,
  ]);
  if (archive.status !== 0) throw new Error(`git archive ${sha} failed: ${archive.stderr.toString()}`);
  symlinkSync(join(paths.root, 'node_modules'), join(tree, 'node_modules'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITE_')));
  const vite = join(paths.root, 'node_modules', '.bin', 'vite');
  const built = spawnSync(vite, ['build', 'web', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], {
    cwd: tree,
    env,
    encoding: 'utf8',
  });
  rmSync(tree, { recursive: true, force: true });
  if (built.status !== 0) throw new Error(`vite build of ${sha} failed:\n${built.stdout}${built.stderr}`);
  return { dir: outDir, label: sha, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

/** `--name value` from argv, or undefined. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function hostLine(): string {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${load} (1/5/15 min) at the end of the run`;
}
