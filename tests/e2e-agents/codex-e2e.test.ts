/**
 * Codex end to end, offline, as tests/e2e-agents/claude-code-e2e.test.ts does it for Claude Code:
 * an OpenAI key stored through the credentials function (base URL = the scripted Responses API),
 * a project whose agent is Codex, a task submitted with a profile naming the model. The vm-agent
 * configures Codex (CODEX_HOME with a custom provider; the key only in the environment); Codex
 * writes with apply_patch, calls SAM's MCP tools through the real function; the commit is pushed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { AGENT_CACHE, installForMachines } from '../agents/agent-cache.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { createAgentProject, filesHolding, processesWithInArgv } from './support.ts';

const MODEL = 'gpt-5.3-codex';
/** What every scripted answer says it used: the task's recorded usage is a multiple of it. */
const USAGE = { input: 2345, output: 67, cached: 1000 };
const API_KEY = `sk-openai-e2e-${Math.random().toString(36).slice(2, 12)}-4242`;

const stack = useFunctionsStack('e2e_codex', {
  allServices: true,
  machines: { agentEnv: { SAM_AGENT_CACHE_DIR: AGENT_CACHE } },
});
let model: ScriptedModel;
const repo = makeWorkingRepo('greeter');
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  // Machines read the shared cache (their own OS users cannot write it).
  await installForMachines(AGENT_PACKAGES['codex']);

  model = await new ScriptedModel({
    usage: USAGE,
    // Codex states its working directory as `<cwd>…</cwd>` in its environment context.
    cwd: (request) => /<cwd>([^<]+)<\/cwd>/.exec(JSON.stringify(request.body))?.[1],
    steps: [
      { write: { file: 'GREETING.md', content: 'Hello from Codex\n' } },
      { mcp: { server: 'sam', tool: 'update_task_status', args: { message: 'Wrote the greeting' } } },
      { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Added GREETING.md' } } },
      { text: 'Done: GREETING.md says hello.' },
    ],
  }).start();
}, 600_000);

afterAll(async () => {
  await model?.close();
});

it('a stored OpenAI key reaches the real codex-acp, which patches, reports through SAM MCP and completes; the commit is on sam/…', async () => {
  onTestFailed(async () => {
    for (const dir of readdirSync(stack.machines.baseDir)) {
      const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
      if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
    }
    console.log(await stack.db.admin`select status, execution_step, branch, error_message from public.tasks`);
  });
  const started = performance.now();
  const user = await UserClient.signUp(stack.url, stack.publishableKey);
  const stored = await user.client.functions.invoke('credentials', {
    method: 'PUT',
    body: { type: 'agent-api-key', provider: 'openai', secret: API_KEY, baseUrl: model.url },
  });
  expect(stored.error, String(stored.error)).toBeNull();
  const projectId = await createAgentProject(user, repo, 'codex');
  const profile = await user.client
    .from('agent_profiles')
    .insert({ project_id: projectId, owner_id: user.userId, name: 'coder', agent_type: 'codex', model: MODEL });
  expect(profile.error).toBeNull();
  const submitted = await user.client.rpc('submit_task', {
    p_project: projectId,
    p_message: 'Add a greeting file',
    p_options: { profile: 'coder' },
  });
  expect(submitted.error).toBeNull();
  const { taskId } = submitted.data as { taskId: string };

  const argvLeaks = new Set<string>();
  const fileLeaks = new Set<string>();
  const admin = stack.db.admin;
  const push = await waitFor(
    'the push to be recorded',
    async () => {
      for (const p of processesWithInArgv(API_KEY)) argvLeaks.add(p);
      // Also while the session runs (its HOME goes when the workspace closes).
      for (const f of filesHolding(stack.machines.baseDir, API_KEY)) fileLeaks.add(f);
      const [row] = await admin`
        select status, completion_evidence -> 'gitPush' as push from public.tasks where id = ${taskId}`;
      if (row?.status === 'failed') throw new Error('the task failed');
      return (row?.push as { pushed?: boolean; branchName?: string } | null) ?? null;
    },
    240_000,
    50,
  );
  const ms = performance.now() - started;
  expect(push.pushed, JSON.stringify(push)).toBe(true);
  expect([...argvLeaks]).toEqual([]);
  expect([...fileLeaks]).toEqual([]);
  expect((await user.task(taskId)).status).toBe('completed');
  expect(git('show', `${push.branchName}:GREETING.md`)).toBe('Hello from Codex');

  const turns = model.turns('responses');
  expect(turns.length).toBeGreaterThanOrEqual(4);
  for (const t of turns) {
    expect(t.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(t.body.model).toBe(MODEL);
    expect(t.tools).toEqual(expect.arrayContaining(['mcp__sam__update_task_status', 'mcp__sam__complete_task']));
  }

  // Codex's token counts (its session log) and context window (its usage updates) are the task's
  // usage, and its owner reads them.
  const answers = model.requests.filter((r) => r.api === 'responses').length;
  const { data: usage, error: usageError } = await user.client
    .from('agent_session_usage')
    .select('input_tokens, output_tokens, cached_read_tokens, total_tokens, context_used, turns, source, agent_type')
    .eq('task_id', taskId);
  expect(usageError).toBeNull();
  expect(usage).toEqual([
    {
      input_tokens: USAGE.input * answers,
      output_tokens: USAGE.output * answers,
      cached_read_tokens: USAGE.cached * answers,
      total_tokens: (USAGE.input + USAGE.output) * answers,
      context_used: expect.any(Number),
      turns: 1,
      source: 'codex-rollout',
      agent_type: 'codex',
    },
  ]);

  const [leaks] = await admin`
    select count(*)::int as n from public.messages where row_to_json(messages)::text like ${'%' + API_KEY + '%'}`;
  expect(leaks!.n).toBe(0);
  expect(filesHolding(stack.machines.baseDir, API_KEY)).toEqual([]);
  expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).not.toContain(API_KEY);
  await user.close();
  console.log(`codex e2e: sign-up → push recorded ${Math.round(ms)} ms`);
}, 300_000);
