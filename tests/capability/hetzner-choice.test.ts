/**
 * Choosing a cloud machine, as a user meets it: in a real Chromium, save a Hetzner API token in
 * Settings (checked with the cloud first: a wrong one is refused in words), create a project, pick
 * Hetzner, a size and a location in the composer and submit. The task records exactly that choice,
 * pg_net wakes the orchestrator (Deno), which reads the stored token and asks the Hetzner fake
 * (the contract-tested stand-in for api.hetzner.cloud) for a server: the fake receives the server
 * type the size means, the location picked, and SAM's labels naming this node and installation.
 * Then the server boots from the user data the fake was given (tests/helpers/cloud-boot.ts: a fresh
 * filesystem and OS user, cloud-init's steps with the Node/git/apt installs substituted since this
 * host has no internet, the systemd unit run as written), and its vm-agent — the bundle this control
 * plane serves — registers with the one-time token and runs the task to a pushed branch on an https
 * remote.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startGitHttpServer, type GitHttpServer } from '../../vm-agent/test-support/git-http-server.ts';
import { makeRemote, sh } from '../../vm-agent/test-support/git-repos.ts';
import { HetznerFake } from '../fakes/clouds/hetzner.ts';
import { useBrowser } from '../helpers/browser.ts';
import { bootFromUserData, type BootedMachine } from '../helpers/cloud-boot.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeTestCertificates } from '../helpers/test-ca.ts';
import { waitFor } from '../helpers/wait.ts';
import { serveWeb, type WebSite } from '../web/site.ts';
import { taskIdInUrl } from './support.ts';

const TOKEN = `hz${randomBytes(20).toString('hex')}`;
const hetzner = new HetznerFake({ tokens: [TOKEN] });
// The functions read the fake's API root when they start.
process.env.SAM_HETZNER_API_URL = await hetzner.start();

const stack = useFunctionsStack('hetzner_choice', { allServices: true, machines: {} });
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
// The repository, served over https as a real host would be (the booted machine trusts its CA).
const certs = makeTestCertificates();
let remote: { root: string; bare: string };
let gitServer: GitHttpServer;
let machine: BootedMachine | undefined;

beforeAll(async () => {
  remote = await makeRemote();
  gitServer = await startGitHttpServer(remote.root, 'git', 'unused', { tls: certs, anonymous: true });
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await machine?.close();
  await site?.close();
  await Promise.allSettled([hetzner.stop(), gitServer?.close()]);
  if (remote) rmSync(remote.root, { recursive: true, force: true });
  delete process.env.SAM_HETZNER_API_URL;
}, 60_000);

describe('a task on the user’s own Hetzner account, chosen in the browser', () => {
  it(
    'saves a token checked with Hetzner, picks Hetzner/large/hel1; the cloud gets exactly that and the task runs on the booted server',
    { timeout: 300_000 },
    async () => {
      onTestFailed(async () => {
        console.log(await stack.db.admin`select kind, status, attempts, last_error from public.orchestrator_jobs`);
        console.log(await stack.db.admin`select status, execution_step, error_message from public.tasks`);
        console.log(hetzner.requests);
        console.log(`--- boot log\n${machine?.bootLog}`);
        for (const [name, service] of machine?.services ?? []) console.log(`--- ${name}\n${service.output()}`);
      });
      await page.goto(site.url);
      await page.getByRole('button', { name: 'Create an account' }).click();
      await page.getByLabel('Email').fill('cloud@example.com');
      await page.getByLabel('Password').fill('correct horse battery');
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.getByRole('heading', { name: 'Projects' }).waitFor();

      // Settings: a wrong token is refused in the cloud's words and nothing is stored.
      await page.getByRole('link', { name: 'Settings' }).click();
      const slot = page.locator('li.credential[data-provider="hetzner"]');
      await slot.getByText('Not set').waitFor();
      await page.getByRole('button', { name: 'Set Hetzner Cloud' }).click();
      await page.getByLabel('Hetzner Cloud key').fill('not-the-token');
      await page.getByRole('button', { name: 'Save' }).click();
      await slot.getByRole('alert').getByText('Hetzner refused the token (unauthorized)').waitFor();
      expect((await stack.db.admin`select count(*)::int as n from public.credentials`)[0]!.n).toBe(0);

      await page.getByLabel('Hetzner Cloud key').fill(TOKEN);
      await page.getByRole('button', { name: 'Save' }).click();
      await slot.getByText(`Set, ends in …${TOKEN.slice(-4)} — for all my projects`).waitFor();
      // Checked with one read each time, never a write.
      expect(hetzner.requests.filter((r) => r.method !== 'GET')).toEqual([]);
      expect(hetzner.requests.map((r) => `${r.method} ${r.path}${r.query}`)).toEqual([
        'GET /v1/servers?per_page=1',
        'GET /v1/servers?per_page=1',
      ]);

      // A project, then the composer: Hetzner, large, hel1.
      await page.getByRole('link', { name: 'SAM' }).click();
      await page.getByRole('heading', { name: 'Projects' }).waitFor();
      await page.getByLabel('Name').fill('cloudy');
      await page.getByLabel('Git repository (a local path or a URL)').fill(`${gitServer.url}/remote.git`);
      await page.getByRole('button', { name: 'Create project' }).click();
      await page.getByRole('heading', { name: 'cloudy' }).waitFor();
      const composer = page.locator('form.composer');
      await composer.getByLabel('Machine', { exact: true }).selectOption('hetzner');
      await composer.getByLabel('Size', { exact: true }).selectOption('large');
      await composer.getByLabel('Location', { exact: true }).selectOption('hel1');
      await page.getByLabel('Message').fill('build it in the cloud');
      await page.getByRole('button', { name: 'Start task' }).click();
      await page.getByRole('heading', { name: 'build it in the cloud' }).waitFor();
      const taskId = taskIdInUrl(page.url())!;

      const [task] = await stack.db.admin`
      select provider, vm_size::text as vm_size, location, auto_provisioned_node_id as node
        from public.tasks where id = ${taskId}`;
      expect(task).toMatchObject({ provider: 'hetzner', vm_size: 'large', location: 'hel1' });
      const nodeId = task!.node as string;

      // Nobody calls the orchestrator but Postgres; it makes the server with the user's token.
      const server = await waitFor('the server on Hetzner', () =>
        [...hetzner.servers.values()].find((s) => s.labels['sam-node-id'] === nodeId),
      );
      const [installation] = await stack.db.admin`select public.sam_installation_id() as id`;
      expect(server).toMatchObject({
        name: `sam-${nodeId.replace(/-/g, '').slice(0, 12)}`,
        server_type: { name: 'cx43' },
        location: { name: 'hel1' },
        image: { name: 'ubuntu-24.04' },
        labels: { sam: 'node', 'sam-node-id': nodeId, 'sam-installation': installation!.id },
      });
      expect(hetzner.servers.size).toBe(1);
      expect(server.userData).toMatch(/^#cloud-config\n/);
      expect(server.userData).toContain(`${stack.functionUrl('vm-agent')}`);
      expect(server.userData).not.toContain(TOKEN);
      const [n] = await waitFor('the server recorded on the node', async () => {
        const rows = await stack.db.admin`
        select provider, location, vm_size::text as vm_size, provider_instance_id from public.nodes where id = ${nodeId}`;
        return rows[0]?.provider_instance_id ? rows : undefined;
      });
      expect(n).toEqual({
        provider: 'hetzner',
        location: 'hel1',
        vm_size: 'large',
        provider_instance_id: String(server.id),
      });
      // The chat shows the task waiting for its machine.
      expect(await page.getByTestId('task-step').textContent()).toMatch(/server/i);

      // The server boots from the user data Hetzner was given (tests/helpers/cloud-boot.ts: a fresh
      // filesystem, cloud-init's steps, the unit it starts); its vm-agent registers and runs the task.
      machine = await bootFromUserData(server.userData!, { trustCa: certs.ca });
      await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 150_000 }).toBe('Completed');
      await expect
        .poll(() => page.getByTestId('task-push').getAttribute('data-pushed'), { timeout: 30_000 })
        .toBe('true');
      const branch = (await page.getByTestId('task-branch').textContent())!;
      expect(sh(remote.bare, 'log', '--format=%an', '-1', branch)).toBe('SAM Agent');
      const [ran] = await stack.db.admin`select node_id from public.tasks where id = ${taskId}`;
      expect(ran!.node_id).toBe(nodeId);
    },
  );
});
