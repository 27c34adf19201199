/**
 * Private keys, from Node's native crypto. The searches run in libuv's thread
 * pool, so several run at once, one per core.
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generatePrime, sign, verify } from "node:crypto";
import { MIN_RSA_BITS } from "./key-sizes.js";


const E = 65537n;

function prime(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) => generatePrime(bits, { bigint: true }, (err, p) => (err ? reject(err) : resolve(p as bigint))));
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b) [a, b] = [b, a % b];
  return a;
};

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [a % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("no modular inverse");
  return ((s0 % m) + m) % m;
}

const b64url = (n: bigint) => {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex").toString("base64url");
};

/**
 * An RSA key with e = 65537. Its two primes are searched for in parallel by
 * OpenSSL (crypto.generatePrime: the CSPRNG, top two bits set so n has exactly
 * `bits` bits, and OpenSSL's Miller-Rabin rounds), which is the whole cost of
 * RSA key generation; the rest is the arithmetic every RSA key generator does.
 * The key is held to FIPS 186-4 appendix B.3.3 (|p - q| > 2^(bits/2 - 100),
 * d > 2^(bits/2), gcd(e, p-1) = gcd(e, q-1) = 1), imported by OpenSSL, and
 * proven by a signature round trip before it is used.
 *
 * Why not crypto.generateKeyPair: OpenSSL 3 searches the two primes one after
 * the other, with auxiliary primes (B.3.6), about 3x the time on 2 cores
 * (README, Performance).
 */
export async function generateRsaKey(bits: number): Promise<KeyObject> {
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits % 2 !== 0) throw new Error(`generateRsaKey: unsupported size ${bits}`);
  const half = bits / 2;
  for (;;) {
    const [p, q] = await Promise.all([prime(half), prime(half)]);
    const n = p * q;
    if (n.toString(2).length !== bits) continue;
    if ((p > q ? p - q : q - p) <= 1n << BigInt(half - 100)) continue;
    if (gcd(E, p - 1n) !== 1n || gcd(E, q - 1n) !== 1n) continue;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    const d = modInverse(E, lambda);
    if (d <= 1n << BigInt(half)) continue;
    const [hi, lo] = p > q ? [p, q] : [q, p];
    const key = createPrivateKey({
      key: { kty: "RSA", n: b64url(n), e: b64url(E), d: b64url(d), p: b64url(hi), q: b64url(lo), dp: b64url(d % (hi - 1n)), dq: b64url(d % (lo - 1n)), qi: b64url(modInverse(lo, hi)) },
      format: "jwk",
    });
    const probe = Buffer.from("skycert key check");
    if (!verify("sha256", probe, createPublicKey(key), sign("sha256", probe, key))) throw new Error("generateRsaKey: the key failed its signature check");
    return key;
  }
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
  return sha256Fingerprint(spki);
}

/** SHA-256 as `openssl -fingerprint -sha256` prints it: colon-separated upper-case hex. */
export function sha256Fingerprint(bytes: Uint8Array): string {
  return colonHex(createHash("sha256").update(bytes).digest());
}

export function describeKey(key: KeyObject): { type: string; bits: number | undefined; curve: string | undefined } {
  const d = key.asymmetricKeyDetails ?? {};
  return { type: key.asymmetricKeyType ?? "unknown", bits: d.modulusLength, curve: d.namedCurve };
}

export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}
