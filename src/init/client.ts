/**
 * `skycert init client NAME --ca DIR`: a certificate for a person, to present
 * with `skydive client --cert FILE --key FILE --cacert CA` or from a browser.
 * It authenticates (clientAuth) and serves nothing: it carries no host name and
 * no serverAuth, so it can never stand in for an analyzer. `--p12` adds a
 * PKCS#12 bundle (key, certificate, CA) for browsers, encrypted with a
 * passphrase from a file or a prompt, never from a flag's value.
 */
import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import { join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { CERT_MODE, type FileSpec, KEY_MODE, ensureDir, existing, octal, recover, withLock, writeSet } from "../fs/files.js";
import { type CaSummary, caSummary, loadCa } from "../pki/ca.js";
import { makeCertificate, makeRequest, randomSerial, validity } from "../pki/issue.js";
import { type KeySpec, generateKey, privateKeyPem } from "../pki/keys.js";
import { toPem } from "../pki/pem.js";
import { planClient } from "../pki/profile.js";
import { abs, emptyRecord, readRecord, rel, writeRecord } from "../skydive/record.js";
import { hostFolderProblem } from "./hosts.js";
import type { FileResult } from "./result.js";

export interface ClientOptions {
  cwd: string;
  name: string;
  /** --ca; default: the CA of the fleet record in --out. */
  ca?: string;
  out: string;
  key: KeySpec;
  days: number;
  p12: boolean;
  force: boolean;
  dryRun: boolean;
  passphrase?: PassphraseSource;
  p12Passphrase?: PassphraseSource;
}

export interface ClientResult {
  ok: true;
  kind: "client";
  dryRun: boolean;
  name: string;
  subject: string;
  ca: CaSummary;
  files: FileResult[];
  serial?: string;
  notAfter?: string;
  usage: string;
}

export async function initClient(opts: ClientOptions): Promise<ClientResult> {
  if (opts.p12 && opts.key.type !== "rsa") throw usageError("--p12 needs an RSA key: node-forge, which writes the bundle, reads RSA keys and certificates only", "drop --key-type ecdsa, or drop --p12");
  const problem = hostFolderProblem(opts.name);
  if (problem) throw usageError(`client name "${opts.name}" ${problem}, so it cannot name a folder`);
  const out = resolve(opts.cwd, opts.out);
  const dir = join(out, "clients", opts.name);
  const paths = { key: join(dir, "client.key"), csr: join(dir, "client.csr"), crt: join(dir, "client.crt"), p12: join(dir, "client.p12") };
  const plan = planClient({ cn: opts.name, keyType: opts.key.type });
  const mine = [paths.key, paths.csr, paths.crt, ...(opts.p12 ? [paths.p12] : [])];
  if (!opts.force) {
    const clash = existing(mine);
    if (clash.length) throw failure(`${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""}`, "pass --force to replace them, or choose another name");
  }
  const recorded = readRecord(out)?.ca;
  const caSpec = opts.ca ?? (recorded ? abs(out, recorded) : undefined);
  if (!caSpec) throw usageError(`init client: no --ca, and ${out} has no fleet record naming a CA`, "pass --ca DIR (the folder skycert init ca made)");
  const ca = await loadCa(caSpec, opts.cwd, { needKey: !opts.dryRun, passphrase: opts.passphrase });
  if (opts.p12 && ca.publicKey.asymmetricKeyType !== "rsa") {
    throw usageError("--p12 needs an RSA CA: node-forge, which writes the bundle, reads RSA certificates only", "give the client its PEM files (skydive client --cert/--key/--cacert), or use an RSA CA");
  }
  const files: FileResult[] = [
    { path: paths.key, kind: "key", mode: octal(KEY_MODE) },
    { path: paths.csr, kind: "csr", mode: octal(CERT_MODE) },
    { path: paths.crt, kind: "crt", mode: octal(CERT_MODE) },
    ...(opts.p12 ? [{ path: paths.p12, kind: "p12" as const, mode: octal(KEY_MODE) }] : []),
  ];
  const usage = `skydive client --cert ${paths.crt} --key ${paths.key} --cacert ${ca.certPath} ...`;
  const result: ClientResult = { ok: true, kind: "client", dryRun: opts.dryRun, name: opts.name, subject: `CN=${plan.cn}`, ca: caSummary(ca), files, usage };
  if (opts.dryRun) return result;

  const pending = generateKey(opts.key);
  pending.catch(() => undefined);
  const p12Secret = opts.p12 ? await opts.p12Passphrase!("encrypt", "the PKCS#12 bundle") : undefined;
  const key = await pending;
  const { notBefore, notAfter } = validity(opts.days);
  const issuer = { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! };
  const csr = makeRequest({ subject: plan.subject, privateKey: key, extensions: plan.requestExtensions });
  const crt = makeCertificate({ subject: plan.subject, subjectKey: key, extensions: plan.certificateExtensions, serial: randomSerial(), notBefore, notAfter, issuer });
  const set: FileSpec[] = [
    { path: paths.key, data: privateKeyPem(key), mode: KEY_MODE },
    { path: paths.csr, data: toPem("CERTIFICATE REQUEST", csr), mode: CERT_MODE },
    { path: paths.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
  ];
  if (p12Secret !== undefined) set.push({ path: paths.p12, data: pkcs12(privateKeyPem(key), [toPem("CERTIFICATE", crt), ca.certPem], opts.name, p12Secret), mode: KEY_MODE });
  await ensureDir(out);
  await withLock(out, async () => {
    recover(out);
    recover(join(out, "clients"));
    await writeSet(dir, set, { force: opts.force });
    const record = readRecord(out) ?? { ...emptyRecord("0.27"), ca: rel(out, ca.certPath) };
    const clients = (record.clients ?? []).filter((c) => c.name !== opts.name);
    await writeRecord(out, { ...record, clients: [...clients, { name: opts.name, dir: rel(out, dir) }] });
  });
  const x509 = new X509Certificate(crt);
  return { ...result, serial: x509.serialNumber, notAfter: notAfter.toISOString() };
}

/**
 * PKCS#12, the one format here that only node-forge writes: the key shrouded
 * with PBES2/AES-256 and the MAC over it, both from the passphrase.
 */
function pkcs12(keyPem: string, certPems: string[], name: string, passphrase: string): Uint8Array {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(keyPem),
    certPems.map((p) => forge.pki.certificateFromPem(p)),
    passphrase,
    { algorithm: "aes256", friendlyName: name, count: 100_000 },
  );
  return new Uint8Array(Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary"));
}
