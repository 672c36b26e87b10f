import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localProvider } from '../functions/_shared/providers/local.ts';
import { ProviderError, nodeLabels } from '../functions/_shared/providers/provider.ts';
import { processAlive } from '../tests/helpers/processes.ts';
import { waitFor } from '../tests/helpers/wait.ts';
import { localRepositoryPolicy, startMachineHost, type MachineHost } from './host.ts';
import { machineUsers } from './users.ts';

const STAND_IN = join(import.meta.dirname, 'fixtures', 'stand-in-agent.mjs');
const TOKEN = 'host-token-' + 'x'.repeat(20);
const BOOTSTRAP = 'bootstrap-secret-' + Math.random().toString(36).slice(2);
const REPOSITORIES = { protocols: ['https', 'file'] as ('https' | 'file')[], localRoots: ['/srv/repos'] };
/** A variable of the host's own that no machine may see. */
const HOST_SECRET = 'host-only-secret-' + Math.random().toString(36).slice(2);

/** Root gives each machine its own OS user (local-machines/users.ts). */
const ROOT = process.getuid?.() === 0;
let baseDir: string;
let host: MachineHost;

function call(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  return fetch(`${host.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const request = (nodeId: string, extra: Record<string, unknown> = {}) => ({
  name: `sam-${nodeId.slice(0, 8)}`,
  vmSize: 'medium',
  labels: nodeLabels(nodeId),
  userData: { controlPlaneUrl: 'http://127.0.0.1:1/functions/v1/vm-agent', bootstrapToken: BOOTSTRAP },
  ...extra,
});

beforeAll(async () => {
  baseDir = mkdtempSync(join(tmpdir(), 'sam-machines-'));
  process.env.SAM_TEST_HOST_SECRET = HOST_SECRET;
  host = await startMachineHost({
    baseDir,
    token: TOKEN,
    command: [process.execPath, STAND_IN],
    agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '5' },
    repositories: REPOSITORIES,
    stopTimeoutMs: 1000,
  });
});

afterAll(async () => {
  delete process.env.SAM_TEST_HOST_SECRET;
  await host?.close();
  rmSync(baseDir, { recursive: true, force: true });
});

describe('the local machine host', () => {
  it.each([
    ['no token', null],
    ['a wrong token', 'nope'],
    ['a token that is a prefix', TOKEN.slice(0, -1)],
  ])('refuses %s with 401 JSON', async (_label, token) => {
    for (const [method, path] of [
      ['GET', '/machines'],
      ['POST', '/machines'],
      ['DELETE', '/machines/lm-000000000000'],
    ] as const) {
      const res = await call(
        method,
        path,
        method === 'POST' ? request('00000000-0000-0000-0000-000000000000') : undefined,
        token,
      );
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    expect(host.machines()).toEqual([]);
  });

  it('refuses a body outside the contract with 400', async () => {
    const res = await call('POST', '/machines', { ...request('11111111-0000-0000-0000-000000000000'), extra: 1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_params');
    const bad = await call('POST', '/machines', {
      ...request('11111111-0000-0000-0000-000000000000'),
      userData: { controlPlaneUrl: 'file:///etc/passwd', bootstrapToken: 'x' },
    });
    expect(bad.status).toBe(400);
  });

  it('creates a machine: a process in its own directory with its own HOME, a minimal environment, bootstrap.json 0600, the token in no argv or environment', async () => {
    const nodeId = '22222222-0000-0000-0000-000000000001';
    const res = await call('POST', '/machines', request(nodeId));
    expect(res.status).toBe(201);
    const machine = (await res.json()) as { id: string; pid: number; status: string; labels: Record<string, string> };
    expect(machine).toMatchObject({ status: 'running', labels: { sam: 'node', 'sam-node-id': nodeId } });
    expect(machine.id).toMatch(/^lm-[0-9a-f]{12}$/);
    const dir = join(baseDir, machine.id);

    const started = await waitFor('the stand-in to start', () => {
      const f = join(dir, 'started.json');
      return existsSync(f) && (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>);
    });
    expect(started).toMatchObject({ pid: machine.pid, providerInstanceId: machine.id, hasToken: true });
    expect(processAlive(machine.pid)).toBe(true);
    expect(readlinkSync(`/proc/${machine.pid}/cwd`)).toBe(dir);

    const file = join(dir, 'bootstrap.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      controlPlaneUrl: 'http://127.0.0.1:1/functions/v1/vm-agent',
      bootstrapToken: BOOTSTRAP,
      providerInstanceId: machine.id,
      agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '5' },
      git: REPOSITORIES,
    });

    const argv = readFileSync(`/proc/${machine.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv).toEqual([process.execPath, STAND_IN, dir]);
    const environ = readFileSync(`/proc/${machine.pid}/environ`, 'utf8');
    expect(environ).not.toContain(BOOTSTRAP);
    expect(environ).not.toContain(TOKEN);
    expect(environ).not.toContain(HOST_SECRET);
    const vars = Object.fromEntries(
      environ
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    // Exactly PATH and HOME; HOME is the machine's own, PATH only node's directory and the system's.
    expect(vars).toEqual({
      PATH: [...new Set([dirname(process.execPath), '/usr/bin', '/bin'])].join(':'),
      HOME: join(dir, 'home'),
    });
    const user = ROOT ? `sam-${machine.id}` : null;
    expect(statSync(join(dir, 'home')).mode & 0o777).toBe(0o700);
    // As root: the machine runs as its own unprivileged user, which owns its directory and nothing else.
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${machine.pid}/status`, 'utf8'))![1]);
    if (user) {
      expect(uid).not.toBe(0);
      expect(machineUsers()).toContainEqual({ name: user, uid, home: join(dir, 'home') });
      for (const owned of [dir, join(dir, 'home'), file]) expect(statSync(owned).uid).toBe(uid);
      expect(statSync(join(dir, 'vm-agent.log')).uid).toBe(0);
    } else {
      expect(uid).toBe(process.getuid!());
    }
    await waitFor('the log', () => readFileSync(join(dir, 'vm-agent.log'), 'utf8').includes('started'));

    // Listed by its labels, not by others.
    const listed = (await (await call('GET', `/machines?label=sam-node-id=${nodeId}&label=sam=node`)).json()) as {
      machines: { id: string; pid: number; status: string }[];
    };
    expect(listed.machines).toEqual([expect.objectContaining({ id: machine.id, pid: machine.pid, status: 'running' })]);
    const none = (await (await call('GET', '/machines?label=sam-node-id=other')).json()) as { machines: unknown[] };
    expect(none.machines).toEqual([]);
    expect((await call('GET', '/machines?label=broken')).status).toBe(400);

    // Deleted: SIGTERM, the process is gone and so is its directory; deleting again is fine.
    const del = await call('DELETE', `/machines/${machine.id}`);
    expect(del.status).toBe(204);
    expect(processAlive(machine.pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    // …and so is its user.
    expect(machineUsers().map((u) => u.name)).not.toContain(`sam-${machine.id}`);
    expect((await call('DELETE', `/machines/${machine.id}`)).status).toBe(204);
    expect(((await (await call('GET', '/machines')).json()) as { machines: unknown[] }).machines).toEqual([]);
  });

  it('kills a machine that ignores SIGTERM after the stop timeout', async () => {
    const slow = await startMachineHost({
      baseDir: join(baseDir, 'slow'),
      token: TOKEN,
      command: [process.execPath, STAND_IN],
      agentEnv: { STAND_IN_IGNORE_SIGTERM: '1' },
      stopTimeoutMs: 300,
    });
    try {
      const provider = localProvider({ url: slow.url, token: TOKEN });
      const m = await provider.createMachine({
        nodeId: '33333333-0000-0000-0000-000000000001',
        ...request('33333333-0000-0000-0000-000000000001'),
        vmSize: 'small',
      });
      const pid = slow.machines()[0]!.pid!;
      await waitFor('the stand-in to start', () =>
        existsSync(join(slow.baseDir, m.providerInstanceId, 'started.json')),
      );
      const t0 = Date.now();
      await provider.deleteMachine(m.providerInstanceId);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(processAlive(pid)).toBe(false);
    } finally {
      await slow.close();
    }
  });

  it('deleting a machine also ends what it started in a process group of its own', async () => {
    const other = await startMachineHost({
      baseDir: join(baseDir, 'detached'),
      token: TOKEN,
      command: [process.execPath, STAND_IN],
      agentEnv: { STAND_IN_SPAWN_DETACHED: '1' },
      stopTimeoutMs: 1000,
    });
    let detachedPid: number | undefined;
    try {
      const provider = localProvider({ url: other.url, token: TOKEN });
      const m = await provider.createMachine({
        nodeId: '66666666-0000-0000-0000-000000000001',
        ...request('66666666-0000-0000-0000-000000000001'),
        vmSize: 'small',
      });
      const started = await waitFor('the stand-in to start', () => {
        const f = join(other.baseDir, m.providerInstanceId, 'started.json');
        return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { detachedPid: number }) : null;
      });
      detachedPid = started.detachedPid;
      expect(processAlive(detachedPid)).toBe(true);
      await provider.deleteMachine(m.providerInstanceId);
      await waitFor('the detached process to be gone', () => !processAlive(detachedPid!), 5000);
    } finally {
      if (detachedPid !== undefined && processAlive(detachedPid)) process.kill(detachedPid, 'SIGKILL');
      await other.close();
    }
  });

  it("a restarted host ends what an earlier run's machines left running", async () => {
    const dir = join(baseDir, 'restarted');
    const home = join(dir, 'lm-0123456789ab', 'home');
    mkdirSync(home, { recursive: true });
    const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin', HOME: home },
    });
    leftover.unref();
    const pid = leftover.pid!;
    try {
      await waitFor('the leftover to run', () => processAlive(pid));
      const restarted = await startMachineHost({ baseDir: dir, token: TOKEN, command: [process.execPath, STAND_IN] });
      await restarted.close();
      await waitFor('the leftover to be gone', () => !processAlive(pid), 5000);
      expect(existsSync(join(dir, 'lm-0123456789ab'))).toBe(false);
    } finally {
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('keeps a registered machine across its own restart: directory, outbox and dead letters stay, its vm-agent starts again', async () => {
    const dir = join(baseDir, 'stack-restart');
    const first = await startMachineHost({ baseDir: dir, token: TOKEN, command: [process.execPath, STAND_IN] });
    const provider = localProvider({ url: first.url, token: TOKEN });
    const nodeId = '55555555-0000-0000-0000-000000000001';
    const registered = await provider.createMachine({ nodeId, ...request(nodeId), vmSize: 'small' });
    const unregistered = await provider.createMachine({
      nodeId: '55555555-0000-0000-0000-000000000002',
      ...request('55555555-0000-0000-0000-000000000002'),
      vmSize: 'small',
    });
    const [machine] = first.machines().filter((m) => m.id === registered.providerInstanceId);
    const machineDir = join(dir, machine!.id);
    // What a registered vm-agent leaves on its machine: its identity, an outbox, dead letters.
    mkdirSync(join(machineDir, 'state'), { recursive: true });
    mkdirSync(join(machineDir, 'workspaces', 'w1', 'outbox'), { recursive: true });
    writeFileSync(join(machineDir, 'state', 'node.json'), '{"nodeId":"n","nodeToken":"t"}', { mode: 0o600 });
    writeFileSync(join(machineDir, 'workspaces', 'w1', 'outbox', 'journal.jsonl'), '{"kept":1}\n');
    writeFileSync(join(machineDir, 'workspaces', 'w1', 'outbox', 'dead-letters.jsonl'), '{"dead":1}\n');
    const oldPid = machine!.pid!;
    await first.close();
    expect(processAlive(oldPid)).toBe(false);

    const second = await startMachineHost({ baseDir: dir, token: TOKEN, command: [process.execPath, STAND_IN] });
    try {
      const again = second.machines();
      expect(again.map((m) => [m.id, m.labels, m.status])).toEqual([[machine!.id, machine!.labels, 'running']]);
      expect(again[0]!.pid).not.toBe(oldPid);
      expect(processAlive(again[0]!.pid!)).toBe(true);
      expect(readFileSync(join(machineDir, 'workspaces', 'w1', 'outbox', 'journal.jsonl'), 'utf8')).toBe(
        '{"kept":1}\n',
      );
      expect(readFileSync(join(machineDir, 'workspaces', 'w1', 'outbox', 'dead-letters.jsonl'), 'utf8')).toBe(
        '{"dead":1}\n',
      );
      // A machine that never registered has nothing to resume: it is gone.
      expect(existsSync(join(dir, unregistered.providerInstanceId))).toBe(false);
    } finally {
      await second.close();
    }
  });

  it('stops every machine when it closes', async () => {
    const other = await startMachineHost({
      baseDir: join(baseDir, 'other'),
      token: TOKEN,
      command: [process.execPath, STAND_IN],
    });
    const provider = localProvider({ url: other.url, token: TOKEN });
    for (const n of ['1', '2']) {
      await provider.createMachine({
        nodeId: n,
        ...request(`44444444-0000-0000-0000-00000000000${n}`),
        vmSize: 'small',
      });
    }
    const pids = other.machines().map((m) => m.pid!);
    expect(pids.every(processAlive)).toBe(true);
    await other.close();
    expect(pids.some(processAlive)).toBe(false);
  });
});

describe('the local provider against the host', () => {
  it('creates, lists by label and deletes (already gone counts as deleted)', async () => {
    const provider = localProvider({ url: host.url, token: TOKEN });
    const nodeId = '55555555-0000-0000-0000-000000000001';
    const created = await provider.createMachine({ nodeId, ...request(nodeId), vmSize: 'small' });
    expect(created).toEqual({ providerInstanceId: expect.stringMatching(/^lm-/), ipAddress: '127.0.0.1' });
    expect(await provider.listMachines(nodeLabels(nodeId))).toEqual([
      expect.objectContaining({ providerInstanceId: created.providerInstanceId, labels: nodeLabels(nodeId) }),
    ]);
    await provider.deleteMachine(created.providerInstanceId);
    await provider.deleteMachine(created.providerInstanceId);
    expect(await provider.listMachines(nodeLabels(nodeId))).toEqual([]);
  });

  it('fails with words and without the token when the token is wrong or the host is down', async () => {
    const wrong = localProvider({ url: host.url, token: 'wrong-token' });
    const e = await wrong.listMachines({ sam: 'node' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as Error).message).toMatch(/could not list machines \(HTTP 401: A valid bearer token is required\)/);
    expect((e as Error).message).not.toContain('wrong-token');

    const down = localProvider({ url: 'http://127.0.0.1:1', token: TOKEN });
    const d = await down.deleteMachine('lm-000000000000').catch((x: unknown) => x);
    expect((d as Error).message).toBe('The local machine host at http://127.0.0.1:1 is unreachable');
  });
});

describe('which repositories local machines may clone', () => {
  it('defaults to https and local repositories under the home of the user running the host and the temp dir', () => {
    expect(localRepositoryPolicy({})).toEqual({ protocols: ['https', 'file'], localRoots: [homedir(), tmpdir()] });
  });

  it('takes SAM_LOCAL_REPO_ROOTS and SAM_LOCAL_REPO_PROTOCOLS, and refuses what it cannot mean', () => {
    expect(
      localRepositoryPolicy({ SAM_LOCAL_REPO_ROOTS: '/srv/a:/srv/b', SAM_LOCAL_REPO_PROTOCOLS: 'https, ssh' }),
    ).toEqual({ protocols: ['https', 'ssh'], localRoots: ['/srv/a', '/srv/b'] });
    expect(() => localRepositoryPolicy({ SAM_LOCAL_REPO_ROOTS: 'relative/dir' })).toThrow(/not absolute/);
    expect(() => localRepositoryPolicy({ SAM_LOCAL_REPO_PROTOCOLS: 'https,ext' })).toThrow(/unknown ext/);
  });
});
