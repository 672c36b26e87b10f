/**
 * One agent of a workspace: the process (allow-listed env, no platform secrets), SAM's ACP client
 * on its stdio with SAM's MCP server and the agent token, and a new ACP session in the checkout.
 * Records go to `onRecord` (the workspace's outbox).
 *
 * With launch settings from the control plane (the session start's `agent`), a real agent is
 * installed on first use (pinned package, per-machine cache), configured in the session's own HOME
 * and given its credential as its environment only; the demo agent runs as before. Without them
 * (an older control plane) the agent catalog's PATH lookup applies.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { McpServerStdio } from '@agentclientprotocol/sdk';
import { AGENT_TYPES } from '../../functions/_shared/common/contracts/agents.ts';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type {
  AgentLaunchSettings,
  AgentUsageReport,
  CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AgentClient } from '../acp/agent-client.ts';
import { AgentExitedError } from '../acp/crash.ts';
import { spawnAgentProcess, type AgentExit, type AgentProcess } from '../acp/agent-process.ts';
import type { PermissionPolicy } from '../acp/permissions.ts';
import { planAgentLaunch, STDIO_MCP_AGENTS, type AgentLaunchPlan } from '../agents/catalog.ts';
import { configureAgent, isConfigurableAgent, meteredUpstream } from '../agents/configure.ts';
import { ensureAgentInstalled } from '../agents/install.ts';
import { AGENT_PACKAGES, MCP_REMOTE } from '../agents/manifest.ts';
import { samMcpBridgeEntry } from '../agents/amp.ts';
import { ModelMeter } from '../agents/model-meter.ts';
import { sessionUsage } from './session-usage.ts';

/** The machine setting (bootstrap.json `agentEnv`) naming where agent packages are cached; not for agents. */
export const AGENT_CACHE_SETTING = 'SAM_AGENT_CACHE_DIR';
/** The machine setting for how long an agent may take from spawn to `session/new` answered (default 60 s); not for agents. */
export const AGENT_START_TIMEOUT_SETTING = 'SAM_AGENT_START_TIMEOUT_MS';

export type AgentSessionStart = {
  payload: CreateWorkspacePayload;
  repoDir: string;
  stateDir: string;
  agentSessionId: string;
  mcp: { url: string; token: string };
  /** What the control plane said to launch (profile, credential); absent from older ones. */
  launch?: AgentLaunchSettings;
  /** The session's own HOME for a real agent (config files; removed with the workspace). */
  agentHome: string;
  /** Where agent packages are installed (kept across sessions). */
  cacheDir: string;
  /** Where to install when `cacheDir` is shared read-only with this machine (see agents/install.ts). */
  fallbackCacheDir?: string;
  /** Install this instead of the pinned package (a tarball, in tests; see agents/install.ts). */
  installSpec?: string;
  /** Install progress, for the chat ("Installing Claude Code…"). */
  onProgress?: (line: string) => Promise<void>;
  /** The machine's agent settings (bootstrap.json `agentEnv`). */
  agentEnv: Record<string, string>;
  machineEnv: NodeJS.ProcessEnv;
  onRecord: (record: MessageRecord) => Promise<void>;
  log: (line: string) => void;
  startTimeoutMs?: number;
  /** How permission mode `ask` asks (the workspace's permission broker); without it `ask` approves. */
  askPermission?: PermissionPolicy;
  /**
   * Load this earlier ACP session (`session/load`) instead of starting a new one: after a crash or
   * a vm-agent restart. Never falls back to a new session: an agent that cannot load it fails.
   */
  resumeAcpSessionId?: string;
};

export type RunningAgent = {
  title: string;
  agentType: string;
  /** The agent's own ACP session id (kept for `session/load`; never sent to the browser). */
  acpSessionId: string;
  process: AgentProcess;
  client: AgentClient;
  /** One prompt turn; rejects with {@link AgentExitedError} when the process dies first. */
  prompt(text: string): Promise<string>;
  /** Values that must not appear in reports (the agent's credentials). */
  secrets: string[];
  /** The session's running token totals (ACP, or the agent's own session log), null while none. */
  usage(): Promise<AgentUsageReport | null>;
  /** Cancels a running turn, closes the connection and ends the process (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<AgentExit>;
};

export function exitText(exit: AgentExit, stderr: string): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  return `the agent exited (${how})${tail ? `: ${tail}` : ''}`;
}

/**
 * The profile's permission mode: `read-only` refuses whatever the agent asks to do, `ask` puts each
 * request to the user (`ask`, a card in the chat), `auto` (and anything else) approves.
 */
export function permissionPolicy(mode: string | null | undefined, ask?: PermissionPolicy): PermissionPolicy {
  if (mode === 'read-only') return 'reject';
  if (mode === 'ask' && ask) return ask;
  return 'approve';
}

/** The machine's agent settings without SAM's own (the cache dir): what every agent's environment starts from. */
function agentSettings(agentEnv: Record<string, string>): Record<string, string> {
  const { [AGENT_CACHE_SETTING]: _cache, [AGENT_START_TIMEOUT_SETTING]: _start, ...rest } = agentEnv;
  return rest;
}

/** The machine's settings minus every agent's model-key variable (contracts/agents.ts). */
function withoutModelKeys(env: Record<string, string>): Record<string, string> {
  const keys = new Set<string>(AGENT_TYPES.flatMap((a) => (a.credential ? [a.credential] : [])));
  return Object.fromEntries(Object.entries(env).filter(([name]) => !keys.has(name)));
}

/** Installs (first use) and configures a real agent from the control plane's launch settings. */
async function planRealAgent(
  options: AgentSessionStart,
  launch: AgentLaunchSettings & { agentType: keyof typeof AGENT_PACKAGES },
  context: Record<string, string>,
): Promise<AgentLaunchPlan & { secrets: string[]; installed: boolean; meter?: ModelMeter }> {
  const pkg = AGENT_PACKAGES[launch.agentType];
  const progress: Promise<void>[] = [];
  const installed = await ensureAgentInstalled(pkg, {
    cacheDir: options.cacheDir,
    ...(options.fallbackCacheDir ? { fallbackCacheDir: options.fallbackCacheDir } : {}),
    ...(options.installSpec ? { spec: options.installSpec } : {}),
    // npm gets the machine's PATH and HOME, nothing else (no credential).
    env: {
      PATH: options.machineEnv.PATH ?? '/usr/bin:/bin',
      HOME: options.machineEnv.HOME ?? options.agentHome,
    },
    onProgress: (line) => {
      options.log(line);
      if (options.onProgress) progress.push(options.onProgress(line));
    },
  });
  await Promise.all(progress);
  // Claude Code's and OpenCode's (with a base URL) model calls go through the usage meter on their
  // way (agents/model-meter.ts): the agent is given the meter's URL.
  const upstream = meteredUpstream(launch.agentType, launch);
  const meter = upstream
    ? await ModelMeter.start({
        upstream,
        // The workspace's directory, the vm-agent's own (not the agent's HOME or state).
        stateFile: path.join(path.dirname(options.stateDir), `model-usage-${options.agentSessionId}.json`),
        log: options.log,
      })
    : undefined;
  const configured = await configureAgent(launch.agentType, {
    home: options.agentHome,
    settings: launch,
    ...(meter ? { modelUrl: meter.url } : {}),
  }).catch(async (e: unknown) => {
    await meter?.close();
    throw e;
  });
  return {
    ...(meter ? { meter } : {}),
    agentType: launch.agentType,
    title: pkg.title,
    command: installed.bin,
    args: configured.args,
    // Model keys in the machine's settings are not the user's: only the stored one reaches the agent.
    env: { ...withoutModelKeys(agentSettings(options.agentEnv)), ...context, ...configured.env },
    secrets: configured.secrets,
    installed: installed.installed,
  };
}

/** The stdio entry that bridges an agent without HTTP MCP to SAM's server (mcp-remote installed on first use). */
async function mcpBridge(options: AgentSessionStart): Promise<McpServerStdio> {
  const installed = await ensureAgentInstalled(MCP_REMOTE, {
    cacheDir: options.cacheDir,
    ...(options.fallbackCacheDir ? { fallbackCacheDir: options.fallbackCacheDir } : {}),
    env: { PATH: options.machineEnv.PATH ?? '/usr/bin:/bin', HOME: options.machineEnv.HOME ?? options.agentHome },
    onProgress: (line) => options.log(line),
  });
  await mkdir(options.agentHome, { recursive: true, mode: 0o700 });
  return samMcpBridgeEntry({
    url: options.mcp.url,
    token: options.mcp.token,
    mcpRemoteBin: installed.bin,
    home: options.agentHome,
  });
}

/**
 * Where an agent's start went, logged as one line (`agent start timings {…}`, epoch ms and
 * durations; never secrets) for bench/agents-first-message.ts to read from the vm-agent's log.
 */
export type AgentStartTimings = {
  agent: string;
  startedAt: number;
  /** Finding the agent in the machine's cache (on first use: npm install) and writing its config. */
  installMs: number;
  installed: boolean;
  /** spawn() until the process exists. */
  spawnMs: number;
  /** The process exists until it answered `initialize` (includes loading the agent's code). */
  initializeMs: number;
  sessionNewMs: number;
};

export async function startAgentSession(options: AgentSessionStart): Promise<RunningAgent> {
  const { payload, launch } = options;
  const startedAt = Date.now();
  let installed = false;
  const context: Record<string, string> = {
    SAM_WORKSPACE_ID: payload.workspaceId,
    SAM_PROJECT_ID: payload.projectId,
    SAM_TASK_ID: payload.taskId,
    SAM_BRANCH: payload.branch,
  };
  const type = launch?.agentType ?? payload.agentType;
  let plan: AgentLaunchPlan;
  let secrets: string[];
  let meter: ModelMeter | undefined;
  if (launch && isConfigurableAgent(type)) {
    const real = await planRealAgent(options, { ...launch, agentType: type }, context);
    plan = real;
    secrets = real.secrets;
    installed = real.installed;
    meter = real.meter;
  } else {
    plan = planAgentLaunch(type, { ...agentSettings(options.agentEnv), ...context }, options.machineEnv);
    if (plan.agentType === 'demo') plan.env.SAM_DEMO_AGENT_STATE_DIR = options.stateDir;
    secrets = Object.entries(plan.env)
      .filter(([name]) => /KEY|TOKEN|SECRET|PASSWORD/i.test(name))
      .map(([, value]) => value);
  }
  // Agents without HTTP MCP get SAM's server through the pinned mcp-remote, the token in its env.
  const mcp = STDIO_MCP_AGENTS.has(plan.agentType)
    ? { ...options.mcp, stdioBridge: await mcpBridge(options) }
    : options.mcp;
  const closeMeter = () => meter?.close().catch((e: unknown) => options.log(`usage meter: ${String(e)}`));
  const spawnAt = Date.now();
  const child = spawnAgentProcess(
    { command: plan.command, args: plan.args, env: plan.env, cwd: options.repoDir },
    options.machineEnv,
  );
  let spawnedAt = spawnAt;
  child.child.once('spawn', () => (spawnedAt = Date.now()));
  const died = child.exited.then((exit) => {
    throw new Error(exitText(exit, child.stderrTail()));
  });
  const timeoutMs = options.startTimeoutMs ?? (Number(options.agentEnv[AGENT_START_TIMEOUT_SETTING]) || 60_000);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${plan.title} did not start within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const client = await Promise.race([
      AgentClient.connect(child.stream, {
        workspaceRoot: options.repoDir,
        sessionId: options.agentSessionId,
        mcp,
        permissionPolicy: permissionPolicy(launch?.permissionMode, options.askPermission),
        onRecord: options.onRecord,
        log: options.log,
      }),
      died,
      timeout,
    ]);
    const initializedAt = Date.now();
    const resume = options.resumeAcpSessionId;
    const acpSessionId = resume
      ? await Promise.race([client.loadSession(resume).then(() => resume), died, timeout])
      : await Promise.race([client.newSession(), died, timeout]);
    died.catch(() => {});
    const timings: AgentStartTimings = {
      agent: plan.agentType,
      startedAt,
      installMs: spawnAt - startedAt,
      installed,
      spawnMs: spawnedAt - spawnAt,
      initializeMs: initializedAt - spawnedAt,
      sessionNewMs: Date.now() - initializedAt,
    };
    options.log(`agent start timings ${JSON.stringify(timings)}`);
    const exited = child.exited.then((exit) => {
      throw new AgentExitedError(exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`);
    });
    exited.catch(() => {});
    return {
      title: plan.title,
      agentType: plan.agentType,
      acpSessionId,
      process: child,
      client,
      secrets,
      usage: () => sessionUsage(type, client, options.agentHome, meter),
      // The process dying ends the turn at once, even before the connection notices.
      async prompt(text) {
        const before = meter?.totals()?.totalTokens ?? 0;
        const stopReason = await Promise.race([client.prompt(text), exited]);
        // Metered model calls are the turn's tokens (for the task's token budget).
        if (meter) client.lastTurnTokens = (meter.totals()?.totalTokens ?? 0) - before;
        return stopReason;
      },
      async stop(graceMs = 5000) {
        // Harmless without a running turn; ends one that runs.
        await client.cancel().catch(() => {});
        await client.settled().catch(() => {});
        client.close();
        const exit = await child.stop(graceMs);
        await closeMeter();
        return exit;
      },
    };
  } catch (error) {
    died.catch(() => {});
    await child.stop(1000);
    await closeMeter();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
