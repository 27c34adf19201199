/**
 * `skycert validate`'s checks, judged by the rules of Skydive's Go TLS
 * (skydive-tls.md). Pure: it takes material already read (bytes, modes, the
 * parsed config) and returns check results; no file system, no console. The
 * I/O and the real handshake live in ops/validate.ts.
 *
 * Every check has a stable id (CHECK_IDS, documented in README's "skycert
 * validate checks"), a status, a subject, a one-line message naming the file,
 * and a one-line remedy for each warning or failure.
 */
import { type KeyObject, createPrivateKey, createPublicKey } from "node:crypto";
import { isIP } from "node:net";
import { basename, dirname, relative, resolve } from "node:path";
import type { CertInfo } from "./certinfo.js";
import { type Usage, USAGE_OID, WEAK_HASHES, cn, goVerify, sameDer } from "./go-verify.js";
import { EKU_ANY } from "./oids.js";
import { type PemBlock, parsePem, toPem } from "./pem.js";
import { bytesToIp, formatSan, ipToBytes } from "./san.js";
import { days, isoDay } from "./time.js";
import { LEGACY_KEYS, type Role, type Schema, TLS_KEYS, envName } from "./stanza.js";

// ---------------------------------------------------------------------------
// Results

export const CHECK_IDS = [
  "config",
  "file-readable",
  "pem-parse",
  "key-match",
  "key-strength",
  "signature-algorithm",
  "validity",
  "serial",
  "basic-constraints",
  "key-usage",
  "extended-key-usage",
  "san-present",
  "san-coverage",
  "trust",
  "file-mode",
  "handshake",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];
export type Status = "pass" | "warn" | "fail" | "skip";

export interface Check {
  id: CheckId;
  status: Status;
  subject: string;
  message: string;
  /** One line: what to run or change. Present on every warn and fail. */
  remedy?: string;
  /** The file the check is about, as given (absolute). */
  file?: string;
  /** The address the check is about (san-coverage, handshake). */
  host?: string;
}

export function check(id: CheckId, status: Status, subject: string, message: string, extra: Partial<Check> = {}): Check {
  const c: Check = { id, status, subject, message };
  // Fields left undefined stay out of the JSON; a plain loop, as a fleet makes thousands of checks.
  for (const k in extra) {
    const v = extra[k as keyof Check];
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  return c;
}

/** Orders results by check id (the documented order), keeping each id's own order. */
export function sortChecks(checks: readonly Check[]): Check[] {
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => CHECK_IDS.indexOf(a.c.id) - CHECK_IDS.indexOf(b.c.id) || a.i - b.i)
    .map(({ c }) => c);
}

// ---------------------------------------------------------------------------
// Material

/** What ops read from one file; `read.ok` false says why it could not. */
export type FileRead =
  | { ok: true; bytes: Uint8Array; mode: number; size: number }
  | { ok: false; problem: "missing" | "directory" | "not-regular" | "empty" | "too-large" | "unreadable"; detail: string; mode?: number };

export type ItemName = "analyzerCert" | "analyzerKey" | "agentCert" | "agentKey" | "ca";

export interface FileInput {
  item: ItemName;
  /** "analyzer cert", "agent key", "CA cert". */
  label: string;
  /** Where the path came from: `analyzer.X509_cert`, `SKYDIVE_TLS_CA_CERT`, `--agent-key`. */
  setting: string;
  path: string;
  /** The path as messages show it (relative to the working directory when under it). */
  shown: string;
  read: FileRead;
  /** Not needed by this host: a missing file is then a skip, not a failure. */
  optional?: boolean;
}

export interface ParsedCertFile {
  input: FileInput;
  certs: CertInfo[];
  /** The certificates re-armoured, without anything else the file held. */
  pem: string[];
}

export interface ParsedKeyFile {
  input: FileInput;
  key: KeyObject;
  /** PKCS#8 PEM of the key, for the loopback handshake only; never shown. */
  pem: string;
}

export interface Host {
  /** The address or name checked: what agents dial, or agent.X509_servername. */
  name: string;
  /** Where it came from: `--host`, `analyzers: 10.0.0.4:8082`, `agent.X509_servername`... */
  source: string;
}

/** What remedies need to name the exact command to run. */
export interface RemedyContext {
  cwd: string;
  /** The config file in use, if any. */
  config?: string;
  schema: Schema;
}

// ---------------------------------------------------------------------------
// Remedies

export const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function shownPath(ctx: RemedyContext, p: string): string {
  const rel = relative(ctx.cwd, p);
  return rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? p : rel;
}

/**
 * `skycert init <role> ... --force` re-making the role's self-signed files where
 * they are: `--out` is the folder above `<role>/`, as init lays them out.
 */
export function initCommand(ctx: RemedyContext, role: Role | "analyzer agent", certPath: string | undefined, sans: string[] = [], force = true): string {
  const parts = ["skycert", "init", role];
  if (sans.length) parts.push("--san", q(sans.join(",")));
  let out: string | undefined;
  if (certPath) {
    const dir = dirname(certPath);
    out = basename(dir) === role ? dirname(dir) : ctx.config ? dirname(ctx.config) : dir;
    const stem = basename(certPath).replace(/\.(crt|pem|cer)$/, "");
    if (stem !== `${role}.domain.com` && stem !== basename(certPath)) parts.push("--stem", q(stem));
  } else if (ctx.config) out = dirname(ctx.config);
  if (out && resolve(out) !== resolve(ctx.cwd)) parts.push("--out", q(shownPath(ctx, out)));
  if (ctx.config && out && resolve(ctx.config) !== resolve(out, "skydive.yml")) parts.push("--config", q(shownPath(ctx, ctx.config)));
  if (force) parts.push("--force");
  return parts.join(" ");
}

function isSelfSigned(c: CertInfo): boolean {
  return c.issuerDer !== undefined && Buffer.from(c.issuerDer).equals(Buffer.from(c.subjectDer));
}

/** How to re-make a certificate: skycert init for a role's self-signed one, else re-issue from its CA. */
function reissue(ctx: RemedyContext, use: CertUse, what: string, sans: string[] = []): string {
  if (use.role && use.index === 0 && isSelfSigned(use.cert)) return initCommand(ctx, use.role, use.file.input.path, sans);
  if (use.item === "ca") return `make a new CA certificate ${what}, then re-issue the certificates it signs`;
  return `re-issue ${use.file.input.shown} from its CA ${what}`;
}

// ---------------------------------------------------------------------------
// file-readable, file-mode

const PROBLEM_TEXT: Record<Extract<FileRead, { ok: false }>["problem"], string> = {
  missing: "does not exist",
  directory: "is a directory, not a file",
  "not-regular": "is not a regular file",
  empty: "is empty",
  "too-large": "is too large for a certificate or key",
  unreadable: "cannot be read",
};

const texts = new WeakMap<Uint8Array, string>();

/** A file's bytes as latin1 text (PEM's alphabet), converted once however many checks read it. */
export function latin1(bytes: Uint8Array): string {
  let text = texts.get(bytes);
  if (text === undefined) texts.set(bytes, (text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")));
  return text;
}

const labelLists = new WeakMap<Uint8Array, string[]>();

/** The labels of a file's BEGIN lines, well-formed blocks or not; read once per file (hosts share their CA). */
function beginLabels(bytes: Uint8Array): string[] {
  let labels = labelLists.get(bytes);
  if (!labels) labelLists.set(bytes, (labels = [...latin1(bytes).matchAll(/^-----BEGIN ([A-Z0-9 #-]+)-----/gm)].map((m) => m[1]!)));
  return labels;
}

export function checkReadable(f: FileInput): Check {
  const extra = { file: f.path };
  if (f.read.ok) return check("file-readable", "pass", f.label, `${f.shown}: readable, ${f.read.size} bytes`, extra);
  if (f.read.problem === "missing" && f.optional) {
    return check("file-readable", "skip", f.label, `${f.shown} (${f.setting}) is not on this host, and this role does not need it`, extra);
  }
  const remedy =
    f.read.problem === "missing" || f.read.problem === "directory"
      ? `set ${f.setting} to the ${f.label.replace(/^CA cert$/, "CA certificate")} file, or make it with skycert init`
      : f.read.problem === "unreadable"
        ? `run skycert validate as the user that runs Skydive (or root), or make ${f.shown} readable by that user`
        : `replace ${f.shown} with the PEM ${f.item.endsWith("Key") ? "private key" : "certificate"} it should hold`;
  return check("file-readable", "fail", f.label, `${f.shown} (${f.setting}) ${PROBLEM_TEXT[f.read.problem]}${f.read.detail ? ` (${f.read.detail})` : ""}`, { ...extra, remedy });
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, "0")}`;

export function checkFileMode(f: FileInput): Check | undefined {
  if (!f.read.ok) return undefined;
  const mode = f.read.mode & 0o777;
  const extra = { file: f.path };
  if (f.item.endsWith("Key")) {
    const loose: string[] = [];
    if (mode & 0o044) loose.push(`readable by ${who(mode, 0o040, 0o004)}`);
    if (mode & 0o022) loose.push(`writable by ${who(mode, 0o020, 0o002)}`);
    if (loose.length) {
      return check("file-mode", "fail", f.label, `${f.shown}: private key is mode ${octal(mode)}, ${loose.join(" and ")}`, { ...extra, remedy: `chmod 400 ${q(f.shown)}` });
    }
    return check("file-mode", "pass", f.label, `${f.shown}: mode ${octal(mode)}, owner only`, extra);
  }
  if (mode & 0o022) {
    return check("file-mode", "warn", f.label, `${f.shown}: certificate is mode ${octal(mode)}, writable by ${who(mode, 0o020, 0o002)}: it could be replaced`, { ...extra, remedy: `chmod 444 ${q(f.shown)}` });
  }
  return check("file-mode", "pass", f.label, `${f.shown}: mode ${octal(mode)}`, extra);
}

function who(mode: number, group: number, other: number): string {
  return [mode & group ? "group" : "", mode & other ? "others" : ""].filter(Boolean).join(" and ");
}

// ---------------------------------------------------------------------------
// pem-parse: what Go's tls.LoadX509KeyPair and CertPool.AppendCertsFromPEM accept

const looksDer = (b: Uint8Array) => b.length > 1 && b[0] === 0x30 && (b[1]! & 0x80) !== 0;
export const isKeyLabel = (label: string) => label === "PRIVATE KEY" || label.endsWith(" PRIVATE KEY");
const isEncrypted = (b: PemBlock) => b.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/i.test(b.headers["Proc-Type"] ?? "");

export function pemProblem(problem: ReturnType<typeof parsePem>["problem"]): string | undefined {
  switch (problem.kind) {
    case "none":
      return undefined;
    case "truncated":
      return `line ${problem.line}: "${problem.label}" block has no END line (truncated)`;
    case "mismatch":
      return `line ${problem.line}: END ${problem.end} closes BEGIN ${problem.begin}`;
    case "bad-base64":
      return `line ${problem.line}: "${problem.label}" block is not valid base64 (corrupted)`;
  }
}

/** Go's parser refuses these even where the parser behind CertInfo accepts them: what it says, and the fix. */
function goParseProblem(c: CertInfo): [problem: string, fix: string] | undefined {
  const seen = new Set<string>();
  for (const e of c.extensions) {
    if (seen.has(e.oid)) return [`x509: certificate contains duplicate extensions (${e.name})`, "with each extension once"];
    seen.add(e.oid);
  }
  const skid = c.extensions.find((e) => e.name === "subjectKeyIdentifier");
  if (skid?.critical) return ["x509: subject key identifier incorrectly marked critical", "with subjectKeyIdentifier not critical"];
  const akid = c.extensions.find((e) => e.name === "authorityKeyIdentifier");
  if (akid?.critical) return ["x509: authority key identifier incorrectly marked critical", "with authorityKeyIdentifier not critical"];
  if (c.invalidIpSans?.length) {
    return [`x509: cannot parse IP address: an IP subjectAltName is not 4 or 16 octets (${c.invalidIpSans.join(", ")})`, "with IP subjectAltNames that are IPv4 or IPv6 addresses"];
  }
  return undefined;
}

/** `read` is certinfo's readCertificate, passed in so that modules needing only the other checks (validate --fleet) never load the full certificate parser. */
export function parseCertFile(f: FileInput, read: (der: Uint8Array) => CertInfo): { check: Check; parsed?: ParsedCertFile } {
  const extra = { file: f.path };
  const fail = (message: string, remedy: string) => ({ check: check("pem-parse", "fail", f.label, `${f.shown}: ${message}`, { ...extra, remedy }) });
  if (!f.read.ok) return { check: check("pem-parse", "skip", f.label, `${f.shown}: not read (see file-readable)`, extra) };
  const bytes = f.read.bytes;
  const { blocks, problem } = parsePem(Buffer.from(bytes).toString("latin1"));
  const problemText = pemProblem(problem);
  const replace = `replace ${f.shown} with the certificate, PEM-encoded (a CERTIFICATE block)`;
  if (problemText) return fail(problemText, replace);
  const certBlocks = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certBlocks.length === 0) {
    if (blocks.some((b) => isKeyLabel(b.label))) {
      return fail(`holds a private key where a certificate should be`, `set ${f.setting} to the certificate (.crt), not the key; cert and key may be swapped`);
    }
    if (blocks.some((b) => b.label.includes("CERTIFICATE REQUEST"))) {
      return fail("holds a certificate request (CSR), not a certificate", `set ${f.setting} to the .crt file, not the .csr`);
    }
    if (blocks.length) return fail(`holds ${blocks.map((b) => b.label).join(", ")}, not a CERTIFICATE`, replace);
    if (looksDer(bytes)) return fail("is DER (binary); Skydive reads PEM only", `openssl x509 -inform der -in ${q(f.shown)} -out ${q(`${f.shown}.pem`)}, then point ${f.setting} at the .pem`);
    return fail("no PEM certificate found (garbage or not a certificate)", replace);
  }
  const certs: CertInfo[] = [];
  for (const [i, b] of certBlocks.entries()) {
    let c: CertInfo;
    try {
      c = read(b.der);
    } catch (err) {
      return fail(`certificate ${i + 1} (line ${b.line}) ${(err as Error).message.split("\n")[0]}`, replace);
    }
    const goProblem = goParseProblem(c);
    if (goProblem) return fail(`certificate ${i + 1} (line ${b.line}) is refused by Go's parser: ${goProblem[0]}`, reissueText(f, goProblem[1]));
    certs.push(c);
  }
  const parsed = { input: f, certs, pem: certBlocks.map((b) => toPem("CERTIFICATE", b.der)) };
  const summary = `${certs.length === 1 ? "1 certificate" : `${certs.length} certificates`}, ${certs[0]!.subject || "(empty subject)"}`;
  if (blocks.some((b) => isKeyLabel(b.label))) {
    return {
      check: check("pem-parse", "warn", f.label, `${f.shown}: ${summary}, but the file also holds a private key, and certificates are meant to be public`, { ...extra, remedy: `keep only the CERTIFICATE blocks in ${f.shown}; the key belongs in its own 0400 file` }),
      parsed,
    };
  }
  return { check: check("pem-parse", "pass", f.label, `${f.shown}: ${summary}`, extra), parsed };
}

function reissueText(f: FileInput, what: string): string {
  return `re-issue ${f.shown} ${what}`;
}

/** Go's parsePrivateKey: PKCS#1, PKCS#8 (RSA, ECDSA, Ed25519) or SEC1, unencrypted. */
export function parseKeyFile(f: FileInput): { check: Check; parsed?: ParsedKeyFile } {
  const extra = { file: f.path };
  const fail = (message: string, remedy: string) => ({ check: check("pem-parse", "fail", f.label, `${f.shown}: ${message}`, { ...extra, remedy }) });
  if (!f.read.ok) return { check: check("pem-parse", "skip", f.label, `${f.shown}: not read (see file-readable)`, extra) };
  const bytes = f.read.bytes;
  const { blocks, problem } = parsePem(Buffer.from(bytes).toString("latin1"));
  const problemText = pemProblem(problem);
  const replace = `replace ${f.shown} with the unencrypted private key, PEM-encoded (PKCS#8, PKCS#1 or SEC1)`;
  if (problemText) return fail(problemText, replace);
  const block = blocks.find((b) => isKeyLabel(b.label));
  if (!block) {
    if (blocks.some((b) => b.label === "CERTIFICATE")) {
      return fail("holds a certificate where a private key should be", `set ${f.setting} to the private key (.key), not the certificate; cert and key may be swapped`);
    }
    if (blocks.length) return fail(`holds ${blocks.map((b) => b.label).join(", ")}, not a PRIVATE KEY`, replace);
    if (looksDer(bytes)) return fail("is DER (binary); Skydive reads PEM only", `openssl pkey -inform der -in ${q(f.shown)} -out ${q(`${f.shown}.pem`)}, then point ${f.setting} at the .pem`);
    return fail("no PEM private key found (garbage or not a key)", replace);
  }
  if (isEncrypted(block)) {
    return fail(
      "private key is encrypted, and Skydive (Go's tls.LoadX509KeyPair) reads only unencrypted keys",
      `openssl pkey -in ${q(f.shown)} -out ${q(`${f.shown}.plain`)} (asks for the passphrase), chmod 400 it and point ${f.setting} at it`,
    );
  }
  let key: KeyObject | undefined;
  for (const type of ["pkcs1", "pkcs8", "sec1"] as const) {
    try {
      key = createPrivateKey({ key: Buffer.from(block.der), format: "der", type });
      break;
    } catch {
      /* next encoding */
    }
  }
  if (!key) return fail(`line ${block.line}: "${block.label}" block is not a PKCS#1, PKCS#8 or SEC1 private key`, replace);
  const type = key.asymmetricKeyType;
  if (type !== "rsa" && type !== "ec" && type !== "ed25519") {
    return fail(`is a ${String(type).toUpperCase()} key, which Go's TLS cannot use (RSA, ECDSA or Ed25519 only)`, "make an RSA 2048 key with skycert init");
  }
  const pem = key.export({ type: "pkcs8", format: "pem" }) as string;
  const details = key.asymmetricKeyDetails ?? {};
  const curves: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
  const size = type === "rsa" ? `RSA ${details.modulusLength}` : type === "ec" ? `EC ${curves[details.namedCurve ?? ""] ?? details.namedCurve}` : "Ed25519";
  return { check: check("pem-parse", "pass", f.label, `${f.shown}: ${size} private key (${block.label})`, extra), parsed: { input: f, key, pem } };
}

// ---------------------------------------------------------------------------
// Per-certificate checks


/** One certificate and the parts it plays in the deployment. */
export interface CertUse {
  item: ItemName;
  file: ParsedCertFile;
  cert: CertInfo;
  /** Position in its file: 0 is the leaf of an own pair. */
  index: number;
  label: string;
  role?: Role;
  /** Presented by a side in the handshake. */
  leaf: boolean;
  /** In a trust pool. */
  anchor: boolean;
  /** Signs another certificate of the chain (an intermediate or CA). */
  signer: boolean;
  /** The extended key usages Go checks it for. */
  usages: Usage[];
}

/** The uses of the certificates of one file: own pairs, CA files. */
export function certUses(file: ParsedCertFile, schema: Schema): CertUse[] {
  const item = file.input.item;
  const role: Role | undefined = item === "analyzerCert" ? "analyzer" : item === "agentCert" ? "agent" : undefined;
  return file.certs.map((cert, index) => {
    const label = file.certs.length > 1 ? `${file.input.label} #${index + 1}` : file.input.label;
    if (!role) return { item, file, cert, index, label, leaf: false, anchor: true, signer: true, usages: ["serverAuth", "clientAuth"] as Usage[] };
    const usages: Usage[] = [role === "analyzer" ? "serverAuth" : "clientAuth"];
    // Legacy cross validation loads the whole file as the other side's pool.
    const anchor = schema === "legacy";
    return { item, file, cert, index, label, role: index === 0 ? role : undefined, leaf: index === 0, anchor, signer: index > 0 || anchor, usages };
  });
}


export function checkKeyStrength(use: CertUse, ctx: RemedyContext): Check {
  const { publicKey: k } = use.cert;
  const extra = { file: use.file.input.path };
  const say = (status: Status, message: string, remedy?: string) => check("key-strength", status, use.label, `${use.file.input.shown}: ${message}`, { ...extra, remedy });
  if (k.type === "RSA") {
    if ((k.bits ?? 0) < 2048) return say("fail", `RSA ${k.bits}-bit key; at least 2048 bits are required`, reissue(ctx, use, "with an RSA key of at least 2048 bits"));
    if ((k.bits ?? 0) > 8192) return say("fail", `RSA ${k.bits}-bit key; Go's TLS refuses RSA keys over 8192 bits`, reissue(ctx, use, "with an RSA key of 2048 to 8192 bits"));
    const e = rsaExponent(k.spki);
    if (e !== undefined && (e < 3n || e % 2n === 0n || e > 0x7fffffffn)) return say("fail", `RSA public exponent ${e} is refused by Go`, reissue(ctx, use, "with a standard RSA key (exponent 65537)"));
    return say("pass", `RSA ${k.bits} bits`);
  }
  if (k.type === "EC") {
    if (k.curve === "P-256" || k.curve === "P-384" || k.curve === "P-521") return say("pass", `EC ${k.curve}`);
    return say("fail", `EC key on ${k.curve ?? "an unknown curve"}; Skydive's TLS accepts P-256, P-384 and P-521 only`, reissue(ctx, use, "with an RSA 2048 or EC P-256 key"));
  }
  if (k.type === "Ed25519") return say("pass", "Ed25519");
  return say("fail", `${k.type} key, which Go's TLS cannot use`, reissue(ctx, use, "with an RSA 2048 or EC P-256 key"));
}

function rsaExponent(spki: Uint8Array): bigint | undefined {
  try {
    const jwk = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).export({ format: "jwk" });
    return jwk.e ? BigInt(`0x${Buffer.from(jwk.e, "base64url").toString("hex")}`) : undefined;
  } catch {
    return undefined;
  }
}

export function checkSignatureAlgorithm(use: CertUse, ctx: RemedyContext): Check {
  const { signature: s } = use.cert;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  if (s.hash && WEAK_HASHES.has(s.hash)) {
    if (!use.leaf && use.anchor) {
      return check("signature-algorithm", "pass", use.label, `${shown}: ${s.name} ${isSelfSigned(use.cert) ? "self-signature" : "signature"} of a trust anchor, which Go never checks`, extra);
    }
    const why = use.leaf && use.anchor
      ? "Go accepts it here only because legacy cross validation makes this certificate its own trust anchor; every other verifier (a CA chain, openssl verify, browsers) rejects it"
      : "Go (since 1.18) rejects it: x509: cannot verify signature: insecure algorithm";
    return check("signature-algorithm", "fail", use.label, `${shown}: signed with ${s.name}; ${s.hash} signatures are not acceptable (${why})`, {
      ...extra,
      remedy: reissue(ctx, use, "signed with SHA-256"),
    });
  }
  if (s.name.startsWith("dsa")) {
    return check("signature-algorithm", "fail", use.label, `${shown}: signed with ${s.name}, which Go cannot verify`, { ...extra, remedy: reissue(ctx, use, "signed with sha256WithRSAEncryption") });
  }
  if (!s.oid) return check("signature-algorithm", "warn", use.label, `${shown}: unrecognised signature algorithm ${s.name}`, { ...extra, remedy: reissue(ctx, use, "signed with sha256WithRSAEncryption") });
  return check("signature-algorithm", "pass", use.label, `${shown}: ${s.name}`, extra);
}

export function checkValidity(use: CertUse, now: Date, warnDays: number, ctx: RemedyContext): Check {
  const { notBefore, notAfter } = use.cert;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  if (!notBefore || !notAfter) return check("validity", "fail", use.label, `${shown}: no validity period`, { ...extra, remedy: reissue(ctx, use, "") });
  if (now < notBefore) {
    return check("validity", "fail", use.label, `${shown}: not valid until ${isoDay(notBefore)} (${days(notBefore.getTime() - now.getTime()) + 1} days from now; check this host's clock)`, {
      ...extra,
      remedy: reissue(ctx, use, "with a start date in the past, or fix the clock of the host that made it"),
    });
  }
  if (now > notAfter) {
    return check("validity", "fail", use.label, `${shown}: expired on ${isoDay(notAfter)} (${days(now.getTime() - notAfter.getTime())} days ago)`, { ...extra, remedy: reissue(ctx, use, "") });
  }
  const left = days(notAfter.getTime() - now.getTime());
  if (left < warnDays) {
    return check("validity", "warn", use.label, `${shown}: expires on ${isoDay(notAfter)}, in ${left} days (under --warn-days ${warnDays})`, { ...extra, remedy: reissue(ctx, use, "before it expires") });
  }
  return check("validity", "pass", use.label, `${shown}: valid until ${isoDay(notAfter)} (${left} days)`, extra);
}

export function checkSerial(use: CertUse, ctx: RemedyContext): Check {
  const s = use.cert.serial;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  const remedy = reissue(ctx, use, "with a random positive serial of at most 20 octets");
  if (!s) return check("serial", "fail", use.label, `${shown}: no serial number`, { ...extra, remedy });
  if (s.negative) return check("serial", "fail", use.label, `${shown}: serial ${s.hex} is negative; Go (since 1.23) refuses to parse it: x509: negative serial number`, { ...extra, remedy });
  if (!s.minimal) return check("serial", "fail", use.label, `${shown}: serial ${s.hex} is not minimally encoded (a needless leading octet); Go refuses it as malformed`, { ...extra, remedy });
  if (/^0*$/.test(s.hex)) return check("serial", "fail", use.label, `${shown}: serial is zero; RFC 5280 requires a positive serial`, { ...extra, remedy });
  if (s.octets > 20) return check("serial", "fail", use.label, `${shown}: serial is ${s.octets} octets; RFC 5280 allows at most 20`, { ...extra, remedy });
  return check("serial", "pass", use.label, `${shown}: ${s.octets} octets, positive`, extra);
}

function roleOfUse(use: CertUse): string {
  if (use.item === "ca") return "a trust anchor by tls.ca_cert";
  if (use.leaf && use.anchor) return "its own trust anchor by legacy cross validation";
  return use.anchor ? "a trust anchor" : "a signer in the chain";
}

export function checkBasicConstraints(use: CertUse, ctx: RemedyContext): Check {
  const bc = use.cert.basicConstraints;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  if (use.anchor || use.signer) {
    if (!bc?.ca) {
      const has = bc ? "CA:FALSE" : use.cert.version === 1 ? "no basicConstraints (an X.509 v1 certificate)" : "no basicConstraints";
      return check("basic-constraints", "fail", use.label, `${shown}: has ${has}, but it is used as ${roleOfUse(use)}, which needs CA:TRUE`, {
        ...extra,
        remedy: reissue(ctx, use, "with basicConstraints = CA:TRUE (the seed's v3_req)"),
      });
    }
    return check("basic-constraints", "pass", use.label, `${shown}: CA:TRUE${bc.pathlen !== undefined ? `, pathlen ${bc.pathlen}` : ""} (used as ${roleOfUse(use)})`, extra);
  }
  return check("basic-constraints", "pass", use.label, `${shown}: ${bc ? (bc.ca ? "CA:TRUE" : "CA:FALSE") : "no basicConstraints"} (end-entity)`, extra);
}

export function checkKeyUsage(use: CertUse, ctx: RemedyContext): Check {
  const ku = use.cert.keyUsage;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  if (!ku) return check("key-usage", "pass", use.label, `${shown}: no keyUsage extension (any usage allowed)`, extra);
  const have = new Set<string>(ku.usages);
  const missing: string[] = [];
  if ((use.anchor || use.signer) && !have.has("keyCertSign")) missing.push(`keyCertSign (it is ${roleOfUse(use)})`);
  // Skydive's suites are all ECDHE: the certificate's key signs the key exchange.
  if (use.leaf && !have.has("digitalSignature")) missing.push("digitalSignature (ECDHE suites sign with the key)");
  const list = ku.usages.join(", ") || "(none)";
  if (missing.length) {
    return check("key-usage", "fail", use.label, `${shown}: keyUsage ${list} lacks ${missing.join(" and ")}`, {
      ...extra,
      remedy: reissue(ctx, use, `with keyUsage = ${use.leaf ? "digitalSignature, keyEncipherment" : "keyCertSign, cRLSign"}${use.leaf && use.anchor ? ", keyCertSign" : ""}`),
    });
  }
  return check("key-usage", "pass", use.label, `${shown}: ${list}`, extra);
}

export function checkExtendedKeyUsage(use: CertUse, ctx: RemedyContext): Check {
  const eku = use.cert.extendedKeyUsage;
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  if (!eku) return check("extended-key-usage", "pass", use.label, `${shown}: no extendedKeyUsage (Go accepts any usage)`, extra);
  const missing = use.usages.filter((u) => !eku.oids.includes(USAGE_OID[u]) && !eku.oids.includes(EKU_ANY));
  const list = eku.names.join(", ") || "(none)";
  if (missing.length) {
    const why = use.item === "ca" ? "Go checks the usage on every certificate of the chain, the CA included" : `the ${use.role ?? "chain"} ${use.usages.includes("serverAuth") ? "serves TLS" : "authenticates as a TLS client"}`;
    return check("extended-key-usage", "fail", use.label, `${shown}: extendedKeyUsage ${list} lacks ${missing.join(" and ")} (${why})`, {
      ...extra,
      remedy: reissue(ctx, use, "with extendedKeyUsage = serverAuth, clientAuth"),
    });
  }
  return check("extended-key-usage", "pass", use.label, `${shown}: ${list}`, extra);
}

function dnsAndIpSans(c: CertInfo) {
  return c.subjectAltNames.filter((s) => s.type === "DNS" || s.type === "IP");
}

export function checkSanPresent(use: CertUse, ctx: RemedyContext): Check {
  const extra = { file: use.file.input.path };
  const shown = use.file.input.shown;
  const sans = dnsAndIpSans(use.cert);
  if (sans.length) return check("san-present", "pass", use.label, `${shown}: ${sans.map(formatSan).join(", ")}`, extra);
  const cn = /(?:^|,\s*)CN=([^,]+)/.exec(use.cert.subject)?.[1];
  const base = `${shown}: no DNS or IP subjectAltName${cn ? `; Go (since 1.15) never uses the Common Name (CN=${cn})` : ""}`;
  if (use.role === "agent") {
    return check("san-present", "warn", use.label, `${base}. The analyzer does not check agent names, so agents still connect`, { ...extra, remedy: reissue(ctx, use, "with a subjectAltName naming the agent") });
  }
  return check("san-present", "fail", use.label, `${base}: agents cannot verify the analyzer`, { ...extra, remedy: reissue(ctx, use, "with subjectAltNames for every address agents dial") });
}

/** Go's VerifyHostname: IPs against IP SANs only, names against DNS SANs (one leftmost wildcard label), never the CN. */
export function goMatches(c: CertInfo, host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare)) {
    const want = normalIp(bare);
    return c.subjectAltNames.some((s) => s.type === "IP" && normalIp(s.value) === want);
  }
  const name = bare.toLowerCase().replace(/\.$/, "");
  if (!name) return false;
  const labels = name.split(".");
  return c.subjectAltNames.some((s) => {
    if (s.type !== "DNS") return false;
    const pattern = s.value.toLowerCase().replace(/\.$/, "").split(".");
    if (pattern.length !== labels.length) return false;
    return pattern.every((p, i) => (i === 0 && p === "*" && pattern.length > 2 ? labels[0] !== "" : p === labels[i]));
  });
}

function normalIp(address: string): string {
  const bytes = ipToBytes(address);
  // ::ffff:a.b.c.d is the same address as a.b.c.d for Go's net.IP.Equal.
  if (bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytesToIp(bytes.slice(12));
  return bytesToIp(bytes);
}

export function checkSanCoverage(use: CertUse, host: Host, ctx: RemedyContext): Check {
  const extra = { file: use.file.input.path, host: host.name };
  const shown = use.file.input.shown;
  const subject = `${use.label} for ${host.name}`;
  if (goMatches(use.cert, host.name)) {
    return check("san-coverage", "pass", subject, `${shown} covers ${host.name} (${host.source})`, extra);
  }
  const bare = host.name.replace(/^\[(.*)\]$/, "$1");
  const ip = isIP(bare) !== 0;
  const cn = /(?:^|,\s*)CN=([^,]+)/.exec(use.cert.subject)?.[1];
  const notes: string[] = [];
  if (ip && use.cert.subjectAltNames.some((s) => s.type === "DNS" && s.value === bare.toLowerCase())) notes.push(`it has DNS:${bare}, but Go matches an IP address against IP SANs only`);
  if (cn && cn.toLowerCase() === bare.toLowerCase()) notes.push(`only the Common Name matches, which Go never uses`);
  const list = dnsAndIpSans(use.cert).map(formatSan).join(", ") || "no DNS or IP SANs";
  const san = ip ? `IP:${bare}` : `DNS:${bare}`;
  return check(
    "san-coverage",
    "fail",
    subject,
    `${shown} does not cover ${host.name} (${host.source}): ${notes.length ? `${notes.join("; ")}; ` : ""}it has ${list}`,
    { ...extra, remedy: reissue(ctx, use, `with subjectAltName ${san}`, [bare]) },
  );
}

// ---------------------------------------------------------------------------
// key-match

export function checkKeyMatch(cert: ParsedCertFile, key: ParsedKeyFile, role: Role, ctx: RemedyContext): Check {
  const leaf = cert.certs[0]!;
  const extra = { file: key.input.path };
  const subject = `${role} key`;
  let same = false;
  try {
    same = createPublicKey(key.key).equals(createPublicKey({ key: Buffer.from(leaf.publicKey.spki), format: "der", type: "spki" }));
  } catch {
    same = false;
  }
  if (same) return check("key-match", "pass", subject, `${key.input.shown} is the key of ${cert.input.shown}`, extra);
  return check("key-match", "fail", subject, `${key.input.shown} is not the key of ${cert.input.shown} (the public keys differ)`, {
    ...extra,
    remedy: `point ${key.input.setting} at the key that made ${cert.input.shown} (keys may be swapped), or re-make the pair: ${initCommand(ctx, role, cert.input.path)}`,
  });
}

// ---------------------------------------------------------------------------
// trust

export interface TrustSide {
  role: Role;
  /** The side's own certificate file (leaf + intermediates). */
  presented: ParsedCertFile;
  /** The file(s) the other side loads as its pool. */
  pool: ParsedCertFile[];
  /** How the pool is configured, for messages: "analyzer.X509_cert", "tls.ca_cert". */
  poolSetting: string;
}

export function checkTrust(side: TrustSide, now: Date, ctx: RemedyContext): Check {
  const usage: Usage = side.role === "analyzer" ? "serverAuth" : "clientAuth";
  const other = side.role === "analyzer" ? "agents'" : "analyzer's";
  const pool = side.pool.flatMap((p) => p.certs);
  const extra = { file: side.presented.input.path };
  const subject = `${side.role} cert`;
  const poolShown = side.pool.map((p) => p.input.shown).join(", ");
  const r = goVerify(side.presented.certs, pool, usage, now);
  if (r.ok) {
    const chain = r.chain!.map(cn).join(" <- ");
    return check("trust", "pass", subject, `${side.presented.input.shown} verifies against the ${other} trust pool (${side.poolSetting} = ${poolShown}) for ${usage}: ${chain}`, extra);
  }
  const leaf = side.presented.certs[0]!;
  const remedy =
    ctx.schema === "legacy"
      ? isSelfSigned(leaf)
        ? initCommand(ctx, side.role, side.presented.input.path)
        : `re-issue ${side.presented.input.shown} from its CA valid now and with ${usage}`
      : isSelfSigned(leaf) && side.pool.every((p) => !p.certs.some((c) => sameDer(c, leaf)))
        ? `issue ${side.presented.input.shown} from the CA in ${side.poolSetting} (${poolShown}), or add this certificate to it`
        : `re-issue ${side.presented.input.shown} from the CA in ${poolShown} with ${usage}, or set ${side.poolSetting} to the CA that signed it`;
  return check("trust", "fail", subject, `${side.presented.input.shown} does not verify against the ${other} trust pool (${side.poolSetting} = ${poolShown}): ${r.error}`, {
    ...extra,
    remedy,
  });
}

// ---------------------------------------------------------------------------
// The Skydive config, as viper reads it

export interface ConfigFile {
  path: string;
  shown: string;
  /** The YAML document as plain data. */
  data: unknown;
}

export interface FileFlags {
  analyzerCert?: string;
  analyzerKey?: string;
  agentCert?: string;
  agentKey?: string;
  caCert?: string;
}

export interface ItemSpec {
  item: ItemName;
  label: string;
  setting: string;
  path: string;
  /** Not needed on this host (the other role's files in --role mode): missing is fine. */
  optional: boolean;
}

export interface Plan {
  schema: Schema;
  role: Role | undefined;
  items: Partial<Record<ItemName, ItemSpec>>;
  hosts: Host[];
  /** Problems and facts found while reading the settings (the `config` check). */
  checks: Check[];
  /** The analyzer key setting names a file that should not be here (--role agent). */
  strayAnalyzerKey?: ItemSpec;
}

/** Viper: nested maps, keys matched case-insensitively. */
export function lookup(data: unknown, dotted: string): unknown {
  let node: unknown = data;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    const map = node as Record<string, unknown>;
    if (Object.hasOwn(map, part)) {
      node = map[part];
      continue;
    }
    const want = part.toLowerCase();
    let found: string | undefined;
    for (const k in map) if (Object.hasOwn(map, k) && k.toLowerCase() === want) {
      found = k;
      break;
    }
    if (found === undefined) return undefined;
    node = map[found];
  }
  return node;
}

const typeName = (v: unknown) => (Array.isArray(v) ? "a list" : v === null ? "empty" : typeof v === "object" ? "a mapping" : `a ${typeof v}`);

const LABELS: Record<ItemName, string> = { analyzerCert: "analyzer cert", analyzerKey: "analyzer key", agentCert: "agent cert", agentKey: "agent key", ca: "CA cert" };
const FLAGS: Record<ItemName, string> = { analyzerCert: "--analyzer-cert", analyzerKey: "--analyzer-key", agentCert: "--agent-cert", agentKey: "--agent-key", ca: "--ca-cert" };

function schemaKeys(schema: Schema): Record<ItemName, string | undefined> {
  return schema === "legacy"
    ? { analyzerCert: LEGACY_KEYS.analyzer.cert, analyzerKey: LEGACY_KEYS.analyzer.key, agentCert: LEGACY_KEYS.agent.cert, agentKey: LEGACY_KEYS.agent.key, ca: undefined }
    : { analyzerCert: TLS_KEYS.analyzer.cert, analyzerKey: TLS_KEYS.analyzer.key, agentCert: TLS_KEYS.agent.cert, agentKey: TLS_KEYS.agent.key, ca: TLS_KEYS.ca };
}

/** `host:port`, `[v6]:port`, a bare IPv6 address or a bare name -> the host part. */
export function hostPart(address: string): string {
  const a = address.trim();
  const bracket = /^\[([^\]]+)\](?::\d*)?$/.exec(a);
  if (bracket) return bracket[1]!;
  if (isIP(a) === 6) return a;
  const colon = a.lastIndexOf(":");
  return colon >= 0 && a.indexOf(":") === colon ? a.slice(0, colon) : a;
}

const truthy = (v: unknown) => v === true || (typeof v === "string" && /^(true|1|yes|on)$/i.test(v.trim())) || v === 1;

/**
 * Which files this host's Skydive would use, from (highest first) the file
 * flags, SKYDIVE_* environment variables and the config file, as viper does.
 * Relative paths in the config resolve against the config file's folder.
 */
export function planDeployment(opts: {
  config?: ConfigFile;
  env: Record<string, string | undefined>;
  flags: FileFlags;
  hosts: string[];
  role?: Role;
  cwd: string;
}): Plan {
  const { config, env, flags, role } = opts;
  const checks: Check[] = [];
  const cfgShown = config?.shown ?? "(no config)";
  const cfgFail = (message: string, remedy: string, status: Status = "fail") => checks.push(check("config", status, config ? config.shown : "flags", message, { file: config?.path, remedy }));

  /** A setting from the environment, else the config; with its label. */
  const noEnv = Object.keys(env).length === 0;
  const get = (key: string): { value: unknown; label: string; base: string } | undefined => {
    const e = noEnv ? undefined : env[envName(key)];
    if (e !== undefined && e !== "") return { value: e, label: envName(key), base: opts.cwd };
    if (!config) return undefined;
    const v = lookup(config.data, key);
    if (v === undefined || v === null || v === "") return undefined;
    return { value: v, label: key, base: dirname(config.path) };
  };

  const has = (keys: (string | undefined)[]) => keys.some((k) => k !== undefined && get(k) !== undefined);
  const legacyKeys = schemaKeys("legacy");
  const tlsKeys = schemaKeys("tls");
  const legacySet = has(Object.values(legacyKeys));
  const tlsSet = has(Object.values(tlsKeys));
  const schema: Schema = flags.caCert || tlsSet ? "tls" : "legacy";
  if (legacySet && tlsSet) {
    cfgFail(
      `${cfgShown} sets both legacy analyzer.X509_*/agent.X509_* and modern tls.* keys; validating the tls.* ones (older Skydive versions read only the legacy keys)`,
      "keep the keys of the schema your Skydive version reads, and remove the others",
      "warn",
    );
  }

  const keys = schemaKeys(schema);
  const needed: Record<ItemName, "required" | "optional" | "unused"> =
    schema === "legacy"
      ? {
          analyzerCert: "required",
          analyzerKey: role === "agent" ? "unused" : "required",
          agentCert: "required",
          agentKey: role === "analyzer" ? "unused" : "required",
          ca: "unused",
        }
      : {
          analyzerCert: role === "agent" ? "optional" : "required",
          analyzerKey: role === "agent" ? "unused" : "required",
          agentCert: role === "analyzer" ? "optional" : "required",
          agentKey: role === "analyzer" ? "unused" : "required",
          ca: "required",
        };

  const items: Plan["items"] = {};
  let strayAnalyzerKey: ItemSpec | undefined;
  const missing: string[] = [];
  for (const item of Object.keys(LABELS) as ItemName[]) {
    const key = keys[item];
    const flag = flags[item === "ca" ? "caCert" : item];
    let spec: ItemSpec | undefined;
    if (flag) spec = { item, label: LABELS[item], setting: FLAGS[item], path: resolve(opts.cwd, flag), optional: false };
    else if (key) {
      const got = get(key);
      if (got !== undefined) {
        if (typeof got.value !== "string") {
          cfgFail(`${cfgShown}: ${got.label} is ${typeName(got.value)}, not a file path`, `set ${key} to the path of the ${LABELS[item]} file`);
          continue;
        }
        spec = { item, label: LABELS[item], setting: got.label, path: resolve(got.base, got.value), optional: false };
      }
    }
    if (item === "analyzerKey" && schema === "legacy" && role === "agent") {
      // Old Skydive switches TLS on only when analyzer.X509_cert and analyzer.X509_key are both set.
      if (!spec) {
        cfgFail(
          `${cfgShown}: analyzer.X509_key is not set; older Skydive agents switch TLS on only when analyzer.X509_cert and analyzer.X509_key are both set`,
          "set analyzer.X509_key to the path the key has on analyzer hosts (the file itself need not be on agents)",
          "warn",
        );
      } else strayAnalyzerKey = spec;
      continue;
    }
    if (needed[item] === "unused") continue;
    if (!spec) {
      if (needed[item] === "required") missing.push(key ? `${key} (or ${FLAGS[item]})` : FLAGS[item]);
      continue;
    }
    spec.optional = needed[item] === "optional";
    items[item] = spec;
  }
  if (missing.length) {
    const roles = [!items.analyzerCert && role !== "agent" ? "analyzer" : "", !items.agentCert && role !== "analyzer" ? "agent" : ""].filter(Boolean).join(" ") || "analyzer agent";
    const ctx: RemedyContext = { cwd: opts.cwd, config: config?.path, schema };
    const initHint = schema === "legacy" ? `run ${initCommand(ctx, roles as Role | "analyzer agent", undefined, [], false)}, or ` : "";
    cfgFail(
      `${config ? cfgShown : "no config file and no file flags"}: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set${schema === "legacy" && role === undefined ? "" : ` (needed ${role ? `on ${role === "analyzer" ? "an analyzer" : "an agent"} host` : "with the tls.* schema"})`}`,
      `${initHint}set ${missing.length === 1 ? "it" : "them"} to the files`,
    );
  }

  if (schema === "tls" && role !== "agent") {
    const rcc = get(TLS_KEYS.requireClientCert);
    if (!rcc || !truthy(rcc.value)) {
      checks.push(
        check("config", "warn", TLS_KEYS.requireClientCert, `${cfgShown}: tls.require_client_cert is ${rcc ? `${String(rcc.value)}` : "not set (default false)"}: the analyzer accepts agents that present no certificate at all`, {
          file: config?.path,
          remedy: `set tls.require_client_cert: true in ${config ? config.shown : "the analyzer's skydive.yml"}`,
        }),
      );
    } else checks.push(check("config", "pass", TLS_KEYS.requireClientCert, `${rcc.label} = true: agents must present a certificate`, { file: config?.path }));
  }
  if (schema === "legacy") {
    const insecure = get("agent.X509_insecure");
    if (insecure && truthy(insecure.value)) {
      checks.push(
        check("config", "warn", "agent.X509_insecure", `${cfgShown}: ${insecure.label} is true: agents skip verifying the analyzer (never for production)`, {
          file: config?.path,
          remedy: `remove agent.X509_insecure from ${config ? config.shown : "the config"}`,
        }),
      );
    }
  }

  // The names agents verify: agent.X509_servername when set, else what they dial.
  const hosts: Host[] = [];
  const servername = get("agent.X509_servername");
  if (servername && typeof servername.value === "string" && servername.value.trim()) {
    hosts.push({ name: servername.value.trim(), source: `${servername.label}; agents verify this name whatever they dial` });
  } else if (opts.hosts.length) {
    for (const h of opts.hosts) hosts.push({ name: hostPart(h), source: "--host" });
  } else {
    const analyzers = get("analyzers");
    const list = analyzers === undefined ? [] : Array.isArray(analyzers.value) ? analyzers.value : typeof analyzers.value === "string" ? analyzers.value.split(/[\s,]+/) : undefined;
    if (list === undefined) cfgFail(`${cfgShown}: analyzers is ${typeName(analyzers?.value)}, not a list of host:port entries`, "write analyzers: as a list, e.g. [10.0.0.4:8082]");
    for (const entry of list ?? []) {
      if (typeof entry !== "string" || !entry.trim()) {
        cfgFail(`${cfgShown}: analyzers entry ${JSON.stringify(entry)} is not a host:port string`, "write each analyzers entry as host:port, e.g. 10.0.0.4:8082");
        continue;
      }
      hosts.push({ name: hostPart(entry), source: `${analyzers!.label}: ${entry.trim()}` });
    }
    if (hosts.length === 0) {
      const listen = get("analyzer.listen");
      const listenHost = typeof listen?.value === "string" ? hostPart(listen.value) : "";
      const usable = listenHost && !["0.0.0.0", "::", "*"].includes(listenHost);
      hosts.push(
        usable
          ? { name: listenHost, source: `no analyzers: entries; ${listen!.label} = ${String(listen!.value)}` }
          : { name: "127.0.0.1", source: "no analyzers: entries; Skydive's default analyzer.listen 127.0.0.1:8082" },
      );
    }
  }
  const seen = new Set<string>();
  const unique = hosts.filter((h) => (seen.has(h.name.toLowerCase()) ? false : (seen.add(h.name.toLowerCase()), true)));
  return { schema, role, items, hosts: unique, checks, strayAnalyzerKey };
}

/** The `config` check on the files the settings name: present, and of the kind the key expects. */
export function checkConfigFiles(plan: Plan, inputs: FileInput[], config: ConfigFile | undefined, stray: { path: string; exists: boolean } | undefined): Check[] {
  const out: Check[] = [...plan.checks];
  const subject = config ? config.shown : "flags";
  let problems = 0;
  for (const f of inputs) {
    if (!f.read.ok) {
      if (f.read.problem === "missing" && f.optional) continue;
      if (f.read.problem === "missing" || f.read.problem === "directory") {
        problems++;
        out.push(check("config", "fail", subject, `${f.setting} names ${f.shown}, which ${PROBLEM_TEXT[f.read.problem]}`, { file: f.path, remedy: `set ${f.setting} to the ${f.label} file` }));
      }
      continue;
    }
    // Only the kinds of block matter here, not their contents (pem-parse judges those).
    const labels = beginLabels(f.read.bytes);
    const wantKey = f.item.endsWith("Key");
    const hasCert = labels.includes("CERTIFICATE");
    const hasKey = labels.some(isKeyLabel);
    if (wantKey && !hasKey && hasCert) {
      problems++;
      out.push(check("config", "fail", subject, `${f.setting} names ${f.shown}, a certificate, where the ${f.label} belongs`, { file: f.path, remedy: `set ${f.setting} to the private key file; the cert and key settings may be swapped` }));
    } else if (!wantKey && !hasCert && hasKey) {
      problems++;
      out.push(check("config", "fail", subject, `${f.setting} names ${f.shown}, a private key, where the ${f.label} belongs`, { file: f.path, remedy: `set ${f.setting} to the certificate file; the cert and key settings may be swapped` }));
    }
  }
  if (stray?.exists) {
    out.push(
      check("config", "warn", "analyzer key", `${stray.path}: the analyzer's private key is on this agent host; it belongs on analyzer hosts only`, {
        file: stray.path,
        remedy: `remove ${stray.path} from agent hosts (keep analyzer.X509_key set in the config)`,
      }),
    );
  }
  const failed = out.some((c) => c.status === "fail");
  if (!failed && problems === 0 && inputs.length) {
    const schemaText = plan.schema === "legacy" ? "legacy schema (analyzer.X509_*, agent.X509_*; cross validation)" : "tls.* schema (one CA in tls.ca_cert)";
    out.unshift(
      check("config", "pass", subject, `${config ? `${config.shown}: ` : ""}${schemaText}; ${inputs.map((f) => `${f.setting} = ${f.shown}`).join(", ")}${plan.role ? ` (checking what ${plan.role === "analyzer" ? "an analyzer" : "an agent"} host needs)` : ""}`, { file: config?.path }),
    );
  }
  return out;
}
