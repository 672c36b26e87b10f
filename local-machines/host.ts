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
 *
 * This file starts the host and keeps its machines; http.ts is its HTTP side, machine-processes.ts
 * how a machine's processes end, restart.ts what a start does about an earlier run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join } from 'node:path';
import {
  CreateMachineRequest,
  type Machine,
  type MachineStatus,
} from '../functions/_shared/common/contracts/local-machines.ts';
import { recordProcess, stopProcess } from '../supabase/local/child-process.ts';
import { paths } from '../supabase/local/paths.ts';
import { RepositoryPolicy } from '../vm-agent/git/policy.ts';
import { HostError, machineServer } from './http.ts';
import { MACHINE_FILE, type MachineMeta } from './machine-meta.ts';
import { killMachine, machinePath, stopMachine, type Running } from './machine-processes.ts';
import { localRepositoryPolicy } from './repository-policy.ts';
import { sweepEarlierRun, userAgain } from './restart.ts';
import {
  canCreateMachineUsers,
  closedToMachines,
  createMachineUser,
  removeMachineUser,
  type MachineUser,
} from './users.ts';

export { localRepositoryPolicy } from './repository-policy.ts';
export { machinePath } from './machine-processes.ts';

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
  const resumable = await sweepEarlierRun(baseDir, ownUsers, log);
  const machines = new Map<string, Running>();
  let closed = false;

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

  async function remove(id: string): Promise<void> {
    const m = machines.get(id);
    if (!m) return;
    await stopMachine(m, stopTimeoutMs, log);
    rmSync(m.dir, { recursive: true, force: true });
    machines.delete(id);
    log(`machine ${id} deleted`);
  }

  const server = machineServer({
    token: options.token,
    create,
    machines: () => [...machines.values()].map(view),
    remove,
    log,
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
    for (const m of machines.values()) killMachine(m);
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
      await Promise.all([...machines.values()].map((m) => stopMachine(m, stopTimeoutMs, log)));
      machines.clear();
    },
  };
}
