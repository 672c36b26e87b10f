/**
 * Finding a machine's processes on this host by what they inherited: every process a machine
 * starts (the vm-agent, git, agents in their own process groups, what those start) carries the
 * machine's HOME unless it rewrote its environment. Linux /proc; only processes of this OS user
 * are readable, which is all a machine can start.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Live process ids whose environment holds `name=value` exactly. */
export function processesWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}
