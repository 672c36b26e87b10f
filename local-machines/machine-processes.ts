/**
 * A running machine's processes: the environment its vm-agent starts with (PATH), and how
 * everything it started ends — deleted or the host closed (SIGTERM, then SIGKILL, its user
 * removed), or the host process exiting without close() (SIGKILL at once).
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join, delimiter } from 'node:path';
import type { Labels, MachineStatus } from '../functions/_shared/common/contracts/local-machines.ts';
import { stopProcess } from '../supabase/local/child-process.ts';
import { processesWithEnv } from './processes.ts';
import { processesOfUser, removeMachineUser, type MachineUser } from './users.ts';

export interface Running {
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

export function signal(pid: number | undefined, sig: NodeJS.Signals, group = false): void {
  if (pid === undefined) return;
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // already gone
  }
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

/** Stops machine `m` (once, however often asked): its processes end, then its OS user goes. */
export function stopMachine(m: Running, stopTimeoutMs: number, log: (line: string) => void): Promise<void> {
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

/** Kills everything of machine `m` at once, synchronously (the host process is exiting). */
export function killMachine(m: Running): void {
  signal(m.child.pid, 'SIGKILL', true);
  for (const pid of processesWithEnv('HOME', join(m.dir, 'home'))) signal(pid, 'SIGKILL');
  // Its user stays until the next host start removes it (its directory is gone or is ours).
  if (m.user) for (const pid of processesOfUser(m.user.uid)) signal(pid, 'SIGKILL');
}
