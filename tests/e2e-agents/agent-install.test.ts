/**
 * A real agent's start on a machine that does not have it yet: the vm-agent installs the agent's
 * package with npm into the machine's cache (progress for the chat), configures it in the session's
 * own HOME and starts it with the credential in its environment only; the next session uses the
 * cache. Offline: the "package" is a local tarball named like the pinned Claude Code ACP package,
 * whose executable is SAM's demo agent (a real ACP agent), installed by the real npm.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { ensureAgentInstalled } from '../../vm-agent/agents/install.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { startAgentSession, type RunningAgent } from '../../vm-agent/node/agent-session.ts';
import { startTestMcpServer, type TestMcpServer } from '../../vm-agent/test-support/mcp-server.ts';

const KEY = `sk-ant-install-${randomUUID()}`;
const pkg = AGENT_PACKAGES['claude-code'];
const DEMO_BIN = fileURLToPath(new URL('../../vm-agent/demo-agent/bin.mjs', import.meta.url));

let dir: string;
let tarball: string;
let mcp: TestMcpServer;
const running: RunningAgent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sam-agent-install-'));
  const source = join(dir, 'package');
  execFileSync('mkdir', ['-p', source]);
  writeFileSync(
    join(source, 'package.json'),
    JSON.stringify({ name: pkg.package, version: pkg.version, type: 'module', bin: { [pkg.bin]: 'bin.js' } }),
  );
  writeFileSync(join(source, 'bin.js'), `#!/usr/bin/env node\nawait import(${JSON.stringify(DEMO_BIN)});\n`);
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: source, encoding: 'utf8' });
  tarball = join(dir, name.trim().split('\n').at(-1)!);
  mcp = await startTestMcpServer('agent-token-install');
});

afterAll(async () => {
  for (const agent of running) await agent.stop(2000);
  await mcp?.close();
  rmSync(dir, { recursive: true, force: true });
});

function payload(): CreateWorkspacePayload {
  return {
    workspaceId: randomUUID(),
    projectId: randomUUID(),
    taskId: randomUUID(),
    chatSessionId: randomUUID(),
    repository: 'https://example.test/repo.git',
    repoProvider: 'local',
    defaultBranch: 'main',
    baseBranch: 'main',
    branch: 'sam/install',
    workspaceProfile: 'lightweight',
    lightweight: true,
    agentType: 'claude-code',
    taskMode: 'task',
    title: 'install',
    initialPrompt: 'hello',
    workspaceToken: 'workspace-token-never-for-agents',
    workspaceTokenExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
  };
}

async function start(
  cacheDir: string,
  agentHome: string,
  progress: string[],
  log: string[] = [],
  startLimitMs = '90000',
): Promise<RunningAgent> {
  const records: MessageRecord[] = [];
  const agent = await startAgentSession({
    payload: payload(),
    repoDir: dir,
    stateDir: join(dir, 'state'),
    agentSessionId: randomUUID(),
    mcp: { url: mcp.url, token: 'agent-token-install' },
    launch: {
      agentType: 'claude-code',
      model: 'claude-test-model',
      permissionMode: 'auto',
      instructions: null,
      credential: { provider: 'anthropic', secretApiKey: KEY, baseUrl: 'http://127.0.0.1:9', config: {} },
    },
    agentHome,
    cacheDir,
    installSpec: tarball,
    onProgress: async (line) => {
      progress.push(line);
    },
    agentEnv: {
      SAM_AGENT_CACHE_DIR: cacheDir,
      SAM_AGENT_START_TIMEOUT_MS: startLimitMs,
      SAM_DEMO_AGENT_DELAY_MS: '0',
      OPENAI_API_KEY: 'sk-machine-openai',
      ANTHROPIC_API_KEY: 'sk-machine-anthropic',
    },
    machineEnv: { PATH: process.env.PATH, HOME: join(dir, 'machine-home') },
    onRecord: async (r) => {
      records.push(r);
    },
    log: (line) => log.push(line),
  });
  running.push(agent);
  return agent;
}

it('installs on first use with progress, passes the key only as the environment, and uses the cache next time', async () => {
  const cacheDir = join(dir, 'cache');
  const progress: string[] = [];
  const agentHome = join(dir, 'machine-home', 'agent-homes', 'one');
  const firstLog: string[] = [];
  const first = await start(cacheDir, agentHome, progress, firstLog);
  expect(progress[0]).toBe(`Installing Claude Code (${pkg.package}@${pkg.version})…`);
  expect(progress[1]).toMatch(/^Installed Claude Code in \d+\.\d s$/);
  expect(first.title).toBe('Claude Code');
  expect(first.secrets).toContain(KEY);

  const pid = first.process.child.pid!;
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  expect(environ).toContain(`ANTHROPIC_API_KEY=${KEY}`);
  // The stored base URL is what the vm-agent's usage meter forwards to; the agent talks to the meter.
  expect(environ.find((e) => e.startsWith('ANTHROPIC_BASE_URL='))).toMatch(
    /^ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+\/./,
  );
  expect(environ).toContain('ANTHROPIC_MODEL=claude-test-model');
  expect(environ).toContain(`HOME=${agentHome}`);
  expect(environ).toContain('SAM_DEMO_AGENT_DELAY_MS=0');
  // SAM's own machine settings, model keys of the machine's and the workspace's token are not the agent's.
  expect(environ.join('\n')).not.toContain('sk-machine-');
  expect(environ.some((v) => v.startsWith('SAM_AGENT_CACHE_DIR='))).toBe(false);
  expect(environ.some((v) => v.startsWith('SAM_AGENT_START_TIMEOUT_MS='))).toBe(false);
  expect(environ.join('\n')).not.toContain('workspace-token-never-for-agents');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  expect(argv).toContain(join(cacheDir, `${pkg.package.replace('/', '+')}@${pkg.version}`));
  expect(argv).not.toContain(KEY);

  const again: string[] = [];
  const againLog: string[] = [];
  await start(cacheDir, join(dir, 'machine-home', 'agent-homes', 'two'), again, againLog);
  expect(again).toEqual([]);

  // Where each start went, one log line each (bench/agents-first-message.ts reads it): the first
  // start installed, the second found the cache; durations only, never the key.
  const timings = (log: string[]) => {
    const line = log.find((l) => l.startsWith('agent start timings '));
    expect(line).toBeDefined();
    expect(line).not.toContain(KEY);
    return JSON.parse(line!.slice('agent start timings '.length)) as Record<string, unknown>;
  };
  const installed = timings(firstLog);
  expect(installed).toMatchObject({ agent: 'claude-code', installed: true });
  for (const phase of ['installMs', 'spawnMs', 'initializeMs', 'sessionNewMs']) {
    expect(installed[phase]).toBeGreaterThanOrEqual(0);
  }
  expect(installed.installMs).toBeGreaterThan(0);
  expect(timings(againLog)).toMatchObject({ agent: 'claude-code', installed: false });
}, 120_000);

it("an agent that does not start within the machine's start limit (SAM_AGENT_START_TIMEOUT_MS) fails in words", async () => {
  const cacheDir = join(dir, 'cache');
  await expect(start(cacheDir, join(dir, 'machine-home', 'agent-homes', 'slow'), [], [], '1')).rejects.toThrow(
    'Claude Code did not start within 1 ms',
  );
}, 120_000);

it("installs into the machine's own cache when the shared one lacks the agent and cannot be written here", async () => {
  // A shared cache this process cannot write (a file stands where its directory would be: even
  // root cannot create it) — as the host's cache is to a machine running as its own OS user.
  const blocked = join(dir, 'not-a-dir');
  writeFileSync(blocked, '');
  const shared = join(blocked, 'cache');
  const own = join(dir, 'own-cache');
  const installed = await ensureAgentInstalled(pkg, {
    cacheDir: shared,
    fallbackCacheDir: own,
    spec: tarball,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(dir, 'machine-home') },
  });
  expect(installed.installed).toBe(true);
  expect(installed.bin.startsWith(own + '/')).toBe(true);
  // Next time the machine's own copy is found without installing again.
  const again = await ensureAgentInstalled(pkg, {
    cacheDir: shared,
    fallbackCacheDir: own,
    spec: tarball,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(dir, 'machine-home') },
  });
  expect(again).toMatchObject({ installed: false, bin: installed.bin });
}, 120_000);
