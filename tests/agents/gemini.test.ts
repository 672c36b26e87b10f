import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configureAgent } from '../../vm-agent/agents/configure.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { RealAgentRun } from './real-agent-run.ts';

/**
 * The real Gemini CLI in ACP mode driven by SAM's ACP client, offline: its model endpoint is the
 * scripted Gemini API (`GOOGLE_GEMINI_BASE_URL`), its MCP server a stand-in with SAM's tools. The
 * client advertises fs/*, so Gemini reads the new file first (answered as empty), then writes it
 * through `fs/write_text_file`; permissions are answered by SAM's approve policy.
 */
const API_KEY = 'gemini-test-key-4242';
const MODEL = 'gemini-2.5-pro';
const run = new RealAgentRun(
  'gemini',
  'agent-token-gemini',
  { name: 'GREETING.md', content: 'Hello from Gemini CLI\n' },
  'Done: GREETING.md says hello.',
);

beforeAll(() => run.setUp());
afterAll(async () => {
  await run.tearDown();
  console.log(run.report());
});

it('runs the real gemini --acp against a scripted Gemini API: write_file, SAM MCP tools, answer', async () => {
  const pkg = AGENT_PACKAGES.gemini;
  const bin = await run.install(pkg);

  // The vm-agent's own configuration for Gemini CLI (vm-agent/agents/configure.ts): settings.json
  // (telemetry, usage statistics, update checks off; no folder-trust prompts), an explicit model
  // (skips the router call that picks one per turn), the endpoint override.
  const launch = await configureAgent('gemini', {
    home: run.home,
    settings: {
      model: MODEL,
      credential: { provider: 'gemini', secretApiKey: API_KEY, baseUrl: run.model.url, config: {} },
    },
  });
  expect(launch.args).toEqual([...pkg.args, '-m', MODEL]);

  const stop = await run.run({ command: bin, args: launch.args, env: launch.env });
  expect(stop, run.agent?.stderrTail()).toBe('end_turn');

  // Gemini's own write_file wrote the new file (through SAM's fs/write_text_file).
  expect(await readFile(path.join(run.workspace, 'GREETING.md'), 'utf8')).toBe('Hello from Gemini CLI\n');
  const asked = run.fromAgent.map((m) => m.message.method).filter((m) => typeof m === 'string' && m.startsWith('fs/'));
  expect(asked).toEqual(expect.arrayContaining(['fs/read_text_file', 'fs/write_text_file']));

  // Every model request carried the stored key; the acting ones used the chosen model and SAM's tools.
  for (const r of run.model.requests) expect(r.headers['x-goog-api-key'], r.path).toBe(API_KEY);
  const turns = run.model.turns('gemini');
  expect(turns.length).toBe(4);
  for (const t of turns) {
    expect(t.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    expect(t.tools).toEqual(
      expect.arrayContaining(['write_file', 'mcp_sam_update_task_status', 'mcp_sam_complete_task']),
    );
  }

  run.expectSamToolsAndRecords(API_KEY);

  // In its default mode Gemini asks before writing; SAM's policy approved (the file exists).
  const asks = run.fromAgent.filter((m) => m.message.method === 'session/request_permission');
  expect(asks.length).toBeGreaterThanOrEqual(1);

  // Gemini reports token counts only in the prompt result's `_meta.quota`; SAM's client keeps no record of it.
  const result = run.promptResult();
  const quota = (result?._meta as { quota?: { token_count?: { input_tokens?: number; output_tokens?: number } } })
    ?.quota;
  expect(quota?.token_count?.input_tokens).toBeGreaterThan(0);
  expect(run.records.some((r) => JSON.stringify(r.metadata).includes('input_tokens'))).toBe(false);

  // Gemini CLI relaunches itself as a child node process; stopping the agent must end it too.
  expect(await run.stopAgent(), 'gemini processes left after stop()').toEqual([]);
}, 600_000);
