/**
 * Starts an agent as a child process speaking ACP over stdio. The command and arguments carry no
 * secrets; the environment is built by {@link buildAgentEnv} (an allow-list, never platform
 * secrets). stderr is kept as a bounded tail for crash reports, not forwarded anywhere.
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
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  stop(graceMs?: number): Promise<AgentExit>;
};

const STDERR_TAIL_BYTES = 16 * 1024;

export function spawnAgentProcess(launch: AgentLaunch, parentEnv: NodeJS.ProcessEnv = process.env): AgentProcess {
  const env = buildAgentEnv(parentEnv, launch.env);
  const child = spawn(launch.command, launch.args ?? [], { cwd: launch.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
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
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}
