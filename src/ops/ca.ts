/**
 * skycert's CA: `skycert init ca` makes it, and `--ca DIR` (init, renew) loads it.
 *
 * `--ca DIR` may name the `ca/` folder `init ca` wrote, the output folder that
 * holds it (`<out>`, whose `ca/` is used), or the CA certificate file itself.
 * In a folder the CA certificate is the one `*.crt` with CA:TRUE; its key is the
 * `.key` of the same stem beside it. The key must be private to its owner (no
 * group or other access), and an encrypted key is opened with --passphrase-file
 * or a prompt on a terminal.
 */
import { type KeyObject, X509Certificate, createHash, createPublicKey } from "node:crypto";
import { join, resolve } from "node:path";
import type { CertInfo } from "../core/certinfo.js";
import { failure, usageError } from "../core/errors.js";
import { makeCertificate, randomSerial, spkiDer } from "../core/issue.js";
import { keyIdentifier } from "../core/extensions.js";
import { privateKeyPem } from "../core/keys.js";
import { parsePem, pemProblemText, toPem } from "../core/pem.js";
import { caExtensions, validateCommonName, validateStem } from "../core/profile.js";
import { commonNameDer } from "../core/issue.js";
import { CA_FOLDER, findCaCert, keyBeside } from "../io/ca-files.js";
import { CERT_MODE, KEY_MODE, existing, readInput, recover, withLock, writeSet } from "../io/files.js";
import type { PassphraseSource } from "../io/passphrase.js";
import { pemKeyEncrypted, readPrivateKey, requirePrivateMode } from "../io/private-key.js";
import type { FileResult } from "./init.js";

export const DEFAULT_CA_CN = "skydive-ca";
export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_CA_BITS = 4096;

const octal = (mode: number) => `0${mode.toString(8)}`;

export interface CaInitOptions {
  cwd: string;
  out: string;
  days: number;
  bits: number;
  cn?: string;
  stem?: string;
  force: boolean;
  dryRun: boolean;
  encrypt: boolean;
  passphrase?: PassphraseSource;
}

export interface CaSummary {
  subject: string;
  cert: string;
  key: string;
  keyBits: number | undefined;
  encrypted: boolean;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  fingerprint?: string;
  keyIdentifier?: string;
}

export interface CaInitResult {
  ok: true;
  kind: "ca";
  dryRun: boolean;
  days: number;
  ca: CaSummary;
  files: FileResult[];
}

export function caPaths(out: string, stem: string): { dir: string; key: string; crt: string } {
  const dir = join(out, CA_FOLDER);
  return { dir, key: join(dir, `${stem}.key`), crt: join(dir, `${stem}.crt`) };
}

/** `skycert init ca`: an RSA key (0400, encrypted on request) and a self-signed CA certificate (0444). */
export async function initCa(opts: CaInitOptions, key?: Promise<KeyObject>): Promise<CaInitResult> {
  const cn = validateCommonName(opts.cn ?? DEFAULT_CA_CN);
  const stem = opts.stem ? validateStem(opts.stem) : cn.replace(/[^A-Za-z0-9._-]/g, "_");
  const out = resolve(opts.cwd, opts.out);
  const paths = caPaths(out, stem);
  if (!opts.force) {
    const clash = existing([paths.key, paths.crt]);
    if (clash.length) {
      throw failure(
        `${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""}`,
        "every certificate the CA signed depends on it: pass --force only to replace the CA on purpose, or choose another --out",
      );
    }
  }
  const files: FileResult[] = [
    { path: paths.key, kind: "key", mode: octal(KEY_MODE) },
    { path: paths.crt, kind: "crt", mode: octal(CERT_MODE) },
  ];
  const summary: CaSummary = { subject: `CN=${cn}`, cert: paths.crt, key: paths.key, keyBits: opts.bits, encrypted: opts.encrypt };
  if (opts.dryRun) return { ok: true, kind: "ca", dryRun: true, days: opts.days, ca: summary, files };

  // Ask for the passphrase before waiting on the key, so typing overlaps the search for primes.
  const passphrase = opts.encrypt ? await opts.passphrase!("encrypt", "the new CA key") : undefined;
  if (!key) throw new Error("initCa: a key is required");
  const privateKey = await key;
  const spki = spkiDer(privateKey);
  const serial = randomSerial();
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + opts.days * 86_400_000);
  const crt = makeCertificate({
    subject: commonNameDer(cn),
    subjectKey: privateKey,
    selfKey: privateKey,
    extensions: caExtensions(),
    serial,
    notBefore,
    notAfter,
  });
  const x509 = new X509Certificate(crt);
  Object.assign(summary, {
    serial: x509.serialNumber,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprint: x509.fingerprint256,
    keyIdentifier: hex(keyIdentifier(spki)),
  });
  await withLock(out, async () => {
    recover(out);
    await writeSet(
      paths.dir,
      [
        { path: paths.key, data: privateKeyPem(privateKey, passphrase), mode: KEY_MODE },
        { path: paths.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
      ],
      { force: opts.force },
    );
  });
  return { ok: true, kind: "ca", dryRun: false, days: opts.days, ca: summary, files };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

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
    info = (await import("../core/certinfo.js")).readCertificate(block.der);
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
    throw failure(`${flag} ${certPath}: the CA certificate expired on ${info.notAfter.toISOString()}`, "make a new CA with skycert init ca, and re-issue with --force");
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
    if (!sameKey(spkiDer(privateKey), info.publicKey.spki)) {
      throw failure(`CA key ${keyPath} does not belong to ${certPath}`, "keep each CA certificate beside its own key, with the same stem");
    }
  } else {
    encrypted = pemKeyEncrypted(readInput(keyPath, "CA key").text);
  }
  return { certPath, keyPath, certPem: toPem("CERTIFICATE", block.der), info, subjectDer: info.subjectDer, serial, keyIdentifier: skid, publicKey, privateKey, encrypted };
}

export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return createHash("sha256").update(a).digest().equals(createHash("sha256").update(b).digest());
}

/** What the result shows of a CA: never the key, never the passphrase. */
export function caSummary(ca: LoadedCa): CaSummary {
  return {
    subject: ca.info.subject,
    cert: ca.certPath,
    key: ca.keyPath,
    keyBits: ca.info.publicKey.bits,
    encrypted: ca.encrypted,
    serial: ca.info.serial?.hex.toUpperCase(),
    notBefore: ca.info.notBefore?.toISOString(),
    notAfter: ca.info.notAfter?.toISOString(),
    fingerprint: ca.info.fingerprint,
    keyIdentifier: hex(ca.keyIdentifier),
  };
}
