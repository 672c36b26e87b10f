/**
 * How a failed `send(batch)` is classified. `send` throws a {@link SendError} with the HTTP status
 * (or any error with a numeric `status`): 4xx other than 408/429 means the server refused the batch
 * as invalid — retrying cannot help, so the batch is parked in the dead-letter file. Everything
 * else (network errors, 5xx, 408, 429) is transient and retried with backoff.
 */
export class SendError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** A server-given wait (e.g. from Retry-After), used as the minimum before the next try. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SendError';
  }
}

export function errorStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * A 401: the credential was refused (expired or revoked), not the request. Callers that can get a
 * fresh credential retry; the outbox never dead-letters a batch for it.
 */
export function isCredentialRefusal(error: unknown): boolean {
  return errorStatus(error) === 401;
}

export function isPermanentRejection(error: unknown): boolean {
  const status = errorStatus(error);
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export type BackoffOptions = {
  initialMs?: number;
  maxMs?: number;
  /** Returns [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
};

/**
 * Delay before retry number `attempt` (1-based): exponential from `initialMs`, capped at `maxMs`,
 * with "equal jitter" (half fixed, half random) so many VMs do not retry in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (base / 2) * random());
}
