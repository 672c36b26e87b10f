/**
 * A systemd service unit read and run the way systemd would run it, for machines booted in tests
 * (there is no systemd here): `[Service]` User/Group, WorkingDirectory, Environment, ExecStart,
 * Restart and RestartSec. The process gets systemd's environment for a service with `User=`
 * (PATH, HOME, USER, LOGNAME, SHELL, then Environment=), runs as that user's uid/gid with no
 * supplementary groups, in the working directory — inside a mount namespace when `nsenterPid` is
 * given. Restart=always (and on-failure after a failure) is honoured with RestartSec. Hardening
 * options (NoNewPrivileges, ProtectSystem, …) are not emulated.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface ServiceUnit {
  user: string | null;
  group: string | null;
  workingDirectory: string | null;
  environment: Record<string, string>;
  execStart: string[];
  restart: string;
  restartSec: number;
  raw: Record<string, Record<string, string[]>>;
}

/** systemd's word splitting for ExecStart/Environment: whitespace, with "double" and 'single' quotes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  }
  return words;
}

export function parseUnit(text: string): ServiceUnit {
  const raw: ServiceUnit['raw'] = {};
  let section = '';
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(t);
    if (head) {
      section = head[1]!;
      raw[section] ??= {};
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0 || !section) throw new Error(`unit: cannot read line ${JSON.stringify(line)}`);
    const key = t.slice(0, eq).trim();
    ((raw[section]![key] ??= []) as string[]).push(t.slice(eq + 1).trim());
  }
  const service = raw.Service ?? {};
  const one = (key: string) => service[key]?.at(-1) ?? null;
  const environment: Record<string, string> = {};
  for (const line of service.Environment ?? []) {
    for (const word of splitWords(line)) {
      const i = word.indexOf('=');
      if (i > 0) environment[word.slice(0, i)] = word.slice(i + 1);
    }
  }
  const exec = one('ExecStart');
  if (!exec) throw new Error('unit: no ExecStart');
  return {
    user: one('User'),
    group: one('Group'),
    workingDirectory: one('WorkingDirectory'),
    environment,
    execStart: splitWords(exec),
    restart: one('Restart') ?? 'no',
    restartSec: Number.parseFloat(one('RestartSec') ?? '0.1'),
    raw,
  };
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export function lookupUser(name: string): OsUser {
  const entry = spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.trim();
  const f = entry.split(':');
  if (f.length < 7) throw new Error(`no OS user ${name}`);
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
}

function lookupGroup(name: string): number {
  const entry = spawnSync('getent', ['group', name], { encoding: 'utf8' }).stdout.trim();
  const gid = Number(entry.split(':')[2]);
  if (!entry || !Number.isInteger(gid)) throw new Error(`no OS group ${name}`);
  return gid;
}

export interface RunningService {
  readonly unit: ServiceUnit;
  /** The current main process id (changes on every restart). */
  pid(): number | undefined;
  /** How many times it was started (1 + restarts). */
  readonly starts: number;
  /** Everything its processes wrote to stdout and stderr (the journal). */
  output(): string;
  /** Sends a signal to the main process, as `systemctl kill` would. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once the current process exited. */
  exited(): Promise<number | null>;
  /** Stops it for good (SIGTERM, SIGKILL after `graceMs`), no restart. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `unit` like `systemctl start`, and keeps restarting it as its Restart= says. */
export function runUnit(
  unit: ServiceUnit,
  options: { nsenterPid?: number; log?: (line: string) => void } = {},
): RunningService {
  const user = unit.user ? lookupUser(unit.user) : null;
  const gid = unit.group ? lookupGroup(unit.group) : (user?.gid ?? 0);
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
    ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell } : {}),
    ...unit.environment,
  };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const chdir = unit.workingDirectory ? ['--chdir', unit.workingDirectory] : [];
  const inner = ['/usr/bin/env', '-i', ...chdir, ...envArgs, ...unit.execStart];
  const [command, ...args] = options.nsenterPid
    ? [
        'nsenter',
        `--target=${options.nsenterPid}`,
        '--mount',
        `--setuid=${user?.uid ?? 0}`,
        `--setgid=${gid}`,
        '--',
        ...inner,
      ]
    : inner;
  let child: ChildProcess | undefined;
  let starts = 0;
  let stopping = false;
  let journal = '';
  let exit: Promise<number | null> = Promise.resolve(null);
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    starts++;
    options.log?.(`systemd: starting ${unit.execStart.join(' ')} (start ${starts})`);
    const spawned = spawn(command!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Without a mount namespace, the user switch is the spawn's own.
      ...(options.nsenterPid ? {} : { uid: user?.uid, gid }),
    });
    child = spawned;
    spawned.stdout!.on('data', (d: Buffer) => (journal += d.toString()));
    spawned.stderr!.on('data', (d: Buffer) => (journal += d.toString()));
    exit = new Promise((resolve) => {
      spawned.on('exit', (code, signal) => {
        options.log?.(`systemd: process exited (${signal ?? code})`);
        resolve(code);
        const failed = code !== 0;
        if (stopping || !(unit.restart === 'always' || (unit.restart === 'on-failure' && failed))) return;
        timer = setTimeout(start, unit.restartSec * 1000);
      });
    });
  };
  start();
  return {
    unit,
    pid: () => child?.pid,
    get starts() {
      return starts;
    },
    output: () => journal,
    kill: (signal) => child?.kill(signal),
    exited: () => exit,
    async stop(graceMs = 15_000) {
      stopping = true;
      clearTimeout(timer);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const done = exit;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(killer);
    },
  };
}
