/**
 * Calls to the control plane that must survive an outage: transient failures (network errors,
 * timeouts, 5xx, 408, 429) are retried with backoff + jitter until the call succeeds, `signal`
 * aborts, or `deadlineMs` passes; a refusal (other 4xx) is thrown at once — a 401 only when the
 * caller cannot get a fresh credential (`retryCredentialRefusal`).
 */
import { pause } from '../../functions/_shared/common/pause.ts';
import {
  backoffDelay,
  isCredentialRefusal,
  isPermanentRejection,
  type BackoffOptions,
} from '../outbox/delivery-errors.ts';

export type RetryOptions = {
  signal?: AbortSignal;
  /** Give up (throwing the last error) after this long; default: never. */
  deadlineMs?: number;
  backoff?: BackoffOptions;
  log?: (line: string) => void;
  /** Retry a 401 too (the caller's credential is refreshed meanwhile). */
  retryCredentialRefusal?: boolean;
};

export class RetryAborted extends Error {
  constructor(
    what: string,
    readonly lastError: unknown,
  ) {
    super(`${what}: given up${lastError instanceof Error ? ` (${lastError.message})` : ''}`);
    this.name = 'RetryAborted';
  }
}

export async function retrying<T>(
  what: string,
  fn: (signal: AbortSignal | undefined) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new RetryAborted(what, options.signal.reason);
    try {
      return await fn(options.signal);
    } catch (error) {
      if (isPermanentRejection(error) && !(options.retryCredentialRefusal && isCredentialRefusal(error))) throw error;
      const wait = Math.max(
        backoffDelay(attempt, options.backoff),
        (error as { retryAfterMs?: number }).retryAfterMs ?? 0,
      );
      const left = options.deadlineMs === undefined ? Infinity : options.deadlineMs - (Date.now() - started);
      if (options.signal?.aborted || left <= 0) throw new RetryAborted(what, error);
      if (attempt === 1 || attempt % 10 === 0) {
        options.log?.(`${what} failed (${error instanceof Error ? error.message : String(error)}); retrying`);
      }
      await pause(Math.min(wait, left), options.signal);
    }
  }
}
