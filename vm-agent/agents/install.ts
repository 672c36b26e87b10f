/**
 * Installs an agent's npm package on first use, at its pinned version, into a per-machine cache
 * (`<cacheDir>/<package>@<version>`), so nothing depends on an agent being on PATH by chance. One
 * install per package at a time (a lock directory), atomic (installed beside, then renamed), with
 * a time limit that kills npm's whole process group, and errors that say what failed.
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AgentPackage } from './manifest.ts';

export class AgentInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentInstallError';
  }
}

export type InstallOptions = {
  /** Where installed packages live on this machine (kept across sessions). */
  cacheDir: string;
  /** The environment npm runs with (PATH and HOME; never secrets). */
  env: Record<string, string>;
  /** Install this instead of `package@version` (a tarball path in tests). */
  spec?: string;
  timeoutMs?: number;
  /** Progress in words, for the chat. */
  onProgress?: (line: string) => void;
  /** How long another installer's lock counts before it is taken over (default 15 min). */
  staleLockMs?: number;
  /**
   * Where to install when `cacheDir` lacks the package and is not writable here (a cache shared
   * read-only with this machine: a local machine's own OS user cannot write the host's cache).
   */
  fallbackCacheDir?: string;
};

export type InstalledAgent = { bin: string; dir: string; installed: boolean; durationMs: number };

const MARKER = '.sam-installed.json';

function installedBin(dir: string, pkg: AgentPackage): string | null {
  try {
    const marker = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8')) as { version?: string };
    const bin = path.join(dir, 'node_modules', '.bin', pkg.bin);
    return marker.version === pkg.version && existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

function runNpm(args: string[], options: InstallOptions, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd, env: options.env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let tail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      tail = (tail + text).slice(-4000);
    });
    const limit = options.timeoutMs ?? 10 * 60_000;
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new AgentInstallError(`npm did not finish within ${Math.round(limit / 1000)} s`));
    }, limit);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new AgentInstallError(`npm could not start (${e.message})`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const last = tail
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !/^npm (warn|notice)/i.test(l))
        .slice(-3)
        .join(' ');
      reject(new AgentInstallError(`npm exited with ${code ?? signal}${last ? `: ${last.slice(0, 500)}` : ''}`));
    });
  });
}

async function waitForLock(lock: string, staleMs: number): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > staleMs) rmSync(lock, { recursive: true, force: true });
    } catch {
      // the other installer just finished
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether this process may install into `dir` (creating it when missing). */
function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The agent's executable, installing its package first when this machine does not have it yet. */
export async function ensureAgentInstalled(pkg: AgentPackage, options: InstallOptions): Promise<InstalledAgent> {
  const started = Date.now();
  const name = `${pkg.package.replace('/', '+')}@${pkg.version}`;
  const dir = path.join(options.cacheDir, name);
  const ready = installedBin(dir, pkg);
  if (ready) return { bin: ready, dir, installed: false, durationMs: 0 };
  if (options.fallbackCacheDir && !writable(options.cacheDir)) {
    return ensureAgentInstalled(pkg, { ...options, cacheDir: options.fallbackCacheDir, fallbackCacheDir: undefined });
  }
  mkdirSync(options.cacheDir, { recursive: true });
  const lock = `${dir}.lock`;
  await waitForLock(lock, options.staleLockMs ?? 15 * 60_000);
  try {
    const done = installedBin(dir, pkg);
    if (done) return { bin: done, dir, installed: false, durationMs: Date.now() - started };
    options.onProgress?.(`Installing ${pkg.title} (${pkg.package}@${pkg.version})…`);
    const staging = `${dir}.staging`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'sam-agent-install', private: true }));
    try {
      await runNpm(
        [
          'install',
          options.spec ?? `${pkg.package}@${pkg.version}`,
          '--no-audit',
          '--no-fund',
          '--no-update-notifier',
          '--loglevel=error',
          `--cache=${path.join(options.cacheDir, '.npm')}`,
        ],
        options,
        staging,
      );
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      const reason = e instanceof Error ? e.message : String(e);
      throw new AgentInstallError(`Installing ${pkg.title} (${pkg.package}@${pkg.version}) failed: ${reason}`);
    }
    if (!existsSync(path.join(staging, 'node_modules', '.bin', pkg.bin))) {
      rmSync(staging, { recursive: true, force: true });
      throw new AgentInstallError(
        `Installing ${pkg.title} (${pkg.package}@${pkg.version}) failed: the package has no "${pkg.bin}" command`,
      );
    }
    writeFileSync(path.join(staging, MARKER), JSON.stringify({ package: pkg.package, version: pkg.version }));
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    const durationMs = Date.now() - started;
    options.onProgress?.(`Installed ${pkg.title} in ${(durationMs / 1000).toFixed(1)} s`);
    return { bin: path.join(dir, 'node_modules', '.bin', pkg.bin), dir, installed: true, durationMs };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
