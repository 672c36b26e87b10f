/**
 * The end-of-run survivor check (tests/setup/survivors.ts) finds what outlived the tests, and only
 * that: a reused pid, an exited (even unreaped) process and this process are not survivors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROCESS_REGISTRY_ENV, procStat, stopProcess } from '../../supabase/local/child-process.ts';
import { findSurvivors } from './survivors.ts';
import { waitFor } from '../helpers/wait.ts';

let dir: string;
let registry: string;
const started: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sam-survivors-'));
  registry = join(dir, 'processes.jsonl');
});

afterAll(async () => {
  await Promise.all(started.map((c) => stopProcess(c, { graceMs: 100, group: true })));
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `cmd` in its own process group, with an environment of our choosing. */
function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, ...env }, stdio: 'ignore', detached: true });
  started.push(child);
  return child;
}
const sh = (script: string) => start('sh', ['-c', script]);
const sleeper = (env: Record<string, string> = {}) => start('sleep', ['300'], env);

function record(child: ChildProcess, what: string, group = false, start = procStat(child.pid!)!.start): void {
  appendFileSync(registry, JSON.stringify({ pid: child.pid, start, group, what }) + '\n');
}

const pids = () => findSurvivors(registry).map((s) => s.pid);

it('names a recorded process that still runs, and not one that exited', async () => {
  const running = sleeper();
  const done = sh('exit 0');
  record(running, 'a sleeper');
  record(done, 'a quick one');
  await waitFor('the quick one to exit', () => done.exitCode !== null);
  const survivors = findSurvivors(registry);
  expect(survivors.map((s) => s.pid)).toContain(running.pid);
  expect(survivors.find((s) => s.pid === running.pid)).toMatchObject({ what: 'a sleeper', command: 'sleep 300' });
  expect(survivors.map((s) => s.pid)).not.toContain(done.pid);
  await stopProcess(running, { graceMs: 100 });
  expect(pids()).not.toContain(running.pid);
});

it('does not count a zombie (exited, not reaped by its parent)', async () => {
  // `sleep 0` exits at once; its parent then is `sleep 300`, which never reaps it.
  const parent = start('sh', ['-c', 'sleep 0 & exec sleep 300']);
  const zombie = await waitFor('the zombie', () => {
    const child = readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map((n) => procStat(Number(n)))
      .find((p) => p !== null && p.ppid === parent.pid && p.state === 'Z');
    return child;
  });
  appendFileSync(registry, JSON.stringify({ pid: zombie.pid, start: zombie.start, group: false, what: 'z' }) + '\n');
  expect(pids()).not.toContain(zombie.pid);
});

it('takes a pid with another start time for another process (a reused pid)', () => {
  const other = sleeper();
  record(other, 'an earlier process with this pid', false, '1');
  expect(pids()).not.toContain(other.pid);
});

it('names what a dead group leader left running in its group', async () => {
  const leader = sh('sleep 300 & echo started; exit 0');
  record(leader, 'a machine', true);
  await waitFor('the leader to exit', () => leader.exitCode !== null);
  const survivors = findSurvivors(registry).filter((s) => s.what === 'a process left by a machine');
  expect(survivors).toHaveLength(1);
  expect(survivors[0]!.command).toBe('sleep 300');
  process.kill(-leader.pid!, 'SIGKILL');
  await waitFor('the group to be gone', () => !pids().includes(survivors[0]!.pid));
});

it('names an unrecorded process that carries the run registry in its environment', async () => {
  const stray = sleeper({ [PROCESS_REGISTRY_ENV]: registry });
  const elsewhere = sleeper({ [PROCESS_REGISTRY_ENV]: join(dir, 'another-run.jsonl') });
  await waitFor('both to run', () => procStat(stray.pid!) && procStat(elsewhere.pid!));
  const survivors = findSurvivors(registry);
  expect(survivors.find((s) => s.pid === stray.pid)).toMatchObject({ what: 'a process a test started' });
  expect(survivors.map((s) => s.pid)).not.toContain(elsewhere.pid);
  expect(survivors.map((s) => s.pid)).not.toContain(process.pid);
  // The runner's own children are its workers, still exiting when the check runs.
  expect(findSurvivors(registry, process.pid).map((s) => s.pid)).not.toContain(stray.pid);
});
