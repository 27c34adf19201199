/**
 * `skycert renew CERT`: the same key (a CA-signed certificate is renewed for
 * the public key it certifies; --rekey makes a new one, written with the
 * certificate as one set), subject and extensions (extensions.ts), a new serial
 * and validity, signed by whoever signed it before. Nothing is replaced before
 * the new certificate is proved (prove); CERT is then replaced atomically under
 * its folder's lock unless it changed meanwhile. The CSR beside it is left.
 */
import { type KeyObject, X509Certificate, createPublicKey } from "node:crypto";
import { existsSync, lstatSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { CERT_MODE, KEY_MODE, MAX_PEM_BYTES, octal, readInput, recover, recoverUnder, withLock, writeFileAtomic, writeSet } from "../fs/files.js";
import { CA_FOLDER, type LoadedCa, caSummary, findCaCert, keyBeside, loadCa } from "../pki/ca.js";
import { getSection, loadCnf } from "../pki/cnf.js";
import { find, readExtensionSection } from "../pki/extensions.js";
import { makeCertificate, randomSerial, validity } from "../pki/issue.js";
import { type KeySpec, type KeyType, colonHex, describeKey, generateKey, keySpecOf, pemKeyEncrypted, privateKeyPem, readPrivateKey, sha256Fingerprint, spkiDer } from "../pki/keys.js";
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH } from "../pki/oids.js";
import { parsePem, pemProblemText, toPem } from "../pki/pem.js";
import { DEFAULT_EXTENSIONS_SECTION } from "../pki/profile.js";
import { type CertInfo, firstCertificate, isSelfSigned, rawExtensions, readCertificate } from "../pki/read.js";
import { type San, formatSan, mergeSans, sanKey } from "../pki/san.js";
import { hostPart } from "../skydive/address.js";
import { loadGoTls } from "../skydive/go-tls.js";
import { type FleetRecord, abs, clientCert, findRecord, readRecord, writeRecord } from "../skydive/record.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import { profileExtensions, renewedExtensions } from "./extensions.js";

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
}

/** self-signed: the seed's pairs; host: CA-signed, serves and dials; client: CA-signed, clientAuth only; ca: signs others. */
export type CertKind = "ca" | "self-signed" | "host" | "client";

export type RenewResult = Awaited<ReturnType<typeof renewCertificate>>;

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
  try {
    info = readCertificate(certs[0]!.der);
  } catch (err) {
    throw usageError(`certificate ${path}: ${(err as Error).message}`);
  }
  const dup = info.extensions.find((e, i) => info.extensions.findIndex((x) => x.oid === e.oid) !== i);
  if (dup) throw failure(`${path} has two ${dup.name} extensions, which Go rejects ("x509: certificate contains duplicate extensions")`, "re-issue it with skycert init instead of renewing it");
  return { info, raw: rawExtensions(info.der), pem: toPem("CERTIFICATE", info.der), bytes: input.bytes };
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

export async function renewCertificate(opts: RenewOptions, ctx: RenewContext = {}) {
  const { san: addSans = [], dropSan: dropSans = [], rekey = false, force = false, dryRun = false } = opts;
  const warnings: string[] = [];
  const certPath = resolve(opts.cwd, opts.cert);
  if (!dryRun && !ctx.fleet) {
    // A run killed while it swapped the set in (a --rekey, an init --force) left the folder moved aside: put back, under
    // the lock a set write takes below (a fleet run recovered its folders already), before the certificate is read.
    const early = membership(certPath, [], undefined);
    const setDir = dirname(certPath);
    await recoverUnder(early?.host || early?.client ? early.dir : dirname(setDir), [dirname(setDir)]);
  }
  const { info, raw, pem, bytes: original } = readCert(certPath);
  const publicKey = spkiKey(info);
  const selfSigned = isSelfSigned(info);
  const kind = classify(info, selfSigned);
  const member = membership(certPath, warnings, ctx.fleet);
  const entry = member?.host ?? member?.client;

  if (rekey && kind === "ca") {
    const remedy = `renew it without --rekey (its key is kept, so what it signed stays valid), or make a new CA with ${command("init", "ca", "--out", "OTHER_DIR")} and re-issue the hosts under it`;
    throw usageError(`--rekey: ${certPath} is a CA certificate; a new CA key would orphan every certificate it signed`, remedy);
  }
  if (selfSigned && opts.ca) throw usageError(`--ca: ${certPath} is self-signed, and renew keeps it self-signed`, `to move it under a CA, run ${command("init", "ROLE", "--ca", "DIR", "--force")}`);
  if (kind === "ca" && addSans.length) throw usageError(`--san: ${certPath} is a CA certificate, which names no host`, "add names to the host certificates instead");
  const link = lstatSync(certPath, { throwIfNoEntry: false })?.isSymbolicLink();
  if (link && !force && !dryRun) throw failure(`${certPath} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself (its target is left as it is)");

  // The key: kept (and checked against the certificate when it is at hand), or new with --rekey.
  const keyPath = opts.key ? resolve(opts.cwd, opts.key) : keyBeside(certPath);
  const keyFlag = opts.key ? "--key" : "key";
  const keyThere = opts.key !== undefined || lstatSync(keyPath, { throwIfNoEntry: false }) !== undefined;
  if (!keyThere && selfSigned && !rekey) throw usageError(`${certPath} is self-signed and its key is not beside it (looked for ${keyPath})`, "pass --key FILE");
  let oldKey: KeyObject | undefined;
  // Only a self-signed certificate is signed with its own key: only then is it opened when encrypted.
  if (keyThere && ((selfSigned && !rekey && !dryRun) || !pemKeyEncrypted(readInput(keyPath, keyFlag, MAX_PEM_BYTES).text))) {
    oldKey = (await readPrivateKey(keyPath, keyFlag, selfSigned ? opts.passphrase : undefined, { requirePrivate: selfSigned && !rekey })).key;
    if (!spkiDer(oldKey).equals(info.publicKey.spki)) throw failure(`${keyPath} is not the key of ${certPath}`, opts.key ? "pass the key the certificate was made for" : "pass the right one with --key");
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
  if (selfSigned && opts.changeCa) throw usageError(`--change-ca: ${certPath} is self-signed, and renew keeps it self-signed`);
  let ca: LoadedCa | undefined;
  let found: CaFound = "--ca";
  let caChanged = false;
  if (!selfSigned) {
    if (ctx.fleetCa) [ca, found] = [ctx.fleetCa, "fleet record"];
    else if (opts.ca) ca = await loadCa(opts.ca, opts.cwd, { needKey: false });
    else ({ ca, found } = await findIssuingCa(certPath, pem, info, opts.cwd, member?.ca));
    caChanged = !signedBy(pem, ca.publicKey);
    if (caChanged && !opts.changeCa) {
      const remedy = "pass --ca with the CA that issued it, or add --change-ca to move it to this CA (its peers must then trust this CA)";
      throw failure(`${certPath} was issued by ${issuedBy(info)}, not by the CA ${ca.certPath} (key id ${colonHex(ca.keyIdentifier)})`, remedy);
    }
    if (caChanged && member?.ca && member.ca !== ca.certPath) {
      warnings.push(`the fleet's hosts trust ${member.ca} (tls.ca_cert): this certificate verifies there no more; point their tls.ca_cert at ${ca.certPath}, or renew it with the fleet's CA`);
    }
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
  const has = (list: readonly San[], s: San) => list.some((x) => sanKey(x) === sanKey(s));
  for (const d of dropSans) {
    if (has(addSans, d)) throw usageError(`--drop-san ${formatSan(d)}: --san adds the same name`, "pass it to one of them");
    if (!has(merged, d)) throw usageError(`--drop-san ${formatSan(d)}: ${certPath} has no such name (it has ${merged.map(formatSan).join(", ") || "none"})`, "name one of its SANs");
  }
  const after = merged.filter((s) => !has(dropSans, s));
  if (after.length === 0 && before.length > 0) throw usageError("the renewed certificate would have no subjectAltName", "add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)");
  const added = after.filter((s) => !has(before, s));
  const removed = before.filter((s) => !has(after, s));
  const sansChanged = after.map(sanKey).join("\n") !== before.map(sanKey).join("\n");
  if (sansChanged && (info.otherNames.length || info.invalidIpSans?.length)) {
    throw failure(`${certPath} has SAN entries skycert cannot re-encode (${[...info.otherNames, ...(info.invalidIpSans ?? [])].join(", ")})`, "renew without --cnf, --san or --drop-san to keep them as they are");
  }
  if (member?.host) {
    const dialed = (s: San) => member.record.analyzers.some((a) => hostPart(a).toLowerCase() === s.value.toLowerCase());
    const clash = added.find(dialed);
    const lost = removed.filter(dialed);
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
  const days = opts.days ?? Math.max(1, Math.round((info.notAfter!.getTime() - info.notBefore!.getTime()) / 86_400_000));
  const { notBefore, notAfter } = validity(days);
  const serial = randomSerial();
  if (ca && notAfter > ca.info.notAfter!) {
    warnings.push(`the renewed certificate outlives its CA, which expires on ${ca.info.notAfter!.toISOString()}: Go rejects it from then on (renew the CA first: ${command("renew", ca.certPath)})`);
  }

  const profile = opts.profile ? profileExtensions(kind, info, after, keySpec?.type ?? oldSpec.type, opts) : undefined;
  const plan = { raw, info, serial, ca, caChanged, rekey, sans: sansChanged ? after : undefined, profile: profile?.specs };
  const planned = renewedExtensions(plan, info.publicKey.spki);
  const csr = keyBeside(certPath).replace(/\.key$/, ".csr");
  const csrThere = lstatSync(csr, { throwIfNoEntry: false }) !== undefined;
  if (csrThere && rekey) warnings.push(`${csr} still requests the old key; it is left as it was (Skydive does not read it)`);
  if (link) warnings.push(`${certPath} is a symlink: ${dryRun ? "renewing it replaces" : "renewing it replaced"} the link itself with the certificate (its target is left as it is)${force ? "" : "; that needs --force"}`);

  const result = {
    ok: true,
    dryRun,
    cert: certPath,
    subject: info.subject,
    kind,
    key: {
      // Absent when a CA-signed certificate has no key beside it.
      path: keyThere || rekey ? keyPath : undefined,
      source: rekey ? "new (--rekey)" : keyThere ? (opts.key ? "--key" : "beside the certificate") : "the certificate's public key",
      kept: !rekey,
      type: keySpec ? (keySpec.type === "ecdsa" ? "EC P-256" : `RSA ${keySpec.bits}`) : describeKey(oldKey ?? publicKey),
      // With --rekey, known once the key is made.
      fingerprint: rekey ? undefined : info.publicKey.fingerprint,
      previousFingerprint: info.publicKey.fingerprint,
      // False for an encrypted key left unopened (a CA-signed certificate does not need it; --dry-run).
      checked: oldKey !== undefined,
    },
    signer: ca ? { kind: "ca" as const, ca: caSummary(ca), found, changed: caChanged, previousIssuer: info.issuer ?? "" } : { kind: "self-signed" as const },
    days,
    before: { serial: info.serial!.hex.toUpperCase(), notBefore: info.notBefore!.toISOString(), notAfter: info.notAfter!.toISOString(), fingerprint: info.fingerprint },
    after: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() } as { serial?: string; notBefore: string; notAfter: string; fingerprint?: string },
    sans: {
      source: [opts.cnf && !opts.profile && "--cnf", addSans.length && "--san", dropSans.length && "--drop-san"].filter(Boolean).join(" and ") || "kept",
      before: before.map(formatSan),
      after: after.map(formatSan),
      added: added.map(formatSan),
      removed: removed.map(formatSan),
    },
    extensions: planned.report,
    profile: profile && { kind, from: profile.from },
    files: [{ path: certPath, kind: "crt", mode: octal(CERT_MODE) }, ...(rekey ? [{ path: keyPath, kind: "key", mode: octal(KEY_MODE) }] : [])],
    mode: octal(CERT_MODE),
    // The CSR beside the certificate, left as it was.
    csr: csrThere ? csr : undefined,
    fleet: entry
      ? { dir: member!.dir, entry: entry.name, kind: member!.host ? "host" : "client", roles: member!.host?.roles, sansUpdated: false, ca: member!.ca }
      : member && kind === "ca" && member.ca === certPath
        ? { dir: member.dir, entry: "CA", kind: "ca", sansUpdated: false, ca: certPath }
        : undefined,
    // A CA renewed with its key: what it signed stays valid.
    trustKept: kind === "ca" || undefined,
    // The Skydive config of a self-signed pair's folder (the seed's layout), to validate after.
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

  // Writing, under the folder's lock; a set (--rekey) is staged beside its folder, under the lock its writers share (the
  // fleet root, as init takes it, which a fleet run holds already). A certificate replaced meanwhile is left alone.
  const dir = dirname(certPath);
  const write = async () => {
    recover(newKey ? dirname(dir) : dir);
    if (!readInput(certPath, "certificate", MAX_PEM_BYTES).bytes.equals(original)) {
      throw failure(`${certPath} changed while it was being renewed (another skycert run replaced it)`, "run the same renew again");
    }
    if (!newKey) await writeFileAtomic(certPath, newPem, { mode: CERT_MODE, force, exactMode: true });
    else await writeSet(dir, [{ path: keyPath, data: privateKeyPem(newKey), mode: KEY_MODE }, { path: certPath, data: newPem, mode: CERT_MODE }], { force: true });
  };
  await (newKey && ctx.lockedRoot ? write() : withLock(!newKey ? dir : entry ? member!.dir : dirname(dir), write));
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

export type CaFound = "--ca" | "fleet record" | "beside the certificate";

function signedBy(certPem: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(certPem).verify(key);
  } catch {
    return false;
  }
}

const spkiKey = (info: CertInfo) => createPublicKey({ key: Buffer.from(info.publicKey.spki), format: "der", type: "spki" });

const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);

const issuedBy = (info: CertInfo) => `${info.issuer}${info.authorityKeyIdentifier ? ` (key id ${colonHex(Buffer.from(info.authorityKeyIdentifier, "hex"))})` : ""}`;

/**
 * Without --ca, a CA-signed certificate is renewed by the CA that issued it: the
 * fleet record's, else a `ca/` folder beside the certificate or up to three
 * levels above. A candidate is the CA only when its key verifies the
 * certificate's signature: a folder that merely looks right is never used. Why
 * the one that signed it cannot be used (an expired CA, a key others can read)
 * is the answer, not a reason to keep looking.
 */
async function findIssuingCa(certPath: string, certPem: string, info: CertInfo, cwd: string, recordCa: string | undefined): Promise<{ ca: LoadedCa; found: CaFound }> {
  const seen = new Set<string>();
  // `ca/` folders beside the certificate and up to three levels above it.
  const near = [0, 1, 2, 3].map((up) => resolve(dirname(certPath), "../".repeat(up), CA_FOLDER)).filter((p) => existsSync(p) && statSync(p).isDirectory());
  const candidates = [{ spec: recordCa, found: "fleet record" as const }, ...[...new Set(near)].map((spec) => ({ spec, found: "beside the certificate" as const }))];
  for (const { spec, found } of candidates) {
    if (!spec) continue;
    let caCert: string;
    try {
      caCert = findCaCert(spec, cwd);
    } catch {
      continue; // not a CA folder: keep looking
    }
    if (seen.has(real(caCert))) continue;
    seen.add(real(caCert));
    const caInfo = firstCertificate(caCert);
    if (caInfo && signedBy(certPem, spkiKey(caInfo))) return { ca: await loadCa(caCert, cwd, { needKey: false }), found };
  }
  if (recordCa) {
    throw failure(
      `${certPath} was issued by ${issuedBy(info)}, not by the fleet's CA ${recordCa}, and no CA folder near it signed it`,
      `pass --ca DIR with the CA that issued it, or move it to the fleet's CA: --ca ${recordCa} --change-ca`,
    );
  }
  throw usageError(`${certPath} was issued by ${issuedBy(info)}, and no CA folder near it signed it`, "pass --ca DIR with the CA that issued it");
}

