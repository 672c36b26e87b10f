/**
 * AES-256-GCM for stored credentials (WebCrypto, so Deno and Node share it). The key comes from a
 * function secret (`SAM_CREDENTIAL_KEY`, 32 bytes base64/base64url) and never enters the database.
 * The additional data binds a ciphertext to its row's owner, scope, type and provider: a ciphertext
 * copied into another row (another user, another project) does not decrypt.
 */
import { HttpError } from '../http-error.ts';

export const KEY_VERSION = 1;

export interface CredentialScope {
  ownerId: string;
  projectId: string | null;
  type: string;
  provider: string;
}

export interface Sealed {
  ciphertext: Uint8Array;
  iv: Uint8Array;
  keyVersion: number;
}

function fromBase64(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** Imports the credential key; refuses anything but 32 bytes. */
export async function importCredentialKey(encoded: string): Promise<CryptoKey> {
  let raw: Uint8Array;
  try {
    raw = fromBase64(encoded.trim());
  } catch {
    throw new Error('SAM_CREDENTIAL_KEY is not base64');
  }
  if (raw.byteLength !== 32) throw new Error('SAM_CREDENTIAL_KEY must be 32 bytes (base64)');
  return crypto.subtle.importKey('raw', raw as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

function additionalData(scope: CredentialScope): Uint8Array {
  return new TextEncoder().encode(
    ['sam-credential', `v${KEY_VERSION}`, scope.ownerId, scope.projectId ?? '', scope.type, scope.provider].join('\n'),
  );
}

export async function sealCredential(key: CryptoKey, scope: CredentialScope, secret: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: additionalData(scope) as BufferSource },
    key,
    new TextEncoder().encode(secret),
  );
  return { ciphertext: new Uint8Array(ciphertext), iv, keyVersion: KEY_VERSION };
}

/** The secret, or a 409 that says the stored credential must be saved again. */
export async function openCredential(key: CryptoKey, scope: CredentialScope, sealed: Sealed): Promise<string> {
  if (sealed.keyVersion !== KEY_VERSION) {
    throw new HttpError(409, 'credential_unreadable', `The ${scope.provider} credential was stored with another key`);
  }
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.iv as BufferSource, additionalData: additionalData(scope) as BufferSource },
      key,
      sealed.ciphertext as BufferSource,
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw new HttpError(409, 'credential_unreadable', `The ${scope.provider} credential cannot be read; save it again`);
  }
}
