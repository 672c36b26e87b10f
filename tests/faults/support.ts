/**
 * What the fault tests share: the vm-agent's session layer (acp/ + node/agent-session.ts +
 * node/agent-supervisor.ts) driven directly — real agent processes, the real ACP SDK on both
 * ends, SAM's MCP server stand-in — without a control plane, so a hundred kills stay fast.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AgentSupervisor, type AgentSupervisorOptions } from '../../vm-agent/node/agent-supervisor.ts';
import type { AgentSessionStart } from '../../vm-agent/node/agent-session.ts';
import { startTestMcpServer, type TestMcpServer } from '../../vm-agent/test-support/mcp-server.ts';

export const WORKSPACE_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJraW5kIjoid29ya3NwYWNlIn0.c2lnbmF0dXJlLXdvcmtzcGFjZQ';
export const AGENT_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJraW5kIjoiYWdlbnQifQ.c2lnbmF0dXJlLWFnZW50LXRva2Vu';

export function payload(agentType: string): CreateWorkspacePayload {
  return {
    workspaceId: '00000000-0000-4000-8000-000000000001',
    projectId: '00000000-0000-4000-8000-000000000002',
    taskId: '00000000-0000-4000-8000-000000000003',
    chatSessionId: null,
    repository: 'file:///nowhere',
    repoProvider: 'local',
    defaultBranch: 'main',
    baseBranch: 'main',
    branch: 'sam/faults-000001',
    workspaceProfile: 'lightweight',
    lightweight: true,
    agentType,
    taskMode: 'conversation',
    title: 'faults',
    initialPrompt: 'hello',
    workspaceToken: WORKSPACE_TOKEN,
    workspaceTokenExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
  };
}

export type DemoSession = {
  dir: string;
  repoDir: string;
  stateDir: string;
  mcp: TestMcpServer;
  records: MessageRecord[];
  supervisor: AgentSupervisor;
  start: AgentSessionStart;
  close(): Promise<void>;
};

/** A demo-agent session with persisted history (what `session/load` reads after a restart). */
export async function demoSession(
  options: { agentEnv?: Record<string, string>; secrets?: string[] } & Partial<
    Omit<AgentSupervisorOptions, 'secrets' | 'start'>
  > = {},
): Promise<DemoSession> {
  const { agentEnv, secrets, ...supervision } = options;
  const dir = await mkdtemp(path.join(tmpdir(), 'sam-faults-'));
  const repoDir = path.join(dir, 'repo');
  const stateDir = path.join(dir, 'agent-state');
  await (await import('node:fs/promises')).mkdir(repoDir, { recursive: true });
  await writeFile(path.join(repoDir, 'README.md'), '# Faults\n');
  const mcp = await startTestMcpServer(AGENT_TOKEN);
  const records: MessageRecord[] = [];
  const start: AgentSessionStart = {
    payload: payload('demo'),
    repoDir,
    stateDir,
    agentSessionId: 'sam-faults-session',
    mcp: { url: mcp.url, token: AGENT_TOKEN },
    agentHome: path.join(dir, 'home'),
    cacheDir: path.join(dir, 'cache'),
    agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '2', ...(agentEnv ?? {}) },
    machineEnv: { PATH: process.env.PATH, HOME: path.join(dir, 'home') },
    onRecord: async (record) => {
      records.push(record);
    },
    log: () => {},
  };
  const supervisor = new AgentSupervisor({
    start,
    secrets: () => [WORKSPACE_TOKEN, AGENT_TOKEN, ...(secrets ?? [])],
    ...supervision,
  });
  return {
    dir,
    repoDir,
    stateDir,
    mcp,
    records,
    supervisor,
    start,
    async close() {
      await supervisor.stop(1000).catch(() => {});
      await mcp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The chunk numbers `[#N]` in the thought records, in order. */
export function markers(records: readonly MessageRecord[]): number[] {
  const text = records
    .filter((r) => r.role === 'thought')
    .map((r) => r.content)
    .join('');
  return [...text.matchAll(/\[#(\d+)\]/g)].map((m) => Number(m[1]));
}
