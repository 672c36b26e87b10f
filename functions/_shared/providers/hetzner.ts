/**
 * The Hetzner Cloud provider (`https://api.hetzner.cloud/v1`, fetch only: Deno and Node). A machine
 * is a server named {@link machineName} with SAM's labels and cloud-init user data. The name is the
 * idempotency key: a create whose answer was lost is retried by looking the name up first, and a
 * `uniqueness_error` is answered the same way — a server with our node label is adopted, any other
 * server refuses the create. Refusals that another try cannot fix (bad token, quota, invalid input)
 * are permanent {@link ProviderError}s; 429 and 5xx are retryable with the wait the API gave.
 */
import {
  apiMessage,
  cloudCall,
  machineUserData,
  retryAfterMs,
  type AgentBundle,
  type CloudHttpOptions,
  type CloudResponse,
} from './cloud-http.ts';
import {
  ProviderError,
  type CloudProvider,
  type CreatedMachine,
  type CreateMachineInput,
  type Labels,
  type ProviderMachine,
} from './provider.ts';
import { HETZNER_DEFAULT_IMAGE, HETZNER_DEFAULT_LOCATION, HETZNER_SIZES, resolveSizes } from './sizes.ts';

export interface HetznerOptions extends CloudHttpOptions {
  token: string;
  /** Default `https://api.hetzner.cloud/v1` (tests: the fake). */
  baseUrl?: string;
  location?: string;
  image?: string;
  /** Overrides of {@link HETZNER_SIZES}. */
  sizes?: unknown;
  /** The vm-agent the machines install; without it no machine can be created. */
  agentBundle?: AgentBundle;
}

const NAME = 'hetzner';
const DISPLAY = 'Hetzner';
const LABEL_NAME = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const SIMPLE = /^[A-Za-z0-9._-]{1,63}$/;

/** Hetzner's label rules: `[prefix/]name` keys (prefix a DNS subdomain, not `hetzner.cloud`), values empty or a name. */
export function checkHetznerLabels(labels: Labels): void {
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : null;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    const prefixOk =
      prefix === null || (prefix.length <= 253 && LABEL_PREFIX.test(prefix) && !prefix.endsWith('hetzner.cloud'));
    if (!prefixOk || !LABEL_NAME.test(name)) {
      throw new ProviderError(NAME, `Hetzner does not accept the label key "${key.slice(0, 80)}"`, false);
    }
    if (value !== '' && !LABEL_NAME.test(value)) {
      throw new ProviderError(NAME, `Hetzner does not accept the value of label "${key}"`, false);
    }
  }
}

interface HetznerServer {
  id: number;
  name: string;
  status: string;
  created?: string;
  labels?: Record<string, string>;
  public_net?: { ipv4?: { ip?: string } | null } | null;
}

interface HetznerErrorBody {
  error?: { code?: string; message?: string; details?: { fields?: { name?: string }[] } };
}

export function hetznerProvider(options: HetznerOptions): CloudProvider {
  const base = (options.baseUrl ?? 'https://api.hetzner.cloud/v1').replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const sizes = resolveSizes(NAME, HETZNER_SIZES, options.sizes);
  const location = options.location ?? HETZNER_DEFAULT_LOCATION;
  const image = options.image ?? HETZNER_DEFAULT_IMAGE;
  if (!SIMPLE.test(location) || !SIMPLE.test(image)) {
    throw new ProviderError(NAME, 'The Hetzner location or image is not a valid name', false);
  }

  const call = (method: string, path: string, body?: unknown): Promise<CloudResponse> =>
    cloudCall(NAME, DISPLAY, options, `${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /** The error a non-success answer means, in words. */
  function failure(res: CloudResponse, what: string): ProviderError {
    const err = (res.json as HetznerErrorBody | undefined)?.error ?? {};
    const code = err.code ?? `http_${res.status}`;
    const message = apiMessage(err.message);
    const said = message ? `: ${message}` : '';
    const details = { code, status: res.status };
    const permanent = (text: string) => new ProviderError(NAME, text, false, details);
    const retry = (text: string, wait?: number) =>
      new ProviderError(NAME, text, true, { ...details, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
    const wait = retryAfterMs(res.status, res.headers, 'ratelimit-reset', now);
    if (res.status === 401) {
      return permanent(
        code === 'token_readonly'
          ? 'Hetzner refused the token: it is read-only'
          : 'Hetzner refused the token (unauthorized)',
      );
    }
    if (
      code === 'resource_limit_exceeded' ||
      code === 'server_limit_exceeded' ||
      (res.status === 403 && /limit/i.test(message))
    ) {
      return permanent(`Hetzner server limit reached${said || ': the project has no room for another server'}`);
    }
    if (res.status === 429) return retry(`Hetzner rate limit reached while trying to ${what}`, wait);
    if (res.status >= 500 || code === 'conflict' || code === 'locked' || code === 'maintenance') {
      return retry(`Hetzner could not ${what} right now (${code}${said})`, wait);
    }
    if (res.status === 412 || code === 'resource_unavailable') {
      return retry(`Hetzner has no capacity to ${what} (${code}${said})`, wait);
    }
    if (code === 'invalid_input') {
      const fields = (err.details?.fields ?? []).map((f) => f.name).filter(Boolean);
      return permanent(
        `Hetzner rejected the request to ${what}${said}${fields.length ? ` (fields: ${fields.join(', ')})` : ''}`,
      );
    }
    if (res.status === 403) return permanent(`Hetzner forbids this token to ${what}${said}`);
    return permanent(`Hetzner refused to ${what} (${code}${said})`);
  }

  const toMachine = (s: HetznerServer): ProviderMachine => ({
    providerInstanceId: String(s.id),
    name: s.name,
    labels: s.labels ?? {},
    status: s.status,
    ...(s.created ? { createdAt: s.created } : {}),
    ...(s.public_net?.ipv4?.ip ? { ipAddress: s.public_net.ipv4.ip } : {}),
  });

  async function list(query: Record<string, string>): Promise<ProviderMachine[]> {
    const out: ProviderMachine[] = [];
    const seen = new Set<number>();
    let page: number | null = 1;
    while (page !== null) {
      if (seen.has(page) || seen.size >= 100) {
        throw new ProviderError(NAME, 'Hetzner paged the server list without end', true);
      }
      seen.add(page);
      const params = new URLSearchParams({ ...query, page: String(page), per_page: '50' });
      const res = await call('GET', `/servers?${params}`);
      if (res.status !== 200) throw failure(res, 'list servers');
      const body = res.json as { servers?: HetznerServer[]; meta?: { pagination?: { next_page?: number | null } } };
      for (const s of body.servers ?? []) out.push(toMachine(s));
      page = body.meta?.pagination?.next_page ?? null;
    }
    return out;
  }

  /** The server named `name`, if it is this node's; a stranger's server with that name is refused. */
  async function adoptable(input: CreateMachineInput): Promise<CreatedMachine | null> {
    const [found] = (await list({ name: input.name })).filter((m) => m.name === input.name);
    if (!found) return null;
    const ours = Object.entries(input.labels).every(([k, v]) => found.labels[k] === v);
    if (!ours) {
      throw new ProviderError(NAME, `Hetzner already has a server named ${input.name} that is not this node's`, false, {
        code: 'uniqueness_error',
      });
    }
    if (found.status === 'deleting') {
      throw new ProviderError(NAME, `Hetzner is still deleting the earlier server ${input.name}`, true, {
        code: 'deleting',
        retryAfterMs: 5_000,
      });
    }
    return { providerInstanceId: found.providerInstanceId, ...(found.ipAddress ? { ipAddress: found.ipAddress } : {}) };
  }

  return {
    name: NAME,
    adoptsRetriedCreate: true,

    async createMachine(input: CreateMachineInput): Promise<CreatedMachine> {
      checkHetznerLabels(input.labels);
      const userData = machineUserData(NAME, input, options.agentBundle);
      // A server from an earlier attempt whose answer was lost is this node's: adopt it.
      const earlier = await adoptable(input);
      if (earlier) return earlier;
      const res = await call('POST', '/servers', {
        name: input.name,
        server_type: sizes[input.vmSize],
        image,
        location,
        user_data: userData,
        labels: input.labels,
        start_after_create: true,
        public_net: { enable_ipv4: true, enable_ipv6: true },
      });
      if (res.status === 201 || res.status === 200) {
        return { providerInstanceId: String((res.json as { server: HetznerServer }).server.id), ...ip(res) };
      }
      if ((res.json as HetznerErrorBody | undefined)?.error?.code === 'uniqueness_error') {
        const raced = await adoptable(input);
        if (raced) return raced;
      }
      throw failure(res, `create server ${input.name}`);
    },

    async deleteMachine(providerInstanceId: string): Promise<void> {
      const id = serverId(providerInstanceId);
      const res = await call('DELETE', `/servers/${id}`);
      if (res.status === 200 || res.status === 204 || res.status === 404) return;
      throw failure(res, `delete server ${id}`);
    },

    async listMachines(labels: Labels): Promise<ProviderMachine[]> {
      checkHetznerLabels(labels);
      const selector = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const machines = await list(selector ? { label_selector: selector } : {});
      // The selector is the API's; the labels are checked again here, not assumed.
      return machines.filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
    },

    async verifyCredential(): Promise<void> {
      // Not /datacenters: it answers 410 since 2026-10-01.
      const res = await call('GET', '/servers?per_page=1');
      if (res.status !== 200) throw failure(res, 'list servers');
    },

    async getMachine(providerInstanceId: string): Promise<ProviderMachine | null> {
      const id = serverId(providerInstanceId);
      const res = await call('GET', `/servers/${id}`);
      if (res.status === 404) return null;
      if (res.status !== 200) throw failure(res, `read server ${id}`);
      return toMachine((res.json as { server: HetznerServer }).server);
    },
  };
}

function ip(res: CloudResponse): { ipAddress?: string } {
  const address = (res.json as { server?: HetznerServer }).server?.public_net?.ipv4?.ip;
  return address ? { ipAddress: address } : {};
}

function serverId(providerInstanceId: string): string {
  if (!/^[0-9]{1,20}$/.test(providerInstanceId)) {
    throw new ProviderError(NAME, `"${providerInstanceId.slice(0, 40)}" is not a Hetzner server id`, false);
  }
  return providerInstanceId;
}
