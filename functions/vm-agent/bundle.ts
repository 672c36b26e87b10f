/**
 * `GET /vm-agent/bundle[?sha256=<hex>]`: the vm-agent as one file, for machines to download before
 * they have any token (cloud-init, the bring-your-own command). Public on purpose: it is SAM's own
 * code and holds no secret. The sha256 rides in a header so a client can compare it with the one it
 * was given; the machine checks the bytes it got against that one, never against this header alone.
 * With `sha256` the answer is that exact build (immutable, cacheable), else the current one.
 */
import { Hono } from 'hono';
import { BUNDLE_SHA256_HEADER, BUNDLE_VERSION_HEADER, bundleContent } from '../_shared/vm-agent/bundle.ts';
import { vmAgentError, type Env, type VmAgentDeps } from './context.ts';

export function bundleApp(deps: VmAgentDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', async (c) => {
    const wanted = c.req.query('sha256');
    if (wanted !== undefined && !/^[0-9a-f]{64}$/.test(wanted)) {
      throw vmAgentError(400, 'invalid_params', 'sha256 must be 64 lowercase hex digits');
    }
    const bundle = await bundleContent(deps.sql, wanted);
    if (!bundle) {
      throw vmAgentError(
        404,
        'not_found',
        wanted ? 'No vm-agent bundle has this sha256' : 'No vm-agent bundle is published on this installation',
      );
    }
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header(BUNDLE_SHA256_HEADER, bundle.sha256);
    c.header(BUNDLE_VERSION_HEADER, bundle.version);
    c.header('cache-control', wanted ? 'public, max-age=31536000, immutable' : 'no-store');
    return c.body(bundle.content);
  });
  return app;
}
