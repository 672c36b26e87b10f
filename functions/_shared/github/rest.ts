/**
 * GitHub's REST API over fetch: the headers every call needs, errors turned into `GitHubError`,
 * and pagination through the `Link` header. Runs in Deno and Node (fetch only).
 */
import { classifyResponse, type GitHubErrorBody, networkError } from './errors.ts';

export const API_VERSION = '2022-11-28';
export const DEFAULT_API_URL = 'https://api.github.com';

export interface RestOptions {
  /** Base URL of the REST API (`https://api.github.com`, or a fake's). */
  apiUrl?: string;
  /** The User-Agent GitHub requires (it answers 403 without one). */
  userAgent?: string;
  fetch?: typeof fetch;
  /** Epoch ms; injectable so tests control time. */
  now?: () => number;
}

export interface RestAnswer<T> {
  status: number;
  headers: Headers;
  data: T;
}

export interface CallInit {
  token: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
}

/** A REST client bound to one credential (App JWT, installation token or user token). */
export class Rest {
  readonly apiUrl: string;
  readonly now: () => number;
  /** GitHub's clock minus ours, from the last answer's `Date` header (ms, second precision). */
  serverOffsetMs = 0;
  private readonly userAgent: string;
  private readonly fetchFn: typeof fetch;

  constructor(options: RestOptions = {}) {
    this.apiUrl = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.userAgent = options.userAgent ?? 'sam-on-supabase';
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? (() => Date.now());
  }

  url(path: string, query?: CallInit['query']): string {
    const url = new URL(this.apiUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** One call; a non-2xx answer throws `GitHubError`. */
  async request<T>(method: string, pathOrUrl: string, init: CallInit): Promise<RestAnswer<T>> {
    const url = pathOrUrl.startsWith('/') ? this.url(pathOrUrl, init.query) : pathOrUrl;
    const what = `${method} ${new URL(url).pathname}`;
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': API_VERSION,
      'user-agent': this.userAgent,
      authorization: `Bearer ${init.token}`,
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch (e) {
      throw networkError(what, e);
    }
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(date)) this.serverOffsetMs = date - this.now();
    const text = await res.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (res.ok) return { status: res.status, headers: res.headers, data: data as T };
    const body = data && typeof data === 'object' ? (data as GitHubErrorBody) : { message: text.slice(0, 200) };
    throw classifyResponse(res.status, res.headers, body, what, this.now());
  }

  /**
   * Every page of a list, following `rel="next"` (only to this API's origin, so a credential never
   * goes elsewhere). `items` picks the array out of each page (lists wrapped in an object).
   */
  async paginate<P, T>(path: string, init: CallInit, items: (page: P) => T[]): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = this.url(path, { per_page: 100, ...init.query });
    const origin = new URL(this.apiUrl).origin;
    for (let pages = 0; next && pages < 1000; pages++) {
      const answer: RestAnswer<P> = await this.request<P>('GET', next, init);
      out.push(...items(answer.data));
      const link = parseLink(answer.headers.get('link')).next;
      next = link && new URL(link).origin === origin ? link : undefined;
    }
    return out;
  }
}

/** `<url>; rel="next", <url>; rel="last"` → `{next: url, last: url}`. */
export function parseLink(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}
