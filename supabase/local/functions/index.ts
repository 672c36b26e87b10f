import { randomUUID } from 'node:crypto';
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { paths } from '../paths.ts';
import type { ServiceFactory } from '../service.ts';
import type { Service, StackContext } from '../service.ts';
import { readFunctionSecrets, readFunctionsConfig, type FunctionConfig } from './config.ts';
import { BootError, FunctionProcess } from './process.ts';
import { forward, jsonError } from './proxy.ts';
import { verifyFunctionRequest } from './verify.ts';

export const FUNCTIONS_PREFIX = '/functions/v1';

export interface FunctionsOptions {
  /** The Supabase CLI config to read `[functions.<name>]` from (default supabase/config.toml). */
  configPath?: string;
  /** The deno.json every function runs with (default the repository's). */
  denoConfig?: string;
  /** The Deno binary (default the npm package's, node_modules/.bin/deno). */
  deno?: string;
  /** How long a function may take to start listening (default 60 s). */
  bootTimeoutMs?: number;
}

/** Parent environment variables Deno itself needs (its cache, the npm registry), and nothing else. */
const DENO_PASSTHROUGH = ['HOME', 'DENO_DIR', 'XDG_CACHE_HOME', 'NPM_CONFIG_REGISTRY', 'npm_config_registry'];

/**
 * Function secrets an operator may leave unset, passed on from the stack's environment when set:
 * the GitHub App's (functions/_shared/github/config.ts) and other cloud API roots (tests: the fakes).
 */
const OPTIONAL_SECRETS = new Set([
  'GITHUB_APP_ID',
  'GITHUB_APP_CLIENT_ID',
  'GITHUB_APP_CLIENT_SECRET',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_APP_SLUG',
  'GITHUB_WEBHOOK_SECRET',
  'GITHUB_API_URL',
  'GITHUB_WEB_URL',
  'SAM_HETZNER_API_URL',
  'SAM_SCALEWAY_API_URL',
]);

/**
 * The environment of a function, the variables hosted Supabase sets (below), with the gateway's
 * URL as SUPABASE_URL and a connection as the non-superuser `postgres` role as SUPABASE_DB_URL.
 */
export function functionEnvironment(
  ctx: StackContext,
  fn: FunctionConfig,
  secrets: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of DENO_PASSTHROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // Optional secrets (hosted: `supabase secrets set` only when the operator configures GitHub), so
  // not in config.toml's [edge_runtime.secrets], which fails a function without them.
  for (const name of OPTIONAL_SECRETS) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return {
    ...env,
    ...secrets,
    DENO_NO_UPDATE_CHECK: '1',
    NO_COLOR: '1',
    SUPABASE_URL: ctx.url,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: ctx.keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: ctx.keys.secretKey }),
    SUPABASE_ANON_KEY: ctx.keys.anonJwt,
    SUPABASE_SERVICE_ROLE_KEY: ctx.keys.serviceRoleJwt,
    SUPABASE_JWKS: JSON.stringify({ keys: [ctx.keys.publicJwk] }),
    SUPABASE_DB_URL: ctx.databaseUrl('postgres'),
    SUPABASE_FUNCTION_SLUG: fn.name,
    SB_REGION: 'local',
    SB_EXECUTION_ID: randomUUID(),
    DENO_DEPLOYMENT_ID: `local_${fn.name}_0`,
  };
}

/** A functions service reading `options.configPath`; `functionsService` is the default one. */
export function functionsFactory(options: FunctionsOptions = {}): ServiceFactory {
  return (ctx) => startFunctions(ctx, options);
}

export const functionsService: ServiceFactory = functionsFactory();

/**
 * The functions service, with an outage switch for tests: `suspend()` stops every function (open
 * requests are cut) and answers 503 until `resume()`, the way a platform incident looks to a caller.
 */
export interface FunctionsService extends Service {
  suspend(): Promise<void>;
  resume(): void;
}

export function isFunctionsService(service: Service): service is FunctionsService {
  return service.name === 'functions' && 'suspend' in service;
}

/**
 * Edge functions under `/functions/v1/<name>/…`: one Deno process per function (started on its
 * first request), the `verify_jwt` check, and streaming forwarding as `/<name>/…` (name kept, as on hosted).
 */
async function startFunctions(ctx: StackContext, options: FunctionsOptions): Promise<FunctionsService> {
  const configPath = options.configPath ?? paths.configToml;
  const functions = new Map(
    readFunctionsConfig(configPath)
      .filter((fn) => fn.enabled)
      .map((fn) => [fn.name, fn] as const),
  );
  const logDir = join(ctx.runtimeDir, 'functions');
  mkdirSync(logDir, { recursive: true });
  const processes = new Map<string, FunctionProcess>();
  for (const fn of functions.values()) {
    processes.set(
      fn.name,
      new FunctionProcess(fn, {
        deno: options.deno ?? join(paths.root, 'node_modules', '.bin', 'deno'),
        cwd: paths.root,
        denoConfig: options.denoConfig ?? join(paths.root, 'deno.json'),
        preload: join(paths.root, 'supabase', 'local', 'functions', 'edge-runtime.js'),
        logFile: join(logDir, `${fn.name}.log`),
        env: () => functionEnvironment(ctx, fn, readFunctionSecrets(configPath)),
        bootTimeoutMs: options.bootTimeoutMs ?? 60_000,
      }),
    );
  }
  // A fresh loopback connection per request: a kept-alive socket that the function closes just as
  // a request is written to it would fail that request for nothing.
  const agent = new Agent({ keepAlive: false });
  const watchers = ctx.options.watchFunctions ? watchFunctions(processes) : [];
  let suspended = false;

  return {
    name: 'functions',
    prefix: FUNCTIONS_PREFIX,
    async handle(req: IncomingMessage, res: ServerResponse) {
      const rest = (req.url ?? '/').slice(FUNCTIONS_PREFIX.length);
      const name = /^\/([^/?#]+)/.exec(rest)?.[1];
      const proc = name === undefined ? undefined : processes.get(decodeURIComponent(name));
      if (suspended) {
        jsonError(res, 503, { code: 'FUNCTIONS_UNAVAILABLE', message: 'Edge functions are unavailable' });
        return;
      }
      if (!proc) {
        jsonError(res, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' });
        return;
      }
      if (proc.fn.verifyJwt && req.method !== 'OPTIONS') {
        const verdict = await verifyFunctionRequest(req.headers, ctx.keys);
        if (!verdict.ok) {
          jsonError(res, 401, verdict.body);
          return;
        }
      }
      const send = async (retry: boolean): Promise<void> => {
        let port: number;
        try {
          port = await proc.ensure();
        } catch (e) {
          if (!(e instanceof BootError)) throw e;
          jsonError(res, 503, { code: 'BOOT_ERROR', message: 'Function failed to start (please check logs)' });
          return;
        }
        // A process that died an instant ago refuses the connection: start it again, once.
        const onRefused = retry ? () => void proc.stop().then(() => send(false)) : undefined;
        forward(req, res, port, rest, agent, onRefused);
      };
      await send(true);
    },
    async health() {
      return !suspended;
    },
    async suspend() {
      suspended = true;
      await Promise.all([...processes.values()].map((p) => p.stop()));
    },
    resume() {
      suspended = false;
    },
    async close() {
      for (const w of watchers) w.close();
      agent.destroy();
      await Promise.all([...processes.values()].map((p) => p.close()));
    },
  };
}

/** Restarts a function when a file in its folder, or in functions/_shared, changes. */
function watchFunctions(processes: Map<string, FunctionProcess>): FSWatcher[] {
  const watchers: FSWatcher[] = [];
  const timers = new Map<FunctionProcess, NodeJS.Timeout>();
  const restart = (targets: FunctionProcess[]) => {
    for (const p of targets) {
      clearTimeout(timers.get(p));
      timers.set(
        p,
        setTimeout(() => {
          timers.delete(p);
          // Stopped now, started again by its next request.
          void p.stop();
        }, 100),
      );
    }
  };
  const add = (dir: string, targets: FunctionProcess[]) => {
    try {
      const w = watch(dir, { recursive: true }, () => restart(targets));
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // A folder that does not exist (yet) has nothing to watch.
    }
  };
  const all = [...processes.values()];
  const byDir = new Map<string, FunctionProcess[]>();
  for (const p of all) byDir.set(p.fn.dir, [...(byDir.get(p.fn.dir) ?? []), p]);
  for (const [dir, targets] of byDir) add(dir, targets);
  add(join(paths.functions, '_shared'), all);
  return watchers;
}
