/**
 * Boots a "cloud machine" from its user data on this host, as cloud-init would, for tests (and for
 * the cloud fakes: a created server boots from the user data it was given). We are root here, with
 * no systemd and no internet, so:
 *
 * - The machine's filesystem is a private mount namespace over throwaway directories: `/opt`,
 *   `/var/lib`, `/usr/local/lib`, `/etc/systemd/system` and `/home` start empty, and the CA bundle
 *   `/etc/ssl/certs/ca-certificates.crt` can be extended with a test CA (`trustCa`: the stand-in for
 *   the public CAs that make github.com trusted on a real machine). Nothing is written to the host's
 *   own paths; the users cloud-init creates are real OS users (deleted at close).
 * - Run for real, in cloud-init's order: `write_files` (not deferred) → `users` (useradd) →
 *   deferred `write_files` → `runcmd` (one `#!/bin/sh` script as cloud-init writes it, run as root).
 * - Substituted (say so where they are used): the `packages`/`package_update` module (apt) is not
 *   run — the listed packages must already be installed here; in the SAM install script, the steps
 *   between its `# sam: node install` and `# sam: git install` markers (NodeSource apt repository,
 *   apt-get) are replaced by a check that node ≥ 20 and git are on PATH; `systemctl` is a recorder,
 *   and every unit `systemctl enable --now` names is then run by `./systemd-unit.ts` (User=,
 *   WorkingDirectory=, Environment=, ExecStart=, Restart=).
 *
 * One booted machine per user name at a time on this host (a lock file), since cloud-init's user
 * names are fixed (`sam-agent`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GIT_INSTALL_MARKERS, NODE_INSTALL_MARKERS } from '../../functions/_shared/cloud-init/generate.ts';
import { lookupUser, parseUnit, runUnit, type RunningService } from './systemd-unit.ts';
import { waitFor } from './wait.ts';

/** The directories that start empty on a booted machine (everything cloud-init writes lands there). */
const FRESH_DIRS = ['/opt', '/var/lib', '/usr/local/lib', '/etc/systemd/system', '/home'];
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface CloudConfig {
  users?: (string | { name: string; gecos?: string; shell?: string; homedir?: string; lock_passwd?: boolean })[];
  packages?: string[];
  write_files?: {
    path: string;
    content?: string;
    owner?: string;
    permissions?: string;
    defer?: boolean;
    encoding?: string;
  }[];
  runcmd?: (string | string[])[];
  [key: string]: unknown;
}

export interface BootedMachine {
  /** The parsed cloud-config. */
  config: CloudConfig;
  /** Where the machine's fresh directories live on the host (`<root>/var/lib/...`). */
  root: string;
  /** The host path of a path on the machine. */
  hostPath(machinePath: string): string;
  /** What runcmd printed (cloud-init-output.log). */
  bootLog: string;
  /** `systemctl` invocations the boot made, as argv lists. */
  systemctl: string[][];
  /** The units `systemctl enable --now` started, by name. */
  services: Map<string, RunningService>;
  close(): Promise<void>;
}

export interface BootOptions {
  /** PEM of a CA the machine trusts besides the system's. */
  trustCa?: string;
  log?: (line: string) => void;
}

/** YAML → JSON with PyYAML's safe_load (the parser cloud-init uses). */
export function parseCloudConfig(userData: string): CloudConfig {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('user data is not a #cloud-config document');
  const run = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'],
    {
      input: userData,
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`the cloud-config is not YAML: ${run.stderr}`);
  return JSON.parse(run.stdout) as CloudConfig;
}

/** cloud-init's runcmd script (`util.shellify`): strings verbatim, lists single-quoted as argv. */
export function runcmdScript(runcmd: (string | string[])[]): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return ['#!/bin/sh', ...runcmd.map((c) => (Array.isArray(c) ? c.map(quote).join(' ') : c)), ''].join('\n');
}

/** Replaces the lines between `begin` and `end` (inclusive) with `replacement`; throws when absent. */
export function substitute(script: string, [begin, end]: readonly [string, string], replacement: string[]): string {
  const lines = script.split('\n');
  const from = lines.indexOf(begin);
  const to = lines.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the script has no ${begin} … ${end} block to substitute`);
  return [...lines.slice(0, from), ...replacement, ...lines.slice(to + 1)].join('\n');
}

const SUBSTITUTED_NODE = [
  '# substituted by tests/helpers/cloud-boot.ts: no internet here, Node is already installed',
  'node -e \'if (+process.versions.node.split(".")[0] < 20) process.exit(1)\'',
];
const SUBSTITUTED_GIT = ['# substituted by tests/helpers/cloud-boot.ts: git is already installed', 'command -v git'];

function acquireLock(name: string): Promise<string> {
  const lock = path.join(tmpdir(), `sam-cloud-boot-${name}.lock`);
  return waitFor(
    `the machine lock ${lock}`,
    () => {
      try {
        const fd = openSync(lock, 'wx');
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        return lock;
      } catch {
        const holder = Number(readFileSync(lock, 'utf8') || 0);
        if (holder && !existsSync(`/proc/${holder}`)) rmSync(lock, { force: true }); // its process died
        return null;
      }
    },
    600_000,
    250,
  );
}

/** A process holding a private mount namespace with the fresh directories mounted. */
async function startNamespace(root: string, caBundle: string | null): Promise<ChildProcess> {
  const mounts = FRESH_DIRS.map((d) => `mount --bind '${root}${d}' '${d}'`);
  if (caBundle) mounts.push(`mount --bind '${caBundle}' '${CA_BUNDLE}'`);
  const holder = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `set -e; ${mounts.join('; ')}; echo ready; exec sleep 2147483647`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  holder.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the machine namespace', () => {
    if (holder.exitCode !== null) throw new Error(`unshare failed: ${out}`);
    return out.includes('ready');
  });
  return holder;
}

function inNamespace(holder: ChildProcess, argv: string[], env: Record<string, string>) {
  return spawnSync(
    'nsenter',
    [
      `--target=${holder.pid}`,
      '--mount',
      '--',
      '/usr/bin/env',
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...argv,
    ],
    {
      encoding: 'utf8',
    },
  );
}

function inNamespaceAsync(
  holder: ChildProcess,
  argv: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; output: string }> {
  const child = spawn(
    'nsenter',
    [
      `--target=${holder.pid}`,
      '--mount',
      '--',
      '/usr/bin/env',
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...argv,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

function ids(owner: string | undefined): { uid: number; gid: number } {
  const [user, group] = (owner ?? 'root:root').split(':');
  const uid = Number(spawnSync('id', ['-u', user!], { encoding: 'utf8' }).stdout.trim());
  const gidText = spawnSync('getent', ['group', group ?? user!], { encoding: 'utf8' }).stdout.split(':')[2];
  if (!Number.isInteger(uid) || !gidText) throw new Error(`write_files: unknown owner ${owner}`);
  return { uid, gid: Number(gidText) };
}

export async function bootFromUserData(userData: string, options: BootOptions = {}): Promise<BootedMachine> {
  const log = options.log ?? (() => {});
  const config = parseCloudConfig(userData);
  const userNames = (config.users ?? []).flatMap((u) => (typeof u === 'string' ? [] : [u.name]));
  const locks = await Promise.all(userNames.map(acquireLock));
  const root = mkdtempSync(path.join(tmpdir(), 'sam-boot-'));
  chmodSync(root, 0o755);
  for (const d of FRESH_DIRS) mkdirSync(`${root}${d}`, { recursive: true, mode: 0o755 });
  const hostPath = (p: string) => {
    const base = FRESH_DIRS.find((d) => p === d || p.startsWith(`${d}/`));
    if (!base) throw new Error(`${p} is outside the machine's fresh directories (${FRESH_DIRS.join(', ')})`);
    return `${root}${p}`;
  };
  let caBundle: string | null = null;
  if (options.trustCa) {
    caBundle = path.join(root, 'ca-certificates.crt');
    writeFileSync(caBundle, `${readFileSync(CA_BUNDLE, 'utf8')}\n${options.trustCa}\n`);
    chmodSync(caBundle, 0o644);
  }
  const services = new Map<string, RunningService>();
  let holder: ChildProcess | undefined;
  const close = async () => {
    await Promise.allSettled([...services.values()].map((s) => s.stop()));
    holder?.kill('SIGKILL');
    for (const name of userNames) spawnSync('userdel', [name]);
    rmSync(root, { recursive: true, force: true });
    for (const lock of locks) rmSync(lock, { force: true });
  };
  try {
    holder = await startNamespace(root, caBundle);
    const writeFiles = (deferred: boolean) => {
      for (const f of config.write_files ?? []) {
        if (Boolean(f.defer) !== deferred) continue;
        if (f.encoding && f.encoding !== 'text/plain')
          throw new Error(`write_files: encoding ${f.encoding} is not emulated`);
        const target = hostPath(f.path);
        mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
        writeFileSync(target, f.content ?? '');
        chmodSync(target, Number.parseInt(f.permissions ?? '0644', 8));
        const { uid, gid } = ids(f.owner);
        chownSync(target, uid, gid);
      }
    };
    writeFiles(false);
    for (const u of config.users ?? []) {
      if (typeof u === 'string') continue; // `default`: the image's own user
      spawnSync('userdel', [u.name]); // a fresh user, whatever an earlier run left
      const home = u.homedir ?? `/home/${u.name}`;
      const add = inNamespace(
        holder,
        [
          'useradd',
          '--create-home',
          '--home-dir',
          home,
          '--shell',
          u.shell ?? '/bin/sh',
          '--comment',
          u.gecos ?? '',
          u.name,
        ],
        { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      );
      if (add.status !== 0) throw new Error(`useradd ${u.name}: ${add.stderr}`);
      if (u.lock_passwd !== false) spawnSync('passwd', ['-l', u.name], { stdio: 'ignore' });
    }
    writeFiles(true);
    // Substituted: packages (apt) must already be here.
    for (const pkg of config.packages ?? []) {
      if (spawnSync('dpkg', ['-s', pkg], { stdio: 'ignore' }).status !== 0)
        throw new Error(`package ${pkg} is not installed on this host`);
    }
    for (const f of config.write_files ?? []) {
      const file = hostPath(f.path);
      const text = readFileSync(file, 'utf8');
      if (!text.includes(NODE_INSTALL_MARKERS[0])) continue;
      writeFileSync(
        file,
        substitute(substitute(text, NODE_INSTALL_MARKERS, SUBSTITUTED_NODE), GIT_INSTALL_MARKERS, SUBSTITUTED_GIT),
      );
    }
    const fakeBin = path.join(root, 'fake-bin');
    const calls = path.join(root, 'systemctl.calls');
    mkdirSync(fakeBin);
    writeFileSync(path.join(fakeBin, 'systemctl'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\n`, { mode: 0o755 });
    const script = hostPath('/var/lib/cloud/instance/scripts/runcmd');
    mkdirSync(path.dirname(script), { recursive: true });
    writeFileSync(script, runcmdScript(config.runcmd ?? []), { mode: 0o700 });
    // Asynchronously: the control plane it downloads from may run in this very process.
    const run = await inNamespaceAsync(holder, ['/bin/sh', '/var/lib/cloud/instance/scripts/runcmd'], {
      PATH: `${fakeBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: '/root',
      LANG: 'C.UTF-8',
    });
    const bootLog = run.output;
    appendFileSync(path.join(root, 'cloud-init-output.log'), bootLog);
    log(`runcmd exited ${run.status}:\n${bootLog}`);
    if (run.status !== 0) throw new Error(`runcmd failed (exit ${run.status}):\n${bootLog}`);
    const systemctl = existsSync(calls)
      ? readFileSync(calls, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
      : [];
    for (const call of systemctl) {
      if (call[0] !== 'enable' || !call.includes('--now')) continue;
      for (const name of call.slice(1).filter((a) => !a.startsWith('-'))) {
        const unit = parseUnit(readFileSync(hostPath(`/etc/systemd/system/${name}`), 'utf8'));
        if (unit.user) lookupUser(unit.user);
        services.set(name, runUnit(unit, { nsenterPid: holder.pid!, log }));
      }
    }
    return { config, root, hostPath, bootLog, systemctl, services, close };
  } catch (e) {
    await close();
    throw e;
  }
}
