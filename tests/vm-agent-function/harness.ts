import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { functionsService } from '../../supabase/local/functions/index.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import type { TestDatabase } from '../helpers/test-database.ts';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  ms: number;
}

export interface VmAgentTarget {
  secret: string;
  /** The gateway's URL (SUPABASE_URL of the functions). */
  stackUrl: string;
  /** http://127.0.0.1:PORT/functions/v1/vm-agent */
  url: string;
  call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    token?: string,
    body?: unknown,
    init?: RequestInit,
  ): Promise<Reply<T>>;
}

/**
 * The `vm-agent` function served by the local stack under Deno, reached through the gateway at
 * /functions/v1/vm-agent with real HTTP, over a fresh test database (as useDenoMcp does for mcp).
 */
export function useDenoVmAgent(label: string): { readonly db: TestDatabase; readonly target: VmAgentTarget } {
  let stack: Awaited<ReturnType<typeof startTestStack>> | undefined;
  let target: VmAgentTarget | undefined;
  beforeAll(async () => {
    const secret = randomBytes(32).toString('base64url');
    process.env.SAM_JWT_SECRET = secret;
    stack = await startTestStack({ factories: [functionsService] }, label);
    const url = `${stack.url}/functions/v1/vm-agent`;
    target = {
      secret,
      stackUrl: stack.url,
      url,
      async call(method, path, token, body, init = {}) {
        const started = Date.now();
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
          ...init,
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : {}, ms: Date.now() - started } as never;
      },
    };
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });
  return {
    get db() {
      if (!stack) throw new Error('the stack starts in beforeAll');
      return stack.db;
    },
    get target() {
      if (!target) throw new Error('the stack starts in beforeAll');
      return target;
    },
  };
}
