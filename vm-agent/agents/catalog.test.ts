import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentUnavailableError, planAgentLaunch } from './catalog.ts';

let bin: string;
beforeEach(async () => {
  bin = await mkdtemp(path.join(tmpdir(), 'sam-agents-'));
});
afterEach(async () => {
  await rm(bin, { recursive: true, force: true });
});

async function install(name: string): Promise<void> {
  await writeFile(path.join(bin, name), '#!/bin/sh\nexit 0\n');
  await chmod(path.join(bin, name), 0o755);
}

describe('agent catalog', () => {
  it('starts the demo agent with node by absolute path, with the machine settings', () => {
    const plan = planAgentLaunch('demo', { SAM_DEMO_AGENT_DELAY_MS: '5' }, { PATH: '' });
    expect(plan.command).toBe(process.execPath);
    expect(plan.args).toHaveLength(1);
    expect(path.isAbsolute(plan.args[0]!)).toBe(true);
    expect(plan.args[0]).toMatch(/vm-agent\/demo-agent\/bin\.mjs$/);
    expect(plan.env).toEqual({ SAM_DEMO_AGENT_DELAY_MS: '5' });
    expect(planAgentLaunch(undefined, {}, {}).agentType).toBe('demo');
  });

  it('refuses an agent that is not installed, or installed without its credential, saying which', async () => {
    expect(() => planAgentLaunch('claude-code', {}, { PATH: bin })).toThrow(
      'Claude Code is not installed on this machine (no "claude-code-acp" on PATH)',
    );
    await install('claude-code-acp');
    expect(() => planAgentLaunch('claude-code', {}, { PATH: bin })).toThrow(AgentUnavailableError);
    expect(() => planAgentLaunch('claude-code', {}, { PATH: bin })).toThrow(
      /needs a credential: set ANTHROPIC_API_KEY/,
    );
    expect(() => planAgentLaunch('copilot', {}, { PATH: bin })).toThrow(/Unknown agent type "copilot"/);
  });

  it('passes only the credential the agent needs from the machine environment, and the launch command', async () => {
    await install('gemini');
    await install('codex-acp');
    await install('opencode');
    const machine = { PATH: bin, GEMINI_API_KEY: 'g-key', OPENAI_API_KEY: 'o-key', SAM_NODE_TOKEN: 'secret' };
    const gemini = planAgentLaunch('google-gemini', {}, machine);
    expect(gemini).toMatchObject({ command: path.join(bin, 'gemini'), args: ['--experimental-acp'] });
    expect(gemini.env).toEqual({ GEMINI_API_KEY: 'g-key' });
    expect(planAgentLaunch('codex', { OPENAI_API_KEY: 'from-settings' }, machine).env).toEqual({
      OPENAI_API_KEY: 'from-settings',
    });
    expect(planAgentLaunch('opencode', {}, machine)).toMatchObject({ args: ['acp'], env: {} });
  });
});
