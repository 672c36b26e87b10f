/**
 * The `sam` command as a person uses it, against the local stack: log in with email and password
 * (the deployment found from the web app's /config.json), list projects, start a task with
 * --follow and watch the demo agent's stream in the terminal until it ends with exit 0, and a task
 * that fails ends with exit 1. Every part is real: Auth, PostgREST, Realtime, the functions under
 * Deno, a vm-agent process on the local provider, git. The CLI runs as its own process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWebApp, type WebApp } from '../../web/serve.ts';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { REPO_ROOT } from '../web/site.ts';

const stack = useFunctionsStack('cli', { allServices: true, machines: {} });
const PASSWORD = 'correct horse battery';
let web: WebApp;
let webDir: string;
let configDir: string;
let user: UserClient;
let email: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs `sam …` as a process with its own config dir; `input` goes to its stdin. */
function sam(args: string[], input = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'cli/bin.mjs'), ...args], {
      env: { ...process.env, SAM_CONFIG_DIR: configDir, SAM_PASSWORD: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid! }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  webDir = mkdtempSync(join(tmpdir(), 'sam-cli-web-'));
  configDir = join(mkdtempSync(join(tmpdir(), 'sam-cli-home-')), 'sam');
  web = await serveWebApp({ dir: webDir, supabaseUrl: stack.url, publishableKey: stack.publishableKey });
  user = await UserClient.signUp(stack.url, stack.publishableKey);
  const { data } = await user.client.auth.getUser();
  email = data.user!.email!;
}, 60_000);

afterAll(async () => {
  await user?.close();
  await web?.close();
  rmSync(webDir, { recursive: true, force: true });
  rmSync(join(configDir, '..'), { recursive: true, force: true });
});

describe('sam (the CLI)', () => {
  it('refuses a wrong password in words and stores nothing', async () => {
    const r = await sam(['login', web.url, '--email', email, '--password-stdin'], 'wrong password\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Sign-in refused/);
    expect(() => statSync(join(configDir, 'session.json'))).toThrow();
    const notSignedIn = await sam(['projects']);
    expect(notSignedIn.code).toBe(1);
    expect(notSignedIn.stderr).toMatch(/not signed in/);
  }, 120_000);

  it('logs in from the deployment URL and keeps a refresh token (not the password) 0600', async () => {
    const r = await sam(['login', web.url, '--email', email, '--password-stdin'], PASSWORD + '\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stdout).toContain(`Signed in to ${web.url.replace(/\/$/, '')} as ${email}`);
    const file = join(configDir, 'session.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8');
    expect(stored).not.toContain(PASSWORD);
    expect(JSON.parse(stored)).toMatchObject({ supabaseUrl: stack.url, email, refreshToken: expect.any(String) });
    expect((await sam(['whoami'])).stdout).toContain(email);
  }, 120_000);

  it('lists projects for people and as JSON for scripts', async () => {
    await user.createProject(makeWorkingRepo('cli-listed'), 'cli-listed');
    const people = await sam(['projects']);
    expect(people.code).toBe(0);
    expect(people.stdout).toMatch(/cli-listed/);
    const json = await sam(['projects', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'cli-listed' })]);
  }, 120_000);

  it('starts a task with --follow: streams the demo agent and exits 0 when it completes', async () => {
    const repo = makeWorkingRepo('cli-greeter');
    await user.createProject(repo, 'cli-greeter');
    const r = await sam(['task', 'add a greeting to README.md', '--project', 'cli-greeter', '--follow']);
    expect(r.code, r.stderr).toBe(0);
    // The agent's own words, its tool calls and the outcome, in the order they happened.
    const lines = r.stdout.split('\n');
    const tool = lines.findIndex((l) => l.startsWith('⚙ '));
    const done = lines.findIndex((l) => l.startsWith('✓ completed on sam/'));
    expect(tool).toBeGreaterThan(-1);
    expect(done).toBeGreaterThan(tool);
    expect(r.stdout).toContain('add a greeting to README.md');
    expect(r.stdout).toContain(`Done: appended "${DEMO_GREETING}"`);
    const branch = lines[done]!.replace('✓ completed on ', '').trim();
    expect(execFileSync('git', ['-C', repo, 'show', `${branch}:README.md`], { encoding: 'utf8' })).toContain(
      DEMO_GREETING,
    );
    // Each message once: a message streamed live is not printed again by the re-read (after the
    // outcome line comes the task's summary, which repeats the agent's last words).
    const streamed = lines.slice(0, done).join('\n');
    expect(streamed.split(`Done: appended "${DEMO_GREETING}"`), r.stdout).toHaveLength(2);

    const tasks = await sam(['tasks', '--project', 'cli-greeter', '--json']);
    const listed = JSON.parse(tasks.stdout) as { id: string }[];
    expect(listed).toEqual([expect.objectContaining({ status: 'completed', branch })]);

    // Stopping a task that already ended changes nothing and says so.
    const stop = await sam(['stop', listed[0]!.id, '--grace', '30']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain('had already ended (completed); nothing to stop');
  }, 240_000);

  it('exits non-zero when the followed task fails, saying why', async () => {
    await user.createProject(join(tmpdir(), 'sam-cli-no-such-repo'), 'cli-broken');
    const r = await sam(['task', 'this cannot run', '--project', 'cli-broken', '--follow', '--json']);
    expect(r.code).toBe(1);
    const docs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; task?: { status: string; error_message: string } });
    const outcome = docs.at(-1)!;
    expect(outcome.type).toBe('outcome');
    expect(outcome.task).toMatchObject({ status: 'failed', error_message: expect.any(String) });
  }, 120_000);

  it('says what is wrong with a command used wrongly (exit 2), and never takes a password as an argument', async () => {
    expect((await sam(['task'])).code).toBe(2);
    expect((await sam(['stop', 'not-a-uuid'])).stderr).toMatch(/not a task id/);
    const badGrace = await sam(['stop', '00000000-0000-4000-8000-000000000000', '--grace', 'soon']);
    expect(badGrace.code).toBe(2);
    expect(badGrace.stderr).toMatch(/--grace is a whole number of seconds/);
    const unknown = await sam(['task', 'x', '--project', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No project "nope"/);
    expect((await sam(['frobnicate'])).code).toBe(2);
    const withPassword = await sam(['login', web.url, '--email', email, '--password', PASSWORD]);
    expect(withPassword.code).toBe(2);
  }, 120_000);
});
