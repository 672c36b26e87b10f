import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Project-local state: the database cluster, secrets, logs. Git-ignored. */
export const samHome = process.env.SAM_HOME ?? join(root, '.sam');

export const paths = {
  root,
  samHome,
  migrations: join(root, 'supabase', 'migrations'),
  pgtap: join(root, 'supabase', 'tests'),
  bootstrap: join(root, 'sql', 'bootstrap'),
  configToml: join(root, 'supabase', 'config.toml'),
  functions: join(root, 'functions'),
  secrets: join(samHome, 'secrets.json'),
  logs: join(samHome, 'logs'),
};
