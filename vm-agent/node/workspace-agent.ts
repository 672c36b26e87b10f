/**
 * The supervisor of a workspace's agent (agent-supervisor.ts), set up for one agent session: its
 * checkout and state directory, SAM's MCP server with the session's agent token, the launch
 * settings the control plane resolved (profile, credential), the agent's own HOME, and where the
 * agent package is installed from (the host's shared cache, else the machine's own).
 */
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { AgentLaunchSettings, CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AGENT_CACHE_SETTING } from './agent-session.ts';
import { AgentSupervisor } from './agent-supervisor.ts';
import type { PermissionBroker } from './permission-broker.ts';

export interface AgentSessionGrant {
  agentSessionId: string;
  mcpUrl: string;
  agentToken: string;
  agent?: AgentLaunchSettings;
}

export function superviseAgent(options: {
  payload: CreateWorkspacePayload;
  session: AgentSessionGrant;
  /** `<machineDir>/workspaces/<id>`: the checkout is `repo/`, the agent's own state `agent-state/`. */
  workspaceDir: string;
  machineDir: string;
  agentHome: string;
  agentEnv: Record<string, string>;
  machineEnv: NodeJS.ProcessEnv;
  secrets: () => string[];
  onRecovering: (reason: string) => Promise<void>;
  /** One line of the agent's installation, for the chat. */
  onProgress: (line: string) => Promise<void>;
  onRecord: (record: MessageRecord) => Promise<void>;
  askPermission: PermissionBroker['decide'];
  log: (line: string) => void;
}): AgentSupervisor {
  const { payload, session, agentEnv, machineEnv, machineDir } = options;
  const ownCache = path.join(machineEnv.HOME ?? machineDir, '.cache', 'sam', 'agents');
  return new AgentSupervisor({
    secrets: options.secrets,
    onRecovering: options.onRecovering,
    start: {
      payload,
      repoDir: path.join(options.workspaceDir, 'repo'),
      stateDir: path.join(options.workspaceDir, 'agent-state'),
      agentSessionId: session.agentSessionId,
      mcp: { url: session.mcpUrl, token: session.agentToken },
      launch: session.agent,
      agentHome: options.agentHome,
      // The host's shared cache when it names one (read-only to a machine with its own OS user:
      // what it lacks is installed into the machine's own cache).
      cacheDir: agentEnv[AGENT_CACHE_SETTING] ?? ownCache,
      fallbackCacheDir: ownCache,
      onProgress: options.onProgress,
      agentEnv,
      machineEnv,
      onRecord: options.onRecord,
      log: options.log,
      askPermission: options.askPermission,
    },
  });
}
