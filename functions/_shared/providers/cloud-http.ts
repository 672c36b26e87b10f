/**
 * The one HTTP call the cloud providers make: fetch with a timeout, the body read as JSON when it
 * is JSON, and a network failure turned into a retryable {@link ProviderError}. Never the token or
 * a request body in a message.
 */
import { generateCloudInit } from '../cloud-init/generate.ts';
import { ProviderError, type CreateMachineInput } from './provider.ts';

export interface CloudHttpOptions {
  fetch?: typeof fetch;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** The clock rate-limit resets are measured against (tests pass a fake one). */
  now?: () => number;
}

export interface CloudResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when there is none or it is not JSON. */
  json: unknown;
}

export async function cloudCall(
  provider: string,
  display: string,
  options: CloudHttpOptions,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<CloudResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why =
      e instanceof Error && e.name === 'TimeoutError' ? `gave no answer within ${timeoutMs} ms` : 'was unreachable';
    throw new ProviderError(provider, `${display} ${why} (${init.method} ${new URL(url).pathname})`, true);
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    throw new ProviderError(provider, `${display} dropped its answer (${init.method} ${new URL(url).pathname})`, true);
  }
  let json: unknown;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, json };
}

/**
 * The wait a reply asks for: `Retry-After` (seconds) when present; otherwise, for a 429 only, the
 * reset header, read as a Unix time when it looks like one (Hetzner's `RateLimit-Reset`) and as
 * seconds from now otherwise. Capped at `capMs`: Hetzner's reset is when the whole bucket is full
 * again (up to an hour), while one request needs a single refilled token.
 */
export function retryAfterMs(
  status: number,
  headers: Headers,
  resetHeader: string,
  now: () => number,
  capMs = 60_000,
): number | undefined {
  const cap = (ms: number) => Math.min(capMs, Math.max(0, Math.ceil(ms)));
  const after = headers.get('retry-after');
  if (after !== null && after.trim() !== '' && Number.isFinite(Number(after)) && Number(after) >= 0) {
    return cap(Number(after) * 1000);
  }
  if (status !== 429) return undefined;
  const raw = headers.get(resetHeader);
  if (raw === null || raw.trim() === '') return undefined;
  const reset = Number(raw);
  if (!Number.isFinite(reset) || reset < 0) return undefined;
  return cap(reset > 1e9 ? reset * 1000 - now() : reset * 1000);
}

/** An API message as it may be shown: one line, at most 300 characters. */
export function apiMessage(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export interface AgentBundle {
  /** Where machines download the vm-agent (served by the control plane). */
  url: string;
  sha256: string;
}

/**
 * The cloud-config a new machine boots with; refused in words (permanently) when no vm-agent
 * bundle is configured or an input cannot be written safely.
 */
export function machineUserData(provider: string, input: CreateMachineInput, bundle: AgentBundle | undefined): string {
  if (!bundle) throw new ProviderError(provider, 'No vm-agent bundle is configured for cloud machines', false);
  try {
    return generateCloudInit({
      ...input.userData,
      nodeId: input.nodeId,
      agentBundleUrl: bundle.url,
      agentBundleSha256: bundle.sha256,
    });
  } catch (e) {
    throw new ProviderError(provider, e instanceof Error ? e.message : 'cloud-init could not be written', false);
  }
}
