/**
 * Gemini CLI and OpenCode end to end, offline, as tests/e2e-agents/claude-code-e2e.test.ts does it
 * for Claude Code: the user's key stored through the credentials function (base URL = the scripted
 * model speaking that vendor's API), a project with that agent, a task with a profile naming the
 * model; the real agent writes the file, calls SAM's MCP tools through the real function, and the
 * commit is pushed, and the task's usage is what the scripted model served: Gemini CLI's as it
 * reports it over ACP, OpenCode's metered on its way to the model (every model call, its title call
 * and tool-calling calls too, not only the turn's last one that its ACP prompt result gives). The
 * key went only to the model.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { AGENT_CACHE, installForMachines } from '../agents/agent-cache.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { ScriptedModel, type RecordedRequest } from '../fakes/models/scripted-model.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { createAgentProject, filesHolding, processesWithInArgv } from './support.ts';

const stack = useFunctionsStack('e2e_gemini_opencode', {
  allServices: true,
  // A loaded test machine may take OpenCode (a large binary) past the default 60 s start; not what this tests.
  machines: { agentEnv: { SAM_AGENT_CACHE_DIR: AGENT_CACHE, SAM_AGENT_START_TIMEOUT_MS: '180000' } },
});
let model: ScriptedModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

/** A checkout on a local machine: `<machine>/workspaces/<id>/repo`, as the agent states it to its model. */
const checkoutIn = (request: RecordedRequest) =>
  /(\/[^\s"'\\]*\/workspaces\/[0-9a-f-]{36}\/repo)/.exec(JSON.stringify(request.body))?.[1];

type Case = {
  agentType: string;
  title: string;
  provider: string;
  model: string;
  api: RecordedRequest['api'];
  auth: (r: RecordedRequest) => unknown;
  authValue: (key: string) => string;
  tools: string[];
  /**
   * The task's usage from what the scripted model served (USAGE per answer): `turns`, its answers
   * that made the agent act; `calls`, every answer of the agent's API.
   */
  usage: (served: { turns: number; calls: number }) => { input_tokens: number; output_tokens: number };
  /** Where the usage comes from (`agent_session_usage.source`). */
  source: string;
};

/** What every scripted answer says it used. */
const USAGE = { input: 1200, output: 34 };

const CASES: Case[] = [
  {
    agentType: 'gemini',
    title: 'Gemini CLI',
    provider: 'gemini',
    model: 'gemini-2.5-pro',
    api: 'gemini',
    auth: (r) => r.headers['x-goog-api-key'],
    authValue: (key) => key,
    tools: ['mcp_sam_update_task_status', 'mcp_sam_complete_task'],
    // `_meta.quota.token_count`: the sum over the turn's model calls (its own side calls apart).
    usage: ({ turns }) => ({ input_tokens: USAGE.input * turns, output_tokens: USAGE.output * turns }),
    source: 'acp',
  },
  {
    agentType: 'opencode',
    title: 'OpenCode',
    provider: 'opencode',
    model: 'sam-coder',
    api: 'chat',
    auth: (r) => r.headers.authorization,
    authValue: (key) => `Bearer ${key}`,
    tools: ['sam_update_task_status', 'sam_complete_task'],
    // Metered on its way to the scripted Chat Completions API (vm-agent/agents/model-meter.ts):
    // every call it answered, OpenCode's title call included. (OpenCode's ACP prompt result gives
    // only the turn's last call.)
    usage: ({ calls }) => ({ input_tokens: USAGE.input * calls, output_tokens: USAGE.output * calls }),
    source: 'chat-completions-api',
  },
];

beforeAll(async () => {
  // Machines read the shared cache (their own OS users cannot write it).
  await installForMachines(AGENT_PACKAGES['gemini']);
  await installForMachines(AGENT_PACKAGES['opencode']);
}, 600_000);

describe.each(CASES)('$title from the chat, offline', (c) => {
  it('the stored key reaches the real agent, which writes, reports through SAM MCP and completes; the commit is on sam/…', async () => {
    const key = `key-${c.agentType}-${Math.random().toString(36).slice(2, 12)}-4242`;
    const repo = makeWorkingRepo('greeter');
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    const scripted = await new ScriptedModel({
      cwd: checkoutIn,
      usage: USAGE,
      steps: [
        { write: { file: 'GREETING.md', content: `Hello from ${c.title}\n` } },
        { mcp: { server: 'sam', tool: 'update_task_status', args: { message: 'Wrote the greeting' } } },
        { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Added GREETING.md' } } },
        { text: 'Done: GREETING.md says hello.' },
      ],
    }).start();
    model = scripted;
    onTestFailed(async () => {
      for (const dir of readdirSync(stack.machines.baseDir)) {
        const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
        if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
      }
      console.log(await stack.db.admin`select status, execution_step, branch, error_message from public.tasks`);
      console.log(`model requests: ${scripted.requests.map((r) => `${r.api} ${r.path}`).join(', ')}`);
    });
    const started = performance.now();
    const user = await UserClient.signUp(stack.url, stack.publishableKey);
    const stored = await user.client.functions.invoke('credentials', {
      method: 'PUT',
      body: { type: 'agent-api-key', provider: c.provider, secret: key, baseUrl: scripted.url },
    });
    expect(stored.error, String(stored.error)).toBeNull();
    const projectId = await createAgentProject(user, repo, c.agentType);
    const profile = await user.client
      .from('agent_profiles')
      .insert({ project_id: projectId, owner_id: user.userId, name: 'coder', agent_type: c.agentType, model: c.model });
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
        for (const p of processesWithInArgv(key)) argvLeaks.add(p);
        // Also while the session runs (its HOME goes when the workspace closes).
        for (const f of filesHolding(stack.machines.baseDir, key)) fileLeaks.add(f);
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
    expect(git('show', `${push.branchName}:GREETING.md`)).toBe(`Hello from ${c.title}`);

    for (const r of scripted.requests) expect(c.auth(r), r.path).toBe(c.authValue(key));
    const turns = scripted.turns(c.api);
    expect(turns.length).toBeGreaterThanOrEqual(4);
    for (const t of turns) expect(t.tools).toEqual(expect.arrayContaining(c.tools));
    expect(JSON.stringify(turns.map((t) => [t.path, t.body.model]))).toContain(c.model);

    // The task's usage is what the model served (per agent: see `usage`), and its owner reads it.
    // A model call may end after the turn (OpenCode's title): the report at the session's end covers it.
    const expected = () => ({
      ...c.usage({ turns: turns.length, calls: scripted.requests.filter((r) => r.api === c.api).length }),
      turns: 1,
      source: c.source,
      agent_type: c.agentType,
    });
    const recorded = async () => {
      const { data, error } = await user.client
        .from('agent_session_usage')
        .select('input_tokens, output_tokens, turns, source, agent_type')
        .eq('task_id', taskId);
      expect(error).toBeNull();
      return data ?? [];
    };
    await waitFor(
      'the usage to be recorded as served',
      async () => isDeepStrictEqual(await recorded(), [expected()]),
      30_000,
    ).catch(() => {}); // the assertion below says what differs
    expect(await recorded()).toEqual([expected()]);

    const [leaks] = await admin`
      select count(*)::int as n from public.messages where row_to_json(messages)::text like ${'%' + key + '%'}`;
    expect(leaks!.n).toBe(0);
    expect(filesHolding(stack.machines.baseDir, key)).toEqual([]);
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).not.toContain(key);
    await user.close();
    console.log(`${c.agentType} e2e: sign-up → push recorded ${Math.round(ms)} ms`);
  }, 300_000);
});
