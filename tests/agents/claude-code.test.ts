import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { AgentClient } from '../../vm-agent/acp/agent-client.ts';
import { spawnAgentProcess, type AgentProcess } from '../../vm-agent/acp/agent-process.ts';
import { configureAgent } from '../../vm-agent/agents/configure.ts';
import { ensureAgentInstalled } from '../../vm-agent/agents/install.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { startTestMcpServer, type TestMcpServer } from '../../vm-agent/test-support/mcp-server.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { AGENT_CACHE } from './agent-cache.ts';

/**
 * The real Claude Code ACP agent (pinned npm package, installed on first use) driven by SAM's ACP
 * client, offline: its model is the scripted Anthropic Messages server, its MCP server a stand-in
 * with SAM's tools. The agent writes a file through its own tool, calls update_task_status and
 * complete_task, and answers — the path every real session takes.
 */
const TOKEN = 'agent-token-claude';
const API_KEY = 'sk-ant-test-4242';
let workspace: string;
let home: string;
let model: ScriptedModel;
let mcp: TestMcpServer;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  workspace = await mkdtemp(path.join(tmpdir(), 'sam-claude-ws-'));
  home = await mkdtemp(path.join(tmpdir(), 'sam-claude-home-'));
  await writeFile(path.join(workspace, 'README.md'), '# Demo\n');
  mcp = await startTestMcpServer(TOKEN);
  model = await new ScriptedModel({
    cwd: workspace,
    steps: [
      { write: { file: 'GREETING.md', content: 'Hello from Claude Code\n' } },
      { mcp: { server: 'sam', tool: 'update_task_status', args: { message: 'Wrote the greeting' } } },
      { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Added GREETING.md' } } },
      { text: 'Done: GREETING.md says hello.' },
    ],
  }).start();
});

afterAll(async () => {
  await agent?.stop(2000);
  await model?.close();
  await mcp?.close();
  await rm(workspace, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

it('runs the real claude-code-acp against a scripted Anthropic API: file edit, SAM MCP tools, answer', async () => {
  const pkg = AGENT_PACKAGES['claude-code'];
  const installed = await ensureAgentInstalled(pkg, {
    cacheDir: AGENT_CACHE,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? home },
  });

  // The vm-agent's own configuration for Claude Code (vm-agent/agents/configure.ts).
  const launch = await configureAgent('claude-code', {
    home,
    settings: {
      model: null,
      credential: { provider: 'anthropic', secretApiKey: API_KEY, baseUrl: model.url, config: {} },
    },
  });
  expect(launch.args.join(' ')).not.toContain(API_KEY);
  agent = spawnAgentProcess(
    { command: installed.bin, args: launch.args, cwd: workspace, env: launch.env },
    { PATH: process.env.PATH, HOME: home },
  );
  const records: MessageRecord[] = [];
  const client = await AgentClient.connect(agent.stream, {
    workspaceRoot: workspace,
    sessionId: 'sam-session-claude',
    mcp: { url: mcp.url, token: TOKEN },
    onRecord: (r) => {
      records.push(r);
    },
  });
  await client.newSession();
  expect(await client.prompt('Add a greeting file, report progress, then complete the task.')).toBe('end_turn');

  // The agent's own write tool put the file in the workspace.
  expect(await readFile(path.join(workspace, 'GREETING.md'), 'utf8')).toBe('Hello from Claude Code\n');

  // Every model request carried the stored key and SAM's MCP tools, namespaced the Claude way.
  const turns = model.turns('anthropic');
  expect(turns.length).toBe(4);
  for (const t of turns) {
    expect(t.headers['x-api-key']).toBe(API_KEY);
    expect(t.body.stream).toBe(true);
    expect(t.tools).toEqual(expect.arrayContaining(['mcp__sam__update_task_status', 'mcp__sam__complete_task']));
  }

  // SAM's MCP server saw both tools, called with the agent token.
  expect(mcp.calls.map((c) => c.tool)).toEqual(['update_task_status', 'complete_task']);
  expect(mcp.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);

  // The chat gets valid records: tool calls with ids and final statuses, and the answer.
  for (const r of records) expect(MessageRecord.safeParse(r).success, JSON.stringify(r)).toBe(true);
  const tools = records.filter((r) => r.role === 'tool');
  expect(new Set(tools.map((r) => r.toolCallId)).size).toBeGreaterThanOrEqual(3);
  expect(tools.some((r) => r.toolStatus === 'completed')).toBe(true);
  // Claude Code writes with an absolute path in its cwd; its tool records name the file as the repository does.
  expect(JSON.stringify(tools)).toContain('GREETING.md');
  expect(JSON.stringify(tools), JSON.stringify(tools, null, 1)).not.toContain(workspace);
  const answer = records
    .filter((r) => r.role === 'assistant')
    .map((r) => r.content)
    .join('');
  expect(answer).toContain('Done: GREETING.md says hello.');
  expect(JSON.stringify(records)).not.toContain(API_KEY);
}, 600_000);
