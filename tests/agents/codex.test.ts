import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configureAgent } from '../../vm-agent/agents/configure.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { descendants, RealAgentRun } from './real-agent-run.ts';

/**
 * The real Codex ACP agent (pinned npm package: a Node wrapper around a native binary) driven by
 * SAM's ACP client, offline: its model is a custom `model_providers` entry speaking the OpenAI
 * Responses API to the scripted model, its MCP server a stand-in with SAM's tools. Codex writes
 * the file with apply_patch, calls SAM's tools (offered in the `mcp__sam` namespace), answers.
 */
const API_KEY = 'sk-openai-test-4242';
const MODEL = 'gpt-5.3-codex';
const run = new RealAgentRun(
  'codex',
  'agent-token-codex',
  { name: 'GREETING.md', content: 'Hello from Codex\n' },
  'Done: GREETING.md says hello.',
);

beforeAll(() => run.setUp());
afterAll(async () => {
  await run.tearDown();
  console.log(run.report());
});

it('runs the real codex-acp against a scripted Responses API: apply_patch, SAM MCP tools, answer, usage', async () => {
  const bin = await run.install(AGENT_PACKAGES.codex);

  // The vm-agent's own configuration for Codex (vm-agent/agents/configure.ts): CODEX_HOME with a
  // custom Responses provider at the stored base URL, the key only in the environment.
  const launch = await configureAgent('codex', {
    home: run.home,
    settings: {
      model: MODEL,
      credential: { provider: 'openai', secretApiKey: API_KEY, baseUrl: run.model.url, config: {} },
    },
  });
  const configToml = await readFile(path.join(run.home, '.codex', 'config.toml'), 'utf8');
  expect(configToml).toContain(`base_url = "${run.model.url}/v1"`);
  expect(configToml).not.toContain(API_KEY);

  const stop = await run.run({ command: bin, args: launch.args, env: launch.env });
  expect(stop, run.agent?.stderrTail()).toBe('end_turn');

  // Codex's own apply_patch wrote the file in the workspace.
  expect(await readFile(path.join(run.workspace, 'GREETING.md'), 'utf8')).toBe('Hello from Codex\n');

  // Every model request went to the custom provider with the stored key, the model and SAM's tools.
  const turns = run.model.turns('responses');
  expect(turns.length).toBe(4);
  for (const t of turns) {
    expect(t.path).toBe('/v1/responses');
    expect(t.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(t.body.model).toBe(MODEL);
    expect(t.body.stream).toBe(true);
    expect(t.tools).toEqual(
      expect.arrayContaining(['apply_patch', 'mcp__sam__update_task_status', 'mcp__sam__complete_task']),
    );
  }
  expect(run.model.requests.filter((r) => r.api !== 'responses')).toEqual([]);

  run.expectSamToolsAndRecords(API_KEY);

  // Full access with approval "never": the session starts in full-access mode and nothing asks.
  const sessionNew = run.fromAgent.find((m) => (m.message.result as { sessionId?: string } | undefined)?.sessionId);
  expect((sessionNew?.message.result as { modes?: { currentModeId?: string } }).modes?.currentModeId).toBe(
    'full-access',
  );
  expect(run.fromAgent.filter((m) => m.message.method === 'session/request_permission')).toEqual([]);

  // Codex reports context usage as `usage_update`: SAM's client counts it (the task shows the
  // totals) instead of putting it in the chat.
  expect(run.records.filter((r) => r.metadata.sessionUpdate === 'usage_update')).toEqual([]);
  expect(run.client!.usage.report()).toEqual(
    expect.objectContaining({ contextUsed: expect.any(Number), contextSize: expect.any(Number), turns: 1 }),
  );
  expect(run.client!.usage.report()!.contextUsed).toBeGreaterThan(0);

  // The Node wrapper runs a native codex-acp; stopping the agent must end that one too.
  const native = descendants(run.agent!.child.pid!);
  expect(native.length, 'the native codex-acp under the wrapper').toBeGreaterThan(0);
  expect(await run.stopAgent(), 'codex processes left after stop()').toEqual([]);
}, 600_000);
