import { createHash } from 'node:crypto';
import { listMigrations } from '../../supabase/local/postgres/migrate.ts';
import { bootstrapHash } from '../../supabase/local/postgres/platform.ts';

/** Template databases are named for what they hold, so runs over different migrations coexist. */
export const TEMPLATE_PREFIX = 'sam_tpl_';

/** The template for the current platform bootstrap and migrations. */
export function templateDatabaseName(): string {
  const hash = createHash('sha256').update(bootstrapHash());
  for (const m of listMigrations()) hash.update(m.file).update('\0').update(m.sql);
  return `${TEMPLATE_PREFIX}${hash.digest('hex').slice(0, 16)}`;
}
