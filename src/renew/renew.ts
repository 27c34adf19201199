/**
 * `skycert renew CERT`: the same key, subject and extensions, a new random
 * serial and a new validity, signed by whoever signed it before.
 *
 * - Extensions are carried byte for byte, in order, unknown ones too. Only
 *   what must change is re-encoded: the subjectAltName when --san adds names
 *   or --drop-san removes them (or --cnf refreshes them), the key identifiers
 *   with --rekey, the authorityKeyIdentifier with --change-ca (and in a
 *   self-signed certificate that names its own serial). --profile instead
 *   re-derives them from skycert's profile for the certificate's kind.
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
import { CERT_MODE, KEY_MODE, octal, readInput, recover, withLock, writeFileAtomic, writeSet } from "../fs/files.js";
import { type CaSummary, type LoadedCa, caSummary, keyBeside, loadCa } from "../pki/ca.js";
import { chooseCnf, getSection, loadCnf } from "../pki/cnf.js";
import { type EncodedExtension, type ExtensionSpec, type Issuer, encodeExtensions, find, keyIdentifier, readExtensionSection, withSubjectAltNames } from "../pki/extensions.js";
import { makeCertificate, randomSerial } from "../pki/issue.js";
import { type KeySpec, type KeyType, describeKey, generateKey, keySpecOf, pemKeyEncrypted, privateKeyPem, readPrivateKey, sha256Fingerprint, spkiDer } from "../pki/keys.js";
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, EXTENSION_OIDS } from "../pki/oids.js";
import { parsePem, pemProblemText, toPem } from "../pki/pem.js";
import { DEFAULT_EXTENSIONS_SECTION, caExtensions, planClient, planHostLeaf, planSelfSigned } from "../pki/profile.js";
import { type CertInfo, readCertificate } from "../pki/read.js";
import { type San, formatSan, mergeSans, sanKey } from "../pki/san.js";
import { type GoTls, loadGoTls } from "../skydive/go-tls.js";
import type { FleetRecord } from "../skydive/record.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import { type AkidParts, encodeAkid, encodeSkid, extensionName, rawExtensions, readAkid, refuseDuplicates } from "./extensions.js";
import { hostPart } from "../skydive/address.js";
import { membership, recordSans } from "./record.js";
import { type CaFound, findIssuingCa, otherCaError, signedBy } from "./signer.js";

const DAY_MS = 86_400_000;

export interface RenewOptions {
  cwd: string;
  cert: string;
  key?: string;
  ca?: string;
  changeCa: boolean;
  days?: number;
  /** --san: names added to those the certificate has. */
  sans: San[];
  /** --drop-san: names removed. */
  dropSans: San[];
  /** --profile: re-derive the extensions from skycert's profile for the certificate's kind. */
  profile: boolean;
  cnf?: string;
  extensions?: string;
  rekey: boolean;
  keyType?: KeyType;
  bits?: number;
  force: boolean;
  dryRun: boolean;
  passphrase?: PassphraseSource;
}

/** What a fleet run shares between its hosts. */
export interface RenewContext {
  /** The fleet's CA, loaded once (with its key unless --dry-run): every certificate must be its. */
  fleetCa?: LoadedCa;
  /** The fleet record, read once. */
  fleet?: { dir: string; record: FleetRecord };
  /** The caller holds this folder's lock (the fleet root): set writes need no other. */
  lockedRoot?: string;
  now?: Date;
}

/** self-signed: the seed's pairs; host: CA-signed, serves and dials; client: CA-signed, clientAuth only; ca: signs others. */
export type CertKind = "ca" | "self-signed" | "host" | "client";

interface Period {
  serial: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
}

export type ExtensionAction = "carried" | "re-encoded" | "added" | "dropped" | "derived";

export interface RenewResult {
  ok: true;
  dryRun: boolean;
  cert: string;
  subject: string;
  kind: CertKind;
  key: {
    /** Where the key is (kept), or will be written (--rekey); absent when a CA-signed certificate has none beside it. */
    path: string | undefined;
    source: "--key" | "beside the certificate" | "the certificate's public key" | "new (--rekey)";
    kept: boolean;
    type: string;
    /** SHA-256 of the public key the renewed certificate certifies (after --rekey: known once it is made). */
    fingerprint: string | undefined;
    previousFingerprint: string;
    /** An encrypted key that was not opened (a CA-signed certificate does not need it; --dry-run). */
    checked: boolean;
  };
  signer:
    | { kind: "self-signed" }
    | { kind: "ca"; ca: CaSummary; found: CaFound; changed: boolean; previousIssuer: string };
  days: number;
  before: Period;
  after: Partial<Period> & { notBefore: string; notAfter: string };
  sans: { source: string; before: string[]; after: string[]; added: string[]; removed: string[] };
  /** The old certificate's extensions, in order, and what renew did with each; then what it added. */
  extensions: { name: string; oid: string; critical: boolean; action: ExtensionAction }[];
  profile?: { kind: CertKind; from: string };
  files: { path: string; kind: "crt" | "key"; mode: string }[];
  mode: string;
  /** The CSR beside the certificate, left as it was. */
  csr?: string;
  /** The fleet record entry, when the certificate is a recorded host or client. */
  fleet?: { dir: string; entry: string; kind: "host" | "client" | "ca"; roles?: string[]; sansUpdated: boolean; ca?: string };
  /** The Skydive config of a self-signed pair's folder (the seed's layout), to validate after. */
  config?: string;
  /** A CA renewed with its key: what it signed stays valid. */
  trustKept?: boolean;
  warnings: string[];
}

// ---------------------------------------------------------------------------
// Reading

function readCert(path: string): { info: CertInfo; der: Uint8Array; pem: string; bytes: Buffer } {
  const input = readInput(path, "certificate", 1024 * 1024);
  if (input.bytes.length === 0) throw usageError(`certificate ${path}: the file is empty`, "pass the .crt file to renew");
  const { blocks, problem } = parsePem(input.text);
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certs.length === 0) {
    const why = blocks.length ? ` (found ${blocks.map((b) => b.label).join(", ")})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : "";
    throw usageError(`certificate ${path}: no PEM certificate in it${why}`, "pass the .crt file to renew");
  }
  if (certs.length > 1) throw usageError(`certificate ${path}: holds ${certs.length} certificates`, "renew one certificate per file");
  const der = certs[0]!.der;
  // Before the parser sees it: a certificate renew cannot reproduce is refused as such.
  try {
    refuseDuplicates(rawExtensions(der), path);
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode) throw err;
    throw usageError(`certificate ${path}: not a valid X.509 certificate (${(err as Error).message.split("\n")[0]})`);
  }
  try {
    return { info: readCertificate(der), der, pem: toPem("CERTIFICATE", der), bytes: input.bytes };
  } catch (err) {
    throw usageError(`certificate ${path}: ${(err as Error).message}`);
  }
}

function classify(info: CertInfo, selfSigned: boolean): CertKind {
  if (info.basicConstraints?.ca && info.subjectAltNames.length === 0 && info.otherNames.length === 0) return "ca";
  if (selfSigned) return "self-signed";
  const eku = info.extendedKeyUsage?.oids;
  if (eku && eku.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_SERVER_AUTH)) return "client";
  return "host";
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) => a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

/** The seed's CN is skydive-<role>; anything else reads as an analyzer (only messages depend on it). */
const roleOf = (info: CertInfo) => (/CN=skydive-agent\b/.test(info.subject) ? "agent" : "analyzer");

// ---------------------------------------------------------------------------

export async function renewCertificate(opts: RenewOptions, ctx: RenewContext = {}): Promise<RenewResult> {
  const now = ctx.now ?? new Date();
  const warnings: string[] = [];
  const certPath = resolve(opts.cwd, opts.cert);
  const { info, der, pem, bytes: original } = readCert(certPath);
  const raw = rawExtensions(der);
  const publicKey = createPublicKey({ key: Buffer.from(info.publicKey.spki), format: "der", type: "spki" });
  const selfSigned = sameBytes(info.subjectDer, info.issuerDer) && signedBy(pem, publicKey);
  const kind = classify(info, selfSigned);
  const member = membership(certPath, warnings, ctx.fleet);

  if (opts.rekey && kind === "ca") {
    throw usageError(
      `--rekey: ${certPath} is a CA certificate; a new CA key would orphan every certificate it signed`,
      `renew it without --rekey (its key is kept, so what it signed stays valid), or make a new CA with ${command("init", "ca", "--out", "OTHER_DIR")} and re-issue the hosts under it`,
    );
  }
  if (selfSigned && opts.ca) {
    throw usageError(`--ca: ${certPath} is self-signed, and renew keeps it self-signed`, `to move it under a CA, run ${command("init", "ROLE", "--ca", "DIR", "--force")}`);
  }
  if (kind === "ca" && opts.sans.length) throw usageError(`--san: ${certPath} is a CA certificate, which names no host`, "add names to the host certificates instead");
  const link = lstatSync(certPath, { throwIfNoEntry: false });
  if (link?.isSymbolicLink() && !opts.force && !opts.dryRun) {
    throw failure(`${certPath} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself (its target is left as it is)");
  }

  // The key: kept (and checked against the certificate when it is at hand), or new with --rekey.
  const keyPath = opts.key ? resolve(opts.cwd, opts.key) : keyBeside(certPath);
  const keyThere = opts.key !== undefined || lstatSync(keyPath, { throwIfNoEntry: false }) !== undefined;
  let oldKey: KeyObject | undefined;
  let keyChecked = false;
  if (keyThere) {
    // Only a self-signed certificate is signed with its own key: only then is it opened when encrypted.
    const mustOpen = selfSigned && !opts.rekey && !opts.dryRun;
    const encrypted = !mustOpen && pemKeyEncrypted(readInput(keyPath, opts.key ? "--key" : "key", 1024 * 1024).text);
    if (!encrypted) {
      oldKey = (await readPrivateKey(keyPath, opts.key ? "--key" : "key", selfSigned ? opts.passphrase : undefined, { requirePrivate: selfSigned && !opts.rekey })).key;
      if (!spkiDer(oldKey).equals(Buffer.from(info.publicKey.spki))) {
        throw failure(`${keyPath} is not the key of ${certPath}`, opts.key ? "pass the key the certificate was made for" : "pass the right one with --key");
      }
      keyChecked = true;
    }
  } else if (selfSigned && !opts.rekey) {
    throw usageError(`${certPath} is self-signed and its key is not beside it (looked for ${keyPath})`, "pass --key FILE");
  }
  let keySpec: KeySpec | undefined;
  if (opts.rekey) {
    if (dirname(keyPath) !== dirname(certPath)) {
      throw usageError(`--key ${opts.key}: --rekey writes the new key beside ${basename(certPath)}, as one set with it`, "drop --key, or move the key beside the certificate");
    }
    const keyLink = lstatSync(keyPath, { throwIfNoEntry: false });
    if (keyLink?.isSymbolicLink() && !opts.force && !opts.dryRun) throw failure(`${keyPath} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
    const folder = lstatSync(dirname(certPath));
    if (!folder.isDirectory()) throw failure(`${dirname(certPath)} is a symlink: --rekey replaces the folder's key and certificate as a set, never through a link`, "run it on the folder the link points to");
    const old = keySpecOf(publicKey);
    const type = opts.keyType ?? old.type;
    if (type === "ecdsa" && opts.bits !== undefined) throw usageError("--bits is for RSA keys; ECDSA keys are P-256", "drop --bits, or pass --key-type rsa");
    keySpec = { type, bits: opts.bits ?? (type === old.type ? old.bits : 2048) };
  }
  const newKeyType: KeyType = keySpec?.type ?? keySpecOf(publicKey).type;

  // The signer.
  let ca: LoadedCa | undefined;
  let found: CaFound = "--ca";
  let caChanged = false;
  if (!selfSigned) {
    if (ctx.fleetCa) {
      ca = ctx.fleetCa;
      found = "fleet record";
    } else if (opts.ca) {
      ca = await loadCa(opts.ca, opts.cwd, { needKey: false });
    } else {
      const recordCa = member?.record.ca ? resolve(member.dir, member.record.ca) : undefined;
      ({ ca, found } = await findIssuingCa(certPath, pem, info, opts.cwd, recordCa));
    }
    const issued = signedBy(pem, ca.publicKey);
    caChanged = !issued;
    if (!issued && !opts.changeCa) throw otherCaError(certPath, info, ca);
    if (caChanged && member?.record.ca && resolve(member.dir, member.record.ca) !== ca.certPath) {
      warnings.push(`the fleet's hosts trust ${resolve(member.dir, member.record.ca)} (tls.ca_cert): this certificate verifies there no more; point their tls.ca_cert at ${ca.certPath}, or renew it with the fleet's CA`);
    }
  } else if (opts.changeCa) {
    throw usageError(`--change-ca: ${certPath} is self-signed, and renew keeps it self-signed`);
  }

  // The names.
  const before = info.subjectAltNames;
  let base: readonly San[] = before;
  const sources: string[] = [];
  if (opts.cnf && !opts.profile) {
    const cnf = loadCnf(resolve(opts.cwd, opts.cnf), "--cnf");
    const section = opts.extensions ?? DEFAULT_EXTENSIONS_SECTION;
    if (!getSection(cnf, section)) throw usageError(`--cnf ${opts.cnf}: no [${section}] section`, "choose the section with --extensions");
    base = find(readExtensionSection(cnf, section, { file: cnf.file, line: getSection(cnf, section)!.where.line }), "subjectAltName")?.names ?? [];
    sources.push("--cnf");
  }
  if (opts.sans.length) sources.push("--san");
  if (opts.dropSans.length) sources.push("--drop-san");
  const merged = mergeSans(base, opts.sans);
  const addKeys = new Set(opts.sans.map(sanKey));
  const dropKeys = new Set<string>();
  for (const d of opts.dropSans) {
    if (addKeys.has(sanKey(d))) throw usageError(`--drop-san ${formatSan(d)}: --san adds the same name`, "pass it to one of them");
    if (!merged.some((s) => sanKey(s) === sanKey(d))) {
      throw usageError(`--drop-san ${formatSan(d)}: ${certPath} has no such name (it has ${merged.map(formatSan).join(", ") || "none"})`, "name one of its SANs");
    }
    dropKeys.add(sanKey(d));
  }
  const after = merged.filter((s) => !dropKeys.has(sanKey(s)));
  if (after.length === 0 && before.length > 0) {
    throw usageError("the renewed certificate would have no subjectAltName", "add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)");
  }
  const beforeKeys = new Set(before.map(sanKey));
  const afterKeys = new Set(after.map(sanKey));
  const added = after.filter((s) => !beforeKeys.has(sanKey(s)));
  const removed = before.filter((s) => !afterKeys.has(sanKey(s)));
  const sansChanged = after.map(sanKey).join("\n") !== before.map(sanKey).join("\n");
  if (sansChanged && (info.otherNames.length || info.invalidIpSans?.length)) {
    throw failure(`${certPath} has SAN entries skycert cannot re-encode (${[...info.otherNames, ...(info.invalidIpSans ?? [])].join(", ")})`, "renew without --cnf, --san or --drop-san to keep them as they are");
  }
  if (member?.host && !member.host.roles.includes("analyzer")) {
    const dialed = new Set(member.record.analyzers.map((a) => hostPart(a).toLowerCase()));
    const clash = added.find((s) => dialed.has(s.value.toLowerCase()));
    if (clash) {
      throw failure(
        `--san ${clash.value}: ${member.host.name} is an agent, and agents dial ${clash.value} for the analyzer; with that name its certificate could impersonate the analyzer`,
        `drop it from --san, or issue the host as an analyzer: ${command("init", "analyzer", "--ca", "DIR", "--hosts", member.host.name, "--out", member.dir, "--force")}`,
      );
    }
  }
  if (member?.host?.roles.includes("analyzer")) {
    const dialed = new Set(member.record.analyzers.map((a) => hostPart(a).toLowerCase()));
    const lost = removed.filter((s) => dialed.has(s.value.toLowerCase()));
    if (lost.length) warnings.push(`agents dial ${lost.map((s) => s.value).join(", ")} for the analyzer: without ${lost.length === 1 ? "that name" : "those names"} they cannot verify ${member.host.name}`);
  }

  // Validity and serial.
  const oldDays = info.notBefore && info.notAfter ? Math.max(1, Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / DAY_MS)) : 365;
  const days = opts.days ?? oldDays;
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  let serial = randomSerial();
  const oldSerial = Buffer.from(info.serial?.hex ?? "", "hex");
  while (Buffer.from(serial).equals(oldSerial)) serial = randomSerial();
  if (ca?.info.notAfter && notAfter > ca.info.notAfter) {
    warnings.push(`the renewed certificate outlives its CA, which expires on ${ca.info.notAfter.toISOString()}: Go rejects it from then on (renew the CA first: ${command("renew", ca.certPath)})`);
  }

  // The extensions, as a function of the key they certify (known once a new key is made).
  let profileFrom: string | undefined;
  let profileSpecs: ExtensionSpec[] | undefined;
  if (opts.profile) ({ specs: profileSpecs, from: profileFrom } = profileExtensions(kind, info, after, newKeyType, opts));
  const issuerFor = (spki: Uint8Array): Issuer =>
    ca
      ? { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, selfSigned: false }
      : { name: info.subjectDer, serial, keyIdentifier: selfKeyId(profileSpecs, raw, spki, opts.rekey), selfSigned: true };
  const build = (spki: Uint8Array) =>
    profileSpecs
      ? derived(profileSpecs, raw, spki, issuerFor(spki))
      : carried(raw, { spki, issuer: issuerFor(spki), sans: sansChanged ? after : undefined, rekey: opts.rekey, caChanged, selfSigned, serial });
  const planned = build(info.publicKey.spki);

  const csrPath = join(dirname(certPath), `${basename(certPath).replace(/\.(crt|pem|cer)$/i, "")}.csr`);
  const csr = lstatSync(csrPath, { throwIfNoEntry: false }) ? csrPath : undefined;
  if (csr && opts.rekey) warnings.push(`${csrPath} still requests the old key; it is left as it was (Skydive does not read it)`);
  if (link?.isSymbolicLink()) warnings.push(`${certPath} is a symlink: ${opts.dryRun ? "renewing it replaces" : "renewing it replaced"} the link itself with the certificate (its target is left as it is)${opts.force ? "" : "; that needs --force"}`);

  const result: RenewResult = {
    ok: true,
    dryRun: opts.dryRun,
    cert: certPath,
    subject: info.subject,
    kind,
    key: {
      path: keyThere || opts.rekey ? keyPath : undefined,
      source: opts.rekey ? "new (--rekey)" : oldKey || keyThere ? (opts.key ? "--key" : "beside the certificate") : "the certificate's public key",
      kept: !opts.rekey,
      type: keySpec ? (keySpec.type === "ecdsa" ? "EC P-256" : `RSA ${keySpec.bits}`) : oldKey ? describeKey(oldKey) : describeKey(publicKey),
      fingerprint: opts.rekey ? undefined : info.publicKey.fingerprint,
      previousFingerprint: info.publicKey.fingerprint,
      checked: keyChecked,
    },
    signer: ca ? { kind: "ca", ca: caSummary(ca), found, changed: caChanged, previousIssuer: info.issuer ?? "" } : { kind: "self-signed" },
    days,
    before: {
      serial: info.serial?.hex.toUpperCase() ?? "",
      notBefore: info.notBefore?.toISOString() ?? "",
      notAfter: info.notAfter?.toISOString() ?? "",
      fingerprint: info.fingerprint,
    },
    after: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() },
    sans: { source: sources.join(" and ") || "kept", before: before.map(formatSan), after: after.map(formatSan), added: added.map(formatSan), removed: removed.map(formatSan) },
    extensions: planned.report,
    ...(profileFrom ? { profile: { kind, from: profileFrom } } : {}),
    files: [
      { path: certPath, kind: "crt", mode: octal(CERT_MODE) },
      ...(opts.rekey ? [{ path: keyPath, kind: "key" as const, mode: octal(KEY_MODE) }] : []),
    ],
    mode: octal(CERT_MODE),
    ...(csr ? { csr } : {}),
    ...(member && (member.host || member.client)
      ? {
          fleet: {
            dir: member.dir,
            entry: member.host?.name ?? member.client!.name,
            kind: member.host ? ("host" as const) : ("client" as const),
            ...(member.host ? { roles: member.host.roles } : {}),
            sansUpdated: false,
            ...(member.record.ca ? { ca: resolve(member.dir, member.record.ca) } : {}),
          },
        }
      : member && kind === "ca" && member.record.ca && resolve(member.dir, member.record.ca) === certPath
        ? { fleet: { dir: member.dir, entry: "CA", kind: "ca" as const, sansUpdated: false, ca: certPath } }
        : {}),
    ...(kind === "ca" ? { trustKept: true } : {}),
    ...(member && !member.host && !member.client && existsSync(join(member.dir, CONFIG_FILE)) ? { config: join(member.dir, CONFIG_FILE) } : {}),
    warnings,
  };
  if (opts.dryRun) return result;

  // Signing: the CA's key (asked for now, when encrypted), the certificate's own, or the new one.
  const newKey = keySpec ? await generateKey(keySpec) : undefined;
  if (ca && !ca.privateKey) ca = await loadCa(ca.certPath, opts.cwd, { needKey: true, passphrase: opts.passphrase });
  const subjectKey = newKey ?? (selfSigned ? oldKey! : publicKey);
  const spki = spkiDer(subjectKey);
  const exts = newKey ? build(spki).exts : planned.exts;
  const newDer = makeCertificate({
    subject: info.subjectDer,
    subjectKey,
    extensions: [],
    encodedExtensions: exts,
    serial,
    notBefore,
    notAfter,
    ...(ca ? { issuer: { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! } } : {}),
  });
  const newPem = toPem("CERTIFICATE", newDer);
  await prove(newDer, newPem, spki, ca ? ca.publicKey : createPublicKey(subjectKey), ca?.certPem, await loadGoTls());

  // Writing, under the folder's lock; a certificate replaced meanwhile (renewed, re-issued) is left alone.
  const dir = dirname(certPath);
  const unchanged = () => {
    if (!readInput(certPath, "certificate", 1024 * 1024).bytes.equals(original)) {
      throw failure(`${certPath} changed while it was being renewed (another skycert run replaced it)`, "run the same renew again");
    }
  };
  if (!newKey) {
    await withLock(dir, async () => {
      recover(dir);
      unchanged();
      await writeFileAtomic(certPath, newPem, { mode: CERT_MODE, force: opts.force, exactMode: true });
    });
  } else {
    // A set is staged beside its folder: under the lock its writers share (the fleet root, as init takes it).
    const parent = dirname(dir);
    const setLock = ctx.lockedRoot ?? (member && (member.host || member.client) ? member.dir : parent);
    const write = async () => {
      recover(parent);
      unchanged();
      await writeSet(dir, [
        { path: keyPath, data: privateKeyPem(newKey), mode: KEY_MODE },
        { path: certPath, data: newPem, mode: CERT_MODE },
      ], { force: true });
    };
    if (ctx.lockedRoot) await write();
    else await withLock(setLock, write);
  }
  result.after = { serial: hexOf(serial), notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), fingerprint: sha256Fingerprint(newDer) };
  result.key.fingerprint = sha256Fingerprint(spki);
  if (newKey) result.key.type = describeKey(newKey);

  if (sansChanged && member?.host && !ctx.lockedRoot) {
    try {
      result.fleet!.sansUpdated = await recordSans(member.dir, member.host.name, after.map(formatSan));
    } catch (err) {
      warnings.push(`the certificate is renewed, but the fleet record's SANs for ${member.host.name} were not updated: ${(err as Error).message}`);
    }
  }
  return result;
}

/**
 * Proof before anything is replaced: the certificate parses, certifies the
 * expected key, carries a signature its signer's key verifies, and Go (as
 * Skydive runs it) parses it and verifies it under its signer.
 */
async function prove(der: Uint8Array, pem: string, spki: Uint8Array, signerKey: KeyObject, caPem: string | undefined, go: GoTls): Promise<void> {
  const bad = (why: string) => failure(`the renewed certificate ${why}; nothing was replaced`, "rerun with --debug and report it");
  const check = readCertificate(der);
  if (!sameBytes(check.publicKey.spki, spki)) throw bad("does not certify the expected key");
  if (!signedBy(pem, signerKey)) throw bad("does not verify with its signer's key");
  const parsed = go.parse(pem).certificates[0];
  if (!parsed?.ok) throw failure(`Go refuses the renewed certificate: ${parsed ? parsed.error : "no certificate"}; nothing was replaced`, "re-issue it (skycert init ... --force), or renew with --profile");
  const verdict = go.verify({ chain: pem, roots: caPem ?? pem, usages: ["any"] });
  if (!verdict.ok) throw failure(`Go does not verify the renewed certificate under its signer: ${verdict.error}; nothing was replaced`, "re-issue it (skycert init ... --force), or renew with --profile");
}

// ---------------------------------------------------------------------------
// Extensions

type Report = RenewResult["extensions"];

/** The key identifier a self-signed certificate's AKID repeats: its SKID (new with --rekey), else the key's hash. */
function selfKeyId(profile: ExtensionSpec[] | undefined, raw: readonly EncodedExtension[], spki: Uint8Array, rekey: boolean): Uint8Array {
  if (profile) {
    const skid = find(profile, "subjectKeyIdentifier");
    return skid && skid.mode !== "hash" && skid.mode !== "none" ? skid.mode : keyIdentifier(spki);
  }
  const skid = raw.find((e) => e.oid === EXTENSION_OIDS.subjectKeyIdentifier);
  if (skid && !rekey) {
    // The OCTET STRING inside: tag 04, short length.
    const v = skid.value;
    if (v[0] === 0x04 && v[1] === v.length - 2) return v.subarray(2);
  }
  return keyIdentifier(spki);
}

function carried(
  raw: readonly EncodedExtension[],
  o: { spki: Uint8Array; issuer: Issuer; sans: San[] | undefined; rekey: boolean; caChanged: boolean; selfSigned: boolean; serial: Uint8Array },
): { exts: EncodedExtension[]; report: Report } {
  const exts: EncodedExtension[] = [];
  const report: Report = [];
  const note = (e: { oid: string; critical: boolean }, action: Report[number]["action"]) => report.push({ name: extensionName(e.oid), oid: e.oid, critical: e.critical, action });
  const akidFor = (critical: boolean) => encodeExtensions([{ kind: "authorityKeyIdentifier", critical, keyid: "always", issuer: "off" }], o.spki, o.issuer)[0]!;
  for (const e of raw) {
    if (e.oid === EXTENSION_OIDS.subjectAltName && o.sans) {
      if (o.sans.length === 0) {
        note(e, "dropped");
        continue;
      }
      exts.push(encodeExtensions([{ kind: "subjectAltName", critical: e.critical, names: o.sans }], o.spki)[0]!);
      note(e, "re-encoded");
    } else if (e.oid === EXTENSION_OIDS.subjectKeyIdentifier && o.rekey) {
      exts.push(encodeSkid(keyIdentifier(o.spki), e.critical));
      note(e, "re-encoded");
    } else if (e.oid === EXTENSION_OIDS.authorityKeyIdentifier && o.caChanged) {
      exts.push(akidFor(false));
      note({ oid: e.oid, critical: false }, "re-encoded");
    } else if (e.oid === EXTENSION_OIDS.authorityKeyIdentifier && o.selfSigned) {
      // A self-signed certificate's AKID names its own key, and may name its own serial: both change.
      const parts = readAkid(e.value);
      if (parts && ((o.rekey && parts.keyIdentifier) || parts.serial)) {
        const next: AkidParts = {
          ...(parts.keyIdentifier ? { keyIdentifier: o.rekey ? o.issuer.keyIdentifier! : parts.keyIdentifier } : {}),
          ...(parts.issuer && parts.serial ? { issuer: parts.issuer, serial: o.serial } : {}),
        };
        exts.push(encodeAkid(next, e.critical));
        note(e, "re-encoded");
      } else {
        exts.push(e);
        note(e, "carried");
      }
    } else {
      exts.push(e);
      note(e, "carried");
    }
  }
  if (o.sans?.length && !raw.some((e) => e.oid === EXTENSION_OIDS.subjectAltName)) {
    exts.push(encodeExtensions([{ kind: "subjectAltName", critical: false, names: o.sans }], o.spki)[0]!);
    note({ oid: EXTENSION_OIDS.subjectAltName, critical: false }, "added");
  }
  if (o.caChanged && !raw.some((e) => e.oid === EXTENSION_OIDS.authorityKeyIdentifier)) {
    exts.push(akidFor(false));
    note({ oid: EXTENSION_OIDS.authorityKeyIdentifier, critical: false }, "added");
  }
  return { exts, report };
}

function derived(specs: ExtensionSpec[], raw: readonly EncodedExtension[], spki: Uint8Array, issuer: Issuer): { exts: EncodedExtension[]; report: Report } {
  const exts = encodeExtensions(specs, spki, issuer);
  const report: Report = exts.map((e) => ({ name: extensionName(e.oid), oid: e.oid, critical: e.critical, action: "derived" as const }));
  for (const e of raw) if (!exts.some((x) => x.oid === e.oid)) report.push({ name: extensionName(e.oid), oid: e.oid, critical: e.critical, action: "dropped" });
  return { exts, report };
}

/** skycert's profile for the certificate's kind, with the names it keeps. */
function profileExtensions(kind: CertKind, info: CertInfo, sans: San[], keyType: KeyType, opts: RenewOptions): { specs: ExtensionSpec[]; from: string } {
  if (kind === "ca") return { specs: caExtensions(), from: "skycert's CA profile" };
  if (kind === "client") {
    const specs = planClient({ cn: "client", keyType }).certificateExtensions;
    return { specs: withSubjectAltNames(specs, sans), from: "skycert's client profile (clientAuth only)" };
  }
  const choice = chooseCnf(opts.cwd, opts.cnf);
  const cnf = loadCnf(choice.path, opts.cnf ? "--cnf" : "cnf");
  const where = `[${opts.extensions ?? DEFAULT_EXTENSIONS_SECTION}] of ${choice.source === "bundled template" ? "the bundled template" : choice.path}`;
  if (kind === "self-signed") {
    const plan = planSelfSigned(cnf, { role: roleOf(info), extraSans: sans, extensionsSection: opts.extensions });
    return { specs: withSubjectAltNames(plan.certificateExtensions, sans), from: `the seed's recipe, ${where}` };
  }
  if (sans.length === 0) throw usageError(`--profile: ${opts.cert} has no subjectAltName, and a host certificate must name its host`, "add --san ADDRESS for every name or IP a peer dials");
  const plan = planHostLeaf(cnf, { cn: "host", sans, cnfSans: false, extensionsSection: opts.extensions, stem: "host", keyType });
  return { specs: plan.certificateExtensions, from: `skycert's host profile (serverAuth + clientAuth), ${where}` };
}
