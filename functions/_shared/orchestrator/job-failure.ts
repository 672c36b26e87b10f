/**
 * How a failed job attempt ends, read off the error a handler threw. Errors we raise say whether
 * trying again can help: a {@link ProviderError} (`permanent`, `retryAfterMs`), a {@link GitHubError}
 * (`kind`: permanent, rate_limited until `retryAt`, transient), or any error carrying
 * `permanent: true` / a numeric `retryAfterMs`. Everything else is retried with backoff.
 */
import { GitHubError } from '../github/errors.ts';
import { HttpError } from '../http-error.ts';
import { ProviderError } from '../providers/provider.ts';

export interface JobFailure {
  /** What the job's `last_error` (and, when the job dies, the task or node) says. */
  message: string;
  /** Trying again cannot help: the job is dead at once. */
  permanent: boolean;
  /** The next attempt not before this many ms from now (the API's own wait). */
  retryAfterMs?: number;
}

/** Errors whose messages are written to be shown: no tokens, no request bodies. */
function isOurs(e: unknown): e is Error {
  return e instanceof ProviderError || e instanceof HttpError || e instanceof GitHubError || hasVerdict(e);
}

function hasVerdict(e: unknown): e is Error & { permanent?: unknown; retryAfterMs?: unknown } {
  if (!(e instanceof Error)) return false;
  const x = e as { permanent?: unknown; retryAfterMs?: unknown };
  return typeof x.permanent === 'boolean' || typeof x.retryAfterMs === 'number';
}

export function jobFailure(e: unknown, now = Date.now()): JobFailure {
  const message = failureMessage(e);
  if (e instanceof GitHubError) {
    if (e.kind === 'permanent') return { message, permanent: true };
    if (e.kind === 'rate_limited' && e.retryAt !== undefined) {
      return { message, permanent: false, retryAfterMs: Math.max(0, e.retryAt - now) };
    }
    return { message, permanent: false };
  }
  if (hasVerdict(e)) {
    const wait = typeof e.retryAfterMs === 'number' && Number.isFinite(e.retryAfterMs) ? e.retryAfterMs : undefined;
    return {
      message,
      permanent: e.permanent === true,
      ...(wait === undefined ? {} : { retryAfterMs: Math.max(0, wait) }),
    };
  }
  return { message, permanent: false };
}

/**
 * What a failed attempt records: our own errors' messages, a database error by code and words,
 * anything else only by its kind.
 */
export function failureMessage(e: unknown): string {
  if (isOurs(e)) return e.message;
  const pg = e as { code?: unknown; message?: unknown };
  if (typeof pg?.code === 'string' && /^[0-9A-Z]{5}$/.test(pg.code) && typeof pg.message === 'string') {
    return `database error ${pg.code}: ${pg.message}`;
  }
  return `internal error (${e instanceof Error ? e.name : typeof e})`;
}

/** Whether the error is one we raised on purpose (not worth a stack in the log). */
export function isExpectedFailure(e: unknown): boolean {
  return isOurs(e);
}
