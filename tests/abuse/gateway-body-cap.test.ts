import { join } from 'node:path';
import { expect, it } from 'vitest';
import { functionsFactory } from '../../supabase/local/functions/index.ts';
import { MAX_FUNCTION_BODY_BYTES } from '../../supabase/local/functions/proxy.ts';
import { paths } from '../../supabase/local/paths.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { lazyUpload, MiB } from './streams.ts';

const CONFIG = join(paths.root, 'tests', 'abuse', 'fixtures', 'config.toml');
const t = useTestStack({ factories: [functionsFactory({ configPath: CONFIG })] }, 'abuse_gateway_cap');

it('the gateway caps every function request body while streaming: 413 past the platform limit, the function untouched', async () => {
  const sink = `${t.url}/functions/v1/sink`;
  // Under the cap, the function gets every byte.
  const small = await lazyUpload(sink, 3 * MiB);
  expect(small.response.status).toBe(200);
  expect(await small.response.json()).toEqual({ bytes: 3 * MiB });

  const big = await lazyUpload(sink, MAX_FUNCTION_BODY_BYTES + 5 * MiB);
  expect(big.response.status).toBe(413);
  expect(await big.response.json()).toEqual({
    code: 'PAYLOAD_TOO_LARGE',
    message: `Request body exceeds ${MAX_FUNCTION_BODY_BYTES} bytes`,
  });

  // A declared Content-Length over the cap is refused before a byte is forwarded.
  const declared = await fetch(sink, { method: 'POST', body: new Uint8Array(MAX_FUNCTION_BODY_BYTES + 1) });
  expect(declared.status).toBe(413);

  // The function still answers.
  const after = await fetch(sink, { method: 'POST', body: 'abc' });
  expect(await after.json()).toEqual({ bytes: 3 });
});
