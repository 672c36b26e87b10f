/** The fake's answers: GitHub's JSON error body, validation failures, and pages with a `Link` header. */
import type { FakeGitHub } from './server.ts';

export interface Reply {
  status: number;
  body?: unknown;
  /** A non-JSON body. */
  text?: string;
  headers?: Record<string, string>;
}

const DOCS = 'https://docs.github.com/rest';

export function errorBody(status: number, message: string, errors?: unknown[], documentation_url = DOCS): Reply {
  return {
    status,
    body: { message, documentation_url, status: String(status), ...(errors ? { errors } : {}) },
  };
}

export const notFound = () => errorBody(404, 'Not Found');
export const notIntegration = (perm: string): Reply => ({
  ...errorBody(403, 'Resource not accessible by integration'),
  headers: { 'x-accepted-github-permissions': perm },
});
export const validation = (errors: unknown[], docs = DOCS) => errorBody(422, 'Validation Failed', errors, docs);

/** One page of `items` with GitHub's `Link` header (`per_page` ≤ 100, pages from 1). */
export function paginate<T>(fake: FakeGitHub, url: URL, items: T[]): { page: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page')) || 30));
  const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (p: number, rel: string) => {
    const u = new URL(url.pathname + url.search, fake.url);
    u.searchParams.set('page', String(p));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'));
  return {
    page: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length ? { link: links.join(', ') } : {},
  };
}

export function parseJson(raw: string): { ok: true; value: Record<string, unknown> } | { ok: false } {
  if (!raw.trim()) return { ok: true, value: {} };
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v)
      ? { ok: true, value: v as Record<string, unknown> }
      : { ok: false };
  } catch {
    return { ok: false };
  }
}
