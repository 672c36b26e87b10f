/**
 * What the local stack reads from a Supabase CLI config file: Auth's GitHub provider only when it
 * is enabled with a client id and a secret (an `env(…)` secret read from the environment).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readProjectConfig } from '../../supabase/local/project-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'sam-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(github: string): ReturnType<typeof readProjectConfig> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, `[auth]\nsite_url = "http://127.0.0.1:5173"\n\n[auth.external.github]\n${github}\n`);
  return readProjectConfig(file);
}

it("reads Auth's GitHub provider when enabled, with the secret from env(…), and GitHub Enterprise's URLs", () => {
  process.env.SAM_TEST_GITHUB_SECRET = 'shh';
  expect(config('enabled = true\nclient_id = "Iv23abc"\nsecret = "env(SAM_TEST_GITHUB_SECRET)"').authGitHub).toEqual({
    clientId: 'Iv23abc',
    secret: 'shh',
    url: 'https://github.com',
    apiUrl: 'https://api.github.com',
  });
  expect(
    config('enabled = true\nclient_id = "Iv23abc"\nsecret = "s"\nurl = "https://ghe.example.com/"').authGitHub,
  ).toMatchObject({ url: 'https://ghe.example.com', apiUrl: 'https://ghe.example.com/api/v3' });
  delete process.env.SAM_TEST_GITHUB_SECRET;
});

it('leaves the provider off when disabled or without a secret', () => {
  expect(config('enabled = false\nclient_id = "Iv23abc"\nsecret = "s"').authGitHub).toBeUndefined();
  expect(
    config('enabled = true\nclient_id = "Iv23abc"\nsecret = "env(SAM_TEST_UNSET_SECRET)"').authGitHub,
  ).toBeUndefined();
});
