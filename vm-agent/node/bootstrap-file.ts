/**
 * `<machineDir>/bootstrap.json`: what the machine provider writes for the vm-agent (like cloud-init
 * user data), mode 0600. The one-time bootstrap token is dropped from it once registration used it.
 */
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RepositoryPolicy } from '../git/policy.ts';

export const BOOTSTRAP_FILE = 'bootstrap.json';

export const BootstrapFile = z.object({
  /** The vm-agent edge function, e.g. `http://127.0.0.1:54321/functions/v1/vm-agent`. */
  controlPlaneUrl: z.url(),
  /** One-time registration credential; absent once used. */
  bootstrapToken: z.string().min(1).max(200).optional(),
  /** Written by some providers; not sent (the provider's own answer is the instance id). */
  providerInstanceId: z.string().max(200).optional(),
  /** Settings every agent on this machine gets (model credentials, SAM_DEMO_AGENT_DELAY_MS, …). */
  agentEnv: z.record(z.string(), z.string()).optional(),
  /** Which repositories this machine may clone (local mode: roots and protocols); absent: https only. */
  git: RepositoryPolicy.optional(),
  /** Written after registration. */
  nodeId: z.string().optional(),
  registeredAt: z.string().optional(),
});
export type BootstrapFile = z.infer<typeof BootstrapFile>;

export async function readBootstrapFile(machineDir: string): Promise<{ config: BootstrapFile; warning?: string }> {
  const file = path.join(machineDir, BOOTSTRAP_FILE);
  const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  const parsed = BootstrapFile.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a valid bootstrap file: ${z.prettifyError(parsed.error)}`);
  const loose = (info.mode & 0o077) !== 0;
  return {
    config: parsed.data,
    ...(loose
      ? { warning: `${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); expected 0600` }
      : {}),
  };
}

/** Rewrites the file (atomically, 0600) without the used bootstrap token. */
export async function markRegistered(machineDir: string, config: BootstrapFile, nodeId: string): Promise<void> {
  const { bootstrapToken: _used, ...rest } = config;
  const file = path.join(machineDir, BOOTSTRAP_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...rest, nodeId, registeredAt: new Date().toISOString() }, null, 2)}\n`, {
    mode: 0o600,
  });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}
