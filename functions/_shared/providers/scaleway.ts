/**
 * The Scaleway Instance provider (`https://api.scaleway.com/instance/v1/zones/{zone}`, fetch only).
 * Scaleway has tags, not labels: each label is the tag `key=value` ({@link labelsToTags}). A machine
 * is made in three steps — create (stopped), `PATCH …/user_data/cloud-init` (text/plain), `poweron` —
 * and a retried create first looks for this node's server by exact name and tags and finishes
 * whatever steps it still lacks, so a lost answer never leaves a second server. Deleting uses the
 * `terminate` action (volumes and IPs go with the server); a stopped server, which `terminate`
 * refuses, is deleted along with its volumes. Provider instance ids are `<zone>/<uuid>`.
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
import { resolveSizes, SCALEWAY_DEFAULT_IMAGE, SCALEWAY_DEFAULT_ZONE, SCALEWAY_SIZES } from './sizes.ts';

export interface ScalewayOptions extends CloudHttpOptions {
  secretKey: string;
  projectId: string;
  zone?: string;
  /** An image UUID, or a marketplace label (default `ubuntu_noble`) resolved for the zone and type. */
  image?: string;
  sizes?: unknown;
  /** Default `https://api.scaleway.com` (tests: the fake). */
  baseUrl?: string;
  agentBundle?: AgentBundle;
}

const NAME = 'scaleway';
const DISPLAY = 'Scaleway';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ZONE = /^[a-z]{2}-[a-z]{3}-[1-9]$/;
const IMAGE_LABEL = /^[a-z0-9_]{1,60}$/;

/** Labels as Scaleway tags `key=value`. */
export function labelsToTags(labels: Labels): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** Tags back to labels; a key that appears twice is ambiguous and left out, so it can never match. */
export function tagsToLabels(tags: readonly string[]): Labels {
  const labels: Record<string, string> = {};
  const twice = new Set<string>();
  for (const tag of tags) {
    const eq = tag.indexOf('=');
    if (eq <= 0) continue;
    const key = tag.slice(0, eq);
    if (key in labels) twice.add(key);
    labels[key] = tag.slice(eq + 1);
  }
  for (const key of twice) delete labels[key];
  return labels;
}

interface ScalewayServer {
  id: string;
  name: string;
  state: string;
  tags?: string[];
  creation_date?: string;
  zone?: string;
  public_ips?: { address?: string; family?: string }[];
  volumes?: Record<string, { id: string; volume_type?: string }>;
}

interface ScalewayErrorBody {
  type?: string;
  message?: string;
  resource?: string;
}

export function scalewayProvider(options: ScalewayOptions): CloudProvider {
  const base = (options.baseUrl ?? 'https://api.scaleway.com').replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const zone = options.zone ?? SCALEWAY_DEFAULT_ZONE;
  const image = options.image ?? SCALEWAY_DEFAULT_IMAGE;
  const sizes = resolveSizes(NAME, SCALEWAY_SIZES, options.sizes);
  if (!ZONE.test(zone)) throw new ProviderError(NAME, `"${zone.slice(0, 40)}" is not a Scaleway zone`, false);
  if (!UUID.test(options.projectId)) throw new ProviderError(NAME, 'The Scaleway project id is not a UUID', false);
  if (!UUID.test(image) && !IMAGE_LABEL.test(image)) {
    throw new ProviderError(NAME, 'The Scaleway image is neither an image id nor a marketplace label', false);
  }
  const instance = (z: string) => `${base}/instance/v1/zones/${z}`;

  function call(method: string, url: string, body?: unknown, contentType = 'application/json') {
    return cloudCall(NAME, DISPLAY, options, url, {
      method,
      headers: { 'x-auth-token': options.secretKey, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  }

  function failure(res: CloudResponse, what: string): ProviderError {
    const err = (res.json as ScalewayErrorBody | undefined) ?? {};
    const code = err.type ?? `http_${res.status}`;
    const message = apiMessage(err.message);
    const said = message ? `: ${message}` : '';
    const details = { code, status: res.status };
    const permanent = (text: string) => new ProviderError(NAME, text, false, details);
    const wait = retryAfterMs(res.status, res.headers, 'x-ratelimit-reset', now);
    const retry = (text: string) =>
      new ProviderError(NAME, text, true, { ...details, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
    if (res.status === 401 || code === 'denied_authentication') return permanent('Scaleway refused the secret key');
    if (code === 'quotas_exceeded' || /quota/i.test(message)) {
      return permanent(`Scaleway quota reached${said}${err.resource ? ` (${apiMessage(err.resource)})` : ''}`);
    }
    if (res.status === 403 || code === 'permissions_denied') {
      return permanent(`Scaleway denied the secret key permission to ${what}${said}`);
    }
    if (res.status === 429) return retry(`Scaleway rate limit reached while trying to ${what}`);
    if (res.status >= 500 || ['conflict', 'transient_state', 'locked', 'out_of_stock'].includes(code)) {
      return retry(`Scaleway could not ${what} right now (${code}${said})`);
    }
    return permanent(`Scaleway rejected the request to ${what} (${code}${said})`);
  }

  const toMachine = (s: ScalewayServer, z: string): ProviderMachine => {
    const v4 = (s.public_ips ?? []).find((ip) => ip.family !== 'inet6' && ip.address)?.address;
    return {
      providerInstanceId: `${s.zone ?? z}/${s.id}`,
      name: s.name,
      labels: tagsToLabels(s.tags ?? []),
      status: s.state,
      ...(s.creation_date ? { createdAt: s.creation_date } : {}),
      ...(v4 ? { ipAddress: v4 } : {}),
    };
  };

  async function listRaw(query: Record<string, string>): Promise<ScalewayServer[]> {
    const out: ScalewayServer[] = [];
    for (let page = 1; page <= 100; page++) {
      const params = new URLSearchParams({ ...query, project: options.projectId, per_page: '100', page: String(page) });
      const res = await call('GET', `${instance(zone)}/servers?${params}`);
      if (res.status !== 200) throw failure(res, 'list servers');
      const servers = (res.json as { servers?: ScalewayServer[] }).servers ?? [];
      out.push(...servers);
      const total = Number(res.headers.get('x-total-count'));
      if (servers.length === 0 || (Number.isFinite(total) && out.length >= total)) return out;
    }
    throw new ProviderError(NAME, 'Scaleway paged the server list without end', true);
  }

  async function resolveImage(commercialType: string): Promise<string> {
    if (UUID.test(image)) return image;
    const params = new URLSearchParams({ image_label: image, zone, type: 'instance_local' });
    const res = await call('GET', `${base}/marketplace/v2/local-images?${params}`);
    if (res.status !== 200) throw failure(res, `find the image ${image}`);
    const images = (res.json as { local_images?: { id: string; compatible_commercial_types?: string[] }[] })
      .local_images;
    const hit = (images ?? []).find((i) =>
      (i.compatible_commercial_types ?? []).includes(commercialType.toUpperCase()),
    );
    if (!hit) throw new ProviderError(NAME, `Scaleway has no ${image} image for ${commercialType} in ${zone}`, false);
    return hit.id;
  }

  async function action(z: string, id: string, name: string): Promise<CloudResponse> {
    return call('POST', `${instance(z)}/servers/${id}/action`, { action: name });
  }

  /** Deletes a stopped server and the volumes it leaves behind. */
  async function deleteStopped(z: string, server: ScalewayServer): Promise<void> {
    const res = await call('DELETE', `${instance(z)}/servers/${server.id}`);
    if (res.status !== 204 && res.status !== 200 && res.status !== 404)
      throw failure(res, `delete server ${server.id}`);
    for (const volume of Object.values(server.volumes ?? {})) {
      const url =
        volume.volume_type === 'sbs_volume'
          ? `${base}/block/v1alpha1/zones/${z}/volumes/${volume.id}`
          : `${instance(z)}/volumes/${volume.id}`;
      const del = await call('DELETE', url);
      if (del.status !== 204 && del.status !== 200 && del.status !== 404)
        throw failure(del, `delete volume ${volume.id}`);
    }
  }

  /** The remaining steps of a create: user data and power-on while the server is still stopped. */
  async function finish(server: ScalewayServer, userData: string): Promise<CreatedMachine> {
    const id = `${zone}/${server.id}`;
    if (server.state === 'stopped') {
      const put = await call(
        'PATCH',
        `${instance(zone)}/servers/${server.id}/user_data/cloud-init`,
        userData,
        'text/plain',
      );
      if (put.status !== 204 && put.status !== 200) {
        const err = failure(put, `set the user data of ${server.name}`);
        if (err.permanent) await deleteStopped(zone, server).catch(() => {});
        throw err;
      }
      const on = await action(zone, server.id, 'poweron');
      if (on.status < 200 || on.status > 299) {
        const err = failure(on, `power on ${server.name}`);
        if (err.permanent) await deleteStopped(zone, server).catch(() => {});
        throw err;
      }
    }
    const machine = toMachine(server, zone);
    return { providerInstanceId: id, ...(machine.ipAddress ? { ipAddress: machine.ipAddress } : {}) };
  }

  function parseId(providerInstanceId: string): { z: string; id: string } {
    const [z, id] = providerInstanceId.split('/');
    if (!z || !id || !ZONE.test(z) || !UUID.test(id) || providerInstanceId.split('/').length !== 2) {
      throw new ProviderError(NAME, `"${providerInstanceId.slice(0, 60)}" is not a Scaleway server id`, false);
    }
    return { z, id };
  }

  async function read(z: string, id: string): Promise<ScalewayServer | null> {
    const res = await call('GET', `${instance(z)}/servers/${id}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw failure(res, `read server ${id}`);
    return (res.json as { server: ScalewayServer }).server;
  }

  return {
    name: NAME,
    adoptsRetriedCreate: true,

    async createMachine(input: CreateMachineInput): Promise<CreatedMachine> {
      const userData = machineUserData(NAME, input, options.agentBundle);
      const tags = labelsToTags(input.labels);
      const mine = (s: ScalewayServer) => {
        const labels = tagsToLabels(s.tags ?? []);
        return Object.entries(input.labels).every(([k, v]) => labels[k] === v);
      };
      // `name` is a substring filter: only an exact name counts, and only with this node's tags.
      const named = (await listRaw({ name: input.name })).filter((s) => s.name === input.name);
      const earlier = named.find(mine);
      if (earlier) return finish(earlier, userData);
      if (named.length > 0) {
        throw new ProviderError(
          NAME,
          `Scaleway already has a server named ${input.name} that is not this node's`,
          false,
          {
            code: 'conflict',
          },
        );
      }
      const commercialType = sizes[input.vmSize];
      const res = await call('POST', `${instance(zone)}/servers`, {
        name: input.name,
        commercial_type: commercialType,
        image: await resolveImage(commercialType),
        project: options.projectId,
        tags,
        dynamic_ip_required: true,
      });
      if (res.status !== 201 && res.status !== 200) throw failure(res, `create server ${input.name}`);
      return finish((res.json as { server: ScalewayServer }).server, userData);
    },

    async deleteMachine(providerInstanceId: string): Promise<void> {
      const { z, id } = parseId(providerInstanceId);
      const server = await read(z, id);
      if (!server) return;
      if (server.state === 'stopped' || server.state === 'stopped in place') return deleteStopped(z, server);
      const res = await action(z, id, 'terminate');
      if ((res.status >= 200 && res.status <= 299) || res.status === 404) return;
      throw failure(res, `terminate server ${id}`);
    },

    async listMachines(labels: Labels): Promise<ProviderMachine[]> {
      const tags = labelsToTags(labels);
      const servers = await listRaw(tags.length ? { tags: tags.join(',') } : {});
      // The tag filter is the API's; the proof is checked again here on exact, unambiguous tags.
      return servers
        .map((s) => toMachine(s, zone))
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
    },

    async verifyCredential(): Promise<void> {
      const params = new URLSearchParams({ project: options.projectId, per_page: '1' });
      const res = await call('GET', `${instance(zone)}/servers?${params}`);
      if (res.status !== 200) throw failure(res, 'list servers');
    },

    async getMachine(providerInstanceId: string): Promise<ProviderMachine | null> {
      const { z, id } = parseId(providerInstanceId);
      const server = await read(z, id);
      return server ? toMachine(server, z) : null;
    },
  };
}
