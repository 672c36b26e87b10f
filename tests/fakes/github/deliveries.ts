/**
 * Webhook deliveries from the fake GitHub: payloads built from its state in the shapes of GitHub's
 * `x-webhooks` (OpenAPI), signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, computed
 * here with node:crypto, independently of the code under test), with GitHub's delivery headers.
 * A redelivery keeps its `X-GitHub-Delivery` id.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { FakeGitHub } from './server.ts';
import {
  installation,
  nodeId,
  pullRequest,
  repository,
  simpleUser,
  type Account,
  type Installation,
  type Repo,
} from './shapes.ts';

export interface Delivery {
  id: string;
  event: string;
  headers: Record<string, string>;
  body: string;
}

const repoItem = (r: Repo) => ({
  id: r.id,
  node_id: nodeId('R', r.id),
  name: r.name,
  full_name: `${r.owner.login}/${r.name}`,
  private: r.private,
});

/** `pull_request` `closed` for a PR the fake has closed (`fake.closePull`). */
export function pullRequestClosed(
  fake: FakeGitHub,
  repo: Repo,
  number: number,
  installationId: number,
  sender: Account,
) {
  const p = fake.pulls.find((x) => x.repoId === repo.id && x.number === number);
  if (!p || p.state !== 'closed') throw new Error(`PR #${number} is not closed`);
  return {
    action: 'closed',
    number,
    pull_request: {
      ...pullRequest(fake.url, fake.url, repo, p, true),
      merge_commit_sha: p.merged ? p.headSha : null,
    },
    repository: repository(fake.url, fake.url, repo),
    installation: { id: installationId, node_id: nodeId('I', installationId) },
    sender: simpleUser(fake.url, fake.url, sender),
  };
}

/** `installation` `created` / `deleted` / `suspend` / `unsuspend`. */
export function installationEvent(fake: FakeGitHub, action: string, inst: Installation, sender: Account) {
  return {
    action,
    installation: installation(fake.url, fake.url, fake.app, inst),
    repositories: fake.installationRepos(inst).map(repoItem),
    sender: simpleUser(fake.url, fake.url, sender),
  };
}

/** `installation_repositories` `added` / `removed`. */
export function installationRepositoriesEvent(
  fake: FakeGitHub,
  action: 'added' | 'removed',
  inst: Installation,
  changed: Repo[],
  sender: Account,
) {
  return {
    action,
    installation: installation(fake.url, fake.url, fake.app, inst),
    repository_selection: inst.repositories === 'all' ? 'all' : 'selected',
    repositories_added: action === 'added' ? changed.map(repoItem) : [],
    repositories_removed: action === 'removed' ? changed.map(repoItem) : [],
    requester: null,
    sender: simpleUser(fake.url, fake.url, sender),
  };
}

/** A signed delivery of `payload` as event `event`; pass the `id` of an earlier one to redeliver. */
export function signedDelivery(
  fake: FakeGitHub,
  secret: string,
  event: string,
  payload: unknown,
  id: string = randomUUID(),
): Delivery {
  const body = JSON.stringify(payload);
  const mac = createHmac('sha256', secret).update(body).digest('hex');
  return {
    id,
    event,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/fake',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-github-hook-id': '1',
      'x-github-hook-installation-target-type': 'app',
      'x-github-hook-installation-target-id': String(fake.app.id),
      'x-hub-signature-256': `sha256=${mac}`,
    },
  };
}

/** POSTs a delivery to a webhook receiver. */
export function deliver(url: string, d: Delivery): Promise<Response> {
  return fetch(url, { method: 'POST', headers: d.headers, body: d.body });
}
