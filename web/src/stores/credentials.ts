import { createStore } from 'solid-js/store';
import type {
  CredentialSummary,
  StoreCredentialRequest,
} from '../../../functions/_shared/common/contracts/credentials.ts';
import * as api from '../lib/supabase/index.ts';

interface CredentialsState {
  items: CredentialSummary[];
  loaded: boolean;
  error: string | null;
}

const [credentials, setState] = createStore<CredentialsState>({ items: [], loaded: false, error: null });

export { credentials };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function loadCredentials(): Promise<void> {
  try {
    setState({ items: await api.listCredentials(), loaded: true, error: null });
  } catch (e) {
    setState({ loaded: true, error: message(e) });
  }
}

/** Stores or replaces a credential; the list is re-read so it shows exactly what the server holds. */
export async function saveCredential(input: StoreCredentialRequest): Promise<void> {
  await api.storeCredential(input);
  await loadCredentials();
}

export async function removeCredential(id: string): Promise<void> {
  await api.deleteCredential(id);
  setState('items', (items) => items.filter((c) => c.id !== id));
}

/** The user's own credential (no project) for a type and provider. */
export function ownCredential(type: string, provider: string): CredentialSummary | undefined {
  return credentials.items.find((c) => c.type === type && c.provider === provider && c.projectId === null);
}
