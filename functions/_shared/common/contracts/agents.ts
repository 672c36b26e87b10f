/**
 * The coding agents SAM can start, by the id stored in `projects.default_agent_type` and
 * `tasks.agent_type`. The web offers them; the vm-agent's catalog knows how to launch each and
 * which credential it needs. `demo` needs no model and is the default of the local stack.
 *
 * Plain data on purpose: the web bundle, Deno and Node all import this file.
 */
export const AGENT_TYPES = [
  { id: 'demo', label: 'Demo agent (no model)', credential: null },
  { id: 'claude-code', label: 'Claude Code', credential: 'ANTHROPIC_API_KEY' },
  { id: 'codex', label: 'Codex', credential: 'OPENAI_API_KEY' },
  { id: 'gemini', label: 'Gemini CLI', credential: 'GEMINI_API_KEY' },
  { id: 'opencode', label: 'OpenCode', credential: null },
] as const;

export type AgentType = (typeof AGENT_TYPES)[number]['id'];

export const DEFAULT_LOCAL_AGENT: AgentType = 'demo';

export function isAgentType(value: string): value is AgentType {
  return AGENT_TYPES.some((a) => a.id === value);
}
