/**
 * Webhook deliveries: the signature over the raw body (GitHub's documented test vector), and the
 * events SAM acts on parsed into small typed results.
 */
import { describe, expect, it } from 'vitest';
import {
  parseWebhookEvent,
  signWebhook,
  verifyWebhookSignature,
  WebhookPayloadError,
} from '../../functions/_shared/github/webhooks.ts';

const SECRET = "It's a Secret to Everybody";
const VECTOR = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('X-Hub-Signature-256', () => {
  it("passes GitHub's documented vector, as text and as raw bytes", async () => {
    expect(await verifyWebhookSignature(SECRET, 'Hello, World!', VECTOR)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, new TextEncoder().encode('Hello, World!'), VECTOR)).toBe(true);
    expect(await signWebhook(SECRET, 'Hello, World!')).toBe(VECTOR);
  });

  it('fails for another secret, a changed body, a re-serialised body, a malformed or missing header', async () => {
    expect(await verifyWebhookSignature('another secret', 'Hello, World!', VECTOR)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, 'Hello, World?', VECTOR)).toBe(false);
    const body = '{"action":"closed",  "number":1}';
    const sig = await signWebhook(SECRET, body);
    expect(await verifyWebhookSignature(SECRET, body, sig)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, JSON.stringify(JSON.parse(body)), sig)).toBe(false);
    for (const bad of [undefined, null, '', VECTOR.slice(7), `sha1=${VECTOR.slice(7)}`, `${VECTOR}00`, 'sha256=zz']) {
      expect(await verifyWebhookSignature(SECRET, 'Hello, World!', bad)).toBe(false);
    }
    expect(await verifyWebhookSignature('', 'Hello, World!', VECTOR)).toBe(false);
  });
});

const repository = { id: 42, full_name: 'acme/site', name: 'site', private: true };
const pull = (merged: boolean) => ({
  action: 'closed',
  number: 7,
  installation: { id: 9 },
  repository,
  pull_request: {
    number: 7,
    html_url: 'https://github.com/acme/site/pull/7',
    state: 'closed',
    merged,
    merge_commit_sha: merged ? 'abc123' : null,
    head: { ref: 'sam/task-01', sha: 'def456' },
    base: { ref: 'main', sha: '000' },
  },
  sender: { id: 1, login: 'alice', type: 'User' },
});

describe('events', () => {
  it('parses pull_request closed, merged or not', () => {
    expect(parseWebhookEvent('pull_request', pull(true))).toEqual({
      kind: 'pull_request_closed',
      installationId: 9,
      repositoryId: 42,
      number: 7,
      htmlUrl: 'https://github.com/acme/site/pull/7',
      headRef: 'sam/task-01',
      merged: true,
      mergeCommitSha: 'abc123',
    });
    expect(parseWebhookEvent('pull_request', pull(false))).toMatchObject({ merged: false, mergeCommitSha: null });
    expect(parseWebhookEvent('pull_request', { ...pull(false), action: 'opened' })).toEqual({
      kind: 'ignored',
      event: 'pull_request',
      action: 'opened',
    });
  });

  it('parses installation and installation_repositories', () => {
    const account = { id: 5, login: 'acme', type: 'Organization' };
    expect(
      parseWebhookEvent('installation', { action: 'deleted', installation: { id: 9, account }, sender: { id: 1 } }),
    ).toEqual({ kind: 'installation', action: 'deleted', installationId: 9, account, senderId: 1 });
    expect(
      parseWebhookEvent('installation_repositories', {
        action: 'removed',
        installation: { id: 9, account },
        repository_selection: 'selected',
        repositories_added: [],
        repositories_removed: [repository],
        sender: { id: 1 },
      }),
    ).toEqual({
      kind: 'installation_repositories',
      action: 'removed',
      installationId: 9,
      repositorySelection: 'selected',
      added: [],
      removed: [{ id: 42, fullName: 'acme/site' }],
    });
  });

  it('says where a payload is malformed, and ignores events SAM does not use', () => {
    expect(() => parseWebhookEvent('installation', { action: 'created', installation: { id: 'x' } })).toThrow(
      WebhookPayloadError,
    );
    expect(() => parseWebhookEvent('pull_request', { action: 'closed', repository })).toThrow(/pull_request/);
    expect(parseWebhookEvent('push', { ref: 'refs/heads/main' })).toEqual({
      kind: 'ignored',
      event: 'push',
      action: undefined,
    });
  });
});
