/**
 * One agent of a workspace: the process from the agent catalog (allow-listed env, no platform
 * secrets), SAM's ACP client on its stdio with SAM's MCP server and the agent token, and a new
 * ACP session in the checkout. Records go to `onRecord` (the workspace's outbox).
 */
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AgentClient } from '../acp/agent-client.ts';
import { spawnAgentProcess, type AgentExit, type AgentProcess } from '../acp/agent-process.ts';
import { planAgentLaunch } from '../agents/catalog.ts';

export type AgentSessionStart = {
  payload: CreateWorkspacePayload;
  repoDir: string;
  stateDir: string;
  agentSessionId: string;
  mcp: { url: string; token: string };
  /** The machine's agent settings (bootstrap.json `agentEnv`). */
  agentEnv: Record<string, string>;
  machineEnv: NodeJS.ProcessEnv;
  onRecord: (record: MessageRecord) => Promise<void>;
  log: (line: string) => void;
  startTimeoutMs?: number;
};

export type RunningAgent = {
  title: string;
  process: AgentProcess;
  client: AgentClient;
  /** Values that must not appear in reports (the agent's credentials). */
  secrets: string[];
  /** Cancels a running turn, closes the connection and ends the process (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<AgentExit>;
};

export function exitText(exit: AgentExit, stderr: string): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  return `the agent exited (${how})${tail ? `: ${tail}` : ''}`;
}

export async function startAgentSession(options: AgentSessionStart): Promise<RunningAgent> {
  const { payload } = options;
  const context: Record<string, string> = {
    SAM_WORKSPACE_ID: payload.workspaceId,
    SAM_PROJECT_ID: payload.projectId,
    SAM_TASK_ID: payload.taskId,
    SAM_BRANCH: payload.branch,
  };
  const plan = planAgentLaunch(payload.agentType, { ...options.agentEnv, ...context }, options.machineEnv);
  if (plan.agentType === 'demo') plan.env.SAM_DEMO_AGENT_STATE_DIR = options.stateDir;
  const secrets = Object.entries(plan.env)
    .filter(([name]) => /KEY|TOKEN|SECRET|PASSWORD/i.test(name))
    .map(([, value]) => value);
  const child = spawnAgentProcess(
    { command: plan.command, args: plan.args, env: plan.env, cwd: options.repoDir },
    options.machineEnv,
  );
  const died = child.exited.then((exit) => {
    throw new Error(exitText(exit, child.stderrTail()));
  });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${plan.title} did not start within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const client = await Promise.race([
      AgentClient.connect(child.stream, {
        workspaceRoot: options.repoDir,
        sessionId: options.agentSessionId,
        mcp: options.mcp,
        onRecord: options.onRecord,
        log: options.log,
      }),
      died,
      timeout,
    ]);
    await Promise.race([client.newSession(), died, timeout]);
    died.catch(() => {});
    return {
      title: plan.title,
      process: child,
      client,
      secrets,
      async stop(graceMs = 5000) {
        // Harmless without a running turn; ends one that runs.
        await client.cancel().catch(() => {});
        await client.settled().catch(() => {});
        client.close();
        return child.stop(graceMs);
      },
    };
  } catch (error) {
    died.catch(() => {});
    await child.stop(1000);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
