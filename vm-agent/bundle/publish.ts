/**
 * Publishes a built bundle (`./build.ts`) into a database's `vm_agent_bundles`, where the vm-agent
 * function serves it from. `sam start` does it for the local stack, the test setup for each test
 * stack; a hosted deploy does it with the project's database URL.
 */
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import type { VmAgentBundle } from './build.ts';

/** The environment variable through which the test setup hands its build to the test workers. */
export const BUNDLE_FILE_ENV = 'SAM_VM_AGENT_BUNDLE_FILE';

export async function publishVmAgentBundle(databaseUrl: string, bundle: VmAgentBundle): Promise<void> {
  const content = readFileSync(bundle.file, 'utf8');
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`select public.publish_vm_agent_bundle(${bundle.version}, ${bundle.sha256}, ${content})`;
  } finally {
    await sql.end();
  }
}

/** The bundle the test setup built (see tests/setup/global.ts), read back from its file name. */
export function builtBundleFromEnv(): VmAgentBundle | null {
  const file = process.env[BUNDLE_FILE_ENV];
  if (!file) return null;
  const sha256 = /([0-9a-f]{64})\.mjs$/.exec(file)?.[1];
  if (!sha256) throw new Error(`${BUNDLE_FILE_ENV} does not name a built bundle: ${file}`);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return { version: pkg.version, sha256, bytes: readFileSync(file).length, file };
}
