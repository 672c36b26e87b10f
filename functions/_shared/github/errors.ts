/**
 * The one error type of the GitHub client. `kind` tells the caller what to do: `permanent` — fail
 * now and show the message; `rate_limited` — wait until `retryAt` (epoch ms) and try again;
 * `transient` — retry with backoff. The message is meant for users: it carries GitHub's own words
 * and the request's method and path, never a header or a token.
 */
export type GitHubErrorKind = 'permanent' | 'rate_limited' | 'transient';

export class GitHubError extends Error {
  constructor(
    readonly status: number,
    readonly kind: GitHubErrorKind,
    message: string,
    readonly retryAt?: number,
  ) {
    super(message);
    this.name = 'GitHubError';
  }
}

/** GitHub's JSON error body: `{message, documentation_url, status?, errors?}`. */
export interface GitHubErrorBody {
  message?: string;
  documentation_url?: string;
  status?: string;
  errors?: { resource?: string; field?: string; code: string; message?: string }[];
}

/** When no header says how long to wait for a secondary rate limit: at least a minute. */
const SECONDARY_WAIT_MS = 60_000;

/** GitHub's words for a failed answer: the message plus each validation error's message or code. */
export function describeBody(body: GitHubErrorBody | undefined, fallback: string): string {
  const main = body?.message?.trim() || fallback;
  const details = (body?.errors ?? [])
    .map((e) => e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(' '))
    .filter((d) => d && d !== main);
  return details.length > 0 ? `${main}: ${details.join('; ')}` : main;
}

/**
 * Classifies a failed answer. Rate limits (403 or 429 with `x-ratelimit-remaining: 0` or a
 * `retry-after`, or any 429) wait until the reset; 5xx are transient; other 4xx are permanent.
 */
export function classifyResponse(
  status: number,
  headers: Headers,
  body: GitHubErrorBody | undefined,
  what: string,
  now: number,
): GitHubError {
  const words = describeBody(body, `HTTP ${status}`);
  const message = `GitHub refused ${what} (${status}): ${words}`;
  if (status === 403 || status === 429) {
    const retryAfter = Number(headers.get('retry-after'));
    const remaining = headers.get('x-ratelimit-remaining');
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (headers.has('retry-after') && Number.isFinite(retryAfter)) {
      return new GitHubError(status, 'rate_limited', message, now + retryAfter * 1000);
    }
    if (remaining === '0' && Number.isFinite(reset) && reset > 0) {
      return new GitHubError(status, 'rate_limited', message, Math.max(now, reset * 1000));
    }
    if (status === 429 || /secondary rate limit/i.test(words)) {
      return new GitHubError(status, 'rate_limited', message, now + SECONDARY_WAIT_MS);
    }
  }
  if (status >= 500) return new GitHubError(status, 'transient', message);
  return new GitHubError(status, 'permanent', message);
}

/** A request that never got an answer (DNS, connection refused, reset, timeout). */
export function networkError(what: string, cause: unknown): GitHubError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GitHubError(0, 'transient', `GitHub could not be reached for ${what}: ${reason}`);
}
