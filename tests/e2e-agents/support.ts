/** What the end-to-end agent tests share: a user's project for an agent, and where to look for a leaked key. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { UserClient } from '../helpers/user-client.ts';

export async function createAgentProject(user: UserClient, repository: string, agentType: string): Promise<string> {
  const { data, error } = await user.client
    .from('projects')
    .insert({
      owner_id: user.userId,
      name: 'greeter',
      repository,
      repo_provider: 'local',
      default_branch: 'main',
      default_agent_type: agentType,
    })
    .select('id')
    .single();
  if (error) throw new Error(error.message);
  return (data as { id: string }).id;
}

/** Every process on this host whose argv holds `needle` (read while the agent runs). */
export function processesWithInArgv(needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (argv.includes(needle)) found.push(`${entry}: ${argv.replace(/\0/g, ' ').slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * Every regular file below `dir` (skipping the installed agent packages) holding `needle`. A
 * workspace that is finishing removes its directories meanwhile: what vanished is skipped.
 */
export function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      if (gone(e)) return;
      throw e;
    }
    for (const name of names) {
      const file = join(d, name);
      const info = statSync(file, { throwIfNoEntry: false });
      if (!info) continue;
      if (info.isDirectory()) {
        if (name !== 'node_modules') walk(file);
      } else if (info.isFile() && info.size < 5_000_000) {
        try {
          if (readFileSync(file, 'utf8').includes(needle)) found.push(file);
        } catch (e) {
          if (!gone(e)) throw e;
        }
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}
