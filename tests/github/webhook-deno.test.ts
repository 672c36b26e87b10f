/**
 * The `github-webhook` function as deployed: discovered from supabase/config.toml and served by
 * Deno behind the gateway with `verify_jwt = false` (GitHub sends no Supabase JWT). Without
 * `GITHUB_WEBHOOK_SECRET` every delivery is refused in JSON, signed or not; the behaviour with a
 * secret is tests/github/webhook-function.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { useFunctionsStack } from '../helpers/local-stack.ts';

const stack = useFunctionsStack('github_webhook_deno');

describe('github-webhook under Deno', () => {
  it('boots, takes a delivery without a JWT, and refuses it in JSON while no webhook secret is set', async () => {
    const res = await fetch(stack.functionUrl('github-webhook'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      },
      body: JSON.stringify({ zen: 'Design for failure.' }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: { code: 'not_configured', message: 'GitHub webhooks are not configured (no GITHUB_WEBHOOK_SECRET)' },
    });
  });
});
