/**
 * What the vm-agent reports about its machine (simple metrics, its address) and can find out
 * about it (Docker), plus the text hygiene every report gets: no tokens in anything sent or logged.
 */
import { spawn } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import type { NodeMetrics } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { findOnPath } from '../agents/catalog.ts';
import { redact } from '../git/run-git.ts';

const round = (n: number) => Math.round(n * 100) / 100;
const percent = (n: number) => Math.min(100, Math.max(0, round(n)));

/** Load average, memory and disk use (of the filesystem holding `dir`). */
export async function machineMetrics(dir: string): Promise<NodeMetrics> {
  const metrics: NodeMetrics = {
    cpuLoadAvg1: round(os.loadavg()[0] ?? 0),
    memoryPercent: percent((1 - os.freemem() / os.totalmem()) * 100),
  };
  try {
    const fs = await statfs(dir);
    if (fs.blocks > 0) metrics.diskPercent = percent((1 - fs.bavail / fs.blocks) * 100);
  } catch {
    // no disk figure then
  }
  return metrics;
}

/** The first non-internal IPv4 address, if any. */
export function primaryIpAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Whether a Docker daemon answers here (`docker info` within 5 s). */
export async function dockerAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const docker = findOnPath('docker', env.PATH);
  if (!docker) return false;
  return new Promise((resolve) => {
    const child = spawn(docker, ['info', '--format', '{{.ServerVersion}}'], {
      stdio: 'ignore',
      env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '' },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('error', () => resolve(false));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

/** `text` without the given secrets, URL credentials or bearer tokens. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  return redact(text, [...secrets]).replace(/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***');
}

export function errorText(error: unknown, secrets: readonly string[] = []): string {
  const text = error instanceof Error ? error.message : String(error);
  return scrub(text, secrets).slice(0, 4000) || 'unknown error';
}
