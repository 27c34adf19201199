/**
 * `skycert renew CERT`: the same key, subject and extensions, a new random
 * serial and a new validity, signed by whoever signed it before.
 *
 * - Extensions are carried byte for byte (extensions.ts); --san, --drop-san
 *   and --cnf change the names, --profile re-derives them all.
 * - The key is kept (a CA-signed certificate is renewed for the public key it
 *   certifies), or made anew with --rekey and written with the certificate as
 *   one set. A CA keeps its key: every certificate it signed stays valid.
 * - Before anything is replaced, the new certificate must certify the
 *   expected key, verify with its signer's key, and pass Go's parser and
 *   verifier. CERT is then replaced atomically (0444) under its folder's lock,
 *   unless it changed meanwhile. The CSR beside it is left as it was.
 */
import { type KeyObject, createPublicKey } from "node:crypto";
import { existsSync, lstatSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { CERT_MODE, KEY_MODE, MAX_PEM_BYTES, octal, readInput, recover, withLock, writeFileAtomic, writeSet } from "../fs/files.js";
import { type CaSummary, type LoadedCa, caSummary, keyBeside, loadCa } from "../pki/ca.js";
import { getSection, loadCnf } from "../pki/cnf.js";
import { find, readExtensionSection } from "../pki/extensions.js";
import { makeCertificate, randomSerial } from "../pki/issue.js";
import { type KeySpec, type KeyType, describeKey, generateKey, keySpecOf, pemKeyEncrypted, privateKeyPem, readPrivateKey, sha256Fingerprint, spkiDer } from "../pki/keys.js";
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH } from "../pki/oids.js";
import { parsePem, pemProblemText, toPem } from "../pki/pem.js";
import { DEFAULT_EXTENSIONS_SECTION } from "../pki/profile.js";
import { type CertInfo, isSelfSigned, rawExtensions, readCertificate } from "../pki/read.js";
import { type San, formatSan, mergeSans, sanKey } from "../pki/san.js";
import { hostPart } from "../skydive/address.js";
import { loadGoTls } from "../skydive/go-tls.js";
import { type FleetRecord, abs, clientCert, findRecord, readRecord, writeRecord } from "../skydive/record.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import { profileExtensions, renewedExtensions } from "./extensions.js";
import { type CaFound, findIssuingCa, otherCaError, real, signedBy, spkiKey } from "./signer.js";

const DAY_MS = 86_400_000;

/** The command's flags; --fleet passes only those that keep a certificate's key, names and signer. */
export interface RenewOptions {
  cwd: string;
  cert: string;
  key?: string;
  ca?: string;
  changeCa?: boolean;
  days?: number;
  /** --san adds names to those the certificate has, --drop-san removes them. */
  san?: San[];
  dropSan?: San[];
  profile?: boolean;
  cnf?: string;
  extensions?: string;
  rekey?: boolean;
  keyType?: KeyType;
  bits?: number;
  force?: boolean;
  dryRun?: boolean;
  passphrase?: PassphraseSource;
}

/** What a fleet run shares between its hosts. */
export interface RenewContext {
  /** The fleet's CA, loaded once (with its key unless --dry-run): every certificate must be its. */
  fleetCa?: LoadedCa;
  fleet?: { dir: string; record: FleetRecord };
  /** The caller holds this folder's lock (the fleet root): set writes need no other. */
  lockedRoot?: string;
  now?: Date;
}

/** self-signed: the seed's pairs; host: CA-signed, serves and dials; client: CA-signed, clientAuth only; ca: signs others. */
export type CertKind = "ca" | "self-signed" | "host" | "client";

type Period = { serial: string; notBefore: string; notAfter: string; fingerprint: string };

export interface RenewResult {
  ok: true;
  dryRun: boolean;
  cert: string;
  subject: string;
  kind: CertKind;
  key: {
    /** Absent when a CA-signed certificate has no key beside it. */
    path?: string;
    source: "--key" | "beside the certificate" | "the certificate's public key" | "new (--rekey)";
    kept: boolean;
    type: string;
    /** What the renewed certificate certifies; with --rekey, known once the key is made. */
    fingerprint?: string;
    previousFingerprint: string;
    /** False for an encrypted key left unopened (a CA-signed certificate does not need it; --dry-run). */
    checked: boolean;
  };
  signer: { kind: "self-signed" } | { kind: "ca"; ca: CaSummary; found: CaFound; changed: boolean; previousIssuer: string };
  days: number;
  before: Period;
  after: Partial<Period> & Pick<Period, "notBefore" | "notAfter">;
  sans: { source: string; before: string[]; after: string[]; added: string[]; removed: string[] };
  /** The old certificate's extensions, in order, and what renew did with each; then what it added. */
  extensions: { name: string; oid: string; critical: boolean; action: "carried" | "re-encoded" | "added" | "dropped" | "derived" }[];
  profile?: { kind: CertKind; from: string };
  files: { path: string; kind: "crt" | "key"; mode: string }[];
  mode: string;
  /** The CSR beside the certificate, left as it was. */
  csr?: string;
  fleet?: { dir: string; entry: string; kind: "host" | "client" | "ca"; roles?: string[]; sansUpdated: boolean; ca?: string };
  /** The Skydive config of a self-signed pair's folder (the seed's layout), to validate after. */
  config?: string;
  /** A CA renewed with its key: what it signed stays valid. */
  trustKept?: boolean;
  warnings: string[];
}

function readCert(path: string): { info: CertInfo; raw: ReturnType<typeof rawExtensions>; pem: string; bytes: Buffer } {
  const input = readInput(path, "certificate", MAX_PEM_BYTES);
  if (input.bytes.length === 0) throw usageError(`certificate ${path}: the file is empty`, "pass the .crt file to renew");
  const { blocks, problem } = parsePem(input.text);
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certs.length === 0) {
    const why = blocks.length ? ` (found ${blocks.map((b) => b.label).join(", ")})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : "";
    throw usageError(`certificate ${path}: no PEM certificate in it${why}`, "pass the .crt file to renew");
  }
  if (certs.length > 1) throw usageError(`certificate ${path}: holds ${certs.length} certificates`, "renew one certificate per file");
  let info: CertInfo;
  let raw: ReturnType<typeof rawExtensions>;
  try {
    info = readCertificate(certs[0]!.der);
    raw = rawExtensions(info.der);
  } catch (err) {
    throw usageError(`certificate ${path}: ${(err as Error).message}`);
  }
  const dup = info.extensions.find((e, i) => info.extensions.findIndex((x) => x.oid === e.oid) !== i);
  if (dup) throw failure(`${path} has two ${dup.name} extensions, which Go rejects ("x509: certificate contains duplicate extensions")`, "re-issue it with skycert init instead of renewing it");
  return { info, raw, pem: toPem("CERTIFICATE", info.der), bytes: input.bytes };
}

function classify(info: CertInfo, selfSigned: boolean): CertKind {
  if (info.basicConstraints?.ca && info.subjectAltNames.length === 0 && info.otherNames.length === 0) return "ca";
  if (selfSigned) return "self-signed";
  const eku = info.extendedKeyUsage?.oids;
  return eku?.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_SERVER_AUTH) ? "client" : "host";
}

/** The record governing the certificate and the host or client entry naming it; a damaged record becomes a warning. */
function membership(certPath: string, warnings: string[], known: RenewContext["fleet"]) {
  let found = known;
  try {
    found ??= findRecord(certPath);
  } catch (err) {
    warnings.push(`${(err as Error).message}: the fleet record was not used`);
  }
  if (!found) return undefined;
  const { dir, record } = found;
  const me = real(certPath);
  const host = record.hosts.find((h) => real(abs(dir, h.cert)) === me);
  const client = host ? undefined : record.clients?.find((c) => real(clientCert(dir, c)) === me);
  return { dir, record, host, client, ca: record.ca ? resolve(dir, record.ca) : undefined };
}

export async function renewCertificate(opts: RenewOptions, ctx: RenewContext = {}): Promise<RenewResult> {
  const { san: addSans = [], dropSan: dropSans = [], rekey = false, force = false, dryRun = false } = opts;
  const now = ctx.now ?? new Date();
  const warnings: string[] = [];
  const certPath = resolve(opts.cwd, opts.cert);
  const { info, raw, pem, bytes: original } = readCert(certPath);
  const publicKey = spkiKey(info);
  const selfSigned = isSelfSigned(info);
  const kind = classify(info, selfSigned);
  const member = membership(certPath, warnings, ctx.fleet);
  const entry = member?.host ?? member?.client;

  if (rekey && kind === "ca") {
    throw usageError(
      `--rekey: ${certPath} is a CA certificate; a new CA key would orphan every certificate it signed`,
      `renew it without --rekey (its key is kept, so what it signed stays valid), or make a new CA with ${command("init", "ca", "--out", "OTHER_DIR")} and re-issue the hosts under it`,
    );
  }
  if (selfSigned && opts.ca) {
    throw usageError(`--ca: ${certPath} is self-signed, and renew keeps it self-signed`, `to move it under a CA, run ${command("init", "ROLE", "--ca", "DIR", "--force")}`);
  }
  if (kind === "ca" && addSans.length) throw usageError(`--san: ${certPath} is a CA certificate, which names no host`, "add names to the host certificates instead");
  const link = lstatSync(certPath, { throwIfNoEntry: false })?.isSymbolicLink();
  if (link && !force && !dryRun) throw failure(`${certPath} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself (its target is left as it is)");

  // The key: kept (and checked against the certificate when it is at hand), or new with --rekey.
  const keyPath = opts.key ? resolve(opts.cwd, opts.key) : keyBeside(certPath);
  const keyFlag = opts.key ? "--key" : "key";
  const keyThere = opts.key !== undefined || lstatSync(keyPath, { throwIfNoEntry: false }) !== undefined;
  let oldKey: KeyObject | undefined;
  if (keyThere) {
    // Only a self-signed certificate is signed with its own key: only then is it opened when encrypted.
    if ((selfSigned && !rekey && !dryRun) || !pemKeyEncrypted(readInput(keyPath, keyFlag, MAX_PEM_BYTES).text)) {
      oldKey = (await readPrivateKey(keyPath, keyFlag, selfSigned ? opts.passphrase : undefined, { requirePrivate: selfSigned && !rekey })).key;
      if (!spkiDer(oldKey).equals(info.publicKey.spki)) throw failure(`${keyPath} is not the key of ${certPath}`, opts.key ? "pass the key the certificate was made for" : "pass the right one with --key");
    }
  } else if (selfSigned && !rekey) {
    throw usageError(`${certPath} is self-signed and its key is not beside it (looked for ${keyPath})`, "pass --key FILE");
  }
  const oldSpec = keySpecOf(publicKey);
  let keySpec: KeySpec | undefined;
  if (rekey) {
    if (dirname(keyPath) !== dirname(certPath)) {
      throw usageError(`--key ${opts.key}: --rekey writes the new key beside ${basename(certPath)}, as one set with it`, "drop --key, or move the key beside the certificate");
    }
    if (lstatSync(keyPath, { throwIfNoEntry: false })?.isSymbolicLink() && !force && !dryRun) throw failure(`${keyPath} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
    if (!lstatSync(dirname(certPath)).isDirectory()) throw failure(`${dirname(certPath)} is a symlink: --rekey replaces the folder's key and certificate as a set, never through a link`, "run it on the folder the link points to");
    const type = opts.keyType ?? oldSpec.type;
    if (type === "ecdsa" && opts.bits !== undefined) throw usageError("--bits is for RSA keys; ECDSA keys are P-256", "drop --bits, or pass --key-type rsa");
    keySpec = { type, bits: opts.bits ?? (type === oldSpec.type ? oldSpec.bits : 2048) };
  }

  // The signer.
  let ca: LoadedCa | undefined;
  let found: CaFound = "--ca";
  let caChanged = false;
  if (!selfSigned) {
    if (ctx.fleetCa) [ca, found] = [ctx.fleetCa, "fleet record"];
    else if (opts.ca) ca = await loadCa(opts.ca, opts.cwd, { needKey: false });
    else ({ ca, found } = await findIssuingCa(certPath, pem, info, opts.cwd, member?.ca));
    caChanged = !signedBy(pem, ca.publicKey);
    if (caChanged && !opts.changeCa) throw otherCaError(certPath, info, ca);
    if (caChanged && member?.ca && member.ca !== ca.certPath) {
      warnings.push(`the fleet's hosts trust ${member.ca} (tls.ca_cert): this certificate verifies there no more; point their tls.ca_cert at ${ca.certPath}, or renew it with the fleet's CA`);
    }
  } else if (opts.changeCa) {
    throw usageError(`--change-ca: ${certPath} is self-signed, and renew keeps it self-signed`);
  }

  // The names.
  const before = info.subjectAltNames;
  let base: readonly San[] = before;
  if (opts.cnf && !opts.profile) {
    const cnf = loadCnf(resolve(opts.cwd, opts.cnf), "--cnf");
    const section = opts.extensions ?? DEFAULT_EXTENSIONS_SECTION;
    const found = getSection(cnf, section);
    if (!found) throw usageError(`--cnf ${opts.cnf}: no [${section}] section`, "choose the section with --extensions");
    base = find(readExtensionSection(cnf, section, { file: cnf.file, line: found.where.line }), "subjectAltName")?.names ?? [];
  }
  const merged = mergeSans(base, addSans);
  for (const d of dropSans) {
    if (addSans.some((s) => sanKey(s) === sanKey(d))) throw usageError(`--drop-san ${formatSan(d)}: --san adds the same name`, "pass it to one of them");
    if (!merged.some((s) => sanKey(s) === sanKey(d))) {
      throw usageError(`--drop-san ${formatSan(d)}: ${certPath} has no such name (it has ${merged.map(formatSan).join(", ") || "none"})`, "name one of its SANs");
    }
  }
  const after = merged.filter((s) => !dropSans.some((d) => sanKey(d) === sanKey(s)));
  if (after.length === 0 && before.length > 0) {
    throw usageError("the renewed certificate would have no subjectAltName", "add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)");
  }
  const without = (list: readonly San[], other: readonly San[]) => list.filter((s) => !other.some((o) => sanKey(o) === sanKey(s)));
  const added = without(after, before);
  const removed = without(before, after);
  const sansChanged = after.map(sanKey).join("\n") !== before.map(sanKey).join("\n");
  if (sansChanged && (info.otherNames.length || info.invalidIpSans?.length)) {
    throw failure(`${certPath} has SAN entries skycert cannot re-encode (${[...info.otherNames, ...(info.invalidIpSans ?? [])].join(", ")})`, "renew without --cnf, --san or --drop-san to keep them as they are");
  }
  if (member?.host) {
    const dialed = new Set(member.record.analyzers.map((a) => hostPart(a).toLowerCase()));
    const isDialed = (s: San) => dialed.has(s.value.toLowerCase());
    const clash = added.find(isDialed);
    const lost = removed.filter(isDialed);
    if (!member.host.roles.includes("analyzer") && clash) {
      throw failure(
        `--san ${clash.value}: ${member.host.name} is an agent, and agents dial ${clash.value} for the analyzer; with that name its certificate could impersonate the analyzer`,
        `drop it from --san, or issue the host as an analyzer: ${command("init", "analyzer", "--ca", "DIR", "--hosts", member.host.name, "--out", member.dir, "--force")}`,
      );
    }
    if (member.host.roles.includes("analyzer") && lost.length) {
      warnings.push(`agents dial ${lost.map((s) => s.value).join(", ")} for the analyzer: without ${lost.length === 1 ? "that name" : "those names"} they cannot verify ${member.host.name}`);
    }
  }

  // Validity and serial.
  const days = opts.days ?? (info.notBefore && info.notAfter ? Math.max(1, Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / DAY_MS)) : 365);
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const oldSerial = Buffer.from(info.serial?.hex ?? "", "hex");
  let serial = randomSerial();
  while (oldSerial.equals(serial)) serial = randomSerial();
  if (ca?.info.notAfter && notAfter > ca.info.notAfter) {
    warnings.push(`the renewed certificate outlives its CA, which expires on ${ca.info.notAfter.toISOString()}: Go rejects it from then on (renew the CA first: ${command("renew", ca.certPath)})`);
  }

  const profile = opts.profile ? profileExtensions(kind, info, after, keySpec?.type ?? oldSpec.type, opts) : undefined;
  const plan = { raw, info, serial, ca, caChanged, rekey, sans: sansChanged ? after : undefined, profile: profile?.specs };
  const planned = renewedExtensions(plan, info.publicKey.spki);
  const csr = keyBeside(certPath).replace(/\.key$/, ".csr");
  const csrThere = lstatSync(csr, { throwIfNoEntry: false }) !== undefined;
  if (csrThere && rekey) warnings.push(`${csr} still requests the old key; it is left as it was (Skydive does not read it)`);
  if (link) warnings.push(`${certPath} is a symlink: ${dryRun ? "renewing it replaces" : "renewing it replaced"} the link itself with the certificate (its target is left as it is)${force ? "" : "; that needs --force"}`);

  const result: RenewResult = {
    ok: true,
    dryRun,
    cert: certPath,
    subject: info.subject,
    kind,
    key: {
      path: keyThere || rekey ? keyPath : undefined,
      source: rekey ? "new (--rekey)" : keyThere ? (opts.key ? "--key" : "beside the certificate") : "the certificate's public key",
      kept: !rekey,
      type: keySpec ? (keySpec.type === "ecdsa" ? "EC P-256" : `RSA ${keySpec.bits}`) : describeKey(oldKey ?? publicKey),
      fingerprint: rekey ? undefined : info.publicKey.fingerprint,
      previousFingerprint: info.publicKey.fingerprint,
      checked: oldKey !== undefined,
    },
    signer: ca ? { kind: "ca", ca: caSummary(ca), found, changed: caChanged, previousIssuer: info.issuer ?? "" } : { kind: "self-signed" },
    days,
    before: { serial: info.serial?.hex.toUpperCase() ?? "", notBefore: info.notBefore?.toISOString() ?? "", notAfter: info.notAfter?.toISOString() ?? "", fingerprint: info.fingerprint },
    after: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() },
    sans: {
      source: [opts.cnf && !opts.profile && "--cnf", addSans.length && "--san", dropSans.length && "--drop-san"].filter(Boolean).join(" and ") || "kept",
      before: before.map(formatSan),
      after: after.map(formatSan),
      added: added.map(formatSan),
      removed: removed.map(formatSan),
    },
    extensions: planned.report,
    profile: profile && { kind, from: profile.from },
    files: [{ path: certPath, kind: "crt", mode: octal(CERT_MODE) }, ...(rekey ? [{ path: keyPath, kind: "key" as const, mode: octal(KEY_MODE) }] : [])],
    mode: octal(CERT_MODE),
    csr: csrThere ? csr : undefined,
    fleet: entry
      ? { dir: member!.dir, entry: entry.name, kind: member!.host ? "host" : "client", roles: member!.host?.roles, sansUpdated: false, ca: member!.ca }
      : member && kind === "ca" && member.ca === certPath
        ? { dir: member.dir, entry: "CA", kind: "ca", sansUpdated: false, ca: certPath }
        : undefined,
    trustKept: kind === "ca" || undefined,
    config: member && !entry && existsSync(join(member.dir, CONFIG_FILE)) ? join(member.dir, CONFIG_FILE) : undefined,
    warnings,
  };
  if (dryRun) return result;

  // Signing: the CA's key (asked for now, when encrypted), the certificate's own, or the new one.
  const newKey = keySpec && (await generateKey(keySpec));
  if (ca && !ca.privateKey) ca = await loadCa(ca.certPath, opts.cwd, { needKey: true, passphrase: opts.passphrase });
  const subjectKey = newKey ?? (selfSigned ? oldKey! : publicKey);
  const spki = spkiDer(subjectKey);
  const newDer = makeCertificate({
    subject: info.subjectDer,
    subjectKey,
    extensions: [],
    encodedExtensions: newKey ? renewedExtensions(plan, spki).exts : planned.exts,
    serial,
    notBefore,
    notAfter,
    ...(ca ? { issuer: { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! } } : {}),
  });
  const newPem = toPem("CERTIFICATE", newDer);
  await prove(newDer, newPem, spki, ca ? ca.publicKey : createPublicKey(subjectKey), ca?.certPem);

  // Writing, under the folder's lock; a certificate replaced meanwhile (renewed, re-issued) is left alone.
  const dir = dirname(certPath);
  const unchanged = (tidy: string) => {
    recover(tidy);
    if (!readInput(certPath, "certificate", MAX_PEM_BYTES).bytes.equals(original)) {
      throw failure(`${certPath} changed while it was being renewed (another skycert run replaced it)`, "run the same renew again");
    }
  };
  if (!newKey) {
    await withLock(dir, async () => {
      unchanged(dir);
      await writeFileAtomic(certPath, newPem, { mode: CERT_MODE, force, exactMode: true });
    });
  } else {
    // A set is staged beside its folder: under the lock its writers share (the fleet root, as init takes it).
    const set = async () => {
      unchanged(dirname(dir));
      await writeSet(dir, [{ path: keyPath, data: privateKeyPem(newKey), mode: KEY_MODE }, { path: certPath, data: newPem, mode: CERT_MODE }], { force: true });
    };
    await (ctx.lockedRoot ? set() : withLock(entry ? member!.dir : dirname(dir), set));
  }
  result.after = { serial: Buffer.from(serial).toString("hex").toUpperCase(), notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), fingerprint: sha256Fingerprint(newDer) };
  result.key.fingerprint = sha256Fingerprint(spki);
  if (newKey) result.key.type = describeKey(newKey);

  if (sansChanged && member?.host && !ctx.lockedRoot) {
    const { dir: recordDir, host } = member;
    try {
      // Under the record folder's lock, read again there.
      result.fleet!.sansUpdated = await withLock(recordDir, async () => {
        const record = readRecord(recordDir);
        const h = record?.hosts.find((x) => x.name === host.name);
        if (!record || !h || h.sans.join("\n") === result.sans.after.join("\n")) return false;
        h.sans = result.sans.after;
        await writeRecord(recordDir, record);
        return true;
      });
    } catch (err) {
      warnings.push(`the certificate is renewed, but the fleet record's SANs for ${host.name} were not updated: ${(err as Error).message}`);
    }
  }
  return result;
}

/**
 * Proof before anything is replaced: the certificate parses, certifies the
 * expected key, carries a signature its signer's key verifies, and Go (as
 * Skydive runs it) parses it and verifies it under its signer.
 */
async function prove(der: Uint8Array, pem: string, spki: Uint8Array, signerKey: KeyObject, caPem: string | undefined): Promise<void> {
  const bad = (why: string) => failure(`the renewed certificate ${why}; nothing was replaced`, "rerun with --debug and report it");
  if (!Buffer.from(readCertificate(der).publicKey.spki).equals(spki)) throw bad("does not certify the expected key");
  if (!signedBy(pem, signerKey)) throw bad("does not verify with its signer's key");
  const go = await loadGoTls();
  const parsed = go.parse(pem).certificates[0];
  if (!parsed?.ok) throw failure(`Go refuses the renewed certificate: ${parsed ? parsed.error : "no certificate"}; nothing was replaced`, "re-issue it (skycert init ... --force), or renew with --profile");
  const verdict = go.verify({ chain: pem, roots: caPem ?? pem, usages: ["any"] });
  if (!verdict.ok) throw failure(`Go does not verify the renewed certificate under its signer: ${verdict.error}; nothing was replaced`, "re-issue it (skycert init ... --force), or renew with --profile");
}
