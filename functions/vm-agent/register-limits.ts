/**
 * Bounds on the one unauthenticated route, registration: tries per source (the address the
 * gateway saw: the last `x-forwarded-for` entry, since a client can put anything before it) and
 * per bootstrap token (kept as its SHA-256 only). Fixed windows, in memory per function instance,
 * with a bounded number of keys (the oldest are forgotten first), so a flood costs neither
 * unbounded memory nor a database transaction per try.
 */
import { vmAgentError } from './context.ts';

export interface WindowLimit {
  max: number;
  windowMs: number;
}

export interface RegisterLimits {
  perSource: WindowLimit;
  perToken: WindowLimit;
  /** Keys remembered per limit. */
  maxKeys: number;
}

export const DEFAULT_REGISTER_LIMITS: RegisterLimits = {
  perSource: { max: 30, windowMs: 60_000 },
  perToken: { max: 10, windowMs: 10 * 60_000 },
  maxKeys: 10_000,
};

class WindowCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: WindowLimit,
    private readonly maxKeys: number,
  ) {}

  /** Counts a try; the ms to wait when it is over the limit. */
  take(key: string, now = Date.now()): number | null {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.delete(key);
      w = { count: 0, resetAt: now + this.limit.windowMs };
      this.windows.set(key, w);
      while (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count += 1;
    return w.count > this.limit.max ? w.resetAt - now : null;
  }
}

export function sourceOf(forwardedFor: string | undefined): string {
  const hops = (forwardedFor ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return hops.at(-1) ?? 'unknown';
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function registerLimiter(overrides: Partial<RegisterLimits> = {}) {
  const limits = { ...DEFAULT_REGISTER_LIMITS, ...overrides };
  const sources = new WindowCounter(limits.perSource, limits.maxKeys);
  const tokens = new WindowCounter(limits.perToken, limits.maxKeys);
  const refuse = (ms: number) =>
    vmAgentError(429, 'rate_limited', 'Too many registration attempts; try again later', {
      retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)),
    });
  return {
    /** Before the body is read: counts the source's try. */
    source(forwardedFor: string | undefined): void {
      const wait = sources.take(sourceOf(forwardedFor));
      if (wait !== null) throw refuse(wait);
    },
    /** Once the body is parsed: counts the bootstrap token's try. */
    async token(bootstrapToken: string): Promise<void> {
      const wait = tokens.take(await sha256(bootstrapToken));
      if (wait !== null) throw refuse(wait);
    },
  };
}
