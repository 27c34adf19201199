/**
 * `skycert renew CERT`: the same key, subject and extensions, a new serial and
 * a new validity, signed by whoever signed it before.
 *
 * - The key is `--key`, else the `.key` of the same stem beside CERT. A
 *   self-signed certificate needs it (it signs itself); a CA-signed one is
 *   renewed for the public key it certifies, and a key found beside it must be
 *   that key.
 * - Every extension is carried byte for byte, in order, including ones skycert
 *   does not issue itself; only the subjectAltName (refreshed from --cnf and/or
 *   --san) and the authorityKeyIdentifier (a new CA, with --change-ca) are
 *   re-encoded. A certificate with duplicate extensions is refused (Go rejects it).
 * - A CA-signed certificate is renewed by its CA: `--ca DIR`, else a `ca/`
 *   folder beside it or up to three levels above whose key identifier matches
 *   its authorityKeyIdentifier. Another CA is an error unless --change-ca.
 * - The file is replaced atomically, 0444, never through a symlink.
 */
import { type KeyObject, X509Certificate, createPublicKey } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type CertInfo, readCertificate } from "../core/certinfo.js";
import { getSection } from "../core/cnf.js";
import { failure, usageError } from "../core/errors.js";
import { type EncodedExtension, encodeExtensions, find, readExtensionSection } from "../core/extensions.js";
import { EXTENSION_OIDS } from "../core/oids.js";
import { makeCertificate, randomSerial, spkiDer } from "../core/issue.js";
import { sha256Fingerprint } from "../core/keys.js";
import { parsePem, pemProblemText, toPem } from "../core/pem.js";
import { DEFAULT_EXTENSIONS_SECTION } from "../core/profile.js";
import { type San, formatSan, mergeSans, sanKey } from "../core/san.js";
import { rawExtensions } from "../core/x509-raw.js";
import { loadCnf } from "../io/cnf-file.js";
import { readInput, recover, withLock, writeFileAtomic } from "../io/files.js";
import type { PassphraseSource } from "../io/passphrase.js";
import { readPrivateKey } from "../io/private-key.js";
import { CA_FOLDER, findCaCert, keyBeside } from "../io/ca-files.js";
import { type CaSummary, type LoadedCa, caSummary, loadCa, sameKey } from "./ca.js";

export interface RenewOptions {
  cwd: string;
  cert: string;
  key?: string;
  ca?: string;
  changeCa: boolean;
  days?: number;
  cnf?: string;
  extensions?: string;
  sans: San[];
  force: boolean;
  dryRun: boolean;
  passphrase?: PassphraseSource;
}

interface Period {
  serial: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
}

export interface RenewResult {
  ok: true;
  dryRun: boolean;
  cert: string;
  subject: string;
  key: { path: string | undefined; source: "--key" | "beside the certificate" | "the certificate's public key"; fingerprint: string };
  signer: { kind: "self-signed" } | { kind: "ca"; ca: CaSummary; found: "--ca" | "beside the certificate"; changed: boolean; previousIssuer: string };
  days: number;
  before: Period;
  after: Partial<Period> & { notBefore: string; notAfter: string };
  sans: { source: "kept" | "--cnf" | "--san" | "--cnf and --san"; before: string[]; after: string[]; added: string[]; removed: string[] };
  /** Extensions of the old certificate, in order, and what renew did with each. */
  extensions: { name: string; oid: string; critical: boolean; action: "carried" | "re-encoded" | "added" }[];
  mode: string;
  warnings?: string[];
}

const NAMES: Record<string, string> = Object.fromEntries(Object.entries(EXTENSION_OIDS).map(([n, o]) => [o, n]));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

function readCert(path: string): { info: CertInfo; pem: string; bytes: Buffer } {
  const input = readInput(path, "certificate");
  if (input.bytes.length === 0) throw usageError(`${path}: the file is empty`, "pass the .crt file to renew");
  const { blocks, problem } = parsePem(input.text);
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certs.length === 0) {
    const why = blocks.length ? ` (found ${blocks.map((b) => b.label).join(", ")})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : "";
    throw usageError(`${path}: no PEM certificate in it${why}`, "pass the .crt file to renew");
  }
  if (certs.length > 1) throw usageError(`${path}: holds ${certs.length} certificates`, "renew one certificate per file");
  try {
    return { info: readCertificate(certs[0]!.der), pem: toPem("CERTIFICATE", certs[0]!.der), bytes: input.bytes };
  } catch (err) {
    throw usageError(`${path}: ${(err as Error).message}`);
  }
}

function signedBy(certPem: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(certPem).verify(key);
  } catch {
    return false;
  }
}

/** `ca/` folders beside the certificate and up to three levels above it. */
function nearbyCas(certPath: string): string[] {
  const out: string[] = [];
  let dir = dirname(certPath);
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, CA_FOLDER);
    try {
      if (statSync(candidate).isDirectory()) out.push(candidate);
    } catch {
      /* none here */
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

export async function renewCertificate(opts: RenewOptions): Promise<RenewResult> {
  const certPath = resolve(opts.cwd, opts.cert);
  const { info, pem, bytes: original } = readCert(certPath);
  const publicKey = createPublicKey({ key: Buffer.from(info.publicKey.spki), format: "der", type: "spki" });
  const selfSigned = Buffer.from(info.subjectDer).equals(Buffer.from(info.issuerDer ?? [])) && signedBy(pem, publicKey);

  // The extensions, before anything is loaded: a certificate renew cannot reproduce is refused first.
  const raw = rawExtensions(info.der);
  const seen = new Set<string>();
  for (const e of raw) {
    if (seen.has(e.oid)) throw failure(`${certPath} has two ${NAMES[e.oid] ?? e.oid} extensions, which Go rejects`, "re-issue it with skycert init instead of renewing it");
    seen.add(e.oid);
  }

  // The key.
  const keyPath = opts.key ? resolve(opts.cwd, opts.key) : keyBeside(certPath);
  let privateKey: KeyObject | undefined;
  let keySource: RenewResult["key"]["source"] = opts.key ? "--key" : "beside the certificate";
  if (opts.key || existsSync(keyPath)) {
    // A self-signed certificate is signed with this key: it must be private to its owner.
    privateKey = (await readPrivateKey(keyPath, opts.key ? "--key" : "key", opts.passphrase, { requirePrivate: selfSigned })).key;
    if (!sameKey(spkiDer(privateKey), info.publicKey.spki)) {
      throw failure(`${keyPath} is not the key of ${certPath}`, opts.key ? "pass the key the certificate was made for" : "pass the right one with --key");
    }
  } else if (selfSigned) {
    throw usageError(`${certPath} is self-signed and its key is not beside it (looked for ${keyPath})`, "pass --key FILE");
  } else {
    keySource = "the certificate's public key";
  }

  // The signer.
  let ca: LoadedCa | undefined;
  let found: "--ca" | "beside the certificate" = "--ca";
  let caChanged = false;
  if (selfSigned) {
    if (opts.ca) {
      throw usageError(`${certPath} is self-signed: renew keeps it self-signed, so --ca does not apply`, "to move it under a CA, run skycert init ROLE --ca DIR --force");
    }
  } else if (opts.ca) {
    ca = await loadCa(opts.ca, opts.cwd, { needKey: false });
  } else {
    for (const dir of nearbyCas(certPath)) {
      let caCert: string;
      try {
        caCert = findCaCert(dir, opts.cwd);
        const block = parsePem(readInput(caCert, "--ca certificate").text).blocks.find((b) => b.label === "CERTIFICATE");
        if (!block || !signedBy(pem, new X509Certificate(block.der).publicKey)) continue;
      } catch {
        continue; // not a CA folder: keep looking
      }
      // The CA that signed it: why it cannot be used (a key others can read, an expired CA) is the answer.
      ca = await loadCa(caCert, opts.cwd, { needKey: false });
      found = "beside the certificate";
      break;
    }
    if (!ca) {
      throw usageError(
        `${certPath} was issued by ${info.issuer}${info.authorityKeyIdentifier ? ` (key id ${info.authorityKeyIdentifier})` : ""}, and no CA folder near it signed it`,
        "pass --ca DIR with the CA that issued it",
      );
    }
  }
  if (ca) {
    const issued = signedBy(pem, ca.publicKey);
    caChanged = !issued;
    if (!issued && !opts.changeCa) {
      throw failure(
        `${certPath} was issued by ${info.issuer}${info.authorityKeyIdentifier ? ` (key id ${info.authorityKeyIdentifier})` : ""}, not by the CA ${ca.certPath} (key id ${hex(ca.keyIdentifier)})`,
        "pass --ca with the CA that issued it, or add --change-ca to move it to this CA (its peers must then trust this CA)",
      );
    }
    if (!opts.dryRun) ca = await loadCa(ca.certPath, opts.cwd, { needKey: true, passphrase: opts.passphrase });
  }

  // SANs: kept, or refreshed from --cnf and/or --san.
  const before = info.subjectAltNames;
  let after: San[] = before;
  let sanSource: RenewResult["sans"]["source"] = "kept";
  if (opts.cnf || opts.sans.length) {
    let base: San[] = before;
    if (opts.cnf) {
      const cnf = loadCnf(resolve(opts.cwd, opts.cnf), "--cnf");
      const section = opts.extensions ?? DEFAULT_EXTENSIONS_SECTION;
      if (!getSection(cnf, section)) throw usageError(`--cnf ${opts.cnf}: no [${section}] section`, "choose the section with --extensions");
      base = find(readExtensionSection(cnf, section, { file: cnf.file, line: 1 }), "subjectAltName")?.names ?? [];
    }
    after = mergeSans(base, opts.sans);
    sanSource = opts.cnf && opts.sans.length ? "--cnf and --san" : opts.cnf ? "--cnf" : "--san";
    if (after.length === 0) throw usageError("the renewed certificate would have no subjectAltName", "add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)");
  } else if (opts.extensions) {
    throw usageError("--extensions names the --cnf section to take SANs from", "pass --cnf FILE too");
  }
  if (info.otherNames.length && after !== before) {
    throw failure(`${certPath} has SAN entries skycert cannot re-encode (${info.otherNames.join(", ")})`, "renew without --cnf/--san to keep them as they are");
  }
  const keys = (l: San[]) => new Set(l.map(sanKey));
  const added = after.filter((s) => !keys(before).has(sanKey(s))).map(formatSan);
  const removed = before.filter((s) => !keys(after).has(sanKey(s))).map(formatSan);
  const sansChanged = after !== before && (added.length > 0 || removed.length > 0 || after.map(sanKey).join() !== before.map(sanKey).join());

  // The extensions of the new certificate.
  const spki = info.publicKey.spki;
  const issuerFor = ca ? { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, selfSigned: false } : undefined;
  const exts: EncodedExtension[] = [];
  const report: RenewResult["extensions"] = [];
  const name = (oid: string) => NAMES[oid] ?? oid;
  for (const e of raw) {
    if (e.oid === EXTENSION_OIDS.subjectAltName && sansChanged) {
      exts.push(encodeExtensions([{ kind: "subjectAltName", critical: e.critical, names: after }], spki)[0]!);
      report.push({ name: name(e.oid), oid: e.oid, critical: e.critical, action: "re-encoded" });
    } else if (e.oid === EXTENSION_OIDS.authorityKeyIdentifier && caChanged) {
      exts.push(encodeExtensions([{ kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" }], spki, issuerFor)[0]!);
      report.push({ name: name(e.oid), oid: e.oid, critical: false, action: "re-encoded" });
    } else {
      exts.push(e);
      report.push({ name: name(e.oid), oid: e.oid, critical: e.critical, action: "carried" });
    }
  }
  if (sansChanged && !raw.some((e) => e.oid === EXTENSION_OIDS.subjectAltName)) {
    exts.push(encodeExtensions([{ kind: "subjectAltName", critical: false, names: after }], spki)[0]!);
    report.push({ name: "subjectAltName", oid: EXTENSION_OIDS.subjectAltName, critical: false, action: "added" });
  }
  if (caChanged && !raw.some((e) => e.oid === EXTENSION_OIDS.authorityKeyIdentifier)) {
    exts.push(encodeExtensions([{ kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" }], spki, issuerFor)[0]!);
    report.push({ name: "authorityKeyIdentifier", oid: EXTENSION_OIDS.authorityKeyIdentifier, critical: false, action: "added" });
  }

  const oldDays = info.notBefore && info.notAfter ? Math.max(1, Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / 86_400_000)) : 365;
  const days = opts.days ?? oldDays;
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const result: RenewResult = {
    ok: true,
    dryRun: opts.dryRun,
    cert: certPath,
    subject: info.subject,
    key: { path: privateKey ? keyPath : undefined, source: keySource, fingerprint: info.publicKey.fingerprint },
    signer: ca
      ? { kind: "ca", ca: caSummary(ca), found, changed: caChanged, previousIssuer: info.issuer ?? "" }
      : { kind: "self-signed" },
    days,
    before: {
      serial: info.serial?.hex.toUpperCase() ?? "",
      notBefore: info.notBefore?.toISOString() ?? "",
      notAfter: info.notAfter?.toISOString() ?? "",
      fingerprint: info.fingerprint,
    },
    after: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() },
    sans: { source: sanSource, before: before.map(formatSan), after: after.map(formatSan), added, removed },
    extensions: report,
    mode: "0444",
  };
  if (ca?.info.notAfter && notAfter > ca.info.notAfter) {
    result.warnings = [`the renewed certificate outlives its CA, which expires on ${ca.info.notAfter.toISOString()}: Go rejects it from then on`];
  }
  if (opts.dryRun) return result;

  let serial = randomSerial();
  const oldSerial = Buffer.from(info.serial?.hex ?? "", "hex");
  while (Buffer.from(serial).equals(oldSerial)) serial = randomSerial();
  const der = makeCertificate({
    subject: info.subjectDer,
    subjectKey: privateKey ?? publicKey,
    extensions: [],
    encodedExtensions: exts,
    serial,
    notBefore,
    notAfter,
    ...(ca ? { issuer: { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! } } : { selfKey: privateKey! }),
  });
  const newPem = toPem("CERTIFICATE", der);
  // Proof before replacing anything: it parses, certifies the same key, and verifies with its signer.
  const check = readCertificate(der);
  if (!sameKey(check.publicKey.spki, info.publicKey.spki) || !signedBy(newPem, ca ? ca.publicKey : publicKey)) {
    throw new Error("renew: the new certificate does not verify");
  }
  // Under the folder's lock (a re-issue of the set takes it too), after removing what killed
  // runs left there; a certificate that changed since it was read (renewed or re-issued
  // meanwhile, perhaps with a new key) is not overwritten with one made from the old.
  await withLock(dirname(certPath), async () => {
    recover(dirname(certPath));
    if (!readInput(certPath, "certificate").bytes.equals(original)) {
      throw failure(`${certPath} changed while it was being renewed (another skycert run replaced it)`, "run the same renew again");
    }
    await writeFileAtomic(certPath, newPem, { mode: 0o444, force: opts.force, exactMode: true });
  });
  result.after = {
    serial: hex(serial),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprint: sha256Fingerprint(der),
  };
  return result;
}
