/**
 * The vm-agent bundle the control plane serves (table `vm_agent_bundles`, published by
 * `vm-agent/bundle/publish.ts`): its identity for cloud-init and the bring-your-own command, and its
 * content for `GET /vm-agent/bundle`. Read as the system: nobody else reads the table.
 */
import type { Sql } from '../db.ts';
import type { AgentBundle } from '../providers/cloud-http.ts';
import { asSystem } from './identity.ts';

export interface PublishedBundle {
  version: string;
  sha256: string;
  bytes: number;
}

/** The header that carries the served file's sha256 (lowercase hex). */
export const BUNDLE_SHA256_HEADER = 'x-sam-vm-agent-sha256';
export const BUNDLE_VERSION_HEADER = 'x-sam-vm-agent-version';

export async function currentBundle(sql: Sql): Promise<PublishedBundle | null> {
  const [row] = await asSystem(sql, (tx) => tx`select version, sha256, bytes from public.current_vm_agent_bundle()`);
  return row ? { version: row.version as string, sha256: row.sha256 as string, bytes: Number(row.bytes) } : null;
}

/** The current bundle's content, or the one with `sha256` (null when there is none). */
export async function bundleContent(
  sql: Sql,
  sha256?: string,
): Promise<{ version: string; sha256: string; content: string } | null> {
  const [row] = await asSystem(sql, (tx) =>
    sha256
      ? tx`select version, sha256, content from public.vm_agent_bundles where sha256 = ${sha256}`
      : tx`select b.version, b.sha256, b.content from public.vm_agent_bundles b
            join public.current_vm_agent_bundle() c on c.sha256 = b.sha256`,
  );
  return row ? { version: row.version as string, sha256: row.sha256 as string, content: row.content as string } : null;
}

/**
 * What a cloud provider puts into cloud-init: the URL of this very build (pinned by its sha256, so a
 * newer publish during a boot cannot swap the file) and the sha256 the machine checks.
 * `functionsUrl` is `${SUPABASE_URL}/functions/v1` as machines reach it.
 */
export async function agentBundleFor(sql: Sql, functionsUrl: string): Promise<AgentBundle | undefined> {
  const bundle = await currentBundle(sql);
  if (!bundle) return undefined;
  return { url: bundleUrl(functionsUrl, bundle.sha256), sha256: bundle.sha256 };
}

export function bundleUrl(functionsUrl: string, sha256: string): string {
  return `${functionsUrl.replace(/\/+$/, '')}/vm-agent/bundle?sha256=${sha256}`;
}
