/**
 * The local machine host: "the local cloud" behind the orchestrator's `local` provider. A small
 * HTTP server on 127.0.0.1 that creates a "machine" as a directory plus a vm-agent process:
 *
 *   POST   /machines        → <baseDir>/<id>/bootstrap.json (0600: control plane URL, one-time
 *                             bootstrap token, instance id, agent env, the repositories it may
 *                             clone), then `node vm-agent/bin.mjs <machineDir>` with cwd =
 *                             machineDir, output appended to <machineDir>/vm-agent.log
 *   GET    /machines?label= → the machines carrying every label, with status and pid
 *   DELETE /machines/:id    → SIGTERM, SIGKILL after 10 s, directory removed; 204 (also when gone)
 *
 * The contract is `functions/_shared/common/contracts/local-machines.ts`. Every request needs
 * `Authorization: Bearer <token>`. The bootstrap token travels only in the file: never in argv,
 * never in the process environment.
 *
 * A machine is not the host: its environment is PATH (node's directory, /usr/bin, /bin) and HOME —
 * its own `<machineDir>/home` — and nothing of the host's (no keys, no ~/.ssh, no git config).
 * Which repositories it may clone is the host's setting (`SAM_LOCAL_REPO_ROOTS`, see
 * {@link localRepositoryPolicy}), passed in bootstrap.json `git` and enforced by the machine before
 * it clones (vm-agent/git/policy.ts).
 *
 * A host running as root gives each machine its own unprivileged OS user (users.ts): the machine's
 * directory and HOME belong to it (0700), its vm-agent and agents run as it, and deleting the
 * machine deletes the user. Not root, machines run as the host's own user (said once in the log).
 *
 * A machine outlives a restart of the host (a stack restart): closing the host stops each machine's
 * vm-agent with SIGTERM (it suspends its workspaces) and keeps its directory — outbox, dead letters,
 * the identity and workspace state the vm-agent kept — and a host started again over the same
 * `baseDir` starts the vm-agent of every machine that had registered (it holds `state/node.json`)
 * again, which resumes its work. Directories of machines that never registered are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import {
  CreateMachineRequest,
  parseLabelQuery,
  type Labels,
  type Machine,
  type MachineStatus,
} from '../functions/_shared/common/contracts/local-machines.ts';
import { bearerToken, sameSecret } from '../functions/_shared/common/bearer.ts';
import { recordProcess, stopProcess } from '../supabase/local/child-process.ts';
import { paths } from '../supabase/local/paths.ts';
import { GIT_PROTOCOLS, RepositoryPolicy, type GitProtocol } from '../vm-agent/git/policy.ts';
import { processesWithEnv } from './processes.ts';
import {
  canCreateMachineUsers,
  closedToMachines,
  createMachineUser,
  machineUsers,
  processesOfUser,
  removeMachineUser,
  type MachineUser,
} from './users.ts';

export interface MachineHostOptions {
  /** Where machine directories are made (`sam start`: .sam/machines). Created 0700. */
  baseDir: string;
  /** The bearer token every request must carry. */
  token: string;
  /** Default 0: a free port. */
  port?: number;
  /** What a machine runs, its directory appended (default `node <repo>/vm-agent/bin.mjs`). */
  command?: string[];
  /** Host-configured environment for the agent, written into bootstrap.json (e.g. SAM_DEMO_AGENT_DELAY_MS). */
  agentEnv?: Record<string, string>;
  /** Which repositories machines may clone (default {@link localRepositoryPolicy} of the host's environment). */
  repositories?: RepositoryPolicy;
  /** How long a deleted machine gets to stop after SIGTERM before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** Where the host says what it does (never tokens). */
  log?: (line: string) => void;
  /**
   * One unprivileged OS user per machine (default: when the host runs as root, which it needs to
   * create them). `false` runs machines as the host's own user.
   */
  machineUsers?: boolean;
}

export interface MachineHost {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly baseDir: string;
  /** The machines it runs now. */
  machines(): Machine[];
  /**
   * Stops every machine (SIGTERM, then SIGKILL) and the server. Directories stay: a host started
   * again over the same `baseDir` starts their registered machines again.
   */
  close(): Promise<void>;
}

interface Running {
  id: string;
  name: string;
  labels: Labels;
  dir: string;
  /** Its own OS user, or null when it runs as the host's. */
  user: MachineUser | null;
  child: ChildProcess;
  /** `running` → `stopping` (deleted) → `exited`. */
  exit: { status: MachineStatus; code: number | null };
  createdAt: string;
  exited: Promise<void>;
  stopping?: Promise<void>;
}

const ID = /^lm-[0-9a-f]{12}$/;
/** What the host keeps of a machine (name, labels) for a restart: `<machineDir>/machine.json`. */
const MACHINE_FILE = 'machine.json';
interface MachineMeta {
  name: string;
  labels: Labels;
  createdAt: string;
}

function readMeta(dir: string): MachineMeta | null {
  try {
    const meta = JSON.parse(readFileSync(join(dir, MACHINE_FILE), 'utf8')) as MachineMeta;
    return typeof meta.name === 'string' && meta.labels && typeof meta.createdAt === 'string' ? meta : null;
  } catch {
    return null;
  }
}
const MAX_BODY = 64 * 1024;

class HostError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HostError(413, 'payload_too_large', 'The request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function signal(pid: number | undefined, sig: NodeJS.Signals, group = false): void {
  if (pid === undefined) return;
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // already gone
  }
}

/**
 * What local machines may clone, from the host's environment: `SAM_LOCAL_REPO_ROOTS` (absolute
 * directories separated by `:`; default the home of the user running the host and the system temp
 * dir) for local repositories, and `SAM_LOCAL_REPO_PROTOCOLS` (comma-separated; default
 * `https,file`; add `ssh` to allow it — machines have no keys of the host's).
 */
export function localRepositoryPolicy(env: NodeJS.ProcessEnv = process.env): RepositoryPolicy {
  const roots = (env.SAM_LOCAL_REPO_ROOTS ?? '')
    .split(delimiter)
    .map((r) => r.trim())
    .filter(Boolean);
  const bad = roots.filter((r) => !isAbsolute(r));
  if (bad.length > 0) throw new Error(`SAM_LOCAL_REPO_ROOTS: not absolute directories: ${bad.join(', ')}`);
  const protocols = (env.SAM_LOCAL_REPO_PROTOCOLS ?? 'https,file')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = protocols.filter((p) => !(GIT_PROTOCOLS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new Error(`SAM_LOCAL_REPO_PROTOCOLS: unknown ${unknown.join(', ')} (known: ${GIT_PROTOCOLS.join(', ')})`);
  }
  return RepositoryPolicy.parse({
    protocols: protocols as GitProtocol[],
    localRoots: roots.length > 0 ? roots : [homedir(), tmpdir()],
  });
}

/** PATH for machines: node's own directory (node, npm, globally installed agents), /usr/bin, /bin. */
export function machinePath(): string {
  return [...new Set([dirname(process.execPath), '/usr/bin', '/bin'])].join(delimiter);
}

/** Waits (at most 5 s) until nothing runs as `uid`: userdel refuses a user with processes. */
async function waitForNoProcesses(uid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (processesOfUser(uid).length > 0 && Date.now() < deadline) {
    for (const pid of processesOfUser(uid)) signal(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Gives a machine kept across a host restart an OS user again, owning its directory as before. */
async function userAgain(id: string, dir: string, home: string): Promise<MachineUser> {
  const user = await createMachineUser(id, home);
  const own = (path: string) => {
    lchownSync(path, user.uid, user.gid);
    if (!statSync(path, { throwIfNoEntry: false })?.isDirectory() || lstatSync(path).isSymbolicLink()) return;
    for (const entry of readdirSync(path)) own(join(path, entry));
  };
  own(dir);
  return user;
}

export async function startMachineHost(options: MachineHostOptions): Promise<MachineHost> {
  const baseDir = options.baseDir;
  const command = options.command ?? [process.execPath, join(paths.root, 'vm-agent', 'bin.mjs')];
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const log = options.log ?? (() => {});
  const repositories = RepositoryPolicy.parse(options.repositories ?? localRepositoryPolicy());
  if (command.length === 0) throw new Error('local machines: the command is empty');

  const ownUsers = options.machineUsers ?? canCreateMachineUsers();
  if (ownUsers && !canCreateMachineUsers()) throw new Error('local machines: only root can give machines users');
  mkdirSync(baseDir, { recursive: true, mode: 0o700 });
  if (ownUsers) {
    // Machine users pass through (never list) the base directory into their own 0700 directory;
    // the machine's code and node must be readable by them.
    chmodSync(baseDir, 0o711);
    for (const needed of [baseDir, ...command.filter((c) => isAbsolute(c))]) {
      const closed = closedToMachines(needed);
      if (closed) {
        throw new Error(
          `local machines run as their own users, but ${closed} is closed to other users (needed for ${needed})`,
        );
      }
    }
  } else {
    log("machines run as the host's own OS user (not root: no user per machine); they could read its files");
  }
  // Machine users of an earlier run go, with anything still running as them, when their directory
  // is gone or is one of ours: a machine started again below gets its user anew (userAgain).
  if (ownUsers) {
    for (const u of machineUsers()) {
      if (!u.home.startsWith(baseDir + '/') && existsSync(u.home)) continue;
      for (const pid of processesOfUser(u.uid)) signal(pid, 'SIGKILL');
      await removeMachineUser(u.name).catch((e: Error) => log(e.message));
    }
  }
  const machines = new Map<string, Running>();
  let closed = false;
  // Anything a machine of an earlier run left running (the host died without close()) ends. A
  // machine that had registered starts again and resumes; the rest of the directories go (only
  // directories this host made).
  const resumable: { id: string; meta: MachineMeta }[] = [];
  for (const entry of readdirSync(baseDir)) {
    if (!ID.test(entry)) continue;
    for (const pid of processesWithEnv('HOME', join(baseDir, entry, 'home'))) signal(pid, 'SIGKILL');
    const meta = readMeta(join(baseDir, entry));
    if (meta && existsSync(join(baseDir, entry, 'state', 'node.json'))) resumable.push({ id: entry, meta });
    else rmSync(join(baseDir, entry), { recursive: true, force: true });
  }

  const view = (m: Running): Machine => ({
    id: m.id,
    name: m.name,
    labels: m.labels,
    status: m.exit.status,
    pid: m.child.pid ?? null,
    exitCode: m.exit.code,
    ipAddress: '127.0.0.1',
    createdAt: m.createdAt,
  });

  async function create(body: unknown): Promise<Machine> {
    const req = CreateMachineRequest.parse(body);
    const id = `lm-${randomBytes(6).toString('hex')}`;
    const dir = join(baseDir, id);
    mkdirSync(dir, { mode: 0o700 });
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    let user: MachineUser | null = null;
    if (ownUsers) {
      try {
        user = await createMachineUser(id, home);
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        throw new HostError(500, 'user_failed', `The machine's OS user could not be created: ${(e as Error).message}`);
      }
      // Local repositories belong to the host's user; the repository policy (bootstrap.json `git`)
      // is what limits which ones a machine opens, so its git trusts repositories of other owners.
      writeFileSync(join(home, '.gitconfig'), '[safe]\n\tdirectory = *\n', { mode: 0o644 });
      for (const p of [dir, home, join(home, '.gitconfig')]) chownSync(p, user.uid, user.gid);
    }
    const bootstrap = {
      controlPlaneUrl: req.userData.controlPlaneUrl,
      bootstrapToken: req.userData.bootstrapToken,
      providerInstanceId: id,
      agentEnv: { ...(options.agentEnv ?? {}) },
      git: repositories,
    };
    writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(bootstrap, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    // The vm-agent reads it and drops the used bootstrap token from it.
    if (user) chownSync(join(dir, 'bootstrap.json'), user.uid, user.gid);
    const meta: MachineMeta = { name: req.name, labels: req.labels, createdAt: new Date().toISOString() };
    writeFileSync(join(dir, MACHINE_FILE), JSON.stringify(meta) + '\n', { mode: 0o600, flag: 'wx' });
    return launch(id, meta, true, user);
  }

  /** Starts (or, after a host restart, starts again) the vm-agent of machine `id`. */
  async function launch(id: string, meta: MachineMeta, fresh: boolean, made: MachineUser | null): Promise<Machine> {
    const dir = join(baseDir, id);
    const home = join(dir, 'home');
    // A machine started again gets its user again (stopping the host removed it) and its files.
    const user = made ?? (ownUsers ? await userAgain(id, dir, home) : null);
    // The log stays the host's: the machine writes it through the descriptor it is given.
    const out = openSync(join(dir, 'vm-agent.log'), 'a', 0o600);
    let child: ChildProcess;
    try {
      // Its own process group, so deleting the machine can take everything it started.
      child = spawn(command[0]!, [...command.slice(1), dir], {
        cwd: dir,
        env: { PATH: machinePath(), HOME: home },
        stdio: ['ignore', out, out],
        detached: true,
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
    } finally {
      closeSync(out);
    }
    recordProcess(child, `machine ${id} (${command.map((c) => c.split('/').slice(-2).join('/')).join(' ')})`, true);
    const exit = { status: 'running' as MachineStatus, code: null as number | null };
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        exit.status = 'exited';
        exit.code = code ?? (sig ? 128 : null);
        log(`machine ${id} exited (${sig ?? `code ${code}`})`);
        resolve();
      });
    });
    const started = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (e) => resolve(e));
    });
    child.on('error', (e) => log(`machine ${id}: ${e.message}`));
    if (started) {
      if (fresh) {
        if (user) await removeMachineUser(user.name).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
      throw new HostError(500, 'spawn_failed', `The machine's process could not start: ${started.message}`);
    }
    if (closed) {
      // The host closed while this machine started: it must not outlive the host.
      await stopProcess(child, { graceMs: stopTimeoutMs, group: true }).catch(() => {});
      throw new HostError(503, 'host_closed', 'The machine host is shutting down');
    }
    const machine: Running = {
      id,
      name: meta.name,
      labels: meta.labels,
      dir,
      user,
      child,
      exit,
      createdAt: meta.createdAt,
      exited,
    };
    machines.set(id, machine);
    log(
      `machine ${id} (${meta.name}) ${fresh ? 'started' : 'started again'}, pid ${child.pid}${user ? `, user ${user.name}` : ''}, labels ${JSON.stringify(meta.labels)}`,
    );
    return view(machine);
  }

  function stop(m: Running): Promise<void> {
    m.stopping ??= (async () => {
      if (m.exit.status === 'running') m.exit.status = 'stopping';
      // SIGTERM, SIGKILL to its group after stopTimeoutMs; whatever it left running in its group
      // goes with it, as with a deleted VM — and so do processes in groups of their own (agents
      // lead theirs) that still carry its HOME.
      await stopProcess(m.child, { graceMs: stopTimeoutMs, group: true }).catch((e: Error) =>
        log(`machine ${m.id}: ${e.message}`),
      );
      for (const pid of processesWithEnv('HOME', join(m.dir, 'home'))) signal(pid, 'SIGKILL');
      if (m.user) {
        // Whatever still runs as the machine's user, wherever it went, ends; then the user goes.
        for (const pid of processesOfUser(m.user.uid)) signal(pid, 'SIGKILL');
        await waitForNoProcesses(m.user.uid);
        await removeMachineUser(m.user.name).catch((e: Error) => log(`machine ${m.id}: ${e.message}`));
      }
    })();
    return m.stopping;
  }

  async function remove(id: string): Promise<void> {
    const m = machines.get(id);
    if (!m) return;
    await stop(m);
    rmSync(m.dir, { recursive: true, force: true });
    machines.delete(id);
    log(`machine ${id} deleted`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const given = bearerToken(req.headers.authorization);
    if (given === undefined || !(await sameSecret(given, options.token))) {
      throw new HostError(401, 'unauthorized', 'A valid bearer token is required');
    }
    const url = new URL(req.url ?? '/', 'http://local-machines');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'machines' || parts.length > 2) throw new HostError(404, 'not_found', `No route ${url.pathname}`);

    if (parts.length === 1 && req.method === 'POST') {
      const text = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new HostError(400, 'invalid_json', 'The request body is not valid JSON');
      }
      send(res, 201, await create(json));
      return;
    }
    if (parts.length === 1 && req.method === 'GET') {
      let labels: Labels;
      try {
        labels = parseLabelQuery(url.searchParams.getAll('label'));
      } catch (e) {
        throw new HostError(400, 'invalid_params', e instanceof z.ZodError ? z.prettifyError(e) : (e as Error).message);
      }
      const list = [...machines.values()]
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))
        .map(view);
      send(res, 200, { machines: list });
      return;
    }
    if (parts.length === 2 && req.method === 'DELETE') {
      const id = decodeURIComponent(parts[1]!);
      if (!ID.test(id)) throw new HostError(400, 'invalid_params', 'Not a machine id');
      await remove(id);
      send(res, 204);
      return;
    }
    throw new HostError(404, 'not_found', `No route ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof z.ZodError) {
        send(res, 400, { error: { code: 'invalid_params', message: z.prettifyError(e) } });
      } else if (e instanceof HostError) {
        send(
          res,
          e.status,
          { error: { code: e.code, message: e.message } },
          e.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
        );
      } else {
        log(`request failed: ${req.method} ${req.url?.split('?')[0]}: ${(e as Error).message}`);
        send(res, 500, { error: { code: 'internal', message: 'Internal error' } });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  for (const { id, meta } of resumable) {
    await launch(id, meta, false, null).catch((e: Error) => log(`machine ${id} could not start again: ${e.message}`));
  }

  // Last resort when the host process exits without close(): no machine outlives it.
  const onExit = () => {
    for (const m of machines.values()) {
      signal(m.child.pid, 'SIGKILL', true);
      for (const pid of processesWithEnv('HOME', join(m.dir, 'home'))) signal(pid, 'SIGKILL');
      // Its user stays until the next host start removes it (its directory is gone or is ours).
      if (m.user) for (const pid of processesOfUser(m.user.uid)) signal(pid, 'SIGKILL');
    }
  };
  process.on('exit', onExit);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    baseDir,
    machines: () => [...machines.values()].map(view),
    async close() {
      closed = true;
      process.off('exit', onExit);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all([...machines.values()].map((m) => stop(m)));
      machines.clear();
    },
  };
}
