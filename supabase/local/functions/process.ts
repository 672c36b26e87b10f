import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { recordProcess, stopProcess } from '../child-process.ts';
import type { FunctionConfig } from './config.ts';

/** A function that did not come up: it exited, or did not listen in time. */
export class BootError extends Error {}

export interface ProcessOptions {
  /** The Deno binary. */
  deno: string;
  /** The working directory, and where deno.json is. */
  cwd: string;
  /** The project's deno.json (import map, nodeModulesDir). */
  denoConfig: string;
  /** The module preloaded before the function (the EdgeRuntime shim). */
  preload: string;
  /** Where the function's stdout and stderr go (appended). */
  logFile: string;
  /** The function's environment, without DENO_SERVE_ADDRESS (added per start). */
  env: () => Record<string, string>;
  /** How long a start may take before it counts as a boot error. */
  bootTimeoutMs: number;
}

/**
 * One edge function's Deno process. Started on demand, restarted on the next request after it
 * died, stopped on close or when its files change. The port is picked free for every start.
 * stop() ends every process it started, the one still booting included, in bounded time; after
 * close() it starts no more.
 */
export class FunctionProcess {
  private child: ChildProcess | null = null;
  /** Every process started and not yet exited (a booting one is not `child` yet). */
  private readonly live = new Set<ChildProcess>();
  private closed = false;
  private port = 0;
  private starting: Promise<number> | null = null;
  /** Bumped by stop(), so a start that was overtaken by a stop does not count as running. */
  private generation = 0;
  /** Milliseconds the last successful start took. */
  lastStartMs: number | null = null;

  constructor(
    readonly fn: FunctionConfig,
    private readonly options: ProcessOptions,
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The port of the running process, starting it first when needed. Rejects with BootError. */
  ensure(): Promise<number> {
    if (this.closed) return Promise.reject(new BootError(`${this.fn.name} is closed`));
    if (this.running && this.port) return Promise.resolve(this.port);
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<number> {
    const generation = this.generation;
    const port = await freePort();
    if (generation !== this.generation || this.closed) {
      throw new BootError(`${this.fn.name} was stopped while starting`);
    }
    const begun = Date.now();
    const log = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      writeSync(log, `\n--- ${new Date().toISOString()} starting ${this.fn.name} on 127.0.0.1:${port}\n`);
      // Secrets travel in the environment only; argv holds paths and flags.
      child = spawn(this.options.deno, this.args(), {
        cwd: this.options.cwd,
        env: { ...this.options.env(), DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, DENO_AUTO_SERVE: '1' },
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    recordProcess(child, `deno: the ${this.fn.name} function`);
    if (child.pid !== undefined) this.live.add(child);
    this.child = child;
    this.port = 0;
    child.once('exit', (code, signal) => {
      this.live.delete(child);
      appendFileSync(
        this.options.logFile,
        `--- ${new Date().toISOString()} ${this.fn.name} exited (${signal ?? `code ${code}`})\n`,
      );
      if (this.child === child) {
        this.child = null;
        this.port = 0;
      }
    });
    try {
      await waitForListen(child, port, this.options.bootTimeoutMs);
    } catch (e) {
      await stopProcess(child);
      throw e;
    }
    if (generation !== this.generation || this.child !== child) {
      await stopProcess(child);
      throw new BootError(`${this.fn.name} was stopped while starting`);
    }
    this.port = port;
    this.lastStartMs = Date.now() - begun;
    return port;
  }

  private args(): string[] {
    const { fn, options } = this;
    const config = fn.importMap !== null && /(^|\/)deno\.jsonc?$/.test(fn.importMap);
    return [
      'run',
      '--no-prompt',
      // The runtime never writes the repository's lock file.
      '--no-lock',
      // Network to listen and to call out, environment for its settings, and reading its own
      // files (static files); no writing, no subprocesses, no FFI. 256 MB like hosted workers.
      '--allow-net',
      '--allow-env',
      `--allow-read=${fn.dir}`,
      '--v8-flags=--max-old-space-size=256',
      '--config',
      config ? fn.importMap! : options.denoConfig,
      ...(fn.importMap && !config ? ['--import-map', fn.importMap] : []),
      '--preload',
      options.preload,
      fn.entrypoint,
    ];
  }

  /** Stops its processes (a booting one too); the next ensure() starts a fresh one. */
  async stop(): Promise<void> {
    this.generation++;
    this.child = null;
    this.port = 0;
    await Promise.all([...this.live].map((child) => stopProcess(child)));
  }

  /** Stops its processes for good: ensure() refuses from now on. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts connections; rejects when the child exits or time runs out. */
async function waitForListen(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  let exited: string | null = null;
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    exited = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  };
  child.once('exit', onExit);
  let spawnError: Error | null = null;
  child.once('error', (e) => (spawnError = e));
  try {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 10; ; delay = Math.min(delay * 1.5, 100)) {
      if (spawnError) throw new BootError(`could not start Deno: ${(spawnError as Error).message}`);
      if (exited) throw new BootError(`the function ${exited} before it listened`);
      if (await canConnect(port)) return;
      if (Date.now() > deadline) throw new BootError(`the function did not listen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  } finally {
    child.off('exit', onExit);
  }
}
