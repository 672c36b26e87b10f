/**
 * supabase/schema.sql is the schema to read; it must be what the migrations make today. A
 * migration added or changed without `scripts/sam db dump` fails here, naming what differs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { clusterConfig } from '../../supabase/local/postgres/cluster.ts';
import { dumpAppSchema, SCHEMA_FILE, schemaPath } from '../../supabase/local/postgres/dump.ts';

/** The `-- Name: …` entries of a snapshot with their text. */
function entries(snapshot: string): Map<string, string> {
  const map = new Map<string, string>();
  const parts = snapshot.split(/^-- (Name: .*)$/m);
  for (let i = 1; i < parts.length; i += 2) map.set(parts[i]!, parts[i + 1]!);
  return map;
}

/** What differs, entry by entry (at most a few of each). */
function drift(committed: string, current: string): string {
  const before = entries(committed);
  const after = entries(current);
  const list = (title: string, names: string[]) =>
    names.length === 0
      ? []
      : [
          `${title} (${names.length}):`,
          ...names.slice(0, 5).map((n) => `  ${n}`),
          ...(names.length > 5 ? ['  …'] : []),
        ];
  return [
    ...list(
      'not in the snapshot yet',
      [...after.keys()].filter((k) => !before.has(k)),
    ),
    ...list(
      'in the snapshot but no longer made by the migrations',
      [...before.keys()].filter((k) => !after.has(k)),
    ),
    ...list(
      'different',
      [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k)),
    ),
  ].join('\n');
}

it(`${SCHEMA_FILE} is the schema the migrations make`, async () => {
  const current = await dumpAppSchema(clusterConfig());
  const committed = existsSync(schemaPath) ? readFileSync(schemaPath, 'utf8') : '';
  if (current !== committed) {
    throw new Error(
      `${SCHEMA_FILE} is out of date with supabase/migrations/: run \`scripts/sam db dump\` and commit ${SCHEMA_FILE}.\n` +
        drift(committed, current),
    );
  }
  expect(current).toContain('CREATE TABLE public.');
}, 120_000);
