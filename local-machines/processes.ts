/**
 * Finding a machine's processes on this host by what they inherited: every process a machine
 * starts (the vm-agent, git, agents in their own process groups, what those start) carries the
 * machine's HOME unless it rewrote its environment — or a HOME below it (the vm-agent gives each
 * agent session its own HOME inside the machine's). Linux /proc; only processes of this OS user
 * are readable, which is all a machine can start.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Live process ids whose environment holds `name=value`, or `name=value/…` (a path below it). */
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
      const vars = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (vars.some((v) => v === needle || v.startsWith(`${needle}/`))) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}
