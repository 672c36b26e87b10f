/**
 * The GitHub App's private key for WebCrypto. GitHub hands out PEM PKCS#1 (`BEGIN RSA PRIVATE
 * KEY`); WebCrypto imports only PKCS#8, so a PKCS#1 key is wrapped in a PKCS#8 PrivateKeyInfo
 * (version 0, AlgorithmIdentifier rsaEncryption + NULL, the PKCS#1 DER as OCTET STRING).
 * PKCS#8 PEM (`BEGIN PRIVATE KEY`) is taken as is.
 */

/** rsaEncryption, 1.2.840.113549.1.1.1, as a DER AlgorithmIdentifier with NULL parameters. */
const RSA_ALGORITHM_IDENTIFIER = [
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function derTag(tag: number, content: Uint8Array): Uint8Array {
  const len = derLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** Wraps a PKCS#1 RSAPrivateKey (DER) in a PKCS#8 PrivateKeyInfo (DER). */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = [0x02, 0x01, 0x00];
  const octets = derTag(0x04, pkcs1);
  const body = new Uint8Array(version.length + RSA_ALGORITHM_IDENTIFIER.length + octets.length);
  body.set(version, 0);
  body.set(RSA_ALGORITHM_IDENTIFIER, version.length);
  body.set(octets, version.length + RSA_ALGORITHM_IDENTIFIER.length);
  return derTag(0x30, body);
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The PKCS#8 DER of a PEM private key, PKCS#1 or PKCS#8. Secrets stored with literal `\n` (one-line
 * environment variables) are accepted too. Errors never echo the key.
 */
export function pemToPkcs8(pem: string): Uint8Array {
  const text = pem.replace(/\\n/g, '\n').trim();
  const m = /-----BEGIN (RSA PRIVATE KEY|PRIVATE KEY)-----([\s\S]+?)-----END \1-----/.exec(text);
  if (!m) {
    throw new Error('The GitHub App private key is not a PEM "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8)');
  }
  let der: Uint8Array;
  try {
    der = base64ToBytes(m[2]!.replace(/\s+/g, ''));
  } catch {
    throw new Error('The GitHub App private key is not valid base64 inside its PEM armour');
  }
  return m[1] === 'RSA PRIVATE KEY' ? pkcs1ToPkcs8(der) : der;
}

/** The RS256 signing key of a PEM private key (PKCS#1 or PKCS#8). */
export async function importAppKey(pem: string): Promise<CryptoKey> {
  const pkcs8 = pemToPkcs8(pem);
  try {
    return await crypto.subtle.importKey(
      'pkcs8',
      pkcs8 as Uint8Array<ArrayBuffer>,
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['sign'],
    );
  } catch {
    throw new Error('The GitHub App private key could not be imported as an RSA key');
  }
}
