/**
 * `POST /app/installations/{id}/access_tokens`: installation tokens scoped to repositories (ids or
 * names, only the installation's) and permissions (within the installation's grant), expiring after
 * the fake's token lifetime, with GitHub's 404/422 answers.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { errorBody, notFound, parseJson, type Reply, validation } from './replies.ts';
import type { FakeGitHub, FakeToken } from './server.ts';
import { repository } from './shapes.ts';

const LEVEL = { read: 1, write: 2 } as const;

export function mintToken(fake: FakeGitHub, installationId: number, raw: string): Reply {
  const inst = fake.installations.get(installationId);
  if (!inst) return notFound();
  const parsed = parseJson(raw);
  if (!parsed.ok) return errorBody(400, 'Problems parsing JSON');
  const body = parsed.value as { repository_ids?: unknown; repositories?: unknown; permissions?: unknown };
  const reachable = fake.installationRepos(inst);
  let ids: number[] | null = null;
  const docs = 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app';
  if (body.repository_ids !== undefined || body.repositories !== undefined) {
    const byId = Array.isArray(body.repository_ids) ? body.repository_ids : [];
    const byName = Array.isArray(body.repositories) ? body.repositories : [];
    if (byId.length + byName.length > 500) {
      return validation(
        [{ resource: 'Installation', code: 'custom', message: 'Too many repositories (max 500).' }],
        docs,
      );
    }
    const found = [
      ...byId.map((id) => reachable.find((r) => r.id === id)),
      ...byName.map((n) => reachable.find((r) => r.name === n)),
    ];
    if (found.some((r) => !r)) {
      return errorBody(
        422,
        'There is at least one repository that does not exist or is not accessible to the parent installation.',
        undefined,
        docs,
      );
    }
    ids = [...new Set(found.map((r) => r!.id))];
  }
  let permissions = inst.permissions;
  if (body.permissions !== undefined) {
    const asked = (body.permissions ?? {}) as Record<string, unknown>;
    const granted = Object.entries(asked).every(([k, v]) => {
      const have = inst.permissions[k];
      return (v === 'read' || v === 'write') && have !== undefined && LEVEL[have] >= LEVEL[v];
    });
    if (!granted) {
      return errorBody(422, 'The permissions requested are not granted to this installation.', undefined, docs);
    }
    permissions = asked as Record<string, 'read' | 'write'>;
  }
  const t: FakeToken = {
    // Not a fixed length: GitHub's token format changes (see tests/github/fake-contract.test.ts).
    token: `ghs_${randomBytes(randomInt(27, 45)).toString('base64url').replace(/[-_]/g, 'x')}`,
    installationId,
    repositoryIds: ids,
    permissions,
    expiresAt: fake.now() + fake.tokenLifetimeMs,
    revoked: false,
  };
  fake.tokens.set(t.token, t);
  const scoped = ids === null ? reachable : reachable.filter((r) => ids.includes(r.id));
  return {
    status: 201,
    body: {
      token: t.token,
      expires_at: fake.iso(t.expiresAt),
      permissions,
      repository_selection: ids === null && inst.repositories === 'all' ? 'all' : 'selected',
      ...(ids === null ? {} : { repositories: scoped.map((r) => repository(fake.url, fake.url, r)) }),
    },
  };
}
