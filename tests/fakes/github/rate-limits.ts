/**
 * The fake's rate limits: an hourly budget per credential (primary limit, 60 for anonymous calls),
 * `x-ratelimit-*` headers on every REST answer, 403 or 429 with `remaining: 0` once the budget is
 * spent, and an on-demand secondary limit answered with `retry-after`.
 */
import { errorBody, type Reply } from './replies.ts';

const HOUR = 3_600_000;
const ANONYMOUS = 'ip';

interface Budget {
  used: number;
  resetAt: number;
}

export class RateLimits {
  /** Requests per hour per credential (GitHub: 5,000 for installations and users). */
  limit: number;
  /** The status of an exhausted primary limit: GitHub sends 403 or 429. */
  status: 403 | 429;
  private readonly budgets = new Map<string, Budget>();
  private secondary: { count: number; retryAfter: number; status: 403 | 429 } | undefined;

  constructor(
    private readonly now: () => number,
    limit = 5000,
    status: 403 | 429 = 403,
  ) {
    this.limit = limit;
    this.status = status;
  }

  secondaryLimit(retryAfterSeconds: number, count: number, status: 403 | 429): void {
    this.secondary = { count, retryAfter: retryAfterSeconds, status };
  }

  private limitOf(key: string): number {
    return key === ANONYMOUS ? 60 : this.limit;
  }

  private budget(key: string): Budget {
    const now = this.now();
    let b = this.budgets.get(key);
    if (!b || b.resetAt <= now) {
      b = { used: 0, resetAt: now + HOUR };
      this.budgets.set(key, b);
    }
    return b;
  }

  /** Spends one request of `key`'s budget, or answers the limit that stops it. */
  spend(key: string, who: string): Reply | undefined {
    if (key !== ANONYMOUS && this.secondary && this.secondary.count > 0) {
      this.secondary.count--;
      const r = errorBody(
        this.secondary.status,
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      );
      return { ...r, headers: { 'retry-after': String(this.secondary.retryAfter) } };
    }
    const budget = this.budget(key);
    if (budget.used >= this.limitOf(key)) {
      return errorBody(
        this.status,
        `API rate limit exceeded for ${who}.`,
        undefined,
        'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      );
    }
    budget.used++;
    return undefined;
  }

  /** The answer with `key`'s `x-ratelimit-*` headers (and JSON content type unless it has one). */
  withHeaders(key: string, reply: Reply): Reply & { headers: Record<string, string> } {
    const limit = this.limitOf(key);
    const b = this.budget(key);
    return {
      ...reply,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        // GitHub's clock is the fake's: clients correct JWT times from it.
        date: new Date(this.now()).toUTCString(),
        'x-github-media-type': 'github.v3; format=json',
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': String(Math.max(0, limit - b.used)),
        'x-ratelimit-used': String(b.used),
        'x-ratelimit-reset': String(Math.ceil(b.resetAt / 1000)),
        'x-ratelimit-resource': 'core',
        ...reply.headers,
      },
    };
  }
}
