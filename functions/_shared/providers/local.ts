/**
 * The `local` provider: machines are processes of the local machine host
 * (`local-machines/`), reached over HTTP with a bearer token. The contract is
 * `contracts/local-machines.ts`.
 */
import { z } from 'zod';
import {
  CreateMachineRequest,
  labelQuery,
  ListMachinesResponse,
  Machine,
  type Labels,
} from '../common/contracts/local-machines.ts';
import {
  ProviderError,
  type CreatedMachine,
  type CreateMachineInput,
  type Provider,
  type ProviderMachine,
} from './provider.ts';

export interface LocalProviderOptions {
  /** The host's URL (`SAM_LOCAL_MACHINES_URL`), e.g. http://127.0.0.1:40123 */
  url: string;
  /** Its bearer token (`SAM_LOCAL_MACHINES_TOKEN`). */
  token: string;
  /** Per request (default 30 s; deleting waits for the machine to stop, up to 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export function localProvider(options: LocalProviderOptions): Provider {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;

  // Never the token or the body in a message: only what was asked and what came back.
  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const why = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
      throw new ProviderError('local', `The local machine host at ${base} is ${why}`);
    }
    return res;
  }

  async function failure(res: Response, what: string): Promise<ProviderError> {
    const text = await res.text().catch(() => '');
    let detail = `HTTP ${res.status}`;
    try {
      detail = `${detail}: ${ErrorBody.parse(JSON.parse(text)).error.message}`;
    } catch {
      // not our error shape; the status says enough
    }
    return new ProviderError('local', `The local machine host could not ${what} (${detail})`, res.status >= 500);
  }

  const toProviderMachine = (m: Machine): ProviderMachine => ({
    providerInstanceId: m.id,
    name: m.name,
    labels: m.labels,
    status: m.status,
    createdAt: m.createdAt,
    ...(m.ipAddress ? { ipAddress: m.ipAddress } : {}),
  });

  return {
    name: 'local',

    async createMachine(input: CreateMachineInput): Promise<CreatedMachine> {
      const request = CreateMachineRequest.parse({
        name: input.name,
        vmSize: input.vmSize,
        labels: input.labels,
        userData: input.userData,
      });
      const res = await call('POST', '/machines', request);
      if (res.status !== 201 && res.status !== 200) throw await failure(res, 'create a machine');
      const machine = Machine.parse(await res.json());
      return { providerInstanceId: machine.id, ipAddress: machine.ipAddress ?? '127.0.0.1' };
    },

    async deleteMachine(providerInstanceId: string): Promise<void> {
      const res = await call('DELETE', `/machines/${encodeURIComponent(providerInstanceId)}`);
      if (res.status === 204 || res.status === 200 || res.status === 404) {
        await res.body?.cancel();
        return;
      }
      throw await failure(res, `delete machine ${providerInstanceId}`);
    },

    async listMachines(labels: Labels): Promise<ProviderMachine[]> {
      const res = await call('GET', `/machines${labelQuery(labels)}`);
      if (res.status !== 200) throw await failure(res, 'list machines');
      return ListMachinesResponse.parse(await res.json()).machines.map(toProviderMachine);
    },
  };
}
