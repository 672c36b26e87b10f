import { useFunctionsStack } from '../helpers/local-stack.ts';
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
 * /functions/v1/vm-agent with real HTTP, over a fresh test database.
 */
export function useDenoVmAgent(label: string): { readonly db: TestDatabase; readonly target: VmAgentTarget } {
  const stack = useFunctionsStack(label);
  let target: VmAgentTarget | undefined;
  return {
    get db() {
      return stack.db;
    },
    get target() {
      target ??= vmAgentTarget(stack.secret, stack.url, stack.functionUrl('vm-agent'));
      return target;
    },
  };
}

function vmAgentTarget(secret: string, stackUrl: string, url: string): VmAgentTarget {
  return {
    secret,
    stackUrl,
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
}
