/**
 * An agent on a local machine runs as the machine's own unprivileged OS user (the host runs as
 * root here and in CI; local-machines/users.ts), with a HOME of its own, and its tools run as that
 * user too. A task with Claude Code, started as a user starts it, asks the agent to run a probe
 * with its own shell tool: who am I, where is my HOME, and can I read another machine's directory,
 * the stack's secrets file or PostgreSQL's data directory? The tool's output, as the agent sent it
 * back to the (scripted) model, answers; so does /proc for the agent process itself.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, afterAll, expect, it, onTestFailed } from 'vitest';
import { clusterConfig } from '../../supabase/local/postgres/cluster.ts';
import { paths } from '../../supabase/local/paths.ts';
import { ensureSecret } from '../../supabase/local/secrets.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { AGENT_CACHE, installForMachines } from '../agents/agent-cache.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { createAgentProject, processesWithInArgv } from './support.ts';

const ROOT = process.getuid?.() === 0;
const API_KEY = `sk-ant-user-${Math.random().toString(36).slice(2, 12)}`;
const DECOY = `decoy-${Math.random().toString(36).slice(2, 12)}`;

const stack = useFunctionsStack('e2e_agent_user', {
  allServices: true,
  machines: { agentEnv: { SAM_AGENT_CACHE_DIR: AGENT_CACHE } },
});
let model: ScriptedModel;
const repo = makeWorkingRepo('greeter');

/** Another machine of the same host: it never registers (its control plane is nowhere) but its directory exists. */
async function otherMachine(): Promise<string> {
  const res = await fetch(`${stack.machines.url}/machines`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.SAM_LOCAL_MACHINES_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'decoy',
      vmSize: 'small',
      labels: { sam: 'decoy' },
      userData: { controlPlaneUrl: 'http://127.0.0.1:9/functions/v1/vm-agent', bootstrapToken: 'x'.repeat(32) },
    }),
  });
  expect(res.status).toBe(201);
  const dir = join(stack.machines.baseDir, ((await res.json()) as { id: string }).id);
  writeFileSync(join(dir, 'home', 'secret.txt'), `${DECOY}\n`, { mode: 0o644 });
  return dir;
}

beforeAll(async () => {
  await installForMachines(AGENT_PACKAGES['claude-code']);
  // The stack's own secrets file (`sam start` makes it; a fresh CI checkout may not have it yet).
  if (!existsSync(paths.secrets)) ensureSecret('local-machines.token');
}, 600_000);

afterAll(async () => {
  await model?.close();
});

it.runIf(ROOT)(
  "the agent and its tools run as the machine's own user with their own HOME, and cannot read another machine or the stack's secrets",
  async () => {
    const decoy = await otherMachine();
    const pgData = clusterConfig().dataDir;
    const probe = [
      'echo "uid=$(id -u)"',
      'echo "HOME=$HOME"',
      `cat ${paths.secrets}`,
      `ls ${decoy}`,
      `cat ${decoy}/home/secret.txt`,
      `ls ${pgData}`,
    ]
      .map((c) => `${c} 2>&1`)
      .join('; ');
    model = await new ScriptedModel({
      steps: [
        { shell: { command: `${probe}; true` } },
        { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Probed' } } },
        { text: 'Probed.' },
      ],
    }).start();
    onTestFailed(async () => {
      for (const dir of readdirSync(stack.machines.baseDir)) {
        const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
        if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
      }
      console.log(`tool results: ${JSON.stringify(model.toolResults())}`);
    });

    const user = await UserClient.signUp(stack.url, stack.publishableKey);
    const stored = await user.client.functions.invoke('credentials', {
      method: 'PUT',
      body: { type: 'agent-api-key', provider: 'anthropic', secret: API_KEY, baseUrl: model.url },
    });
    expect(stored.error, String(stored.error)).toBeNull();
    const projectId = await createAgentProject(user, repo, 'claude-code');
    const submitted = await user.client.rpc('submit_task', { p_project: projectId, p_message: 'Probe the machine' });
    expect(submitted.error).toBeNull();
    const { taskId } = submitted.data as { taskId: string };

    // The agent process, seen from outside while it runs: not root, its HOME its own.
    const seen = new Map<number, { uid: number; home: string }>();
    const task = await waitFor(
      'the task to finish',
      async () => {
        for (const line of processesWithInArgv('claude-code-acp')) {
          const pid = Number(line.split(':')[0]);
          try {
            const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
            const home = readFileSync(`/proc/${pid}/environ`, 'utf8')
              .split('\0')
              .find((v) => v.startsWith('HOME='))!
              .slice(5);
            // Only this stack's machines (other tests may run agents of their own meanwhile).
            if (!home.startsWith(`${stack.machines.baseDir}/`)) continue;
            if (!seen.has(pid)) seen.set(pid, { uid, home });
            if (!statSync(home, { throwIfNoEntry: false })) continue;
            expect(statSync(home).uid).toBe(uid);
            expect(statSync(home).mode & 0o777).toBe(0o700);
          } catch (e) {
            // The process (or its HOME) went meanwhile.
            if (!['ENOENT', 'ESRCH'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
          }
        }
        const t = await user.task(taskId);
        return ['completed', 'failed', 'cancelled'].includes(t.status) ? t : null;
      },
      240_000,
      50,
    );
    expect(task.status).toBe('completed');
    expect(seen.size).toBeGreaterThan(0);
    const [agent] = [...seen.values()];
    expect(agent!.uid).not.toBe(0);
    // HOME: the session's own, inside its machine's directory (not the decoy's).
    expect(agent!.home).toMatch(
      new RegExp(`^${stack.machines.baseDir}/lm-[0-9a-f]{12}/home/agent-homes/[0-9a-f-]{36}$`),
    );
    expect(agent!.home.startsWith(decoy)).toBe(false);

    // What the agent's shell tool saw, as it reported it to the model.
    const output = model.toolResults().find((t) => t.includes('uid='));
    expect(output, JSON.stringify(model.toolResults())).toBeDefined();
    expect(output).toContain(`uid=${agent!.uid}`);
    expect(output).toContain(`HOME=${agent!.home}`);
    expect(output).toContain(`cat: ${paths.secrets}: Permission denied`);
    expect(output).toContain(`ls: cannot open directory '${decoy}': Permission denied`);
    expect(output).toContain(`cat: ${decoy}/home/secret.txt: Permission denied`);
    expect(output).toMatch(new RegExp(`ls: cannot (open directory|access) '${pgData}'.*Permission denied`));
    expect(output).not.toContain(DECOY);
    const secrets = readFileSync(paths.secrets, 'utf8');
    for (const value of Object.values(JSON.parse(secrets) as Record<string, string>)) {
      expect(output).not.toContain(value);
    }
    await user.close();
  },
  300_000,
);
