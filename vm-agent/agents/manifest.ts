/**
 * The npm packages the vm-agent installs for each agent, at pinned versions (one place to bump).
 * `args` start the agent's ACP mode over stdio. Versions are the ones run offline against scripted
 * models in tests/agents/.
 */
export type AgentPackage = {
  /** What the chat calls it ("Installing Claude Code…"). */
  title: string;
  package: string;
  version: string;
  /** The executable in node_modules/.bin. */
  bin: string;
  args: string[];
};

export const AGENT_PACKAGES = {
  'claude-code': {
    title: 'Claude Code',
    package: '@zed-industries/claude-code-acp',
    version: '0.16.2',
    bin: 'claude-code-acp',
    args: [],
  },
  codex: { title: 'Codex', package: '@zed-industries/codex-acp', version: '0.16.0', bin: 'codex-acp', args: [] },
  gemini: { title: 'Gemini CLI', package: '@google/gemini-cli', version: '0.61.0', bin: 'gemini', args: ['--acp'] },
  opencode: { title: 'OpenCode', package: 'opencode-ai', version: '1.18.33', bin: 'opencode', args: ['acp'] },
} satisfies Record<string, AgentPackage>;

/** The stdio bridge that gives agents without HTTP MCP support SAM's MCP server (token from the environment). */
export const MCP_REMOTE: AgentPackage = {
  title: 'mcp-remote',
  package: 'mcp-remote',
  version: '0.15.1',
  bin: 'mcp-remote',
  args: [],
};
