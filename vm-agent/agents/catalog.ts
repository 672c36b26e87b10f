/**
 * The agents a workspace can run, and how each is launched over ACP (stdio). An agent whose
 * command is not installed or whose credential is not configured cannot start; the error says
 * which, so the chat shows why the session failed. Credentials come from the machine's agent
 * settings (bootstrap.json `agentEnv`) or the vm-agent's own environment, and only the ones the
 * agent needs are passed on — never platform secrets (see acp/agent-env.ts).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_TYPES, DEFAULT_LOCAL_AGENT, type AgentType } from '../../functions/_shared/common/contracts/agents.ts';

export type AgentSpec = {
  /** What the chat calls it. */
  title: string;
  command: string;
  args: string[];
  /** Environment variables of which at least one must be set (the model credential). */
  credentialEnv: string[];
};

const DEMO_BIN = fileURLToPath(new URL('../demo-agent/bin.mjs', import.meta.url));
/** Set by the one-file bundle (`vm-agent/bundle/entry.ts`): the demo agent then runs from it. */
const BUNDLE = (globalThis as { __SAM_VM_AGENT_BUNDLE__?: string }).__SAM_VM_AGENT_BUNDLE__;

export const DEFAULT_AGENT_TYPE: AgentType = DEFAULT_LOCAL_AGENT;

/** How each agent of the shared list (contracts/agents.ts: ids, labels, credentials) is started. */
const LAUNCH: Record<AgentType, { command: string; args: string[] }> = {
  demo: { command: process.execPath, args: BUNDLE ? [BUNDLE, 'demo-agent'] : [DEMO_BIN] },
  'claude-code': { command: 'claude-code-acp', args: [] },
  codex: { command: 'codex-acp', args: [] },
  gemini: { command: 'gemini', args: ['--experimental-acp'] },
  opencode: { command: 'opencode', args: ['acp'] },
};

export const AGENT_CATALOG: Record<string, AgentSpec> = Object.fromEntries(
  AGENT_TYPES.map((a) => [
    a.id,
    { title: a.label, ...LAUNCH[a.id], credentialEnv: a.credential === null ? [] : [a.credential] },
  ]),
);

/**
 * Amp: launched from PATH (an ACP adapter of Amp's own), with SAM's MCP server bridged over stdio
 * through the pinned mcp-remote (agents/amp.ts). Not offered in the web (contracts/agents.ts) — Amp
 * needs its own service, so it has not been run end to end here.
 */
AGENT_CATALOG.amp = { title: 'Amp', command: 'amp-acp', args: [], credentialEnv: ['AMP_API_KEY'] };

/** Agents whose MCP client speaks only stdio: SAM's server reaches them through mcp-remote. */
export const STDIO_MCP_AGENTS: ReadonlySet<string> = new Set(['amp']);

/** Other names the same agents go by. */
const ALIASES: Record<string, string> = { 'openai-codex': 'codex', 'google-gemini': 'gemini' };

export class AgentUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnavailableError';
  }
}

export type AgentLaunchPlan = {
  agentType: string;
  title: string;
  command: string;
  args: string[];
  env: Record<string, string>;
};

/** The absolute path of `command` on `PATH`, or null. */
export function findOnPath(command: string, pathVar: string | undefined): string | null {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return executable(command) ? command : null;
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, command);
    if (executable(file)) return file;
  }
  return null;
}

/**
 * How to start `agentType`: its command (resolved on PATH) and the environment it gets from SAM:
 * `agentEnv` (the machine's agent settings) plus its credential when it was only in `machineEnv`.
 */
export function planAgentLaunch(
  agentType: string | null | undefined,
  agentEnv: Record<string, string>,
  machineEnv: NodeJS.ProcessEnv,
): AgentLaunchPlan {
  const type = ALIASES[agentType ?? ''] ?? (agentType || DEFAULT_AGENT_TYPE);
  const spec = AGENT_CATALOG[type];
  if (!spec) {
    throw new AgentUnavailableError(
      `Unknown agent type "${type}"; this machine can run: ${Object.keys(AGENT_CATALOG).join(', ')}`,
    );
  }
  const command = findOnPath(spec.command, machineEnv.PATH);
  if (!command) {
    throw new AgentUnavailableError(`${spec.title} is not installed on this machine (no "${spec.command}" on PATH)`);
  }
  const env: Record<string, string> = { ...agentEnv };
  if (spec.credentialEnv.length > 0) {
    const name = spec.credentialEnv.find((n) => env[n] || machineEnv[n]);
    if (!name) {
      throw new AgentUnavailableError(
        `${spec.title} needs a credential: set ${spec.credentialEnv.join(' or ')} in the machine's agent settings`,
      );
    }
    if (!env[name]) env[name] = machineEnv[name]!;
  }
  return { agentType: type, title: spec.title, command, args: spec.args, env };
}
