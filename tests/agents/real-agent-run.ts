/**
 * One scripted turn of a real ACP agent (pinned npm package) driven by SAM's ACP client, offline:
 * the agent's model is the scripted model server, its MCP server a stand-in with SAM's tools. The
 * script: write a file with the agent's own tool, call update_task_status, call complete_task,
 * answer. The run keeps what the tests assert (records, raw ACP messages from the agent, MCP calls,
 * model requests) and how long each phase took.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as acp from '@agentclientprotocol/sdk';
import { expect } from 'vitest';
import { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { AgentClient } from '../../vm-agent/acp/agent-client.ts';
import { spawnAgentProcess, type AgentProcess } from '../../vm-agent/acp/agent-process.ts';
import { ensureAgentInstalled } from '../../vm-agent/agents/install.ts';
import type { AgentPackage } from '../../vm-agent/agents/manifest.ts';
import { startTestMcpServer, type TestMcpServer } from '../../vm-agent/test-support/mcp-server.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { AGENT_CACHE } from './agent-cache.ts';

export type RawMessage = { at: number; message: Record<string, unknown> };

export type Timings = {
  installMs: number;
  installed: boolean;
  initializeMs: number;
  sessionNewMs: number;
  firstUpdateMs: number | null;
  turnMs: number;
};

/** Parent pid and state of a live process, from /proc (null when gone). */
function procStat(pid: number): { ppid: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

export function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** Every live process below `root` (children, grandchildren, …). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.state !== 'Z') parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

export class RealAgentRun {
  workspace = '';
  home = '';
  model!: ScriptedModel;
  mcp!: TestMcpServer;
  agent: AgentProcess | undefined;
  client: AgentClient | undefined;
  readonly records: MessageRecord[] = [];
  /** Every JSON-RPC message the agent sent, in order. */
  readonly fromAgent: RawMessage[] = [];
  timings: Partial<Timings> = {};
  /** Processes the agent started that outlived `stop()` (ended by pid in tearDown). */
  leftovers: number[] = [];

  constructor(
    readonly name: string,
    readonly token: string,
    readonly file: { name: string; content: string },
    readonly answer: string,
  ) {}

  async setUp(): Promise<void> {
    this.workspace = await mkdtemp(path.join(tmpdir(), `sam-${this.name}-ws-`));
    this.home = await mkdtemp(path.join(tmpdir(), `sam-${this.name}-home-`));
    await writeFile(path.join(this.workspace, 'README.md'), '# Demo\n');
    this.mcp = await startTestMcpServer(this.token);
    this.model = await new ScriptedModel({
      cwd: this.workspace,
      steps: [
        { write: { file: this.file.name, content: this.file.content } },
        { mcp: { server: 'sam', tool: 'update_task_status', args: { message: `Wrote ${this.file.name}` } } },
        { mcp: { server: 'sam', tool: 'complete_task', args: { summary: `Added ${this.file.name}` } } },
        { text: this.answer },
      ],
    }).start();
  }

  async install(pkg: AgentPackage): Promise<string> {
    const started = Date.now();
    const installed = await ensureAgentInstalled(pkg, {
      cacheDir: AGENT_CACHE,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? this.home },
    });
    this.timings.installMs = Date.now() - started;
    this.timings.installed = installed.installed;
    return installed.bin;
  }

  /** Spawns the agent, initializes, opens a session and runs one prompt (permissions answered by SAM's policy). */
  async run(launch: { command: string; args: string[]; env: Record<string, string> }): Promise<acp.StopReason> {
    const spawned = Date.now();
    this.agent = spawnAgentProcess(
      { command: launch.command, args: launch.args, cwd: this.workspace, env: launch.env },
      { PATH: process.env.PATH, HOME: this.home },
    );
    const tap = new TransformStream<acp.AnyMessage, acp.AnyMessage>({
      transform: (message, controller) => {
        this.fromAgent.push({ at: Date.now(), message: message as Record<string, unknown> });
        controller.enqueue(message);
      },
    });
    const stream: acp.Stream = {
      writable: this.agent.stream.writable,
      readable: this.agent.stream.readable.pipeThrough(tap),
    };
    this.client = await AgentClient.connect(stream, {
      workspaceRoot: this.workspace,
      sessionId: `sam-session-${this.name}`,
      mcp: { url: this.mcp.url, token: this.token },
      onRecord: (r) => {
        this.records.push(r);
      },
    });
    this.timings.initializeMs = Date.now() - spawned;
    const sessionStarted = Date.now();
    await this.client.newSession();
    this.timings.sessionNewMs = Date.now() - sessionStarted;
    const firstUpdate = this.fromAgent.find((m) => m.message.method === 'session/update');
    this.timings.firstUpdateMs = firstUpdate ? firstUpdate.at - spawned : null;
    const turnStarted = Date.now();
    const stop = await this.client.prompt(`Add ${this.file.name}, report progress, then complete the task.`);
    this.timings.turnMs = Date.now() - turnStarted;
    if (this.timings.firstUpdateMs === null) {
      const later = this.fromAgent.find((m) => m.message.method === 'session/update');
      this.timings.firstUpdateMs = later ? later.at - spawned : null;
    }
    return stop;
  }

  /** The agent's answer to `session/prompt` (the last result carrying a stopReason). */
  promptResult(): Record<string, unknown> | undefined {
    const results = this.fromAgent
      .map((m) => m.message.result as Record<string, unknown> | undefined)
      .filter((r) => r && typeof r === 'object' && 'stopReason' in r);
    return results.at(-1);
  }

  /** What every agent must have done, whatever its API. */
  expectSamToolsAndRecords(apiKey: string): void {
    expect(this.mcp.calls.map((c) => c.tool)).toEqual(['update_task_status', 'complete_task']);
    expect(this.mcp.calls.every((c) => c.authorization === `Bearer ${this.token}`)).toBe(true);

    for (const r of this.records) expect(MessageRecord.safeParse(r).success, JSON.stringify(r)).toBe(true);
    const tools = this.records.filter((r) => r.role === 'tool');
    for (const r of tools) expect(r.toolCallId, JSON.stringify(r)).toMatch(/\S/);
    // The write and both SAM tools each got a tool call that ended completed.
    const completed = new Set(tools.filter((r) => r.toolStatus === 'completed').map((r) => r.toolCallId));
    expect(completed.size, JSON.stringify(tools, null, 1)).toBeGreaterThanOrEqual(3);
    // The agent works with absolute paths in its cwd; its tool records name the file as the repository does.
    expect(JSON.stringify(tools)).toContain(this.file.name);
    expect(JSON.stringify(tools), JSON.stringify(tools, null, 1)).not.toContain(this.workspace);
    const answer = this.records
      .filter((r) => r.role === 'assistant')
      .map((r) => r.content)
      .join('');
    expect(answer).toContain(this.answer);
    expect(JSON.stringify(this.records)).not.toContain(apiKey);
    expect(JSON.stringify(this.fromAgent)).not.toContain(apiKey);
  }

  /**
   * Stops the agent the way the VM agent does and returns the processes it had started that are
   * still alive afterwards (waiting up to 5 s for them to go).
   */
  async stopAgent(): Promise<number[]> {
    const tree = descendants(this.agent!.child.pid!);
    await this.agent!.stop(2000);
    const deadline = Date.now() + 5000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.leftovers = tree.filter(alive);
    return this.leftovers;
  }

  report(): string {
    const result = this.promptResult();
    const usage = { usage: result?.usage, _meta: result?._meta };
    return `${this.name} timings (ms): ${JSON.stringify(this.timings)}; prompt result usage: ${JSON.stringify(usage)}`;
  }

  async tearDown(): Promise<void> {
    this.client?.close();
    // Taken before stop(): once the agent is gone its children are re-parented and untraceable.
    const tree = this.agent ? descendants(this.agent.child.pid!) : [];
    await this.agent?.stop(2000);
    for (const pid of [...this.leftovers, ...tree]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await this.model?.close();
    await this.mcp?.close();
    if (this.workspace) await rm(this.workspace, { recursive: true, force: true });
    if (this.home) await rm(this.home, { recursive: true, force: true });
  }
}
