/**
 * Starts an agent as a child process speaking ACP over stdio. The command and arguments carry no
 * secrets; the environment is built by {@link buildAgentEnv} (an allow-list, never platform
 * secrets). stderr is kept as a bounded tail for crash reports, not forwarded anywhere.
 *
 * Each agent leads its own process group (`detached`), and stopping it signals the whole group —
 * SIGTERM, then SIGKILL after a grace — so the tools, shells and servers it started end with its
 * session instead of surviving onto the next task on a warm node. The group is signalled even when
 * the agent itself already exited (what it left behind is still in its group).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import * as acp from '@agentclientprotocol/sdk';
import { buildAgentEnv } from './agent-env.ts';

export type AgentLaunch = {
  command: string;
  args?: string[];
  /** The agent's own settings (model key, model, …); platform-secret names are refused. */
  env?: Record<string, string>;
  cwd: string;
};

export type AgentExit = { code: number | null; signal: NodeJS.Signals | null };

export type AgentProcess = {
  child: ChildProcessWithoutNullStreams;
  stream: acp.Stream;
  /** The environment the agent was started with (for inspection; contains the agent's own keys). */
  env: Record<string, string>;
  exited: Promise<AgentExit>;
  stderrTail(): string;
  /**
   * SIGTERM to the agent's process group (also when the agent itself already exited), then SIGKILL
   * to what is left of it after `graceMs`. Resolves when the agent is gone.
   */
  stop(graceMs?: number): Promise<AgentExit>;
};

const STDERR_TAIL_BYTES = 16 * 1024;

/** Signals the process group led by `pid` (0: only asks); false when no process of it is left. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `deadline` at most for the group led by `pid` to empty, then SIGKILLs what is left. */
async function endGroup(pid: number | undefined, deadline: number): Promise<void> {
  while (signalGroup(pid, 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  signalGroup(pid, 'SIGKILL');
}

export function spawnAgentProcess(launch: AgentLaunch, parentEnv: NodeJS.ProcessEnv = process.env): AgentProcess {
  const env = buildAgentEnv(parentEnv, launch.env);
  const child = spawn(launch.command, launch.args ?? [], {
    cwd: launch.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let tail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<AgentExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  // A write to a dead agent must surface as a closed stream, not crash the VM agent.
  child.stdin.on('error', () => {});
  const stream = acp.ndJsonStream(
    Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
    Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>,
  );
  return {
    child,
    stream,
    env,
    exited,
    stderrTail: () => tail,
    async stop(graceMs = 5000) {
      const pid = child.pid;
      const deadline = Date.now() + graceMs;
      if (child.exitCode === null && child.signalCode === null) {
        if (!signalGroup(pid, 'SIGTERM')) child.kill('SIGTERM');
        const timer = setTimeout(() => signalGroup(pid, 'SIGKILL') || child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        // The agent is gone; whatever of its group still runs gets the rest of the grace, then SIGKILL.
        await endGroup(pid, deadline);
        return result;
      }
      signalGroup(pid, 'SIGTERM');
      await endGroup(pid, deadline);
      return exited;
    },
  };
}
