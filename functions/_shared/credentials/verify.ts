/**
 * A cloud credential is checked before it is stored: the provider is built from it exactly as the
 * orchestrator will build it (`providerFromCredential`: the Scaleway project id and zone are checked
 * too), then one cheap read is made with it (`verifyCredential`: Hetzner `GET /servers?per_page=1`,
 * Scaleway `GET /servers?project=…&per_page=1`). A refusal is 422 `invalid_credential` with the
 * cloud's reason in words; a cloud that cannot answer now is 503 `provider_unavailable` (nothing
 * stored, try again). The secret never appears in either message.
 */
import type { StoreCredentialRequest } from '../common/contracts/credentials.ts';
import { HttpError } from '../http-error.ts';
import { ProviderError } from '../providers/provider.ts';
import { providerFromCredential, type CloudFactoryOptions } from '../providers/registry.ts';

export async function verifyCloudCredential(req: StoreCredentialRequest, options: CloudFactoryOptions): Promise<void> {
  if (req.type !== 'cloud-provider') return;
  try {
    await providerFromCredential(req.provider, req.secret, req.config ?? {}, {
      timeoutMs: 10_000,
      ...options,
    }).verifyCredential();
  } catch (e) {
    if (!(e instanceof ProviderError)) throw e;
    if (e.permanent) throw new HttpError(422, 'invalid_credential', e.message);
    throw new HttpError(503, 'provider_unavailable', `The credential could not be checked now: ${e.message}`);
  }
}
