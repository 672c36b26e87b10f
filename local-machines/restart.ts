/**
 * A host started again over the `baseDir` of an earlier run (a stack restart, or a host that died
 * without close()): what that run left is swept, and the machines that had registered are found to
 * be started again, each with its OS user anew.
 */
import { existsSync, lchownSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ID, readMeta, type MachineMeta } from './machine-meta.ts';
import { signal } from './machine-processes.ts';
import { processesWithEnv } from './processes.ts';
import { createMachineUser, machineUsers, processesOfUser, removeMachineUser, type MachineUser } from './users.ts';

/**
 * Sweeps what an earlier run over `baseDir` left (machine users, processes, directories of machines
 * that never registered) and returns the machines to start again.
 */
export async function sweepEarlierRun(
  baseDir: string,
  ownUsers: boolean,
  log: (line: string) => void,
): Promise<{ id: string; meta: MachineMeta }[]> {
  // Machine users of an earlier run go, with anything still running as them, when their directory
  // is gone or is one of ours: a machine started again gets its user anew (userAgain, below).
  if (ownUsers) {
    for (const u of machineUsers()) {
      if (!u.home.startsWith(baseDir + '/') && existsSync(u.home)) continue;
      for (const pid of processesOfUser(u.uid)) signal(pid, 'SIGKILL');
      await removeMachineUser(u.name).catch((e: Error) => log(e.message));
    }
  }
  // Anything a machine of an earlier run left running (the host died without close()) ends. A
  // machine that had registered starts again and resumes; the rest of the directories go (only
  // directories this host made).
  const resumable: { id: string; meta: MachineMeta }[] = [];
  for (const entry of readdirSync(baseDir)) {
    if (!ID.test(entry)) continue;
    for (const pid of processesWithEnv('HOME', join(baseDir, entry, 'home'))) signal(pid, 'SIGKILL');
    const meta = readMeta(join(baseDir, entry));
    if (meta && existsSync(join(baseDir, entry, 'state', 'node.json'))) resumable.push({ id: entry, meta });
    else rmSync(join(baseDir, entry), { recursive: true, force: true });
  }
  return resumable;
}

/** Gives a machine kept across a host restart an OS user again, owning its directory as before. */
export async function userAgain(id: string, dir: string, home: string): Promise<MachineUser> {
  const user = await createMachineUser(id, home);
  const own = (path: string) => {
    lchownSync(path, user.uid, user.gid);
    if (!statSync(path, { throwIfNoEntry: false })?.isDirectory() || lstatSync(path).isSymbolicLink()) return;
    for (const entry of readdirSync(path)) own(join(path, entry));
  };
  own(dir);
  return user;
}
