/**
 * The fake's webhook deliveries: payloads in the shapes of GitHub's `x-webhooks` (when
 * `@octokit/openapi` is installed), signed so that a receiver checking the raw body with
 * functions/_shared/github/webhooks.ts accepts them, and parsed into SAM's typed events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { openPullRequest } from '../../functions/_shared/github/pulls.ts';
import { parseWebhookEvent, verifyWebhookSignature } from '../../functions/_shared/github/webhooks.ts';
import {
  deliver,
  installationEvent,
  installationRepositoriesEvent,
  pullRequestClosed,
  signedDelivery,
} from '../fakes/github/deliveries.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';
import { OpenApi, specDir } from './openapi.ts';

const SECRET = 'webhook secret';
const openapi = OpenApi.load();
let fake: FakeGitHub;
let receiver: Server;
let receiverUrl: string;
const received: { ok: boolean; delivery: string; event: ReturnType<typeof parseWebhookEvent> | null }[] = [];
let org: Account;
let alice: Account;
let repo: Repo;
let inst: Installation;

beforeAll(async () => {
  fake = await FakeGitHub.start();
  org = fake.addAccount('acme', 'Organization');
  alice = fake.addUser('alice').account;
  repo = fake.addRepository(org, 'site');
  inst = fake.addInstallation(org, [repo]);
  // A receiver like the github-webhook function: raw body first, then JSON.
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const ok = await verifyWebhookSignature(SECRET, raw, req.headers['x-hub-signature-256'] as string | undefined);
      const event = ok
        ? parseWebhookEvent(String(req.headers['x-github-event']), JSON.parse(raw.toString('utf8')))
        : null;
      received.push({ ok, delivery: String(req.headers['x-github-delivery']), event });
      res.writeHead(ok ? 204 : 401).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  if (receiver) await new Promise<void>((r) => receiver.close(() => r()));
  await fake?.close();
});

/** A PR opened through the client and closed (merged or not) on the fake. */
async function closedPull(merged: boolean): Promise<number> {
  const branch = `sam/hook-${merged}`;
  fake.setBranch(repo, branch, { file: `hook-${merged}.txt` });
  const app = new GitHubApp({ appId: fake.app.id, privateKey: fake.app.privateKeyPem, apiUrl: fake.url });
  const { token } = await app.installationToken(inst.id, repo.id);
  const pr = await openPullRequest(app.rest, token, {
    owner: 'acme',
    repo: 'site',
    head: branch,
    base: 'main',
    title: 'Hook',
  });
  if (pr.kind === 'no_commits') throw new Error(pr.reason);
  fake.closePull(repo, pr.number, merged);
  return pr.number;
}

describe('webhook deliveries from the fake GitHub', () => {
  it(`are in the shapes of x-webhooks (spec from ${specDir})`, async () => {
    const o = openapi;
    const n = await closedPull(true);
    expect(
      o.checkWebhook('pull-request-closed', pullRequestClosed(fake, repo, n, inst.id, alice)).slice(0, 10),
    ).toEqual([]);
    expect(
      o.checkWebhook('installation-created', installationEvent(fake, 'created', inst, alice)).slice(0, 10),
    ).toEqual([]);
    expect(
      o.checkWebhook('installation-deleted', installationEvent(fake, 'deleted', inst, alice)).slice(0, 10),
    ).toEqual([]);
    const added = installationRepositoriesEvent(fake, 'added', inst, [repo], alice);
    expect(o.checkWebhook('installation-repositories-added', added).slice(0, 10)).toEqual([]);
  });

  it('are accepted by a receiver checking the raw body, parsed into typed events, and keep their id on redelivery', async () => {
    const merged = await closedPull(true);
    const closed = await closedPull(false);
    const deliveries = [
      signedDelivery(fake, SECRET, 'pull_request', pullRequestClosed(fake, repo, merged, inst.id, alice)),
      signedDelivery(fake, SECRET, 'pull_request', pullRequestClosed(fake, repo, closed, inst.id, alice)),
      signedDelivery(fake, SECRET, 'installation', installationEvent(fake, 'created', inst, alice)),
      signedDelivery(
        fake,
        SECRET,
        'installation_repositories',
        installationRepositoriesEvent(fake, 'removed', inst, [repo], alice),
      ),
    ];
    received.length = 0;
    for (const d of deliveries) expect((await deliver(receiverUrl, d)).status).toBe(204);
    const again = signedDelivery(
      fake,
      SECRET,
      deliveries[0]!.event,
      JSON.parse(deliveries[0]!.body),
      deliveries[0]!.id,
    );
    expect((await deliver(receiverUrl, again)).status).toBe(204);
    const forged = signedDelivery(
      fake,
      'not the secret',
      'installation',
      installationEvent(fake, 'deleted', inst, alice),
    );
    expect((await deliver(receiverUrl, forged)).status).toBe(401);

    expect(received.map((r) => r.event?.kind ?? null)).toEqual([
      'pull_request_closed',
      'pull_request_closed',
      'installation',
      'installation_repositories',
      'pull_request_closed',
      null,
    ]);
    expect(received[0]!.event).toMatchObject({
      merged: true,
      number: merged,
      repositoryId: repo.id,
      installationId: inst.id,
    });
    expect(received[1]!.event).toMatchObject({ merged: false, number: closed, mergeCommitSha: null });
    expect(received[2]!.event).toMatchObject({
      action: 'created',
      installationId: inst.id,
      account: { id: org.id, type: 'Organization' },
    });
    expect(received[3]!.event).toMatchObject({ action: 'removed', removed: [{ id: repo.id, fullName: 'acme/site' }] });
    expect(received[4]!.delivery).toBe(received[0]!.delivery);
  });
});
