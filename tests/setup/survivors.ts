/**
 * The end-of-run check that nothing a test started is still running. Every process the stand-in
 * starts (Deno functions, PostgREST, machines) is recorded with its kernel start time in the run's
 * registry (supabase/local/child-process.ts); a recorded process is a survivor when a live
 * (non-zombie) process has the same pid and start time, so a reused pid is never taken for it.
 * A machine leads its own process group: whatever is left in that group survives it too. Any
 * process carrying the run's registry variable in its environment was started by a test (spawns
 * that inherit the environment), and is a survivor unless it is this process, an ancestor, or a
 * test worker (a child of this process).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  PROCESS_REGISTRY_ENV,
  procStat,
  type ProcStat,
  type RecordedProcess,
} from '../../supabase/local/child-process.ts';

export interface Survivor {
  pid: number;
  what: string;
  command: string;
}

function allProcesses(): ProcStat[] {
  // Linux only, as the stack is (Debian's PostgreSQL); elsewhere there is nothing to look at.
  if (!existsSync('/proc/self/stat')) return [];
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((s): s is ProcStat => s !== null && s.state !== 'Z');
}

function commandOf(pid: number): string {
  try {
    // The command only (argv[0] and the script): arguments may hold paths of no interest.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return argv.slice(0, 2).join(' ').slice(0, 200);
  } catch {
    return '?';
  }
}

function carries(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker);
  } catch {
    return false;
  }
}

/** This process and its ancestors, which carry the variable because they set it. */
function lineage(): Set<number> {
  const lineage = new Set<number>();
  for (let pid = process.pid; pid > 1 && !lineage.has(pid);) {
    lineage.add(pid);
    pid = procStat(pid)?.ppid ?? 0;
  }
  return lineage;
}

/**
 * The processes started during the run (recorded in `registryFile`) that are still alive.
 * `runner` is the pid of the test runner (vitest's main process): its own children are the test
 * workers, which may still be exiting; what a test starts is a worker's child (or, orphaned,
 * init's), never the runner's.
 */
export function findSurvivors(registryFile: string, runner?: number): Survivor[] {
  let text = '';
  try {
    text = readFileSync(registryFile, 'utf8');
  } catch {
    // nothing was recorded
  }
  const recorded = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedProcess);
  const live = allProcesses();
  const found = new Map<number, Survivor>();
  const add = (pid: number, what: string) => {
    if (!found.has(pid)) found.set(pid, { pid, what, command: commandOf(pid) });
  };
  for (const entry of recorded) {
    const now = live.find((p) => p.pid === entry.pid);
    const same = now !== undefined && now.start === entry.start;
    if (same) add(entry.pid, entry.what);
    // A process group outlives its leader; its id is not reused while any member lives.
    if (entry.group && (now === undefined || same)) {
      for (const member of live.filter((p) => p.pgrp === entry.pid && p.pid !== entry.pid)) {
        add(member.pid, `a process left by ${entry.what}`);
      }
    }
  }
  const marker = `${PROCESS_REGISTRY_ENV}=${registryFile}`;
  const ours = lineage();
  for (const p of live) {
    if (ours.has(p.pid) || (runner !== undefined && p.ppid === runner) || found.has(p.pid)) continue;
    if (carries(p.pid, marker)) add(p.pid, 'a process a test started');
  }
  return [...found.values()];
}

/** SIGKILLs the survivors (they are reported as a failure either way). */
export function killSurvivors(survivors: Survivor[]): void {
  for (const s of survivors) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
