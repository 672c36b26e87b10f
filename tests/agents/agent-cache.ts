import { homedir } from 'node:os';
import path from 'node:path';
import { closedToMachines } from '../../local-machines/users.ts';
import { ensureAgentInstalled, type InstalledAgent } from '../../vm-agent/agents/install.ts';
import type { AgentPackage } from '../../vm-agent/agents/manifest.ts';

/**
 * Where tests install the real agent packages: outside the repository (git status stays clean) and
 * kept between runs on the same machine, so only the first run pays for the download. As root the
 * local machines run as their own OS users, which cannot pass through root's 0700 HOME: the cache
 * then lives in /var/cache, readable (never writable) by them.
 */
export const AGENT_CACHE =
  process.env.SAM_AGENT_CACHE ??
  (process.getuid?.() === 0
    ? path.join('/var/cache', 'sam', 'agents')
    : path.join(homedir(), '.cache', 'sam', 'agents'));

/**
 * Installs `pkg` into {@link AGENT_CACHE} (the tests' own process, through the vm-agent's
 * installer) so that machines sharing the cache find it there instead of each downloading it.
 */
export async function installForMachines(pkg: AgentPackage): Promise<InstalledAgent> {
  const installed = await ensureAgentInstalled(pkg, {
    cacheDir: AGENT_CACHE,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: homedir() },
  });
  const closed = closedToMachines(installed.bin);
  if (closed) throw new Error(`the agent cache ${AGENT_CACHE} is closed to machine users at ${closed}`);
  return installed;
}
