/**
 * The world of the fake-GitHub contract tests: one fake with an organisation of five repositories,
 * an installation on it, a user who sees it, a repository of someone else, and a shared clock; plus
 * raw HTTP helpers so the tests see exactly what the fake answers.
 */
import { expect } from 'vitest';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { FakeGitHub, type FakeUser } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';

export const START = Date.parse('2026-12-02T08:00:00Z');

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export class ContractWorld {
  /** Epoch ms the fake and the client read; tests move it. */
  now = START;
  fake!: FakeGitHub;
  app!: GitHubApp;
  org!: Account;
  repos!: Repo[];
  other!: Repo;
  inst!: Installation;
  user!: FakeUser;

  async start(): Promise<this> {
    const fake = (this.fake = await FakeGitHub.start({ now: () => this.now }));
    this.app = new GitHubApp({
      appId: fake.app.id,
      privateKey: fake.app.privateKeyPem,
      apiUrl: fake.url,
      now: () => this.now,
    });
    this.org = fake.addAccount('acme', 'Organization');
    this.repos = ['one', 'two', 'three', 'four', 'five'].map((n) => fake.addRepository(this.org, n));
    this.other = fake.addRepository(fake.addAccount('bob'), 'secret');
    this.inst = fake.addInstallation(this.org);
    this.user = fake.addUser('alice');
    fake.grant(this.user, this.inst);
    return this;
  }

  async close(): Promise<void> {
    await this.fake?.close();
  }

  async call(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'user-agent': 'sam-contract-test',
      'x-github-api-version': '2022-11-28',
      ...opts.headers,
    };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await fetch(this.fake.url + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  async mint(body: unknown = {}, installationId = this.inst.id): Promise<Answer> {
    return this.call('POST', `/app/installations/${installationId}/access_tokens`, {
      token: await this.app.appJwt(),
      body,
    });
  }

  async tokenFor(ids: number[], permissions?: Record<string, string>): Promise<string> {
    const r = await this.mint({ repository_ids: ids, ...(permissions ? { permissions } : {}) });
    expect(r.status).toBe(201);
    return (r.body as { token: string }).token;
  }
}
