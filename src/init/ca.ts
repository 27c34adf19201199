/**
 * `skycert init ca`: a key (0400, encrypted on request) and a self-signed CA
 * certificate (0444) in `<out>/ca/`, and the fleet record that says which
 * Skydive release the fleet under it is for.
 */
import { X509Certificate } from "node:crypto";
import { join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { CERT_MODE, KEY_MODE, ensureDir, existing, octal, recover, withLock, writeSet } from "../fs/files.js";
import { CA_FOLDER, type CaSummary } from "../pki/ca.js";
import { keyIdentifier } from "../pki/extensions.js";
import { commonNameDer, makeCertificate, randomSerial, validity } from "../pki/issue.js";
import { type KeySpec, colonHex, describeKey, generateKey, privateKeyPem, spkiDer } from "../pki/keys.js";
import { toPem } from "../pki/pem.js";
import { caExtensions, validateCommonName, validateStem } from "../pki/profile.js";
import { emptyRecord, readRecord, rel, writeRecord } from "../skydive/record.js";
import type { Release } from "../skydive/release.js";
import type { FileResult } from "./result.js";

export interface CaInitOptions {
  cwd: string;
  out: string;
  days: number;
  key: KeySpec;
  cn?: string;
  stem?: string;
  skydive: Release;
  force: boolean;
  dryRun: boolean;
  encrypt: boolean;
  passphrase?: PassphraseSource;
}

export interface CaInitResult {
  ok: true;
  kind: "ca";
  dryRun: boolean;
  days: number;
  skydive: Release;
  out: string;
  ca: CaSummary;
  files: FileResult[];
}

export async function initCa(opts: CaInitOptions): Promise<CaInitResult> {
  if (opts.skydive === "legacy") {
    throw usageError("--skydive legacy has no CA: its agents trust the analyzer's own certificate", "drop --skydive legacy (a CA fleet is for Skydive 0.21 or later), or make the seed's self-signed pairs with skycert init analyzer agent");
  }
  const cn = validateCommonName(opts.cn ?? "skydive-ca");
  const stem = opts.stem ? validateStem(opts.stem) : cn.replace(/[^A-Za-z0-9._-]/g, "_");
  const out = resolve(opts.cwd, opts.out);
  const dir = join(out, CA_FOLDER);
  const paths = { key: join(dir, `${stem}.key`), crt: join(dir, `${stem}.crt`) };
  if (!opts.force) {
    const clash = existing([paths.key, paths.crt]);
    if (clash.length) {
      throw failure(
        `${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""}`,
        "every certificate the CA signed depends on it: renew it with skycert renew (same key), pass --force only to replace the CA on purpose, or choose another --out",
      );
    }
  }
  const record = readRecord(out);
  if (record?.hosts.length && record.skydive !== opts.skydive) {
    throw failure(`${out}/skycert.json: this fleet is for Skydive ${record.skydive}, not ${opts.skydive}`, `pass --skydive ${record.skydive}, or choose another --out`);
  }
  const files: FileResult[] = [
    { path: paths.key, kind: "key", mode: octal(KEY_MODE) },
    { path: paths.crt, kind: "crt", mode: octal(CERT_MODE) },
  ];
  const summary: CaSummary = { subject: `CN=${cn}`, cert: paths.crt, key: paths.key, keyBits: opts.key.type === "rsa" ? opts.key.bits : 256, encrypted: opts.encrypt };
  const base = { ok: true as const, kind: "ca" as const, days: opts.days, skydive: opts.skydive, out, ca: summary, files };
  if (opts.dryRun) return { ...base, dryRun: true };

  const pending = generateKey(opts.key);
  pending.catch(() => undefined);
  // Asked while the key is made, so typing overlaps the work.
  const passphrase = opts.encrypt ? await opts.passphrase!("encrypt", "the new CA key") : undefined;
  const privateKey = await pending;
  const { notBefore, notAfter } = validity(opts.days);
  const crt = makeCertificate({ subject: commonNameDer(cn), subjectKey: privateKey, extensions: caExtensions(), serial: randomSerial(), notBefore, notAfter });
  const x509 = new X509Certificate(crt);
  Object.assign(summary, {
    keyBits: privateKey.asymmetricKeyDetails?.modulusLength ?? 256,
    keyType: describeKey(privateKey),
    serial: x509.serialNumber,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprint: x509.fingerprint256,
    keyIdentifier: colonHex(keyIdentifier(spkiDer(privateKey))),
  });
  await ensureDir(out);
  await withLock(out, async () => {
    recover(out);
    await writeSet(dir, [
      { path: paths.key, data: privateKeyPem(privateKey, passphrase), mode: KEY_MODE },
      { path: paths.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
    ], { force: opts.force });
    const current = readRecord(out) ?? emptyRecord(opts.skydive);
    await writeRecord(out, { ...current, skydive: opts.skydive, ca: rel(out, paths.crt) });
  });
  return { ...base, dryRun: false };
}
