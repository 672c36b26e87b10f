/**
 * GitHub webhook deliveries: the `X-Hub-Signature-256` check over the raw body (HMAC-SHA256,
 * compared in constant time by WebCrypto's verify), and the events SAM acts on parsed into small
 * typed results. Anything else parses to `{ kind: 'ignored' }`.
 */
import { z } from 'zod';

const encoder = new TextEncoder();

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Whether `signatureHeader` (`sha256=<hex>`) is the HMAC-SHA256 of the raw `body` under `secret`.
 * Check the bytes as received, before parsing JSON.
 */
export async function verifyWebhookSignature(
  secret: string,
  body: string | Uint8Array,
  signatureHeader: string | null | undefined,
): Promise<boolean> {
  if (!secret) return false;
  const m = /^sha256=([0-9a-f]{64})$/i.exec(signatureHeader?.trim() ?? '');
  const signature = m ? hexToBytes(m[1]!) : undefined;
  if (!signature) return false;
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'verify',
  ]);
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  return crypto.subtle.verify('HMAC', key, signature, bytes as Uint8Array<ArrayBuffer>);
}

/** The `sha256=<hex>` header value for a body (for fakes and tests that deliver webhooks). */
export async function signWebhook(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const account = z.object({ id: z.number(), login: z.string().optional(), type: z.string().optional() });
const repoItem = z.object({ id: z.number(), full_name: z.string(), name: z.string(), private: z.boolean().optional() });
const installationRef = z.object({ id: z.number() });

const pullRequestEvent = z.object({
  action: z.string(),
  installation: installationRef.optional(),
  repository: z.object({ id: z.number(), full_name: z.string() }),
  pull_request: z.object({
    number: z.number(),
    html_url: z.string(),
    merged: z.boolean().nullable().optional(),
    merge_commit_sha: z.string().nullable().optional(),
    head: z.object({ ref: z.string(), sha: z.string() }),
    base: z.object({ ref: z.string() }),
  }),
});

const installationEvent = z.object({
  action: z.string(),
  installation: z.object({ id: z.number(), account: account.nullable() }),
  sender: account,
});

const installationRepositoriesEvent = z.object({
  action: z.enum(['added', 'removed']),
  installation: z.object({ id: z.number(), account: account.nullable() }),
  repository_selection: z.enum(['all', 'selected']),
  repositories_added: z.array(repoItem),
  repositories_removed: z.array(repoItem),
  sender: account,
});

export interface RepoRef {
  id: number;
  fullName: string;
}

export type WebhookEvent =
  | {
      kind: 'pull_request_closed';
      installationId: number | undefined;
      repositoryId: number;
      number: number;
      htmlUrl: string;
      headRef: string;
      merged: boolean;
      mergeCommitSha: string | null;
    }
  | {
      kind: 'installation';
      action: string;
      installationId: number;
      account: { id: number; login: string; type: string } | null;
      senderId: number;
    }
  | {
      kind: 'installation_repositories';
      action: 'added' | 'removed';
      installationId: number;
      repositorySelection: 'all' | 'selected';
      added: RepoRef[];
      removed: RepoRef[];
    }
  | { kind: 'ignored'; event: string; action: string | undefined };

export class WebhookPayloadError extends Error {
  override name = 'WebhookPayloadError';
}

function parse<T>(schema: z.ZodType<T>, event: string, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new WebhookPayloadError(
      `Malformed ${event} payload at ${first?.path.join('.') || '(root)'}: ${first?.message}`,
    );
  }
  return r.data;
}

/** The event SAM acts on, from the `X-GitHub-Event` header and the parsed JSON body. */
export function parseWebhookEvent(event: string, payload: unknown): WebhookEvent {
  const action =
    payload && typeof payload === 'object' && typeof (payload as { action?: unknown }).action === 'string'
      ? (payload as { action: string }).action
      : undefined;
  if (event === 'pull_request' && action === 'closed') {
    const p = parse(pullRequestEvent, event, payload);
    return {
      kind: 'pull_request_closed',
      installationId: p.installation?.id,
      repositoryId: p.repository.id,
      number: p.pull_request.number,
      htmlUrl: p.pull_request.html_url,
      headRef: p.pull_request.head.ref,
      merged: p.pull_request.merged === true,
      mergeCommitSha: p.pull_request.merge_commit_sha ?? null,
    };
  }
  if (event === 'installation') {
    const p = parse(installationEvent, event, payload);
    const a = p.installation.account;
    return {
      kind: 'installation',
      action: p.action,
      installationId: p.installation.id,
      account: a ? { id: a.id, login: a.login ?? '', type: a.type ?? '' } : null,
      senderId: p.sender.id,
    };
  }
  if (event === 'installation_repositories') {
    const p = parse(installationRepositoriesEvent, event, payload);
    const refs = (items: z.infer<typeof repoItem>[]) => items.map((r) => ({ id: r.id, fullName: r.full_name }));
    return {
      kind: 'installation_repositories',
      action: p.action,
      installationId: p.installation.id,
      repositorySelection: p.repository_selection,
      added: refs(p.repositories_added),
      removed: refs(p.repositories_removed),
    };
  }
  return { kind: 'ignored', event, action };
}
