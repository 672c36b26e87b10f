/**
 * The `github-webhook` edge function: where GitHub delivers the App's webhooks. No user or SAM
 * token: the `X-Hub-Signature-256` HMAC of the raw body under the App's webhook secret is the
 * credential, checked on the bytes as received (before any parsing), in constant time.
 *
 *   POST /github-webhook   X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256
 *     pull_request closed            → the tasks with that PR: merged | closed (event row)     200
 *     installation, installation_repositories → links kept current                       200
 *     ping, anything else            → acknowledged, nothing done                         202
 *
 * Bad signature: 401; bad JSON or payload: 400; no secret configured: 503 — all JSON
 * `{ error: { code, message } }`. The work inside the request is one SQL statement.
 */
import { Hono } from 'hono';
import type { Sql } from '../_shared/db.ts';
import { applyWebhookEvent } from '../_shared/github/webhook-events.ts';
import { parseWebhookEvent, verifyWebhookSignature, WebhookPayloadError } from '../_shared/github/webhooks.ts';
import { HttpError } from '../_shared/http-error.ts';
import { BodyTooLarge, jsonNotFound, jsonOnError, readBodyBounded } from '../_shared/http.ts';

export interface GitHubWebhookDeps {
  sql: Sql;
  /** `GITHUB_WEBHOOK_SECRET`; null: every delivery is refused (503) until it is set. */
  secret: string | null;
}

/** GitHub caps payloads at 25 MB; SAM's events are a few KB. */
export const MAX_WEBHOOK_BYTES = 5 * 1024 * 1024;

export function createGitHubWebhookApp(deps: GitHubWebhookDeps): Hono {
  const app = new Hono().basePath('/github-webhook');

  app.post('/', async (c) => {
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = await readBodyBounded(c.req.raw, MAX_WEBHOOK_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) throw new HttpError(413, 'payload_too_large', e.message);
      throw e;
    }
    if (!deps.secret) {
      throw new HttpError(503, 'not_configured', 'GitHub webhooks are not configured (no GITHUB_WEBHOOK_SECRET)');
    }
    if (!(await verifyWebhookSignature(deps.secret, raw, c.req.header('x-hub-signature-256')))) {
      throw new HttpError(401, 'invalid_signature', 'The X-Hub-Signature-256 signature does not match the body');
    }
    const event = c.req.header('x-github-event') ?? '';
    const delivery = c.req.header('x-github-delivery') ?? null;
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      throw new HttpError(400, 'invalid_json', 'The webhook body is not valid JSON');
    }
    let parsed;
    try {
      parsed = parseWebhookEvent(event, payload);
    } catch (e) {
      if (e instanceof WebhookPayloadError) throw new HttpError(400, 'invalid_params', e.message);
      throw e;
    }
    const result = await applyWebhookEvent(deps.sql, parsed);
    return c.json({ delivery, event, ...result }, parsed.kind === 'ignored' ? 202 : 200);
  });

  app.notFound(jsonNotFound);
  app.onError(jsonOnError('github-webhook'));
  return app;
}
