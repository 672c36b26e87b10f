import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AgentEnvError, buildAgentEnv, isPlatformSecretName } from './agent-env.ts';
import { spawnAgentProcess } from './agent-process.ts';

const parent = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/sam',
  LC_ALL: 'C.UTF-8',
  SAM_NODE_TOKEN: 'node-secret',
  SAM_WORKSPACE_TOKEN: 'ws-secret',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role',
  DATABASE_URL: 'postgres://x',
  AWS_SECRET_ACCESS_KEY: 'aws',
  RANDOM_THING: 'x',
};

describe('agent environment', () => {
  it('inherits only allow-listed variables and adds the agent settings', () => {
    const env = buildAgentEnv(parent, { ANTHROPIC_API_KEY: 'sk-ant', SAM_BRANCH: 'sam/x' });
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/sam',
      LC_ALL: 'C.UTF-8',
      ANTHROPIC_API_KEY: 'sk-ant',
      SAM_BRANCH: 'sam/x',
    });
  });

  it('refuses platform secrets even when passed explicitly', () => {
    expect(() => buildAgentEnv(parent, { SAM_WORKSPACE_TOKEN: 'x', SUPABASE_ANON_KEY: 'y' })).toThrow(AgentEnvError);
    expect(
      ['SAM_GIT_TOKEN', 'SAM_BOOTSTRAP_TOKEN', 'SUPABASE_URL', 'PGPASSWORD', 'GIT_ASKPASS'].every(isPlatformSecretName),
    ).toBe(true);
    expect(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'SAM_BRANCH', 'GH_TOKEN'].some(isPlatformSecretName)).toBe(false);
  });

  it('a spawned agent process sees exactly that environment', async () => {
    const printer = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test-support', 'print-env.mjs');
    const agent = spawnAgentProcess(
      { command: process.execPath, args: [printer], env: { OPENAI_API_KEY: 'sk-open' }, cwd: process.cwd() },
      { ...process.env, SAM_NODE_TOKEN: 'node-secret', SUPABASE_SERVICE_ROLE_KEY: 'service-role' },
    );
    let out = '';
    agent.child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    const seen = JSON.parse(out) as Record<string, string>;
    expect(seen.OPENAI_API_KEY).toBe('sk-open');
    expect(Object.values(seen)).not.toContain('node-secret');
    expect(Object.values(seen)).not.toContain('service-role');
    expect(Object.keys(seen).filter((k) => /^(SAM_|SUPABASE_)/.test(k))).toEqual([]);
  });
});
