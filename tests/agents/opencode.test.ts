import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configureAgent } from '../../vm-agent/agents/configure.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { RealAgentRun } from './real-agent-run.ts';

/**
 * The real OpenCode in ACP mode driven by SAM's ACP client, offline: its model is an
 * openai-compatible provider (given in `OPENCODE_CONFIG_CONTENT`) pointing at the scripted Chat
 * Completions server, its MCP server a stand-in with SAM's tools. OpenCode writes the file with its
 * own write tool, calls SAM's tools (named `sam_<tool>`), answers, and reports usage in the result.
 */
const API_KEY = 'sk-opencode-test-4242';
const MODEL = 'sam-coder';
const run = new RealAgentRun(
  'opencode',
  'agent-token-opencode',
  { name: 'GREETING.md', content: 'Hello from OpenCode\n' },
  'Done: GREETING.md says hello.',
);

beforeAll(() => run.setUp());
afterAll(async () => {
  await run.tearDown();
  console.log(run.report());
});

it('runs the real opencode acp against a scripted Chat Completions API: write, SAM MCP tools, answer, usage', async () => {
  const pkg = AGENT_PACKAGES.opencode;
  const bin = await run.install(pkg);

  // The vm-agent's own configuration for OpenCode (vm-agent/agents/configure.ts): an
  // openai-compatible provider at the stored base URL, given in OPENCODE_CONFIG_CONTENT.
  const launch = await configureAgent('opencode', {
    home: run.home,
    settings: {
      model: MODEL,
      credential: { provider: 'opencode', secretApiKey: API_KEY, baseUrl: run.model.url, config: {} },
    },
  });
  const stop = await run.run({ command: bin, args: launch.args, env: launch.env });
  expect(stop, run.agent?.stderrTail()).toBe('end_turn');

  // OpenCode's own write tool wrote the file in the workspace.
  expect(await readFile(path.join(run.workspace, 'GREETING.md'), 'utf8')).toBe('Hello from OpenCode\n');

  // Every model request (the title call too) carried the stored key and the configured model.
  for (const r of run.model.requests) {
    expect(r.path, JSON.stringify(r.body).slice(0, 300)).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(r.body.model).toBe(MODEL);
  }
  const turns = run.model.turns('chat');
  expect(turns.length).toBe(4);
  for (const t of turns) {
    expect(t.body.stream).toBe(true);
    expect(t.tools).toEqual(expect.arrayContaining(['write', 'sam_update_task_status', 'sam_complete_task']));
  }

  run.expectSamToolsAndRecords(API_KEY);

  // OpenCode reports the turn's usage in the prompt result; SAM's client returns only the stop reason.
  const result = run.promptResult();
  expect(result?.usage).toEqual(
    expect.objectContaining({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) }),
  );
  expect((result?.usage as { inputTokens: number }).inputTokens).toBeGreaterThan(0);

  expect(await run.stopAgent(), 'opencode processes left after stop()').toEqual([]);
}, 600_000);
