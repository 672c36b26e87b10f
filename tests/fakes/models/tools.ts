/**
 * The agents' tool names, whichever API offers them: the names a request offers (Anthropic and
 * Gemini declarations, OpenAI `function` tools and Responses `namespace` tools), each agent's write
 * and shell tools, how each agent names an MCP server's tool, and a script step as a call of the
 * tool the agent offered (an `apply_patch` patch for Codex).
 */
import path from 'node:path';
import type { Step, ToolCall } from './script.ts';

/** Tool names a request offers, whichever API it speaks. */
export function toolNames(body: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const t of (body.tools as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof t.name === 'string') names.push(t.name);
    const fn = t.function as { name?: string } | undefined;
    if (fn?.name) names.push(fn.name);
    for (const d of (t.functionDeclarations as { name: string }[] | undefined) ?? []) names.push(d.name);
    if (t.type === 'namespace' && typeof t.name === 'string') {
      for (const inner of (t.tools as { name: string }[] | undefined) ?? []) names.push(`${t.name}__${inner.name}`);
    }
  }
  return names;
}

const WRITE_TOOLS = ['mcp__acp__Write', 'Write', 'write_file', 'write', 'apply_patch'];
/** Each agent's shell tool and the name of its command argument. */
const SHELL_TOOLS: [string, string][] = [
  ['Bash', 'command'],
  ['exec_command', 'cmd'],
  ['run_shell_command', 'command'],
  ['bash', 'command'],
];

/** The name an agent gives `tool` of MCP server `server`, from the tools it offered. */
function mcpToolName(tools: string[], server: string, tool: string): string | undefined {
  const candidates = [`mcp__${server}__${tool}`, `mcp_${server}_${tool}`, `${server}_${tool}`, `${server}__${tool}`];
  return candidates.find((c) => tools.includes(c));
}

/**
 * The tool call for a step among the offered `tools`, or null for a text step. `cwd` (asked only
 * for a write) is the session's working directory a written file is relative to.
 */
export function toolCall(tools: string[], step: Step, cwd: () => string): ToolCall | null {
  if ('write' in step) {
    const name = WRITE_TOOLS.find((t) => tools.includes(t));
    if (!name) throw new Error(`no write tool among ${tools.join(', ')}`);
    const file = path.join(cwd(), step.write.file);
    if (name === 'apply_patch') {
      const lines = step.write.content.replace(/\n$/, '').split('\n');
      return {
        name,
        args: {
          patch: `*** Begin Patch\n*** Add File: ${file}\n${lines.map((l) => `+${l}`).join('\n')}\n*** End Patch\n`,
        },
      };
    }
    const key = name === 'write' ? 'filePath' : 'file_path';
    return { name, args: { [key]: file, content: step.write.content } };
  }
  if ('shell' in step) {
    const tool = SHELL_TOOLS.find(([t]) => tools.includes(t));
    if (!tool) throw new Error(`no shell tool among ${tools.join(', ')}`);
    return { name: tool[0], args: { [tool[1]]: step.shell.command, description: 'Run a command' } };
  }
  if ('mcp' in step) {
    const name = mcpToolName(tools, step.mcp.server, step.mcp.tool);
    if (!name) throw new Error(`no MCP tool ${step.mcp.server}/${step.mcp.tool} among ${tools.join(', ')}`);
    return { name, args: step.mcp.args };
  }
  return null;
}
