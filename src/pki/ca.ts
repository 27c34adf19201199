/**
 * skycert's CA on disk: `init ca` makes `<out>/ca/<stem>.{key,crt}`, and `--ca`
 * names that `ca/` folder, the folder that holds it, or the CA certificate file
 * itself. In a folder the CA certificate is the one `*.crt` with CA:TRUE; its
 * key is the `.key` of the same stem beside it, private to its owner, and
 * opened with --passphrase-file or a prompt when encrypted.
 */
import { type KeyObject, X509Certificate, createPublicKey } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { readInput, requirePrivateMode } from "../fs/files.js";
import { keyIdentifier } from "./extensions.js";
import { colonHex, pemKeyEncrypted, readPrivateKey, spkiDer } from "./keys.js";
import { parsePem, pemProblemText, toPem } from "./pem.js";
import { type CertInfo, readCertificate } from "./read.js";

export const DEFAULT_CA_CN = "skydive-ca";
export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_CA_BITS = 4096;

/** What results show of a CA: never the key, never the passphrase. */
export interface CaSummary {
  subject: string;
  cert: string;
  key: string;
  keyBits: number | undefined;
  keyType?: string;
  encrypted: boolean;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  fingerprint?: string;
  keyIdentifier?: string;
}

export const CA_FOLDER = "ca";

/** Where `--ca` points: a CA certificate file, a folder holding one, or a folder whose `ca/` holds one. */
export function findCaCert(spec: string, cwd: string, flag = "--ca"): string {
  const path = resolve(cwd, spec);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw usageError(`${flag} ${spec}: no such file or folder`, "make a CA with skycert init ca --out DIR, then pass --ca DIR");
  }
  if (st.isFile()) return path;
  if (!st.isDirectory()) throw usageError(`${flag} ${spec}: a device, socket or FIFO, not a CA certificate or folder`, "pass the ca/ folder skycert init ca made, or the CA certificate file");
  let dir = path;
  try {
    if (statSync(join(path, CA_FOLDER)).isDirectory()) dir = join(path, CA_FOLDER);
  } catch {
    /* DIR itself */
  }
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.(crt|pem)$/i.test(n) && !n.startsWith(".")).sort();
  } catch (err) {
    throw usageError(`${flag} ${spec}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const cas = names.filter((n) => {
    try {
      const block = parsePem(readInput(join(dir, n), flag).text).blocks.find((b) => b.label === "CERTIFICATE");
      return block !== undefined && new X509Certificate(block.der).ca;
    } catch {
      return false;
    }
  });
  if (cas.length === 0) {
    throw usageError(`${flag} ${spec}: no CA certificate in ${dir}`, "make one with skycert init ca --out DIR, or pass the CA certificate file itself");
  }
  if (cas.length > 1) throw usageError(`${flag} ${spec}: several CA certificates in ${dir} (${cas.join(", ")})`, "pass the one to use as a file: --ca DIR/NAME.crt");
  return join(dir, cas[0]!);
}

/** The key beside a certificate: same stem, `.key`. */
export function keyBeside(certPath: string): string {
  return join(dirname(certPath), `${basename(certPath).replace(/\.(crt|pem|cer)$/i, "")}.key`);
}

// ---------------------------------------------------------------------------
// Loading

export interface LoadedCa {
  certPath: string;
  keyPath: string;
  certPem: string;
  info: CertInfo;
  /** DER Name, the issuer of what it signs. */
  subjectDer: Uint8Array;
  serial: Uint8Array;
  /** Its subjectKeyIdentifier (or the RFC 5280 hash of its key when it has none): what the AKID of its leaves holds. */
  keyIdentifier: Uint8Array;
  publicKey: KeyObject;
  privateKey: KeyObject | undefined;
  encrypted: boolean;
}

export interface LoadCaOptions {
  /** Decrypt and check the key; false for --dry-run, where only the certificate and the key's mode are checked. */
  needKey: boolean;
  passphrase?: PassphraseSource;
  flag?: string;
  now?: Date;
}

export async function loadCa(spec: string, cwd: string, opts: LoadCaOptions): Promise<LoadedCa> {
  const flag = opts.flag ?? "--ca";
  const certPath = findCaCert(spec, cwd, flag);
  const input = readInput(certPath, `${flag} certificate`);
  const { blocks, problem } = parsePem(input.text);
  const block = blocks.find((b) => b.label === "CERTIFICATE");
  if (!block) {
    const why = input.bytes.length === 0 ? "the file is empty" : `no PEM certificate in it${blocks.length ? ` (found ${blocks.map((b) => b.label).join(", ")})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : ""}`;
    throw usageError(`${flag} ${certPath}: ${why}`);
  }
  let info: CertInfo;
  try {
    info = readCertificate(block.der);
  } catch (err) {
    throw usageError(`${flag} ${certPath}: ${(err as Error).message}`);
  }
  if (info.basicConstraints?.ca !== true) {
    throw usageError(`${flag} ${certPath}: not a CA certificate (basicConstraints ${info.basicConstraints ? "CA:FALSE" : "absent"})`, "pass the certificate skycert init ca made");
  }
  if (info.keyUsage && !info.keyUsage.usages.includes("keyCertSign")) {
    throw usageError(`${flag} ${certPath}: its keyUsage lacks keyCertSign, so what it signs would not verify`);
  }
  const now = opts.now ?? new Date();
  if (info.notAfter && info.notAfter < now) {
    throw failure(`${flag} ${certPath}: the CA certificate expired on ${info.notAfter.toISOString()}`, `renew it with its own key, which keeps every certificate it signed valid: skycert renew ${certPath}`);
  }
  if (info.notBefore && info.notBefore > now) {
    throw failure(`${flag} ${certPath}: the CA certificate is not valid before ${info.notBefore.toISOString()}`, "check the clock of this machine");
  }
  const keyPath = keyBeside(certPath);
  requirePrivateMode(keyPath, "CA key");
  const publicKey = createPublicKey({ key: Buffer.from(info.publicKey.spki), format: "der", type: "spki" });
  const skid = info.subjectKeyIdentifier ? new Uint8Array(Buffer.from(info.subjectKeyIdentifier, "hex")) : keyIdentifier(info.publicKey.spki);
  const serial = new Uint8Array(Buffer.from(info.serial!.hex, "hex"));
  let privateKey: KeyObject | undefined;
  let encrypted = false;
  if (opts.needKey) {
    const loaded = await readPrivateKey(keyPath, "CA key", opts.passphrase);
    privateKey = loaded.key;
    encrypted = loaded.encrypted;
    if (!spkiDer(privateKey).equals(Buffer.from(info.publicKey.spki))) {
      throw failure(`CA key ${keyPath} does not belong to ${certPath}`, "keep each CA certificate beside its own key, with the same stem");
    }
  } else {
    encrypted = pemKeyEncrypted(readInput(keyPath, "CA key").text);
  }
  return { certPath, keyPath, certPem: toPem("CERTIFICATE", block.der), info, subjectDer: info.subjectDer, serial, keyIdentifier: skid, publicKey, privateKey, encrypted };
}

export function caSummary(ca: LoadedCa): CaSummary {
  return {
    subject: ca.info.subject,
    cert: ca.certPath,
    key: ca.keyPath,
    keyBits: ca.info.publicKey.bits,
    keyType: `${ca.info.publicKey.type} ${ca.info.publicKey.curve ?? ca.info.publicKey.bits}`,
    encrypted: ca.encrypted,
    serial: ca.info.serial?.hex.toUpperCase(),
    notBefore: ca.info.notBefore?.toISOString(),
    notAfter: ca.info.notAfter?.toISOString(),
    fingerprint: ca.info.fingerprint,
    keyIdentifier: colonHex(ca.keyIdentifier),
  };
}
