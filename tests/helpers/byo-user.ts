/**
 * "Another local user" for bring-your-own tests: a fresh unprivileged OS user with a home, who runs
 * the "Add a machine" command in a shell the way a person would paste it (POSIX sh, their own HOME,
 * a plain PATH). At close, whatever still runs as that user (started here) is killed by pid and the
 * user is removed with its home.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { lookupUser, type OsUser } from './systemd-unit.ts';

export interface LocalUser extends OsUser {
  /** Runs `command` in `sh` (on its stdin) as this user; resolves with its exit code and output. */
  sh(command: string): Promise<{ code: number | null; output: string }>;
  /** Writes a file into the user's home, owned by them. */
  writeHomeFile(relative: string, content: string, mode?: number): string;
  /** Pids of this user's processes whose command line contains `needle`. */
  processes(needle?: string): number[];
  close(): Promise<void>;
}

export function createLocalUser(prefix = 'sam-byo'): LocalUser {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`useradd ${name}: ${add.stderr}`);
  const user = lookupUser(name);
  const env = {
    HOME: user.home,
    USER: name,
    LOGNAME: name,
    SHELL: '/bin/sh',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
  };
  const processes = (needle = '') =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((pid) => {
        try {
          const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
          return uid === user.uid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
        } catch {
          return false;
        }
      })
      .map(Number);
  return {
    ...user,
    sh(command) {
      // On the shell's stdin, as a pasted line is: never in any process's argv.
      const child = spawn('/bin/sh', ['-s'], {
        cwd: user.home,
        env,
        uid: user.uid,
        gid: user.gid,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdin.end(`${command}\n`);
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      return new Promise((resolve, reject) => {
        child.on('error', reject);
        // 'exit', not 'close': a service it started in the background may keep the pipes open.
        child.on('exit', (code) => setTimeout(() => resolve({ code, output }), 50));
      });
    },
    writeHomeFile(relative, content, mode = 0o644) {
      const file = path.join(user.home, relative);
      writeFileSync(file, content, { mode });
      chownSync(file, user.uid, user.gid);
      return file;
    },
    processes,
    async close() {
      for (const pid of processes()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      spawnSync('userdel', ['--remove', name], { stdio: 'ignore' });
    },
  };
}
