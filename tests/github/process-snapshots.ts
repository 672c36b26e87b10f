/**
 * What every process on this host shows while git talks to the fake GitHub: argv
 * (`/proc/<pid>/cmdline`, world-readable) of all, and the environment of the git-related ones we
 * may read. Taken synchronously at the moment the fake accepts an authenticated git request (git
 * and its remote helper are alive then, holding the token), plus whatever a poller catches.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { FakeGitHub } from '../fakes/github/server.ts';

export class ProcessSnapshots {
  readonly argv = new Set<string>();
  readonly environ = new Set<string>();
  /** How many snapshots were taken while an authenticated git request was being served. */
  duringGit = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `watched`: the processes (by argv) whose environment is read too. */
  constructor(private readonly watched: RegExp = /git|credential|helper/) {}

  take(): void {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue; // gone
      }
      this.argv.add(cmdline);
      if (!this.watched.test(cmdline)) continue;
      try {
        this.environ.add(readFileSync(`/proc/${entry}/environ`, 'utf8'));
      } catch {
        // another user's process, or gone
      }
    }
  }

  /** Snapshots at each authenticated git request the fake serves (it checks the token's reach then). */
  hook(fake: FakeGitHub): void {
    const reaches = fake.tokenReaches.bind(fake);
    fake.tokenReaches = (t, repo) => {
      this.take();
      this.duringGit++;
      return reaches(t, repo);
    };
  }

  start(intervalMs = 20): void {
    this.timer ??= setInterval(() => this.take(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The snapshots that contain any of `secrets`. */
  leaks(secrets: string[]): string[] {
    const all = [...this.argv, ...this.environ];
    return all.filter((text) => secrets.some((s) => s && text.includes(s))).map((t) => t.slice(0, 200));
  }
}
