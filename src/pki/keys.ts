/**
 * Private keys: made by the platform (OpenSSL through crypto.generateKeyPair,
 * in libuv's thread pool, so several are made at once), read from PEM, and
 * named by the SHA-256 of their public key, never by their content.
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPair } from "node:crypto";
import { availableParallelism } from "node:os";
import { failure, usageError } from "../cli/errors.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { readInput, requirePrivateMode } from "../fs/files.js";
import { parsePem, pemProblemText } from "./pem.js";

/**
 * Hosts a fleet run works on at once. Keys and fsyncs run in libuv's pool (4
 * threads) while the main thread encodes and signs: more hosts than cores in
 * flight keep both busy (1,000 ECDSA hosts: 7.5 s with 2, 6.1 s with 16, RSS flat).
 */
export const HOSTS_IN_FLIGHT = Math.max(8, 2 * availableParallelism());

export type KeyType = "rsa" | "ecdsa";

export interface KeySpec {
  type: KeyType;
  /** RSA modulus size; ignored for ECDSA, which is always P-256. */
  bits: number;
}

/** A new private key: RSA with e = 65537, or ECDSA on P-256. */
export function generateKey(spec: KeySpec): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject) => (err ? reject(err) : resolve(priv));
    if (spec.type === "ecdsa") generateKeyPair("ec", { namedCurve: "prime256v1" }, done);
    else generateKeyPair("rsa", { modulusLength: spec.bits, publicExponent: 65537 }, done);
  });
}

/** PKCS#8 PEM, as `openssl genrsa` writes it; encrypted with AES-256-CBC when a passphrase is given. */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  return passphrase === undefined
    ? (key.export({ type: "pkcs8", format: "pem" }) as string)
    : (key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string);
}

const spkis = new WeakMap<KeyObject, Buffer>();

/** A host's key is asked for its SubjectPublicKeyInfo by its CSR, its certificate and its fingerprint: derived once. */
export function spkiDer(key: KeyObject): Buffer {
  let der = spkis.get(key);
  if (!der) {
    const pub = key.type === "private" ? createPublicKey(key) : key;
    spkis.set(key, (der = pub.export({ type: "spki", format: "der" })));
  }
  return der;
}

/** SHA-256 of the SubjectPublicKeyInfo: identifies a key without revealing it. */
export function publicKeyFingerprint(key: KeyObject): string {
  return sha256Fingerprint(spkiDer(key));
}

/** SHA-256 as `openssl -fingerprint -sha256` prints it: colon-separated upper-case hex. */
export function sha256Fingerprint(bytes: Uint8Array): string {
  return colonHex(createHash("sha256").update(bytes).digest());
}

export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

/** "RSA 2048", "EC P-256", "Ed25519". */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return `RSA ${d.modulusLength}`;
  if (key.asymmetricKeyType === "ec") return `EC ${CURVE_NAMES[d.namedCurve ?? ""] ?? d.namedCurve}`;
  return key.asymmetricKeyType === "ed25519" ? "Ed25519" : String(key.asymmetricKeyType).toUpperCase();
}

export const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521", secp224r1: "P-224", prime192v1: "P-192" };

/** The key type of an existing key, for `--rekey` without `--key-type`. */
export function keySpecOf(key: KeyObject): KeySpec {
  return key.asymmetricKeyType === "ec" ? { type: "ecdsa", bits: 256 } : { type: "rsa", bits: key.asymmetricKeyDetails?.modulusLength ?? 2048 };
}

const KEY_LABELS = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]);

export interface LoadedKey {
  key: KeyObject;
  encrypted: boolean;
}

/** Whether the PEM in `text` is an encrypted private key, without decrypting it. */
export function pemKeyEncrypted(text: string): boolean {
  const block = parsePem(text).blocks.find((b) => KEY_LABELS.has(b.label));
  return block !== undefined && (block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers["Proc-Type"] ?? ""));
}

/**
 * The private key in `path` (PKCS#8, PKCS#1 or SEC1 PEM). An encrypted key asks
 * `passphrase` (a file or a prompt); errors name the file, never its content or
 * what was typed.
 */
export async function readPrivateKey(path: string, what: string, passphrase?: PassphraseSource, opts: { requirePrivate?: boolean } = {}): Promise<LoadedKey> {
  const input = readInput(path, what, 1024 * 1024);
  if (input.bytes.length === 0) throw usageError(`${what} ${path}: the file is empty`);
  const { blocks, problem } = parsePem(input.text);
  const block = blocks.find((b) => KEY_LABELS.has(b.label));
  if (!block) {
    const found = blocks.map((b) => b.label).join(", ");
    throw usageError(`${what} ${path}: no PEM private key in it${found ? ` (found ${found})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : ""}`);
  }
  // Checked once the file is known to be a key: "chmod 400" is no remedy for a certificate passed as --key.
  if (opts.requirePrivate) requirePrivateMode(path, what);
  const encrypted = block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers["Proc-Type"] ?? "");
  if (!encrypted) {
    try {
      return { key: createPrivateKey(input.text), encrypted };
    } catch (err) {
      throw usageError(`${what} ${path}: not a usable private key (${(err as Error).message.split("\n")[0]})`);
    }
  }
  if (!passphrase) throw failure(`${what} ${path} is encrypted`, "skycert reads encrypted keys only for a CA (with --passphrase-file or at a prompt)");
  const secret = await passphrase("decrypt", `${what} ${path}`);
  try {
    return { key: createPrivateKey({ key: input.text, format: "pem", passphrase: secret }), encrypted };
  } catch {
    // OpenSSL reports a wrong passphrase as a bad decrypt; never echo what was tried.
    throw failure(`cannot decrypt ${what} ${path}: wrong passphrase`, "check --passphrase-file, or type the passphrase the key was encrypted with");
  }
}
