/**
 * Go itself judges trust: every verdict `skycert validate` takes from Go's
 * crypto/x509 compiled to WebAssembly (go/skydive-tls, src/skydive/go-tls.ts)
 * is compared with a native Go peer's (test/peers/go-judge, built here with the
 * same Go) on a corpus made at test time with openssl, plus DER edited and
 * signed again where openssl cannot make a case.
 *
 * Each variant is a tls.* host as Skydive reads it: tls.server_cert and
 * tls.client_cert name the leaf's chain file, tls.server_key and
 * tls.client_key its key, tls.ca_cert the roots file, require_client_cert on.
 * All variants are validated in one `skycert validate --fleet` run (a fleet
 * record made by hand, every host an analyzer, every name below as what
 * agents dial), and a sample once more with `--config --role analyzer --host`.
 *
 *   skycert                                  native Go (go-judge)
 *   pem-parse, server cert: fail         <->  a CERTIFICATE block of the chain file that x509.ParseCertificate refuses, or none
 *   pem-parse, client CAs: fail          <->  x509.CertPool.AppendCertsFromPEM(roots) is false (Skydive's SetupTLSLoadCA)
 *   key-match, server pair               <->  tls.LoadX509KeyPair(chain, key)
 *   trust, server pair / client pair     <->  every block of the chain file parsed (a peer's crypto/tls refuses the
 *                                             handshake otherwise), then leaf.Verify{Roots, Intermediates: the rest,
 *                                             KeyUsages [serverAuth] / [clientAuth], CurrentTime}
 *   san-coverage, per dialed name        <->  leaf.VerifyHostname(name)
 *
 * Go's text must be the same, byte for byte. A check validate leaves out
 * because an earlier step failed must be one the native peer refuses at that
 * step too. One policy, not a verdict: --host refuses names with an underscore
 * or a trailing dot, which Go would match; those names reach Go through the
 * fleet record's analyzers: entries.
 *
 * Both judges use the same instant: skycert runs under libfaketime with a
 * frozen clock, half a second past a whole second, so notBefore and notAfter
 * edges fall on either side of it.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGoTls } from "../src/skydive/go-tls.js";
import { type JudgeResponse, type JudgeVerdict, judge } from "./helpers/go-judge.js";
import { BIN, ok, openssl, scratch, tool } from "./helpers/run.js";

// ---------------------------------------------------------------------------
// The instant both judges use
// ---------------------------------------------------------------------------

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Tomorrow (certificates openssl makes now are valid then), at .500 of a second. */
const NOW_MS = Math.floor(Date.now() / SECOND) * SECOND + DAY + 500;
const NOW = new Date(NOW_MS);
/** The whole second just before NOW. */
const FLOOR = NOW_MS - 500;

const FAKETIME_LIB = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketime.so.1"].find((p) => existsSync(p));

/** skycert's clock frozen at NOW (libfaketime, absolute: the clock stands still; monotonic time untouched so timers run). */
function frozenClock(): NodeJS.ProcessEnv {
  if (!FAKETIME_LIB) throw new Error("libfaketime not found (Debian: apt-get install faketime): the differential needs skycert's clock at a known instant");
  const iso = NOW.toISOString(); // 2026-12-02T19:01:07.500Z
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: `${iso.slice(0, 10)} ${iso.slice(11, 23)}`, FAKETIME_DONT_FAKE_MONOTONIC: "1", TZ: "UTC" };
}

// ---------------------------------------------------------------------------
// DER, edited by hand (after /tmp/oldtests/der-surgery.ts): a real certificate's
// TBS is changed here, independently of skycert's code, and signed again by
// `openssl dgst -sign` with the issuer's key.
// ---------------------------------------------------------------------------

interface Tlv {
  tag: number;
  /** Whole encoding: header and content. */
  raw: Buffer;
  content: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv & { end: number } {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
    head += n;
  }
  const end = at + head + len;
  return { tag, raw: buf.subarray(at, end), content: buf.subarray(at + head, end), end };
}

function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < content.length; ) {
    const t = readTlv(content, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** DER TLV; `longForm` spells a short length the long way (0x81 n), which DER forbids. */
function encode(tag: number, content: Buffer, longForm = false): Buffer {
  const n = content.length;
  const len =
    n < 0x80 && !longForm ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const pemToDer = (pem: string) => Buffer.from(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem)![1]!.replace(/\s+/g, ""), "base64");
const derToPem = (der: Buffer, label = "CERTIFICATE") => `-----BEGIN ${label}-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;

/** The TBS fields: [0] version (absent in v1), serial, signature, issuer, validity, subject, spki, [3] extensions. */
type TbsEdit = (fields: Tlv[]) => Buffer[];
const at = (fields: Tlv[], name: "serial" | "signature" | "issuer" | "validity" | "subject" | "spki") =>
  (fields[0]!.tag === 0xa0 ? 1 : 0) + ["serial", "signature", "issuer", "validity", "subject", "spki"].indexOf(name);
const replaceField = (name: Parameters<typeof at>[1], raw: Buffer): TbsEdit => (f) => f.map((t, i) => (i === at(f, name) ? raw : t.raw));

const OID = {
  basicConstraints: Buffer.from([0x55, 0x1d, 0x13]),
  subjectAltName: Buffer.from([0x55, 0x1d, 0x11]),
};

/** Repeat the extension with `oid` at the end of the extension list. */
const duplicateExtension = (oid: Buffer): TbsEdit => (f) =>
  f.map((t) => {
    if (t.tag !== 0xa3) return t.raw;
    const exts = children(readTlv(t.content, 0).content);
    const dup = exts.find((e) => children(e.content)[0]!.content.equals(oid));
    if (!dup) throw new Error("extension to duplicate not found");
    return encode(0xa3, encode(0x30, Buffer.concat([...exts.map((e) => e.raw), dup.raw])));
  });

/** Serial INTEGER content as given (negative, over-long, not minimal...). */
const serialContent = (content: Buffer): TbsEdit => replaceField("serial", encode(0x02, content));

/** A v1 certificate: no version field, no extensions. */
const toV1: TbsEdit = (f) => f.filter((t) => t.tag !== 0xa0 && t.tag !== 0xa3).map((t) => t.raw);

/** The version field [0] { INTEGER 2 } with a needless long-form length. */
const longFormVersion: TbsEdit = (f) => f.map((t) => (t.tag === 0xa0 ? encode(0xa0, t.content, true) : t.raw));

// Validity times, written out as text so that malformed ones can be made too.
const pad = (n: number, w = 2) => String(n).padStart(w, "0");
function clock(d: Date, seconds = true): string {
  return `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${seconds ? pad(d.getUTCSeconds()) : ""}`;
}
/** UTCTime: YYMMDDhhmm[ss]Z, or a zone such as +0100 (the clock then reads local time). */
const utc = (ms: number, o: { seconds?: boolean; zone?: string; offsetMinutes?: number } = {}) => {
  const d = new Date(ms + (o.offsetMinutes ?? 0) * MINUTE);
  return encode(0x17, Buffer.from(`${pad(d.getUTCFullYear() % 100)}${clock(d, o.seconds ?? true)}${o.zone ?? "Z"}`, "latin1"));
};
/** GeneralizedTime: YYYYMMDDhhmmss[.f]Z. */
const gen = (ms: number, fraction = "") => {
  const d = new Date(ms);
  return encode(0x18, Buffer.from(`${d.getUTCFullYear()}${clock(d)}${fraction}Z`, "latin1"));
};
const raw = (tag: number, text: string) => encode(tag, Buffer.from(text, "latin1"));
const validity = (notBefore: Buffer, notAfter: Buffer): TbsEdit => replaceField("validity", encode(0x30, Buffer.concat([notBefore, notAfter])));

// ---------------------------------------------------------------------------
// The corpus: keys, certificates and files made with openssl
// ---------------------------------------------------------------------------

type KeySpec = "ec256" | "ec384" | "ec521" | "rsa1024" | "rsa2048" | "rsa4096" | "ed25519" | "ed448" | "p192" | "rsa-pss" | "explicit";
interface Pair {
  crt: string;
  key: string;
}

class Corpus {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  write(name: string, data: string | Buffer): string {
    writeFileSync(this.path(name), data);
    return this.path(name);
  }
  read(path: string): string {
    return readFileSync(path, "latin1");
  }

  /** PKCS#8 PEM, except "explicit" (SEC1 with the curve's parameters spelt out, as `openssl ecparam -param_enc explicit` makes). */
  key(name: string, spec: KeySpec): string {
    const out = this.path(`${name}.key`);
    const gen = (...opts: string[]) => ok(openssl(["genpkey", ...opts, "-out", out]), `genpkey ${spec}`);
    if (spec.startsWith("ec")) gen("-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:P-${spec.slice(2)}`);
    else if (spec === "p192") gen("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-192");
    else if (spec.startsWith("rsa") && spec !== "rsa-pss") gen("-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${spec.slice(3)}`);
    else if (spec === "rsa-pss") gen("-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048");
    else if (spec === "ed25519") gen("-algorithm", "ED25519");
    else if (spec === "ed448") gen("-algorithm", "ED448");
    else ok(openssl(["ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-genkey", "-noout", "-out", out]), "ecparam explicit");
    return out;
  }

  /** The same key in another PEM form: SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY", SEC1 with explicit parameters, or encrypted PKCS#8. */
  convert(key: string, name: string, to: "sec1" | "pkcs1" | "explicit" | "encrypted"): string {
    const out = this.path(`${name}.key`);
    if (to === "sec1") ok(openssl(["ec", "-in", key, "-out", out]), "openssl ec");
    else if (to === "explicit") ok(openssl(["ec", "-in", key, "-param_enc", "explicit", "-out", out]), "openssl ec explicit");
    else if (to === "pkcs1") ok(openssl(["rsa", "-in", key, "-traditional", "-out", out]), "openssl rsa -traditional");
    else ok(openssl(["pkcs8", "-topk8", "-in", key, "-v2", "aes-256-cbc", "-passout", `file:${this.write(`${name}.pass`, "differential\n")}`, "-out", out]), "openssl pkcs8 -topk8");
    return out;
  }

  private cnf(name: string, ext: string): string {
    return this.write(`${name}.cnf`, `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${ext}\n[dir_sect]\nCN = Differential Directory\n`);
  }

  /** A self-signed certificate (`openssl req -x509`); without `ext`, X.509 v1. */
  selfSigned(name: string, o: { key: string; subj: string; ext?: string; md?: string; days?: number }): Pair {
    const crt = this.path(`${name}.crt`);
    const args = ["req", "-x509", "-new", "-key", o.key, "-subj", o.subj, "-days", String(o.days ?? 365), `-${o.md ?? "sha256"}`, "-config", this.cnf(name, o.ext ?? ""), "-out", crt];
    if (o.ext) args.push("-extensions", "ext");
    ok(openssl(args), `req -x509 ${name}`);
    return { crt, key: o.key };
  }

  /** A certificate `ca` signs (`openssl x509 -req`); without `ext`, X.509 v1. */
  issue(name: string, o: { key: string; subj: string; ca: Pair; ext?: string; md?: string; days?: number; serial?: string; sigopt?: string[] }): Pair {
    const csr = this.path(`${name}.csr`);
    const crt = this.path(`${name}.crt`);
    const cnf = this.cnf(name, o.ext ?? "");
    ok(openssl(["req", "-new", "-key", o.key, "-subj", o.subj, "-config", cnf, "-out", csr]), `req ${name}`);
    const args = ["x509", "-req", "-in", csr, "-CA", o.ca.crt, "-CAkey", o.ca.key, "-days", String(o.days ?? 365), `-${o.md ?? "sha256"}`, "-out", crt];
    args.push("-set_serial", o.serial ?? `0x40${randomBytes(15).toString("hex")}`);
    if (o.ext) args.push("-extfile", cnf, "-extensions", "ext");
    for (const s of o.sigopt ?? []) args.push("-sigopt", s);
    ok(openssl(args), `x509 -req ${name}`);
    return { crt, key: o.key };
  }

  /** `src` with its TBS edited, signed again with `signer` (SHA-256: every certificate edited here is signed so). */
  edit(name: string, src: Pair, signer: string, edit: TbsEdit): Pair {
    const cert = readTlv(pemToDer(this.read(src.crt)), 0);
    const [tbs, sigAlg] = children(cert.content);
    const newTbs = encode(0x30, Buffer.concat(edit(children(tbs!.content))));
    const tbsPath = this.write(`${name}.tbs`, newTbs);
    const sigPath = this.path(`${name}.sig`);
    ok(openssl(["dgst", "-sha256", "-sign", signer, "-out", sigPath, tbsPath]), `dgst -sign ${name}`);
    const der = encode(0x30, Buffer.concat([newTbs, sigAlg!.raw, encode(0x03, Buffer.concat([Buffer.from([0]), readFileSync(sigPath)]))]));
    return { crt: this.write(`${name}.crt`, derToPem(der)), key: src.key };
  }

  der(crt: string): Buffer {
    return pemToDer(this.read(crt));
  }

  /** A file of the given parts: a string is a file to copy, a Buffer or { text } is written as it is. */
  bundle(name: string, parts: (string | Buffer | { text: string })[]): string {
    return this.write(name, Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === "string" ? readFileSync(p) : Buffer.from(p.text, "latin1")))));
  }
}

// ---------------------------------------------------------------------------
// The variants
// ---------------------------------------------------------------------------

/** What the native judge is expected to say: the corpus really makes the case it names. RegExps match `stage: error`. */
interface NativeExpect {
  /** The chain file: every block parses, or some block's error. */
  chain?: "ok" | RegExp;
  /** The roots file: AppendCertsFromPEM true with every block parsed ("ok"), true with a block refused (RegExp), or false ("refused"). */
  roots?: "ok" | "refused" | RegExp;
  key?: "ok" | RegExp;
  server?: "ok" | RegExp;
  client?: "ok" | RegExp;
  /** name -> VerifyHostname ok */
  names?: Record<string, boolean>;
}

interface Variant {
  id: string;
  what: string;
  chain: string;
  key: string;
  roots: string;
  expect: NativeExpect;
  /** Also validated alone with --config --role analyzer --host. */
  single?: boolean;
}

/** What agents dial, for every variant: the fleet record's analyzers: entries (as written, port 8082). */
const NAMES = [
  "analyzer.example",
  "10.0.0.4",
  "fd00::4",
  "other.example",
  "10.0.0.5",
  "example",
  "x.example",
  "a.b.example",
  "abc.example",
  "x.analyzer.example",
  "a.b.analyzer.example",
  "under_score.example",
  "mixed.EXAMPLE",
  "dotted.example",
  "dotted.example.",
  "analyzer.example.",
  "fd00:0:0:0:0:0:0:4",
  "::ffff:10.0.0.4",
  "analyzer",
];
/** The names a single run passes with --host: those --host takes as written (it lower-cases names and writes IPs canonically, and refuses underscores and trailing dots). */
const SINGLE_NAMES = ["analyzer.example", "10.0.0.4", "fd00::4", "other.example", "10.0.0.5", "example", "x.example", "a.b.example", "x.analyzer.example"];
const entry = (name: string) => (name.includes(":") ? `[${name}]:8082` : `${name}:8082`);

const CA_A = "/CN=Differential CA A";
const CA_EXT = "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash";
const SANS = "DNS:analyzer.example, IP:10.0.0.4, IP:fd00::4";
function leafExt(o: { san?: string | null; eku?: string | null; ku?: string | null; extra?: string } = {}): string {
  return [
    "basicConstraints = CA:FALSE",
    o.ku === null ? "" : `keyUsage = critical, ${o.ku ?? "digitalSignature"}`,
    o.eku === null ? "" : `extendedKeyUsage = ${o.eku ?? "serverAuth, clientAuth"}`,
    o.san === null ? "" : `subjectAltName = ${o.san ?? SANS}`,
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid",
    o.extra ?? "",
  ]
    .filter(Boolean)
    .join("\n");
}
const STD_NAMES = { "analyzer.example": true, "10.0.0.4": true, "fd00::4": true, "fd00:0:0:0:0:0:0:4": true, "other.example": false, "10.0.0.5": false, "analyzer.example.": true } as const;

function buildCorpus(c: Corpus): Variant[] {
  const v: Variant[] = [];
  const add = (x: Variant) => v.push(x);

  // Shared material. ECDSA P-256 wherever the key type does not matter.
  const leafKey = c.key("leaf", "ec256");
  const caA = c.selfSigned("ca-a", { key: c.key("ca-a", "ec256"), subj: CA_A, ext: CA_EXT });
  const caB = c.selfSigned("ca-b", { key: c.key("ca-b", "ec256"), subj: "/CN=Differential CA B", ext: CA_EXT });
  const caRsa = c.selfSigned("ca-rsa", { key: c.key("ca-rsa", "rsa2048"), subj: "/CN=Differential RSA CA", ext: CA_EXT });
  const leaf = (name: string, o: { key?: string; ca?: Pair; ext?: string; subj?: string; md?: string; serial?: string; sigopt?: string[] } = {}) =>
    c.issue(name, { key: o.key ?? leafKey, subj: o.subj ?? `/CN=${name}`, ca: o.ca ?? caA, ext: o.ext ?? leafExt(), md: o.md, serial: o.serial, sigopt: o.sigopt });
  const std = leaf("std");
  const rootsA = caA.crt;
  const plain = (id: string, what: string, pair: Pair, expect: NativeExpect, o: { roots?: string; key?: string; single?: boolean } = {}) =>
    add({ id, what, chain: pair.crt, key: o.key ?? pair.key, roots: o.roots ?? rootsA, expect, ...(o.single ? { single: true } : {}) });

  // --- keys and algorithms -------------------------------------------------
  plain("ec-p256", "ECDSA P-256 leaf under an ECDSA P-256 CA (the baseline)", std, { chain: "ok", roots: "ok", key: "ok", server: "ok", client: "ok", names: STD_NAMES }, { single: true });
  plain("ec-p384", "ECDSA P-384 leaf", leaf("p384", { key: c.key("p384", "ec384") }), { server: "ok", key: "ok" });
  plain("ec-p521", "ECDSA P-521 leaf", leaf("p521", { key: c.key("p521", "ec521") }), { server: "ok", key: "ok" });
  for (const bits of [1024, 2048, 4096] as const) {
    plain(`rsa-${bits}`, `RSA ${bits} leaf under an RSA CA`, leaf(`rsa${bits}`, { key: c.key(`rsa${bits}`, `rsa${bits}`), ca: caRsa }), { server: "ok", key: "ok" }, { roots: caRsa.crt });
  }
  const rsa2048 = { crt: c.path("rsa2048.crt"), key: c.path("rsa2048.key") };
  plain("rsa-pkcs1-key", "RSA leaf, key file in PKCS#1 (RSA PRIVATE KEY)", rsa2048, { key: "ok", server: "ok" }, { roots: caRsa.crt, key: c.convert(rsa2048.key, "rsa2048-pkcs1", "pkcs1") });
  plain("ec-sec1-key", "ECDSA leaf, key file in SEC1 (EC PRIVATE KEY)", std, { key: "ok" }, { key: c.convert(leafKey, "leaf-sec1", "sec1") });
  plain("ec-sec1-explicit-key", "named-curve leaf, its key in SEC1 with explicit curve parameters", std, { key: /keyPair/ }, { key: c.convert(leafKey, "leaf-explicit", "explicit") });
  plain("key-encrypted", "key file encrypted (PKCS#8, AES-256)", std, { key: /keyPair/ }, { key: c.convert(leafKey, "leaf-encrypted", "encrypted") });
  plain("key-mismatch", "key file of another key", std, { key: /keyPair: tls: private key does not match public key/ }, { key: c.key("other", "ec256") });
  plain("ed25519", "Ed25519 leaf", leaf("ed25519", { key: c.key("ed25519", "ed25519") }), { chain: "ok", key: "ok", server: "ok" });
  plain("ed448", "Ed448 leaf (a key Go does not know)", leaf("ed448", { key: c.key("ed448", "ed448") }), { chain: "ok", key: /keyPair: tls: failed to parse private key/ });
  plain("rsa-pss-key", "RSA-PSS (id-RSASSA-PSS) leaf key", leaf("rsapss", { key: c.key("rsapss", "rsa-pss"), ca: caRsa }), { chain: "ok", key: /keyPair: tls: failed to parse private key/ }, { roots: caRsa.crt });
  plain("rsa-pss-signature", "RSA leaf signed RSASSA-PSS, salt as long as the digest", leaf("pss-signed", { key: rsa2048.key, ca: caRsa, sigopt: ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"] }), { server: "ok" }, { roots: caRsa.crt });
  plain("rsa-pss-signature-max-salt", "RSA leaf signed RSASSA-PSS with openssl's default (maximal) salt", leaf("pss-max-salt", { key: rsa2048.key, ca: caRsa, sigopt: ["rsa_padding_mode:pss"] }), { server: /algorithm unimplemented/ }, { roots: caRsa.crt });
  plain("p192", "ECDSA P-192 leaf", leaf("p192", { key: c.key("p192", "p192") }), { chain: /parse: x509: unsupported elliptic curve/ });
  plain("explicit-curve", "leaf whose key has explicit curve parameters", leaf("explicit", { key: c.key("explicit", "explicit") }), { chain: /parse: / });
  const caExplicit = c.selfSigned("ca-explicit", { key: c.key("ca-explicit", "explicit"), subj: "/CN=Differential Explicit CA", ext: CA_EXT });
  plain("ca-explicit-curve", "CA whose key has explicit curve parameters", leaf("under-explicit", { ca: caExplicit }), { roots: "refused", server: /roots/ }, { roots: caExplicit.crt });
  plain("ca-p384", "ECDSA P-384 CA", leaf("under-p384", { ca: c.selfSigned("ca-p384", { key: c.key("ca-p384", "ec384"), subj: "/CN=Differential P-384 CA", ext: CA_EXT }) }), { server: "ok" }, { roots: c.path("ca-p384.crt") });

  // --- signatures --------------------------------------------------------------
  plain("sha1-rsa", "leaf signed SHA1-RSA", leaf("sha1", { key: rsa2048.key, ca: caRsa, md: "sha1" }), { server: /insecure algorithm SHA1-RSA/, client: /insecure algorithm SHA1-RSA/ }, { roots: caRsa.crt });
  plain("md5-rsa", "leaf signed MD5-RSA", leaf("md5", { key: rsa2048.key, ca: caRsa, md: "md5" }), { server: /MD5-RSA/ }, { roots: caRsa.crt });
  plain("sha1-ecdsa", "leaf signed ECDSA-SHA1", leaf("ecdsa-sha1", { md: "sha1" }), { server: /insecure algorithm ECDSA-SHA1/ });
  plain("sha512-rsa", "leaf signed SHA512-RSA", leaf("sha512", { key: rsa2048.key, ca: caRsa, md: "sha512" }), { server: "ok" }, { roots: caRsa.crt });
  const caRsaSha1 = c.selfSigned("ca-rsa-sha1", { key: caRsa.key, subj: "/CN=Differential RSA CA", ext: CA_EXT, md: "sha1" });
  plain("sha1-root", "SHA-1 self-signed root (a root's own signature is never checked)", rsa2048, { server: "ok" }, { roots: caRsaSha1.crt });
  plain("md5-root", "MD5 self-signed root", rsa2048, { server: "ok" }, { roots: c.selfSigned("ca-rsa-md5", { key: caRsa.key, subj: "/CN=Differential RSA CA", ext: CA_EXT, md: "md5" }).crt });

  // --- serials -------------------------------------------------------------------
  plain("serial-negative", "negative serial (Go 1.19 still parses it)", leaf("serial-neg", { serial: "-0x0123456789" }), { chain: "ok", server: "ok" });
  plain("serial-long", "serial of 25 octets", leaf("serial-long", { serial: "0x7f0102030405060708090a0b0c0d0e0f101112131415161718" }), { chain: "ok", server: "ok" });
  plain("serial-zero", "serial 0", leaf("serial-zero", { serial: "0" }), { chain: "ok" });
  plain("serial-high-bit", "20-octet serial with its high bit set (a leading zero octet, 21 in DER)", leaf("serial-high", { serial: "0x8001020304050607080910111213141516171819" }), { chain: "ok" });
  plain("serial-not-minimal", "serial with a needless leading zero octet", c.edit("serial-nonmin", std, caA.key, serialContent(Buffer.from([0x00, 0x01, 0x02]))), { chain: /parse: x509: malformed serial number/ });
  plain("serial-negative-der", "negative serial written by hand (0xff 0x01)", c.edit("serial-neg-der", std, caA.key, serialContent(Buffer.from([0xff, 0x01]))), { chain: "ok" });

  // --- validity ------------------------------------------------------------------
  const valid = (id: string, what: string, nb: Buffer, na: Buffer, expect: NativeExpect, single = false) =>
    plain(id, what, c.edit(id, std, caA.key, validity(nb, na)), expect, { single });
  valid("expired", "expired a day ago", utc(NOW_MS - 2 * DAY), utc(NOW_MS - DAY), { server: /expired/, client: /expired/ }, true);
  valid("not-yet-valid", "valid from tomorrow", utc(NOW_MS + DAY), utc(NOW_MS + 2 * DAY), { server: /not yet valid/ });
  valid("notafter-edge-past", "notAfter the whole second before now (now is .5 s past it)", utc(NOW_MS - DAY), utc(FLOOR), { server: /expired/ }, true);
  valid("notafter-edge-future", "notAfter the whole second after now", utc(NOW_MS - DAY), utc(FLOOR + SECOND), { server: "ok" });
  valid("notbefore-edge-future", "notBefore the whole second after now", utc(FLOOR + SECOND), utc(NOW_MS + DAY), { server: /expired or is not yet valid/ });
  valid("notbefore-edge-now", "notBefore the whole second before now", utc(FLOOR), utc(NOW_MS + DAY), { server: "ok" });
  valid("generalized-fraction", "notAfter in GeneralizedTime with a fraction of a second", utc(NOW_MS - DAY), gen(FLOOR + DAY, ".5"), { chain: /parse: / });
  valid("generalized-fraction-edge", "notAfter GeneralizedTime .9 s past the second before now", utc(NOW_MS - DAY), gen(FLOOR, ".9"), { chain: /parse: / });
  valid("generalized-before-2050", "GeneralizedTime for dates before 2050 (RFC 5280 wants UTCTime)", gen(NOW_MS - DAY), gen(NOW_MS + DAY), { chain: "ok", server: "ok" });
  valid("utctime-no-seconds", "UTCTime without seconds (YYMMDDhhmmZ)", utc(NOW_MS - DAY, { seconds: false }), utc(NOW_MS + DAY, { seconds: false }), { chain: "ok", server: "ok" });
  valid("utctime-no-seconds-edge", "UTCTime without seconds: notAfter this very minute", utc(NOW_MS - DAY), utc(NOW_MS, { seconds: false }), { server: /expired/ });
  valid("utctime-offset-expired", "UTCTime with +0100: 30 minutes ago, local clock reading 30 minutes ahead", utc(NOW_MS - DAY), utc(NOW_MS - 30 * MINUTE, { zone: "+0100", offsetMinutes: 60 }), { server: /expired/ });
  valid("utctime-offset-valid", "UTCTime with -0100: in 30 minutes, local clock reading 30 minutes ago", utc(NOW_MS - DAY, { zone: "-0100", offsetMinutes: -60 }), utc(NOW_MS + 30 * MINUTE, { zone: "-0100", offsetMinutes: -60 }), { server: "ok" });
  valid("utctime-no-z", "UTCTime without its Z", utc(NOW_MS - DAY), raw(0x17, utc(NOW_MS + DAY).subarray(2, 14).toString("latin1")), { chain: /parse: / });
  valid("utctime-month-13", "UTCTime with month 13", utc(NOW_MS - DAY), raw(0x17, "991301000000Z"), { chain: /parse: / });
  valid("utctime-1950", "UTCTime 50 is 1950", utc(NOW_MS - DAY), raw(0x17, "500101000000Z"), { server: /expired/ });
  const caExpired = c.edit("ca-a-expired", caA, caA.key, validity(utc(NOW_MS - 400 * DAY), utc(NOW_MS - DAY)));
  plain("ca-expired", "leaf under an expired CA", std, { server: /expired/ }, { roots: caExpired.crt });

  // --- DER -------------------------------------------------------------------------
  plain("trailing-bytes", "two bytes after the certificate's DER", { crt: c.write("trailing.crt", derToPem(Buffer.concat([c.der(std.crt), Buffer.from([0, 0])]))), key: leafKey }, { chain: /parse: x509: trailing data/ }, { single: true });
  plain("trailing-bytes-ca", "two bytes after the CA's DER", std, { roots: "refused" }, { roots: c.write("ca-trailing.crt", derToPem(Buffer.concat([c.der(caA.crt), Buffer.from([0, 0])]))) });
  const caLong = c.edit("ca-long-form", caA, caA.key, longFormVersion);
  plain("long-form-ca", "the CA's version field with a long-form length", std, { roots: "refused" }, { roots: caLong.crt, single: true });
  plain("long-form-ca-bundle", "the long-form CA, then the good one", std, { roots: /x509: /, server: "ok" }, { roots: c.bundle("ca-long-bundle.pem", [caLong.crt, caA.crt]) });
  plain("long-form-leaf", "the leaf's version field with a long-form length", c.edit("leaf-long-form", std, caA.key, longFormVersion), { chain: /parse: / });
  plain("dup-ext-leaf", "the leaf's subjectAltName twice", c.edit("dup-san", std, caA.key, duplicateExtension(OID.subjectAltName)), { chain: /duplicate extension/ });
  plain("dup-ext-ca", "the CA's basicConstraints twice", std, { roots: "refused" }, { roots: c.edit("ca-dup-bc", caA, caA.key, duplicateExtension(OID.basicConstraints)).crt });
  const caCriticalSki = c.selfSigned("ca-critical-ski", { key: caA.key, subj: CA_A, ext: "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = critical, hash" });
  // RFC 5280 forbids both; Go 1.19's parser lets them through.
  plain("ca-critical-ski", "the CA's subjectKeyIdentifier marked critical", std, { roots: "ok", server: "ok" }, { roots: caCriticalSki.crt });
  plain("leaf-critical-aki", "the leaf's authorityKeyIdentifier marked critical", leaf("critical-aki", { ext: leafExt().replace("authorityKeyIdentifier = keyid", "authorityKeyIdentifier = critical, keyid") }), { chain: "ok", server: "ok" });
  plain("leaf-unknown-critical", "an unknown critical extension on the leaf", leaf("unknown-critical", { ext: leafExt({ extra: "1.3.6.1.4.1.55555.1 = critical, ASN1:NULL" }) }), { chain: "ok", server: /unhandled critical extension/ });
  plain("ca-unknown-critical", "an unknown critical extension on the CA", std, { server: /unhandled critical extension/ }, { roots: c.selfSigned("ca-unknown-critical", { key: caA.key, subj: CA_A, ext: `${CA_EXT}\n1.3.6.1.4.1.55555.1 = critical, ASN1:NULL` }).crt });
  plain("ip-san-5-octets", "an IP SAN of 5 octets", leaf("ip5", { ext: leafExt({ san: null, extra: "2.5.29.17 = DER:30:07:87:05:0a:00:00:04:01" }) }), { chain: /parse: / });
  plain("san-empty", "an empty subjectAltName extension", leaf("san-empty", { ext: leafExt({ san: null, extra: "2.5.29.17 = DER:30:00" }) }), { chain: "ok", names: { "analyzer.example": false } });

  // --- name constraints on the CA (caA's key and name; the standard leaf) ---------
  const ncCa = (id: string, nc: string) => c.selfSigned(`ca-${id}`, { key: caA.key, subj: CA_A, ext: `${CA_EXT}\nnameConstraints = critical, ${nc}` }).crt;
  const nc = (id: string, what: string, constraints: string, expect: NativeExpect, pair: Pair = std, single = false) => plain(id, what, pair, expect, { roots: ncCa(id, constraints), single });
  nc("nc-permitted-dns", "permitted DNS example", "permitted;DNS:example", { server: "ok", client: "ok" });
  nc("nc-permitted-dns-other", "permitted DNS other.test only", "permitted;DNS:other.test", { server: /not permitted/ });
  nc("nc-excluded-dns", "excluded DNS analyzer.example", "excluded;DNS:analyzer.example", { server: /excluded/, client: /excluded/ }, std, true);
  nc("nc-permitted-ip", "permitted 10.0.0.0/8 and fd00::/8", "permitted;IP:10.0.0.0/255.0.0.0, permitted;IP:fd00::/ff00::", { server: "ok" });
  nc("nc-permitted-ipv4-only", "permitted 10.0.0.0/8 only (the IPv6 SAN is outside)", "permitted;IP:10.0.0.0/255.0.0.0", { server: /fd00::4/ });
  nc("nc-permitted-ip-other", "permitted 192.168.0.0/16", "permitted;IP:192.168.0.0/255.255.0.0", { server: /not permitted/ });
  nc("nc-excluded-ip", "excluded 10.0.0.4/32", "excluded;IP:10.0.0.4/255.255.255.255", { server: /excluded/ });
  const emailLeaf = leaf("email-leaf", { ext: leafExt({ san: "DNS:analyzer.example, email:ops@example.com" }) });
  nc("nc-permitted-email", "permitted email example.com, leaf with ops@example.com", "permitted;email:example.com", { server: "ok" }, emailLeaf);
  nc("nc-excluded-email", "excluded email example.com, leaf with ops@example.com", "excluded;email:example.com", { server: /excluded/ }, emailLeaf);
  nc("nc-permitted-email-other", "permitted email other.test, leaf with ops@example.com", "permitted;email:other.test", { server: /not permitted/ }, emailLeaf);
  plain("nc-empty", "an empty nameConstraints extension (SEQUENCE {})", std, { roots: "refused" }, { roots: c.selfSigned("ca-nc-empty", { key: caA.key, subj: CA_A, ext: `${CA_EXT}\n2.5.29.30 = critical, DER:30:00` }).crt });
  plain("nc-empty-permitted", "nameConstraints with an empty permittedSubtrees", std, { roots: "refused" }, { roots: c.selfSigned("ca-nc-empty-permitted", { key: caA.key, subj: CA_A, ext: `${CA_EXT}\n2.5.29.30 = critical, DER:30:02:a0:00` }).crt });
  nc("nc-dirname", "a critical directoryName constraint (a kind Go does not handle)", "permitted;dirName:dir_sect", { server: /unhandled critical extension/ });
  nc("nc-leaf-no-san", "permitted DNS example, a leaf without SANs", "permitted;DNS:example", { server: "ok", names: { "analyzer.example": false } }, leaf("nc-no-san", { subj: "/CN=analyzer.example", ext: leafExt({ san: null }) }));
  nc("nc-wildcard-leaf", "permitted DNS example, leaf *.example", "permitted;DNS:example", { server: "ok" }, leaf("nc-wild", { ext: leafExt({ san: "DNS:*.example" }) }));
  nc("nc-wildcard-excluded", "excluded DNS analyzer.example, leaf *.example", "excluded;DNS:analyzer.example", { server: "ok", names: { "analyzer.example": true } }, leaf("nc-wild-ex", { ext: leafExt({ san: "DNS:*.example" }) }));

  // --- usages and basic constraints ------------------------------------------------
  plain("eku-client-only", "leaf EKU clientAuth only", leaf("eku-client", { ext: leafExt({ eku: "clientAuth" }) }), { server: /incompatible key usage/, client: "ok" }, { single: true });
  plain("eku-server-only", "leaf EKU serverAuth only", leaf("eku-server", { ext: leafExt({ eku: "serverAuth" }) }), { server: "ok", client: /incompatible key usage/ });
  plain("eku-none", "leaf without extendedKeyUsage", leaf("eku-none", { ext: leafExt({ eku: null }) }), { server: "ok", client: "ok" });
  plain("eku-any", "leaf EKU anyExtendedKeyUsage", leaf("eku-any", { ext: leafExt({ eku: "anyExtendedKeyUsage" }) }), { server: "ok", client: "ok" });
  plain("eku-codesigning", "leaf EKU codeSigning", leaf("eku-code", { ext: leafExt({ eku: "codeSigning" }) }), { server: /incompatible key usage/ });
  const caWith = (id: string, ext: string) => c.selfSigned(`ca-${id}`, { key: caA.key, subj: CA_A, ext }).crt;
  plain("ca-eku-server-only", "CA with EKU serverAuth", std, { server: "ok", client: /incompatible key usage/ }, { roots: caWith("eku-server", `${CA_EXT}\nextendedKeyUsage = serverAuth`) });
  plain("ca-eku-codesigning", "CA with EKU codeSigning", std, { server: /incompatible key usage/ }, { roots: caWith("eku-code", `${CA_EXT}\nextendedKeyUsage = codeSigning`) });
  plain("ca-not-ca", "CA with CA:FALSE", std, { server: /parent certificate cannot sign/ }, { roots: caWith("not-ca", "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash") });
  plain("ca-no-basic-constraints", "CA without basicConstraints", std, { server: /parent certificate cannot sign/ }, { roots: caWith("no-bc", "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash") });
  plain("ca-no-keycertsign", "CA whose keyUsage lacks keyCertSign", std, { server: /parent certificate cannot sign/ }, { roots: caWith("no-kcs", "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash") });
  plain("ca-v1", "an X.509 v1 CA", std, { roots: "ok", server: "ok" }, { roots: c.edit("ca-v1", caA, caA.key, toV1).crt });
  plain("leaf-v1", "an X.509 v1 leaf (no SAN)", leaf("leaf-v1", { ext: "" }), { chain: "ok", names: { "analyzer.example": false } });
  const seedLike = c.selfSigned("self-signed", { key: leafKey, subj: "/CN=skydive-analyzer", ext: "basicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyEncipherment, keyCertSign\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = DNS:analyzer.example, IP:10.0.0.4" });
  plain("self-signed-anchor", "self-signed leaf as its own trust anchor (the legacy seed's way)", seedLike, { server: "ok" }, { roots: c.bundle("self-signed-roots.pem", [seedLike.crt]) });
  const selfLeaf = c.selfSigned("self-signed-leaf", { key: leafKey, subj: "/CN=self", ext: leafExt() });
  plain("self-signed-not-ca", "self-signed CA:FALSE leaf as its own trust anchor", selfLeaf, { server: "ok" }, { roots: c.bundle("self-signed-leaf-roots.pem", [selfLeaf.crt]) });

  // --- intermediates in the host's certificate file ---------------------------------
  const root = c.selfSigned("root", { key: c.key("root", "ec256"), subj: "/CN=Differential Root", ext: CA_EXT });
  const interKey = c.key("inter", "ec256");
  const INTER = "/CN=Differential Intermediate";
  const inter = c.issue("inter", { key: interKey, subj: INTER, ca: root, ext: `${CA_EXT}\nauthorityKeyIdentifier = keyid` });
  const leafI = leaf("leaf-i", { ca: inter });
  const chainOf = (name: string, ...parts: string[]) => ({ crt: c.bundle(name, parts), key: leafKey });
  plain("intermediate", "leaf + intermediate in the certificate file, root in ca_cert", chainOf("chain-i.pem", leafI.crt, inter.crt), { chain: "ok", server: "ok", client: "ok" }, { roots: root.crt, single: true });
  plain("intermediate-missing", "leaf only, the intermediate nowhere", leafI, { server: /unknown authority/ }, { roots: root.crt });
  plain("intermediate-first", "intermediate before the leaf in the certificate file", chainOf("chain-reversed.pem", inter.crt, leafI.crt), { key: /keyPair/ }, { roots: root.crt });
  plain("intermediate-with-root", "leaf + intermediate + root in the certificate file", chainOf("chain-full.pem", leafI.crt, inter.crt, root.crt), { server: "ok" }, { roots: root.crt });
  plain("intermediate-as-anchor", "the intermediate itself in ca_cert", leafI, { server: "ok" }, { roots: inter.crt });
  plain("intermediate-pathlen", "root with pathlen:0 above the intermediate", chainOf("chain-i2.pem", leafI.crt, inter.crt), { server: /too many intermediates/ }, { roots: c.selfSigned("root-pathlen0", { key: root.key, subj: "/CN=Differential Root", ext: "basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash" }).crt });
  const interNotCa = c.issue("inter-not-ca", { key: interKey, subj: INTER, ca: root, ext: "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyCertSign\nsubjectKeyIdentifier = hash" });
  plain("intermediate-not-ca", "intermediate with CA:FALSE", chainOf("chain-not-ca.pem", leafI.crt, interNotCa.crt), { server: /parent certificate cannot sign/ }, { roots: root.crt });
  const interNc = c.issue("inter-nc", { key: interKey, subj: INTER, ca: root, ext: `${CA_EXT}\nnameConstraints = critical, excluded;DNS:analyzer.example` });
  plain("intermediate-nc", "intermediate excluding DNS analyzer.example", chainOf("chain-nc.pem", leafI.crt, interNc.crt), { server: /excluded/ }, { roots: root.crt });
  plain("intermediate-eku", "intermediate with EKU serverAuth only", chainOf("chain-eku.pem", leafI.crt, c.issue("inter-eku", { key: interKey, subj: INTER, ca: root, ext: `${CA_EXT}\nextendedKeyUsage = serverAuth` }).crt), { server: "ok", client: /incompatible key usage/ }, { roots: root.crt });
  const badInter = c.write("inter-trailing.crt", derToPem(Buffer.concat([c.der(inter.crt), Buffer.from([0, 0])])));
  plain("intermediate-malformed", "intermediate with trailing bytes after its DER", chainOf("chain-bad-inter.pem", leafI.crt, badInter), { chain: /trailing data/, key: "ok" }, { roots: root.crt });
  plain("intermediate-malformed-anchored", "the same chain, with the good intermediate in ca_cert too", chainOf("chain-bad-inter2.pem", leafI.crt, badInter), { chain: /trailing data/, server: /parse: x509: trailing data/ }, { roots: c.bundle("roots-root-inter.pem", [root.crt, inter.crt]), single: true });
  plain("intermediate-sha1", "intermediate signed SHA-1 by the root", chainOf("chain-sha1.pem", leafI.crt, c.issue("inter-sha1", { key: interKey, subj: INTER, ca: root, ext: CA_EXT, md: "sha1" }).crt), { server: /ECDSA-SHA1/ }, { roots: root.crt });

  // --- the CA bundle (tls.ca_cert with two CAs) ------------------------------------------
  const leafB = leaf("leaf-b", { ca: caB });
  plain("bundle-new-ca", "ca_cert [A, B], leaf from B (rotation, new CA)", leafB, { server: "ok" }, { roots: c.bundle("roots-ab.pem", [caA.crt, caB.crt]), single: true });
  plain("bundle-old-ca", "ca_cert [B, A], leaf from A (rotation, old CA)", std, { server: "ok" }, { roots: c.bundle("roots-ba.pem", [caB.crt, caA.crt]) });
  plain("bundle-expired-old", "ca_cert [A expired, B], leaf from A", std, { server: /expired/ }, { roots: c.bundle("roots-exp-b.pem", [caExpired.crt, caB.crt]) });
  plain("bundle-expired-old-new-leaf", "ca_cert [A expired, B], leaf from B", leafB, { server: "ok" }, { roots: c.bundle("roots-exp-b2.pem", [caExpired.crt, caB.crt]) });
  const caA2 = c.selfSigned("ca-a2", { key: c.key("ca-a2", "ec256"), subj: CA_A, ext: CA_EXT });
  plain("same-name-other-key", "ca_cert holds a CA of the same name with another key", std, { server: /unknown authority/ }, { roots: caA2.crt });
  plain("same-name-bundle", "ca_cert [A' (same name, new key), A]", std, { server: "ok" }, { roots: c.bundle("roots-a2a.pem", [caA2.crt, caA.crt]) });
  plain("unknown-ca", "leaf from A, ca_cert B", std, { server: /unknown authority/, client: /unknown authority/ }, { roots: caB.crt });
  plain("roots-with-key", "ca_cert holds the CA and a private key", std, { roots: "ok", server: "ok" }, { roots: c.bundle("roots-key.pem", [caA.crt, c.path("other.key")]) });
  const headerPem = (crt: string) => c.read(crt).replace("-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nComment: a PEM header\n\n");
  plain("roots-pem-header", "ca_cert's block has a PEM header (AppendCertsFromPEM skips it)", std, { roots: "refused" }, { roots: c.bundle("roots-header.pem", [{ text: headerPem(caA.crt) }]) });
  plain("roots-pem-header-bundle", "ca_cert: B with a PEM header, then A", std, { roots: "ok", server: "ok" }, { roots: c.bundle("roots-header-a.pem", [{ text: headerPem(caB.crt) }, caA.crt]) });
  const corrupt = (crt: string) => c.read(crt).replace(/\n([A-Za-z0-9+/]{10})/, "\n!$1");
  plain("roots-bad-base64-bundle", "ca_cert: B with a character that is not base64, then A", std, { roots: "ok", server: "ok" }, { roots: c.bundle("roots-b64-a.pem", [{ text: corrupt(caB.crt) }, caA.crt]), single: true });
  plain("roots-garbage-block", "ca_cert: a CERTIFICATE block of random bytes, then A", std, { roots: /x509: /, server: "ok" }, { roots: c.bundle("roots-garbage.pem", [{ text: derToPem(Buffer.from("30820100deadbeef0011223344556677", "hex")) }, caA.crt]) });
  plain("roots-empty", "an empty ca_cert file", std, { roots: "refused" }, { roots: c.write("roots-empty.pem", "") });
  plain("roots-only-key", "ca_cert is a private key", std, { roots: "refused" }, { roots: c.path("other.key") });

  // --- PEM as people have it ---------------------------------------------------------------
  const crlf = (p: string, name: string) => c.write(name, c.read(p).replace(/\n/g, "\r\n"));
  plain("crlf", "CRLF line ends in the certificate and ca_cert", { crt: crlf(std.crt, "std-crlf.crt"), key: leafKey }, { chain: "ok", server: "ok" }, { roots: crlf(caA.crt, "ca-crlf.crt") });
  const withText = (p: string, name: string) => c.write(name, ok(openssl(["x509", "-in", p, "-text"])).stdout);
  plain("text-preamble", "openssl x509 -text output before the PEM", { crt: withText(std.crt, "std-text.crt"), key: leafKey }, { chain: "ok", server: "ok" }, { roots: withText(caA.crt, "ca-text.crt") });
  plain("chain-with-key", "the certificate file also holds the key", { crt: c.bundle("std-with-key.pem", [std.crt, leafKey]), key: leafKey }, { key: "ok", server: "ok" });
  plain("chain-der", "the certificate file is DER", { crt: c.write("std.der", c.der(std.crt)), key: leafKey }, { key: /keyPair/ });
  plain("chain-pem-header", "the certificate's block has a PEM header", { crt: c.write("std-header.crt", headerPem(std.crt)), key: leafKey }, { key: "ok", server: "ok" });
  plain("chain-bad-base64", "the certificate's block has a character that is not base64", { crt: c.write("std-b64.crt", corrupt(std.crt)), key: leafKey }, { key: /keyPair/ });
  plain("chain-bad-base64-first", "the certificate file: a block that is not base64, then the leaf", { crt: c.bundle("b64-then-std.pem", [{ text: corrupt(caB.crt) }, std.crt]), key: leafKey }, { chain: "ok", key: "ok", server: "ok" });

  // --- names ---------------------------------------------------------------------------------
  const named = (id: string, what: string, san: string | null, names: Record<string, boolean>, o: { subj?: string; single?: boolean } = {}) =>
    plain(id, what, leaf(id, { ext: leafExt({ san }), subj: o.subj }), { names }, { single: o.single });
  named("wildcard", "DNS *.example", "DNS:*.example", { "analyzer.example": true, "x.example": true, example: false, "a.b.example": false, "10.0.0.4": false }, { single: true });
  named("wildcard-sub", "DNS *.analyzer.example", "DNS:*.analyzer.example", { "x.analyzer.example": true, "analyzer.example": false, "a.b.analyzer.example": false });
  named("wildcard-partial", "DNS a*.example and *c.example (partial wildcards)", "DNS:a*.example, DNS:*c.example", { "abc.example": false, "analyzer.example": false });
  named("wildcard-ip", "DNS *.0.0.4", "DNS:*.0.0.4", { "10.0.0.4": false });
  named("underscore", "DNS under_score.example", "DNS:under_score.example", { "under_score.example": true });
  named("dns-spelling-ip", "DNS 10.0.0.4 and DNS fd00::4, no IP SAN", "DNS:10.0.0.4, DNS:fd00::4", { "10.0.0.4": false, "fd00::4": false });
  named("cn-only", "no SAN, CN analyzer.example", null, { "analyzer.example": false }, { subj: "/CN=analyzer.example" });
  named("mixed-case", "DNS Mixed.Example", "DNS:Mixed.Example", { "mixed.EXAMPLE": true });
  named("trailing-dot-san", "DNS dotted.example. (a trailing dot in the SAN)", "DNS:dotted.example.", { "dotted.example": false, "dotted.example.": true });
  named("ipv6", "IP fd00::4 only", "IP:fd00::4", { "fd00::4": true, "fd00:0:0:0:0:0:0:4": true, "10.0.0.4": false });
  named("ipv4-mapped", "IP ::ffff:10.0.0.4 (16 octets)", "IP:::ffff:10.0.0.4", { "10.0.0.4": true, "::ffff:10.0.0.4": true });
  named("ipv4-against-mapped", "IP 10.0.0.4, dialed as ::ffff:10.0.0.4", "IP:10.0.0.4", { "::ffff:10.0.0.4": true });
  named("single-label", "DNS analyzer (one label)", "DNS:analyzer", { analyzer: true, "analyzer.example": false });
  named("email-uri-only", "only email and URI SANs", "email:ops@example.com, URI:spiffe://example/analyzer", { "analyzer.example": false });
  named("san-many", "DNS and IP SANs for every dialed form", "DNS:analyzer.example, DNS:x.example, IP:10.0.0.4, IP:10.0.0.5, IP:fd00::4", { "10.0.0.5": true, "x.example": true });

  return v;
}

// ---------------------------------------------------------------------------
// Both judges, and the comparison
// ---------------------------------------------------------------------------

interface CheckJson {
  id: string;
  status: "pass" | "warn" | "fail" | "skip";
  subject: string;
  message: string;
  host?: string;
  go?: string;
}

const show = (v: JudgeVerdict | undefined) => (v === undefined ? "(no verdict)" : v.ok ? "ok" : `${v.stage}: ${v.error}`);
const refusedBefore = (v: JudgeVerdict | undefined, steps: string[]) => v !== undefined && !v.ok && steps.includes(v.stage ?? "");
const chainRefused = (n: JudgeResponse) => Boolean(n.chain.readError) || n.chain.blocks.length === 0 || n.chain.blocks.some((b) => !b.ok);
const brief = (c: CheckJson | undefined) => (c === undefined ? "(no check)" : `${c.status}${c.go ? `: ${c.go}` : ""}`);

/** Every comparison of one host's checks with the native verdicts: the number made, and the disagreements. */
function compare(v: Variant, checks: CheckJson[], n: JudgeResponse, names: readonly string[], where: string): { compared: number; problems: string[] } {
  const problems: string[] = [];
  let compared = 0;
  const find = (id: string, subject: string) => checks.filter((c) => c.id === id && c.subject === subject);
  // pem-parse is skipped when file-readable refused the file (missing, empty...): a refusal one step earlier.
  const refusedFile = (c: CheckJson | undefined, subject: string) => c?.status === "fail" || (c?.status === "skip" && find("file-readable", subject).some((f) => f.status === "fail"));
  const one = (id: string, subject: string) => {
    const found = find(id, subject);
    if (found.length > 1) problems.push(`${where}: ${found.length} ${id} checks for ${subject}`);
    return found[0];
  };
  const disagree = (what: string, sky: string, go: string) => problems.push(`${where} [${v.id}: ${v.what}] ${what}: skycert ${sky} | native Go ${go}`);

  // pem-parse of the certificate file.
  {
    compared++;
    const c = one("pem-parse", "server cert");
    const refused = chainRefused(n);
    const nativeText = n.chain.readError ? `read: ${n.chain.readError}` : n.chain.blocks.length === 0 ? "no CERTIFICATE block" : n.chain.blocks.map((b) => (b.ok ? "ok" : b.error)).join("; ");
    if (!c || refusedFile(c, "server cert") !== refused) disagree("pem-parse of the certificate file", brief(c), nativeText);
    else if (c.status === "fail") for (const b of n.chain.blocks) if (!b.ok && !(c.go ?? c.message).includes(b.error!)) disagree("pem-parse text of the certificate file", brief(c), nativeText);
  }
  // pem-parse of ca_cert.
  {
    compared++;
    const c = one("pem-parse", "client CAs");
    const refused = Boolean(n.roots.readError) || !n.roots.appendCertsOk;
    const nativeText = `AppendCertsFromPEM ${n.roots.appendCertsOk}; blocks: ${n.roots.blocks.map((b) => (b.ok ? "ok" : b.error)).join("; ") || "none"}`;
    if (!c || refusedFile(c, "client CAs") !== refused) disagree("pem-parse of ca_cert", brief(c), nativeText);
    else for (const b of n.roots.blocks) if (!b.ok && c.status !== "fail" && !(c.go ?? c.message).includes(b.error!)) disagree("pem-parse text of ca_cert", brief(c), nativeText);
  }
  // key-match.
  {
    compared++;
    const c = one("key-match", "server pair");
    const k = n.keyPair;
    if (!c || c.status === "skip") {
      if (k?.ok) disagree("key pair", brief(c), show(k));
    } else if ((c.status === "pass") !== Boolean(k?.ok)) disagree("key pair", brief(c), show(k));
    else if (c.status === "fail" && c.go !== k?.error) disagree("key pair text", brief(c), show(k));
  }
  // trust, both ways.
  for (const [subject, usage] of [["server pair", "serverAuth"], ["client pair", "clientAuth"]] as const) {
    compared++;
    const c = one("trust", subject);
    const nv = n.verify[usage];
    if (!c || c.status === "skip") {
      if (!refusedBefore(nv, ["read", "chain", "parse", "roots"])) disagree(`trust (${usage})`, brief(c), show(nv));
    } else if (refusedBefore(nv, ["read", "chain", "parse", "roots"])) {
      // Refused before Verify: validate may say so too, quoting the parse error as a peer's crypto/tls would.
      if (!(c.status === "fail" && nv!.stage === "parse" && (c.go ?? "").includes(nv!.error!))) disagree(`trust (${usage})`, brief(c), show(nv));
    } else if ((c.status === "pass") !== Boolean(nv?.ok)) disagree(`trust (${usage})`, brief(c), show(nv));
    else if (c.status === "fail" && c.go !== nv?.error) disagree(`trust text (${usage})`, brief(c), show(nv));
  }
  // san-coverage, per name. When skycert made none at all, one line says so for every name.
  const coverage = checks.filter((c) => c.id === "san-coverage" && c.status !== "skip");
  const unjudged = names.filter((name) => !refusedBefore(n.hostnames[name], ["read", "chain", "parse"]));
  if (coverage.length === 0 && unjudged.length) {
    compared += names.length;
    const okNames = unjudged.filter((name) => n.hostnames[name]?.ok);
    disagree("san-coverage", "(no san-coverage check)", `VerifyHostname judged all ${unjudged.length} names (ok: ${okNames.join(", ") || "none"})`);
  } else {
    for (const name of names) {
      compared++;
      const found = coverage.filter((c) => c.host === name);
      if (found.length > 1) problems.push(`${where}: ${found.length} san-coverage checks for ${name}`);
      const c = found[0];
      const nv = n.hostnames[name];
      if (!c) {
        if (!refusedBefore(nv, ["read", "chain", "parse"])) disagree(`san-coverage ${name}`, "(no san-coverage check)", show(nv));
      } else if ((c.status === "pass") !== Boolean(nv?.ok)) disagree(`san-coverage ${name}`, brief(c), show(nv));
      else if (c.status === "fail" && c.go !== nv?.error) disagree(`san-coverage text ${name}`, brief(c), show(nv));
    }
  }
  const unasked = checks.filter((c) => c.id === "san-coverage" && !names.includes(c.host ?? ""));
  if (unasked.length) problems.push(`${where} [${v.id}]: san-coverage for names not asked: ${unasked.map((c) => c.host).join(", ")}`);
  return { compared, problems };
}

/** A NativeExpect held against the native verdicts: the corpus makes the case it says. */
function expectationProblems(v: Variant, n: JudgeResponse): string[] {
  const out: string[] = [];
  const e = v.expect;
  const match = (what: string, want: "ok" | RegExp, verdict: JudgeVerdict | undefined) => {
    if (want === "ok" ? !verdict?.ok : verdict?.ok || !want.test(show(verdict))) out.push(`${v.id}: ${what} is ${show(verdict)}, expected ${String(want)}`);
  };
  if (e.chain) {
    const errors = n.chain.blocks.filter((b) => !b.ok).map((b) => `parse: ${b.error}`);
    if (e.chain === "ok" ? errors.length || n.chain.blocks.length === 0 : !errors.some((t) => (e.chain as RegExp).test(t))) out.push(`${v.id}: chain blocks ${JSON.stringify(n.chain.blocks)}, expected ${String(e.chain)}`);
  }
  if (e.roots) {
    const errors = n.roots.blocks.filter((b) => !b.ok).map((b) => b.error!);
    const fine = e.roots === "ok" ? n.roots.appendCertsOk && !errors.length : e.roots === "refused" ? !n.roots.appendCertsOk : n.roots.appendCertsOk && errors.some((t) => (e.roots as RegExp).test(t));
    if (!fine) out.push(`${v.id}: roots ${JSON.stringify(n.roots)}, expected ${String(e.roots)}`);
  }
  if (e.key) match("keyPair", e.key, n.keyPair);
  if (e.server) match("verify serverAuth", e.server, n.verify.serverAuth);
  if (e.client) match("verify clientAuth", e.client, n.verify.clientAuth);
  for (const [name, want] of Object.entries(e.names ?? {})) {
    if (Boolean(n.hostnames[name]?.ok) !== want) out.push(`${v.id}: VerifyHostname(${name}) is ${show(n.hostnames[name])}, expected ${want ? "ok" : "a refusal"}`);
  }
  return out;
}

/** A tls.* host as Skydive reads it, the variant's files named by absolute path. */
function skydiveYml(v: Variant): string {
  const q = JSON.stringify;
  return `tls:\n  server_cert: ${q(v.chain)}\n  server_key: ${q(v.key)}\n  client_cert: ${q(v.chain)}\n  client_key: ${q(v.key)}\n  ca_cert: ${q(v.roots)}\n  require_client_cert: true\n`;
}

function runJson<T>(args: string[], cwd: string): T {
  // skycert() with room for the fleet's answer (megabytes of JSON).
  const r = tool(process.execPath, [BIN, ...args], { cwd, env: frozenClock(), maxBuffer: 256 * 1024 * 1024 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`skycert ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`skycert ${args.join(" ")} printed no JSON (exit ${r.code}): ${r.stderr}`);
  }
}

// ---------------------------------------------------------------------------

describe("differential: skycert validate's Go (WebAssembly) against native Go", () => {
  const dir = scratch("skycert-differential-");
  let variants: Variant[] = [];
  let native = new Map<string, JudgeResponse>();
  let fleet: { hosts: { host: string; checks: CheckJson[] }[] };
  const singles = new Map<string, CheckJson[]>();

  beforeAll(() => {
    variants = buildCorpus(new Corpus(join(dir, "files")));
    const ids = new Set(variants.map((v) => v.id));
    if (ids.size !== variants.length) throw new Error("variant ids must be unique");

    // The native judge, once, with every request.
    const answers = judge(variants.map((v) => ({ id: v.id, chain: v.chain, key: v.key, roots: v.roots, time: NOW.toISOString(), usages: ["serverAuth", "clientAuth"], names: NAMES })));
    native = new Map(answers.map((a) => [a.id, a]));
    // SKYCERT_DIFF_DUMP=FILE keeps the native verdicts, for reading the corpus (no key material in them).
    if (process.env.SKYCERT_DIFF_DUMP) writeFileSync(process.env.SKYCERT_DIFF_DUMP, `${JSON.stringify(variants.map((v) => ({ id: v.id, what: v.what, native: native.get(v.id) })), null, 1)}\n`);

    // One fleet: every variant an analyzer host with its own skydive.yml.
    const fleetDir = join(dir, "fleet");
    const hosts = variants.map((v) => {
      const hostDir = join(fleetDir, "hosts", v.id);
      mkdirSync(hostDir, { recursive: true });
      writeFileSync(join(hostDir, "skydive.yml"), skydiveYml(v));
      return { name: v.id, roles: ["analyzer"], address: "analyzer.example", dir: `hosts/${v.id}`, cert: v.chain, key: v.key, sans: [] };
    });
    writeFileSync(join(fleetDir, "skycert.json"), `${JSON.stringify({ schema: 1, skydive: "0.27", analyzers: NAMES.map(entry), hosts }, null, 2)}\n`);
    fleet = runJson(["validate", "--fleet", fleetDir, "--skydive", "0.27", "--json"], fleetDir);

    // The sample, one host at a time, as the issue spells it.
    for (const v of variants.filter((x) => x.single)) {
      const hostDir = join(dir, "single", v.id);
      mkdirSync(hostDir, { recursive: true });
      writeFileSync(join(hostDir, "skydive.yml"), skydiveYml(v));
      const r = runJson<{ checks: CheckJson[] }>(["validate", "--config", join(hostDir, "skydive.yml"), "--role", "analyzer", "--skydive", "0.27", ...SINGLE_NAMES.flatMap((h) => ["--host", h]), "--json"], hostDir);
      singles.set(v.id, r.checks);
    }
  }, 600_000);

  it("both judges are the same Go, and skycert's clock stood at the instant the native judge was given", async () => {
    const go = await loadGoTls();
    expect(native.size).toBeGreaterThan(0);
    for (const n of native.values()) expect(n.go).toBe(go.version());
    const r = ok(tool(process.execPath, ["-e", "process.stdout.write(new Date().toISOString())"], { env: frozenClock() }));
    expect(r.stdout).toBe(NOW.toISOString());
  });

  it("the corpus makes every case it names (native Go's verdicts, as each variant expects)", () => {
    expect(variants.length).toBeGreaterThanOrEqual(60);
    const problems = variants.flatMap((v) => expectationProblems(v, native.get(v.id)!));
    expect(problems, problems.join("\n")).toEqual([]);
  });

  it("validate --fleet: every pem-parse, key-match, trust and san-coverage verdict equals native Go's, Go's text verbatim", () => {
    const problems: string[] = [];
    let compared = 0;
    for (const v of variants) {
      const host = fleet.hosts.find((h) => h.host === v.id);
      if (!host) {
        problems.push(`${v.id}: not in validate --fleet's answer`);
        continue;
      }
      const r = compare(v, host.checks, native.get(v.id)!, NAMES, "fleet");
      compared += r.compared;
      problems.push(...r.problems);
    }
    console.log(`differential (fleet): ${variants.length} variants, ${compared} verdicts compared, ${problems.length} disagreements`);
    expect(problems, `${problems.length} disagreements:\n${problems.join("\n")}`).toEqual([]);
  });

  it("the comparison itself catches a changed verdict or a changed word of Go's text", () => {
    const hostChecks = (id: string) => fleet.hosts.find((h) => h.host === id)!.checks;
    const base = variants.find((x) => x.id === "ec-p256")!;
    const flipped = structuredClone(native.get(base.id)!);
    flipped.verify.serverAuth = { ok: false, stage: "verify", error: "x509: certificate signed by unknown authority" };
    flipped.hostnames["other.example"] = { ok: true };
    expect(compare(base, hostChecks(base.id), flipped, NAMES, "self-test").problems).toHaveLength(2);
    const expired = variants.find((x) => x.id === "expired")!;
    const reworded = structuredClone(hostChecks(expired.id)).map((c) => (c.id === "trust" && c.go ? { ...c, go: c.go.replace("expired", "Expired") } : c));
    expect(compare(expired, reworded, native.get(expired.id)!, NAMES, "self-test").problems).toHaveLength(2);
  });

  it("policy, not a verdict: --host refuses names with an underscore or a trailing dot (the fleet's analyzers: entries carry them to Go instead)", () => {
    const v = variants.find((x) => x.id === "underscore")!;
    const hostDir = join(dir, "single", "underscore-host");
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, "skydive.yml"), skydiveYml(v));
    for (const name of ["under_score.example", "dotted.example."]) {
      const r = tool(process.execPath, [BIN, "validate", "--config", join(hostDir, "skydive.yml"), "--role", "analyzer", "--skydive", "0.27", "--host", name, "--json"], { cwd: hostDir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(name);
    }
    expect(native.get("underscore")!.hostnames["under_score.example"]?.ok).toBe(true);
    expect(fleet.hosts.find((h) => h.host === "underscore")!.checks.find((c) => c.id === "san-coverage" && c.host === "under_score.example")?.status).toBe("pass");
  });

  it("validate --config --role analyzer --host, one host at a time: the same verdicts", () => {
    const problems: string[] = [];
    let compared = 0;
    expect(singles.size).toBeGreaterThanOrEqual(8);
    for (const [id, checks] of singles) {
      const v = variants.find((x) => x.id === id)!;
      const r = compare(v, checks, native.get(id)!, SINGLE_NAMES, "single");
      compared += r.compared;
      problems.push(...r.problems);
    }
    console.log(`differential (single hosts): ${singles.size} variants, ${compared} verdicts compared, ${problems.length} disagreements`);
    expect(problems, `${problems.length} disagreements:\n${problems.join("\n")}`).toEqual([]);
  });
});
