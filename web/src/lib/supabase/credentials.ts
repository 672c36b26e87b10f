// Credentials (the `credentials` function: write-only secrets)
import {
  CredentialList,
  CredentialSummary,
  type StoreCredentialRequest,
} from '../../../../functions/_shared/common/contracts/credentials.ts';
import { functionError, sb } from './client.ts';

export async function listCredentials(): Promise<CredentialSummary[]> {
  const { data, error } = await sb().functions.invoke('credentials', { method: 'GET' });
  if (error) throw await functionError(error);
  return CredentialList.parse(data).credentials;
}

export async function storeCredential(input: StoreCredentialRequest): Promise<CredentialSummary> {
  const { data, error } = await sb().functions.invoke('credentials', { method: 'PUT', body: input });
  if (error) throw await functionError(error);
  return CredentialSummary.parse(data);
}

export async function deleteCredential(id: string): Promise<void> {
  const { error } = await sb().functions.invoke(`credentials/${id}`, { method: 'DELETE' });
  if (error) throw await functionError(error);
}
