/**
 * Starting and stopping the stand-in's child processes (Deno functions, PostgREST, machines) so
 * that stopping always ends in bounded time, and so a test run can check that none outlived it.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

/**
 * Names the file where started processes are recorded, one JSON line each. The test run sets it
 * (tests/setup/global.ts) and lists the survivors at its end (tests/setup/survivors.ts).
 */
export const PROCESS_REGISTRY_ENV = 'SAM_PROCESS_REGISTRY';

export interface RecordedProcess {
  pid: number;
  /** The kernel's start time of the process: with the pid, it names one process for good. */
  start: string;
  /** Whether the process leads its own process group (and its children stay in it). */
  group: boolean;
  /** What it is, for the report (never secrets: no argv, no environment). */
  what: string;
}

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie: exited, not reaped yet), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot when the process started (field 22 of /proc/<pid>/stat). */
  start: string;
}

/** What /proc says of `pid`, or null when there is no such process (or no /proc). */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), start: fields[19]! };
}

/** Records a just-started child in the run's registry, when there is one (under `npm test`). */
export function recordProcess(child: ChildProcess, what: string, group = false): void {
  const file = process.env[PROCESS_REGISTRY_ENV];
  if (!file || child.pid === undefined) return;
  const stat = procStat(child.pid);
  if (!stat) return;
  const entry: RecordedProcess = { pid: child.pid, start: stat.start, group, what };
  appendFileSync(file, JSON.stringify(entry) + '\n');
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true when `child` exits within `ms`, false when time runs out first. */
export function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(value);
    };
    const onExit = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', onExit);
  });
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // already gone
  }
}

export interface StopOptions {
  /** How long SIGTERM gets before SIGKILL (default 2 s). */
  graceMs?: number;
  /**
   * The child leads its own process group (spawned `detached`): SIGTERM still goes to the leader
   * alone (it stops its own children), SIGKILL to the whole group.
   */
  group?: boolean;
  /** How long to wait for the exit after SIGKILL before giving up with an error (default 5 s). */
  killWaitMs?: number;
}

/**
 * Stops `child` in bounded time: SIGTERM, SIGKILL after the grace period, and an error (instead
 * of waiting on) a process that still did not exit after SIGKILL. With `group`, SIGKILL goes to
 * the whole process group, and whatever the leader left running in it is killed at the end.
 */
export async function stopProcess(child: ChildProcess, options: StopOptions = {}): Promise<void> {
  const { graceMs = 2000, group = false, killWaitMs = 5000 } = options;
  const pid = child.pid;
  if (pid === undefined) return;
  if (!hasExited(child)) {
    child.kill('SIGTERM');
    if (!(await exitWithin(child, graceMs))) {
      if (group) signal(pid, 'SIGKILL', true);
      else child.kill('SIGKILL');
      if (!(await exitWithin(child, killWaitMs))) {
        throw new Error(`process ${pid} did not exit within ${killWaitMs} ms of SIGKILL`);
      }
    }
  }
  if (group) signal(pid, 'SIGKILL', true);
}
