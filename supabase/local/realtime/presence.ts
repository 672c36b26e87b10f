import { randomBytes } from 'node:crypto';

/** One tracked presence as Phoenix carries it: the tracked payload plus `phx_ref` (and `phx_ref_prev` on update). */
export type PresenceMeta = Record<string, unknown> & { phx_ref: string };

/** `{ "<key>": { metas: [...] } }`, the shape of `presence_state` and of both halves of a diff. */
export type PresenceMap = Record<string, { metas: PresenceMeta[] }>;

export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

function ref(): string {
  return randomBytes(9).toString('base64url');
}

function add(map: PresenceMap, key: string, meta: PresenceMeta): void {
  (map[key] ??= { metas: [] }).metas.push(meta);
}

/**
 * The presences of one topic (public and private topics have separate instances). Each joined
 * channel tracks at most one presence, under its presence key; tracking again updates it.
 */
export class TopicPresence<Owner> {
  private readonly tracked = new Map<Owner, { key: string; meta: PresenceMeta }>();

  get size(): number {
    return this.tracked.size;
  }

  /** Tracks (or updates) `owner`'s presence; returns the diff to push. */
  track(owner: Owner, key: string, payload: Record<string, unknown>): PresenceDiff {
    const previous = this.tracked.get(owner);
    const meta: PresenceMeta = { ...payload, phx_ref: ref() };
    const diff: PresenceDiff = { joins: {}, leaves: {} };
    if (previous) {
      meta.phx_ref_prev = previous.meta.phx_ref;
      add(diff.leaves, previous.key, previous.meta);
    }
    this.tracked.set(owner, { key, meta });
    add(diff.joins, key, meta);
    return diff;
  }

  /** Removes `owner`'s presence; returns the diff to push, or null when it tracked nothing. */
  untrack(owner: Owner): PresenceDiff | null {
    const previous = this.tracked.get(owner);
    if (!previous) return null;
    this.tracked.delete(owner);
    const diff: PresenceDiff = { joins: {}, leaves: {} };
    add(diff.leaves, previous.key, previous.meta);
    return diff;
  }

  state(): PresenceMap {
    const out: PresenceMap = {};
    for (const { key, meta } of this.tracked.values()) add(out, key, meta);
    return out;
  }
}
