/**
 * Claude Code end to end, as a user meets it, offline: a user stores an Anthropic key (base URL =
 * the scripted Anthropic model) through the credentials function, creates a project whose agent is
 * Claude Code and submits a task. The orchestrator starts a machine on the local provider; its
 * vm-agent gets the key from the session start, installs the pinned claude-code-acp (from the
 * shared cache), configures it in the session's own HOME and runs it with the key in its
 * environment only. The agent writes a file with its own tool, calls update_task_status and
 * complete_task through SAM's real MCP function; the task completes with the commit on its
 * `sam/…` branch, and its usage is what the model reported (final output counts included). The key reached the model, and nowhere else: no process's argv, no message, no
 * file under the machines' directory, no `.git/config`.
 *
 * A user without a key gets a failed task that says which key to add.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { createAgentProject, filesHolding, processesWithInArgv } from './support.ts';
import { AGENT_CACHE, installForMachines } from '../agents/agent-cache.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';

const PROFILE_MODEL = 'claude-e2e-model';
const INSTRUCTIONS = 'Keep every file you write short.';
/** What every scripted answer says it used: the task's recorded usage is a multiple of it. */
const USAGE = { input: 1234, output: 56, cached: 700 };
const API_KEY = `sk-ant-e2e-${Math.random().toString(36).slice(2, 12)}-4242`;

const stack = useFunctionsStack('e2e_claude', {
  allServices: true,
  // Every machine installs agents into the shared test cache (no download per machine).
  machines: { agentEnv: { SAM_AGENT_CACHE_DIR: AGENT_CACHE } },
});
let model: ScriptedModel;
const repo = makeWorkingRepo('greeter');
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  // Machines read the shared cache (their own OS users cannot write it).
  await installForMachines(AGENT_PACKAGES['claude-code']);

  model = await new ScriptedModel({
    usage: USAGE,
    steps: [
      { write: { file: 'GREETING.md', content: 'Hello from Claude Code\n' } },
      { mcp: { server: 'sam', tool: 'update_task_status', args: { message: 'Wrote the greeting' } } },
      { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Added GREETING.md' } } },
      { text: 'Done: GREETING.md says hello.' },
    ],
  }).start();
}, 600_000);

afterAll(async () => {
  await model?.close();
});

function explainFailure(): void {
  onTestFailed(async () => {
    for (const dir of readdirSync(stack.machines.baseDir)) {
      const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
      if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
    }
    console.log(await stack.db.admin`select title, status, execution_step, branch, error_message from public.tasks`);
    console.log(`model requests: ${model.requests.map((r) => `${r.api} ${r.path}`).join(', ')}`);
  });
}

const claudeProject = (user: UserClient) => createAgentProject(user, repo, 'claude-code');

describe('Claude Code from the chat, offline', () => {
  it('a stored Anthropic key reaches the real claude-code-acp, which edits, reports through SAM MCP and completes; the commit is on sam/…', async () => {
    explainFailure();
    const started = performance.now();
    const user = await UserClient.signUp(stack.url, stack.publishableKey);
    const stored = await user.client.functions.invoke('credentials', {
      method: 'PUT',
      body: { type: 'agent-api-key', provider: 'anthropic', secret: API_KEY, baseUrl: model.url },
    });
    expect(stored.error, String(stored.error)).toBeNull();
    expect(stored.data).toMatchObject({ provider: 'anthropic', hint: expect.stringContaining('4242') });
    expect(JSON.stringify(stored.data)).not.toContain(API_KEY);

    const projectId = await claudeProject(user);
    // A profile: its model and extra instructions reach the agent.
    const profile = await user.client.from('agent_profiles').insert({
      project_id: projectId,
      owner_id: user.userId,
      name: 'greeter',
      agent_type: 'claude-code',
      model: PROFILE_MODEL,
      instructions: INSTRUCTIONS,
    });
    expect(profile.error).toBeNull();
    const submitted = await user.client.rpc('submit_task', {
      p_project: projectId,
      p_message: 'Add a greeting file',
      p_options: { profile: 'greeter' },
    });
    expect(submitted.error).toBeNull();
    const { taskId, sessionId } = submitted.data as { taskId: string; sessionId: string };
    const watch = await user.watch(sessionId);

    // While it runs, sample every process's argv: the key must never be in one.
    const argvLeaks = new Set<string>();
    const fileLeaks = new Set<string>();
    let agentSeen = false;
    const task = await waitFor(
      'the task to finish',
      async () => {
        for (const p of processesWithInArgv(API_KEY)) argvLeaks.add(p);
        // Also while the session runs (its HOME goes when the workspace closes).
        for (const f of filesHolding(stack.machines.baseDir, API_KEY)) fileLeaks.add(f);
        if (processesWithInArgv('claude-code-acp').length > 0) agentSeen = true;
        const t = await user.task(taskId);
        return ['completed', 'failed', 'cancelled'].includes(t.status) ? t : null;
      },
      240_000,
      50,
    );
    const doneMs = performance.now() - started;
    expect(task.status).toBe('completed');
    expect(agentSeen).toBe(true);
    expect([...argvLeaks]).toEqual([]);
    expect([...fileLeaks]).toEqual([]);

    // complete_task (the agent's MCP call) completed the task; the machine then pushed and said so.
    const admin = stack.db.admin;
    const push = await waitFor(
      'the push to be recorded',
      async () => {
        const [row] =
          await admin`select completion_evidence -> 'gitPush' as push from public.tasks where id = ${taskId}`;
        return (row?.push as { pushed?: boolean; branchName?: string } | null) ?? null;
      },
      60_000,
    );
    expect(push.pushed, JSON.stringify(push)).toBe(true);
    const pushedMs = performance.now() - started;

    // The commit is on the task branch of the user's repository; main is untouched.
    expect(task.branch).toMatch(/^sam\//);
    expect(git('show', `${task.branch}:GREETING.md`)).toBe('Hello from Claude Code');
    expect(existsSync(join(repo, 'GREETING.md'))).toBe(false);

    // Every model request carried the stored key; the agent was offered SAM's MCP tools.
    const turns = model.turns('anthropic');
    expect(turns.length).toBeGreaterThanOrEqual(4);

    // The task's usage is what the scripted Anthropic API reported for every message it streamed:
    // input and cache counts from `message_start`, the final output count from `message_delta`
    // (Claude Code's transcript keeps only the first; the vm-agent meters the API's answers). Every
    // model call counts, Claude Code's own small ones too; the owner reads it.
    const messages = () => model.requests.filter((r) => r.api === 'anthropic').length;
    const usage = await waitFor(
      'the recorded usage to cover every model answer',
      async () => {
        const { data, error } = await user.client
          .from('agent_session_usage')
          .select('input_tokens, output_tokens, cached_read_tokens, total_tokens, turns, source, agent_type')
          .eq('task_id', taskId);
        expect(error).toBeNull();
        const n = messages();
        return data?.length === 1 && data[0]!.output_tokens === USAGE.output * n ? { rows: data, n } : null;
      },
      30_000,
    );
    expect(usage.n).toBeGreaterThanOrEqual(turns.length);
    expect(usage.rows).toEqual([
      {
        input_tokens: USAGE.input * usage.n,
        output_tokens: USAGE.output * usage.n,
        cached_read_tokens: USAGE.cached * usage.n,
        total_tokens: (USAGE.input + USAGE.output) * usage.n,
        turns: 1,
        source: 'anthropic-api',
        agent_type: 'claude-code',
      },
    ]);
    for (const r of model.requests) expect(r.headers['x-api-key'], r.path).toBe(API_KEY);
    // The profile's model and instructions reached the agent's model requests.
    // (Claude Code's small background model, Haiku, is its own business.)
    expect(turns.filter((t) => t.body.model === PROFILE_MODEL).length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(turns[0]!.body)).toContain(INSTRUCTIONS);
    for (const t of turns) {
      expect(t.tools).toEqual(expect.arrayContaining(['mcp__sam__update_task_status', 'mcp__sam__complete_task']));
    }

    // The chat got the agent's messages live: its tool calls and its answer.
    await watch.until(
      (w) => w.ordered().some((m) => m.role === 'assistant' && m.content.includes('GREETING.md says hello')),
      30_000,
      "the agent's answer in the chat",
    );
    const tools = watch.ordered().filter((m) => m.role === 'tool');
    expect(tools.length).toBeGreaterThanOrEqual(3);
    // What Realtime broadcast (and the re-reads) never carried the key.
    expect(JSON.stringify(watch.ordered())).not.toContain(API_KEY);
    await watch.leave();
    await user.close();

    // The key is in no message, no file below the machines' directory (logs, outbox, bootstrap,
    // checkouts), no .git/config of the user's repository.
    const rows =
      await admin`select count(*)::int as n from public.messages where row_to_json(messages)::text like ${'%' + API_KEY + '%'}`;
    expect(rows[0]!.n).toBe(0);
    const [all] = await admin`select count(*)::int as n from public.messages`;
    expect(all!.n).toBeGreaterThan(3);
    expect(filesHolding(stack.machines.baseDir, API_KEY)).toEqual([]);
    const logs = readdirSync(stack.machines.baseDir).map((d) => join(stack.machines.baseDir, d, 'vm-agent.log'));
    expect(logs.some((l) => existsSync(l) && readFileSync(l, 'utf8').includes('Claude Code started'))).toBe(true);
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).not.toContain(API_KEY);
    expect(git('log', '--all', '--format=%B%n%an%n%ae')).not.toContain(API_KEY);
    console.log(
      `claude-code e2e: sign-up → task completed ${Math.round(doneMs)} ms, → push recorded ${Math.round(pushedMs)} ms`,
    );
  }, 300_000);

  it('a user without an Anthropic key gets a failed task saying which key to add', async () => {
    explainFailure();
    const user = await UserClient.signUp(stack.url, stack.publishableKey);
    const projectId = await claudeProject(user);
    const { taskId } = await user.submit(projectId, 'Add a greeting file');
    const admin = stack.db.admin;
    const failed = await waitFor(
      'the task to fail',
      async () => {
        const [row] = await admin`select status, error_message from public.tasks where id = ${taskId}`;
        return row && ['failed', 'completed'].includes(row.status as string) ? row : null;
      },
      180_000,
      200,
    );
    expect(failed.status).toBe('failed');
    // Said as the control plane said it, without the HTTP call's wrapping.
    expect(failed.error_message).toBe('workspace failed: Claude Code needs an Anthropic key: add one in Settings');
    await user.close();
  }, 240_000);
});
