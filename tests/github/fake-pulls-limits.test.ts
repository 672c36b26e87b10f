/**
 * The fake GitHub's pull requests (GitHub's 422 bodies, `head=owner:branch` semantics), pagination
 * with `Link`, and rate limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../fakes/github/server.ts';
import { ContractWorld, START } from './contract-world.ts';

const w = new ContractWorld();

beforeAll(async () => {
  await w.start();
});

afterAll(async () => {
  await w.close();
});

describe('pull requests', () => {
  const repo = () => w.repos[2]!;
  const pulls = () => `/repos/acme/${repo().name}/pulls`;

  it('create (201 with number, html_url, open, head sha), 422 already exists, again after close', async () => {
    const token = await w.tokenFor([repo().id]);
    const sha = w.fake.setBranch(repo(), 'sam/feature', { file: 'feature.txt' });
    const body = { head: 'sam/feature', base: 'main', title: 'Feature', body: 'Done.' };
    const created = await w.call('POST', pulls(), { token, body });
    expect(created.status).toBe(201);
    const pr = created.body as {
      number: number;
      html_url: string;
      state: string;
      head: { sha: string; label: string };
      url: string;
    };
    expect(pr).toMatchObject({ number: 1, state: 'open', head: { sha, label: 'acme:sam/feature' } });
    expect(pr.html_url).toBe(`${w.fake.url}/acme/${repo().name}/pull/1`);
    expect(created.headers.get('location')).toBe(pr.url);

    const again = await w.call('POST', pulls(), { token, body });
    expect(again.status).toBe(422);
    expect(again.body).toEqual({
      message: 'Validation Failed',
      errors: [
        { resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme:sam/feature.' },
      ],
      documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
      status: '422',
    });
    w.fake.closePull(repo(), 1);
    const reopened = await w.call('POST', pulls(), { token, body });
    expect(reopened.status).toBe(201);
    expect((reopened.body as { number: number }).number).toBe(2);
  });

  it('422 No commits between, a missing head branch, a missing title; 403 without pull_requests: write', async () => {
    const token = await w.tokenFor([repo().id]);
    w.fake.setBranch(repo(), 'sam/empty');
    const empty = await w.call('POST', pulls(), { token, body: { head: 'sam/empty', base: 'main', title: 'Nothing' } });
    expect(empty.status).toBe(422);
    expect((empty.body as { errors: unknown[] }).errors).toEqual([
      { resource: 'PullRequest', code: 'custom', message: 'No commits between main and sam/empty' },
    ]);
    const noHead = await w.call('POST', pulls(), { token, body: { head: 'sam/nope', base: 'main', title: 'x' } });
    expect(noHead.status).toBe(422);
    expect((noHead.body as { errors: unknown[] }).errors).toEqual([
      { resource: 'PullRequest', field: 'head', code: 'invalid' },
    ]);
    const noTitle = await w.call('POST', pulls(), { token, body: { head: 'sam/empty', base: 'main' } });
    expect(noTitle.status).toBe(422);
    for (const e of (noTitle.body as { errors: { code: string }[] }).errors) expect(typeof e.code).toBe('string');
    const readOnly = await w.tokenFor([repo().id], { contents: 'write', pull_requests: 'read' });
    const forbidden = await w.call('POST', pulls(), {
      token: readOnly,
      body: { head: 'sam/empty', base: 'main', title: 'x' },
    });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { message: string }).message).toBe('Resource not accessible by integration');
    expect(forbidden.headers.get('x-accepted-github-permissions')).toBe('pull_requests=write');
  });

  it('filter by head only as owner:branch (a bare branch name is ignored), and by state', async () => {
    const token = await w.tokenFor([repo().id]);
    w.fake.setBranch(repo(), 'sam/other', { file: 'other.txt' });
    expect(
      (await w.call('POST', pulls(), { token, body: { head: 'sam/other', base: 'main', title: 'Other' } })).status,
    ).toBe(201);
    const numbers = async (q: string) =>
      ((await w.call('GET', `${pulls()}?${q}`, { token })).body as { number: number }[]).map((p) => p.number);
    expect(await numbers('head=acme:sam/feature&state=all')).toEqual([2, 1]);
    expect(await numbers('head=acme:sam/feature')).toEqual([2]);
    expect(await numbers('head=acme:sam/feature&state=closed')).toEqual([1]);
    expect(await numbers('head=sam/feature&state=all')).toEqual([3, 2, 1]);
    expect(await numbers('head=someone:sam/feature&state=all')).toEqual([]);
  });
});

describe('pagination, errors and rate limits', () => {
  it('pages with per_page (max 100) and a Link header with next/last, none on the last page', async () => {
    const token = (await w.mint()).body as { token: string };
    const page = (q: string) => w.call('GET', `/installation/repositories?${q}`, { token: token.token });
    const first = await page('per_page=2');
    expect((first.body as { total_count: number; repositories: unknown[] }).total_count).toBe(5);
    expect((first.body as { repositories: unknown[] }).repositories).toHaveLength(2);
    const link = first.headers.get('link')!;
    expect(link).toContain(`<${w.fake.url}/installation/repositories?per_page=2&page=2>; rel="next"`);
    expect(link).toContain(`<${w.fake.url}/installation/repositories?per_page=2&page=3>; rel="last"`);
    const last = await page('per_page=2&page=3');
    expect((last.body as { repositories: unknown[] }).repositories).toHaveLength(1);
    expect(last.headers.get('link')).not.toContain('rel="next"');
    const big = await page('per_page=500');
    expect((big.body as { repositories: unknown[] }).repositories).toHaveLength(5);
    expect(big.headers.get('link')).toBeNull();
  });

  it('sends x-ratelimit-* on every answer; an exhausted budget gives 403 (or 429) with remaining 0 and a future reset', async () => {
    const local = await FakeGitHub.start({ now: () => w.now, rateLimit: 3 });
    try {
      const u = local.addUser('carol');
      const answers = [];
      for (let i = 0; i < 4; i++)
        answers.push(
          await fetch(`${local.url}/user`, { headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` } }),
        );
      answers.push(await fetch(`${local.url}/nope`, { headers: { 'user-agent': 't' } }));
      for (const a of answers) {
        for (const h of ['limit', 'remaining', 'used', 'reset', 'resource'])
          expect(a.headers.get(`x-ratelimit-${h}`)).not.toBeNull();
      }
      expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers.map((a) => a.headers.get('x-ratelimit-remaining')).slice(0, 4)).toEqual(['2', '1', '0', '0']);
      const limited = answers[3]!;
      expect(limited.status).toBe(403);
      expect(Number(limited.headers.get('x-ratelimit-reset')) * 1000).toBeGreaterThan(w.now);
      expect(((await limited.json()) as { message: string }).message).toMatch(/^API rate limit exceeded/);
      local.limits.status = 429;
      const r429 = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(r429.status).toBe(429);
      await r429.text();
      w.now += 3_600_000;
      const reset = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(reset.status).toBe(200);
      await reset.text();
      local.secondaryLimit(42);
      const second = await fetch(`${local.url}/user`, {
        headers: { 'user-agent': 't', authorization: `Bearer ${u.token}` },
      });
      expect(second.status).toBe(403);
      expect(second.headers.get('retry-after')).toBe('42');
      await second.text();
      for (const a of answers) await a.text().catch(() => {});
    } finally {
      w.now = START;
      await local.close();
    }
  });
});
