/**
 * One unprivileged OS user per local machine, when the host runs as root: the machine's vm-agent,
 * git, its agents and everything they start run as `sam-<machine id>` (primary group
 * `sam-machines`), with HOME `<machineDir>/home`. Machine directories are 0700 and owned by their
 * machine's user, so one machine cannot read another's, and the stack's own files (secrets,
 * PostgreSQL's data, the host's HOME) are closed to every machine. On a cloud VM cloud-init
 * creates the one user the vm-agent runs as; here the host creates and deletes them with
 * `useradd`/`userdel` (Debian's `passwd` package).
 *
 * Not root (a developer laptop): machines run as the host's own user, as before; the host says so.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The primary group of every machine user (owns nothing of the stack's). */
export const MACHINE_GROUP = 'sam-machines';
/** Machine users are `sam-lm-<12 hex>`: `sam-` and the machine id. */
const USER_PATTERN = /^sam-lm-[0-9a-f]{12}$/;

export type MachineUser = { name: string; uid: number; gid: number };

/** Whether the host can give each machine its own OS user (it runs as root). */
export function canCreateMachineUsers(): boolean {
  return process.getuid?.() === 0;
}

export function machineUserName(machineId: string): string {
  return `sam-${machineId}`;
}

/** `useradd`/`groupadd`/`userdel` refuse while another one holds /etc/passwd's lock: try again. */
async function withLockRetry(command: string, args: string[], ok: (stderr: string) => boolean = () => false) {
  for (let attempt = 0; ; attempt++) {
    try {
      await run(command, args, { encoding: 'utf8' });
      return;
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message);
      if (ok(stderr)) return;
      if (attempt < 40 && /lock|try again/i.test(stderr)) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
        continue;
      }
      throw new Error(`${command} ${args.at(-1)} failed: ${stderr.trim()}`);
    }
  }
}

/** A passwd or group entry's numeric id, or null. */
function lookup(file: '/etc/passwd' | '/etc/group', name: string): number | null {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [entry, , id] = line.split(':');
    if (entry === name) return Number(id);
  }
  return null;
}

/** The machines' group id, creating the group on first use. */
export async function ensureMachineGroup(): Promise<number> {
  const existing = lookup('/etc/group', MACHINE_GROUP);
  if (existing !== null) return existing;
  await withLockRetry('groupadd', ['--system', MACHINE_GROUP], (e) => /already exists/.test(e));
  const gid = lookup('/etc/group', MACHINE_GROUP);
  if (gid === null) throw new Error(`groupadd ${MACHINE_GROUP} left no group`);
  return gid;
}

/** {@link ensureMachineGroup} for synchronous callers (test fixtures made at import). */
function ensureMachineGroupSync(): number {
  for (let attempt = 0; attempt < 40; attempt++) {
    const gid = lookup('/etc/group', MACHINE_GROUP);
    if (gid !== null) return gid;
    spawnSync('groupadd', ['--system', MACHINE_GROUP]);
    if (lookup('/etc/group', MACHINE_GROUP) === null) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  throw new Error(`groupadd ${MACHINE_GROUP} failed`);
}

/** Creates the machine's user (no login shell, HOME `home`, group {@link MACHINE_GROUP}). */
export async function createMachineUser(machineId: string, home: string): Promise<MachineUser> {
  const gid = await ensureMachineGroup();
  const name = machineUserName(machineId);
  await withLockRetry('useradd', [
    '--system',
    '--no-create-home',
    '--no-user-group',
    '--gid',
    MACHINE_GROUP,
    '--home-dir',
    home,
    '--shell',
    '/usr/sbin/nologin',
    '--comment',
    `SAM local machine ${machineId}`,
    name,
  ]);
  const uid = lookup('/etc/passwd', name);
  if (uid === null) throw new Error(`useradd ${name} left no user`);
  return { name, uid, gid };
}

/** Deletes a machine's user (its processes must be gone); a user that is already gone is fine. */
export async function removeMachineUser(name: string): Promise<void> {
  if (!USER_PATTERN.test(name)) throw new Error(`not a machine user: ${name}`);
  await withLockRetry('userdel', [name], (e) => /does not exist/.test(e));
}

/** Every machine user on this host, with its HOME. */
export function machineUsers(): { name: string; uid: number; home: string }[] {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => USER_PATTERN.test(f[0] ?? ''))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), home: f[5] ?? '' }));
}

/** Live process ids running as `uid` (real uid; Linux /proc). */
export function processesOfUser(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (line && Number(line[1]) === uid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * The first directory on the way to `path` (or `path` itself) that a machine user — neither its
 * owner nor, unless `machineGid` is given, in its group — cannot pass (`x` on directories, `r`
 * on the file); null when the way is open.
 */
export function closedToMachines(path: string, machineGid?: number): string | null {
  const target = resolve(path);
  const parts = target.split(sep).filter(Boolean);
  let current: string = sep;
  for (let i = 0; i <= parts.length; i++) {
    const info = statSync(current, { throwIfNoEntry: false });
    if (!info) return current;
    const last = i === parts.length;
    const need = info.isDirectory() ? 0o001 : last ? 0o004 : 0o001;
    const asGroup = machineGid !== undefined && info.gid === machineGid && (info.mode & (need << 3)) !== 0;
    if ((info.mode & need) === 0 && !asGroup) return current;
    if (!last) current = join(current, parts[i]!);
  }
  return null;
}

/**
 * Lets machines clone from and push to a local repository owned by the host's user: the group
 * {@link MACHINE_GROUP} gets read and write on it (new directories keep the group) and the
 * directories above it up to `upTo` (default the temp dir) become passable. For tests and for `sam start` as root with local
 * repositories; does nothing when the host cannot create machine users.
 */
export function shareWithMachines(dir: string, upTo: string = tmpdir()): void {
  if (!canCreateMachineUsers()) return;
  const gid = ensureMachineGroupSync();
  const repositories: string[] = [];
  const walk = (p: string) => {
    const info = lstatSync(p);
    if (info.isSymbolicLink()) return;
    chownSync(p, info.uid, gid);
    if (info.isDirectory()) {
      chmodSync(p, (info.mode & 0o7777) | 0o2070);
      const names = readdirSync(p);
      if (names.includes('objects') && names.includes('refs') && names.includes('HEAD')) repositories.push(p);
      for (const name of names) walk(join(p, name));
    } else {
      chmodSync(p, (info.mode & 0o7777) | 0o060 | ((info.mode & 0o100) >> 3));
    }
  };
  walk(dir);
  // New objects and refs a machine pushes stay writable for the next machine.
  for (const repo of repositories) spawnSync('git', ['--git-dir', repo, 'config', 'core.sharedRepository', 'group']);
  // The directories above it that are closed (mkdtemp makes 0700 ones) open for passing through,
  // up to `upTo`; anything closed above that is the caller's to decide.
  const boundary = resolve(upTo);
  for (let p = dirname(resolve(dir)); p.startsWith(boundary + sep); p = dirname(p)) {
    const mode = statSync(p).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(p, mode | 0o001);
  }
  const closed = closedToMachines(dir, gid);
  if (closed) throw new Error(`${closed} is closed to other users, so machines cannot reach ${dir}`);
}
