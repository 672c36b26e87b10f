/**
 * SAM's MCP server for an agent that speaks MCP only over stdio (Amp): the session's `mcpServers`
 * entry starts the pinned `mcp-remote` (agents/manifest.ts `MCP_REMOTE`, installed like an agent)
 * as a stdio server that forwards to SAM's Streamable HTTP endpoint. The agent token travels in
 * the entry's environment as `SAM_MCP_TOKEN`; the argument is the literal header template
 * `Authorization: Bearer ${SAM_MCP_TOKEN}`, which mcp-remote expands from its own environment —
 * so the token is in no process's argv (`/proc/<pid>/cmdline` is readable by every user).
 *
 * Amp itself (its ACP adapter and its model service) is not run here: the bridge is what is tested
 * (tests/e2e-agents/amp-bridge.test.ts).
 */
import type { McpServerStdio } from '@agentclientprotocol/sdk';

/** The variable mcp-remote reads the agent token from. */
export const SAM_MCP_TOKEN_ENV = 'SAM_MCP_TOKEN';

export type BridgeOptions = {
  /** SAM's MCP endpoint (…/functions/v1/mcp). */
  url: string;
  /** The session's agent token. */
  token: string;
  /** The installed `mcp-remote` executable (a node script). */
  mcpRemoteBin: string;
  /** Where mcp-remote keeps its state (`MCP_REMOTE_CONFIG_DIR`): the session's own HOME. */
  home: string;
  /** node, by absolute path (the script's `env node` needs no PATH then). */
  node?: string;
  name?: string;
};

/** The stdio `mcpServers` entry (ACP `session/new`) that bridges the agent to SAM's MCP server. */
export function samMcpBridgeEntry(options: BridgeOptions): McpServerStdio {
  const url = new URL(options.url);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return {
    name: options.name ?? 'sam',
    command: options.node ?? process.execPath,
    args: [
      options.mcpRemoteBin,
      url.toString(),
      '--transport',
      'http-only',
      '--header',
      `Authorization: Bearer \${${SAM_MCP_TOKEN_ENV}}`,
      // Plain http only to the machine itself (a local stack); anything else is https.
      ...(url.protocol === 'http:' && !loopback ? ['--allow-http'] : []),
      '--silent',
    ],
    env: [
      { name: SAM_MCP_TOKEN_ENV, value: options.token },
      { name: 'MCP_REMOTE_CONFIG_DIR', value: `${options.home}/.mcp-auth` },
      { name: 'HOME', value: options.home },
      { name: 'PATH', value: process.env.PATH ?? '/usr/bin:/bin' },
    ],
  };
}
