/**
 * Bring your own machine, as a user does it: "Add a machine" (add_byo_node) gives one command; a
 * fresh local OS user pastes it in a shell on this host (no systemd user manager here, so the
 * documented fallback runs: a restart loop started with nohup). The machine registers with the
 * one-time token, waits for its owner's tasks, runs one to a pushed branch, survives sweeps a year
 * in the future that destroy a cloud node beside it, and stops when its owner removes it.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { byoInstallCommand } from '../../functions/_shared/common/byo-command.ts';
import { startGitHttpServer, type GitHttpServer } from '../../vm-agent/test-support/git-http-server.ts';
import { makeRemote, sh } from '../../vm-agent/test-support/git-repos.ts';
import { createLocalUser, type LocalUser } from '../helpers/byo-user.ts';
import { as, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeTestCertificates } from '../helpers/test-ca.ts';
import { waitFor } from '../helpers/wait.ts';
import { settled } from '../vm-agent-node/harness.ts';

const stack = useFunctionsStack('byo');
const certs = makeTestCertificates();
let remote: { root: string; bare: string };
let gitServer: GitHttpServer;
let person: LocalUser;

beforeAll(async () => {
  remote = await makeRemote();
  gitServer = await startGitHttpServer(remote.root, 'git', 'unused', { tls: certs, anonymous: true });
  person = createLocalUser();
  // Their machine trusts their git server (here: the test CA), as it would trust github.com.
  const ca = person.writeHomeFile('test-ca.pem', certs.ca);
  person.writeHomeFile('.gitconfig', `[http]\n\tsslCAInfo = ${ca}\n`);
}, 60_000);

afterAll(async () => {
  await person?.close();
  await gitServer?.close();
  if (remote) rmSync(remote.root, { recursive: true, force: true });
}, 60_000);

describe('a machine its owner brings', () => {
  it('registers from the one command, runs a task, outlives the sweeps, and stops when removed', async () => {
    const admin = stack.db.admin;
    const machineDir = path.join(person.home, '.local/share/sam-vm-agent');
    onTestFailed(() => {
      try {
        console.log(`--- vm-agent.log\n${readFileSync(path.join(machineDir, 'vm-agent.log'), 'utf8')}`);
      } catch {
        console.log('no vm-agent.log');
      }
    });
    const owner = await createUser(admin);
    const [added] = await as(
      admin,
      'authenticated',
      { sub: owner },
      (tx) => tx`select public.add_byo_node('Laptop', 'medium') as r`,
    );
    const r = added!.r as { nodeId: string; bootstrapToken: string; bundle: { sha256: string } };
    const command = byoInstallCommand({
      functionsUrl: `${stack.url}/functions/v1`,
      bootstrapToken: r.bootstrapToken,
      sha256: r.bundle.sha256,
    });
    // Someone else cannot add a machine as this user, nor remove it.
    const stranger = await createUser(admin);
    await expect(
      as(admin, 'authenticated', { sub: stranger }, (tx) => tx`select public.destroy_node(${r.nodeId}, 'mine now')`),
    ).rejects.toThrow(/not allowed/);
    await expect(as(admin, 'anon', {}, (tx) => tx`select public.add_byo_node('x', 'small')`)).rejects.toThrow(
      /permission denied/,
    );

    const install = await person.sh(command);
    expect(install.code, install.output).toBe(0);
    expect(install.output).toContain(': OK'); // sha256sum checked the download
    expect(install.output).toContain('no systemd user manager: started');
    expect(install.output).not.toContain(r.bootstrapToken);
    expect(statSync(machineDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(machineDir, 'bootstrap.json')).mode & 0o777).toBe(0o600);

    const node = await waitFor(
      'the brought machine to register and wait for tasks',
      async () => {
        const [n] = await admin`select status, provider, warm_until = 'infinity' as forever, auto_provisioned
                                  from public.nodes where id = ${r.nodeId}`;
        return n?.status === 'warm' ? n : null;
      },
      90_000,
    );
    expect(node).toMatchObject({ provider: 'byo', forever: true, auto_provisioned: false });
    const agents = person.processes(`${machineDir}/vm-agent.mjs`);
    expect(agents.length).toBeGreaterThan(0); // running as that user (processes() filters by uid)
    for (const pid of person.processes()) {
      let argv = '';
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        // ended meanwhile
      }
      expect(argv).not.toContain(r.bootstrapToken);
    }
    // The vm-agent drops the spent token from its file once registered.
    const after = await waitFor('bootstrap.json without the token', () => {
      const file = JSON.parse(readFileSync(path.join(machineDir, 'bootstrap.json'), 'utf8')) as Record<string, unknown>;
      return file.nodeId ? file : null;
    });
    expect(after).toMatchObject({ nodeId: r.nodeId });
    expect(after).not.toHaveProperty('bootstrapToken');

    // A task of the owner lands on their machine and ends as a pushed branch.
    const project = await createProject(admin, owner);
    await admin`update public.projects set repository = ${`${gitServer.url}/remote.git`} where id = ${project}`;
    const task = await submitTask(admin, owner, project, 'Add a greeting', { agentType: 'demo' });
    const done = await settled(admin, task.taskId, 180_000);
    expect(done).toMatchObject({
      status: 'completed',
      node_id: r.nodeId,
      workspace_status: 'stopped',
      node_status: 'warm',
    });
    expect(done.completion_evidence?.gitPush).toMatchObject({ pushed: true, branchName: task.branchName });
    expect(sh(remote.bare, 'diff', '--stat', `main..${task.branchName}`)).toContain('|');

    // A year later, by the sweeps' clock: a cloud node's warm time ran out (destroyed); this one stays.
    const [cloud] =
      await admin`insert into public.nodes (owner_id, name, provider, status, warm_since, warm_until, last_heartbeat_at)
      values (${owner}, 'cloud', 'hetzner', 'warm', now(), now() + interval '1 minute', now()) returning id`;
    await admin.begin(async (tx) => {
      await tx`select set_config('sam.now', (now() + interval '1 year')::text, true)`;
      await tx`select public.sweep_warm_nodes(), public.sweep_idle_nodes(), public.sweep_node_lifetime(), public.sweep_step_timeouts()`;
    });
    const states = await admin`select id, status from public.nodes where id in (${r.nodeId}, ${cloud!.id})`;
    expect(Object.fromEntries(states.map((s) => [s.id, s.status]))).toEqual({
      [r.nodeId]: 'warm',
      [cloud!.id as string]: 'destroying',
    });
    const jobs = await admin`select count(*)::int as n from public.orchestrator_jobs where node_id = ${r.nodeId}`;
    expect(jobs[0]!.n).toBe(0);
    expect(person.processes(`${machineDir}/vm-agent.mjs`).length).toBeGreaterThan(0);

    // Its owner removes it: deregistered at once, never a provider job; the vm-agent stops for good.
    const [removed] = await as(
      admin,
      'authenticated',
      { sub: owner },
      (tx) => tx`select public.destroy_node(${r.nodeId}, 'removed') as ok`,
    );
    expect(removed!.ok).toBe(true);
    const [gone] = await admin`select status from public.nodes where id = ${r.nodeId}`;
    expect(gone!.status).toBe('destroyed');
    await waitFor('the vm-agent and its restart loop to exit', () => person.processes(machineDir).length === 0, 90_000);
    expect(readFileSync(path.join(machineDir, 'vm-agent.log'), 'utf8')).toMatch(/stopped \(token_revoked\)/);
    const after2 = await admin`select count(*)::int as n from public.orchestrator_jobs where node_id = ${r.nodeId}`;
    expect(after2[0]!.n).toBe(0);
  }, 360_000);
});
