/**
 * Private keys, always from Node's native crypto: generation runs in libuv's
 * thread pool, so several keys are searched for at once, one per core.
 */
import { type KeyObject, createHash, createPublicKey, generateKeyPair } from "node:crypto";

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 16384;

export function generateRsaKey(bits: number): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength: bits, publicExponent: 0x10001 }, (err, _pub, priv) =>
      err ? reject(err) : resolve(priv),
    );
  });
}

/** PKCS#8 PEM, as `openssl genrsa` writes it; encrypted with AES-256-CBC when a passphrase is given. */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  return passphrase === undefined
    ? (key.export({ type: "pkcs8", format: "pem" }) as string)
    : (key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string);
}

/** SHA-256 of the SubjectPublicKeyInfo: identifies a key without revealing it. */
export function publicKeyFingerprint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const spki = pub.export({ type: "spki", format: "der" });
  return colonHex(createHash("sha256").update(spki).digest());
}

export function describeKey(key: KeyObject): { type: string; bits: number | undefined; curve: string | undefined } {
  const d = key.asymmetricKeyDetails ?? {};
  return { type: key.asymmetricKeyType ?? "unknown", bits: d.modulusLength, curve: d.namedCurve };
}

export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}
