/**
 * skycert's one DER walker (definite lengths only, as DER requires), for what
 * must be read exactly as encoded: extensions renew carries byte for byte, the
 * version and serial octets validate judges, the identities and key parts a
 * fleet compares, the signed part of a request, an encrypted key's scheme.
 */
import { SkycertError } from "./errors.js";
import type { EncodedExtension } from "./extensions.js";
import { EXTENDED_KEY_USAGES, EXTENSION_OIDS, KEY_USAGES, type KeyUsage, SIGNATURE_ALGORITHMS } from "./oids.js";

export interface Tlv {
  tag: number;
  start: number;
  /** First content octet. */
  body: number;
  end: number;
}

const truncated = () => new SkycertError("not a valid DER certificate (truncated or indefinite length)");

export function tlv(der: Uint8Array, at: number, limit = der.length): Tlv {
  if (at + 2 > limit) throw truncated();
  const tag = der[at]!;
  let len = der[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw truncated();
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + der[body + k]!;
    body += n;
  }
  if (body + len > limit) throw truncated();
  return { tag, start: at, body, end: body + len };
}

export function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const t = tlv(der, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** OIDs already rendered: a fleet's certificates carry the same few dozen. */
const oidCache = new Map<string, string>();

export function oidText(bytes: Uint8Array): string {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  let text = oidCache.get(key);
  if (text === undefined) oidCache.set(key, (text = renderOid(bytes)));
  return text;
}

function renderOid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join(".");
}

/** Every extension of the certificate, in order, duplicates included. */
export function rawExtensions(der: Uint8Array): EncodedExtension[] {
  const cert = tlv(der, 0, der.length);
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw new SkycertError("not a valid DER certificate (no TBSCertificate)");
  return extensionsIn(der, children(der, tbs).find((t) => t.tag === 0xa3));
}

/** The extensions inside a TBSCertificate's [3] field, when there is one. */
function extensionsIn(der: Uint8Array, wrapper: Tlv | undefined): EncodedExtension[] {
  if (!wrapper) return [];
  const list = children(der, wrapper)[0];
  if (!list) return [];
  return children(der, list).map((ext) => {
    const parts = children(der, ext);
    const oid = parts[0];
    const last = parts[parts.length - 1];
    if (!oid || oid.tag !== 0x06 || !last || last.tag !== 0x04) throw new SkycertError("not a valid DER certificate (malformed extension)");
    const critical = parts.length === 3 && parts[1]!.tag === 0x01 && der[parts[1]!.body] !== 0;
    return { oid: oidText(der.subarray(oid.body, oid.end)), critical, value: der.subarray(last.body, last.end) };
  });
}

/** Serial, issuer and SubjectPublicKeyInfo of a DER certificate, read without a full parse (fleet-wide uniqueness checks). */
export function certIdentity(der: Uint8Array): { serial: string; issuer: Uint8Array; spki: Uint8Array } {
  const cert = tlv(der, 0, der.length);
  const tbs = children(der, cert)[0];
  if (!tbs) throw new SkycertError("not a valid DER certificate (no TBSCertificate)");
  const parts = children(der, tbs);
  const fields = parts[0]?.tag === 0xa0 ? parts.slice(1) : parts;
  const [serial, , issuer, , , spki] = fields;
  if (!serial || serial.tag !== 0x02 || !issuer || !spki) throw new SkycertError("not a valid DER certificate (malformed TBSCertificate)");
  return {
    serial: Buffer.from(der.subarray(serial.body, serial.end)).toString("hex").toUpperCase(),
    issuer: der.subarray(issuer.start, issuer.end),
    spki: der.subarray(spki.start, spki.end),
  };
}

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";

/** An INTEGER's magnitude: its octets without leading zeros. */
function magnitude(der: Uint8Array, t: Tlv): Uint8Array {
  let at = t.body;
  while (at < t.end - 1 && der[at] === 0) at++;
  return der.subarray(at, t.end);
}

/** An RSA public key's modulus and exponent, as octets. */
export interface RsaPublic {
  n: Uint8Array;
  e: Uint8Array;
}

export const sameRsaPublic = (a: RsaPublic, b: RsaPublic) => Buffer.compare(a.n, b.n) === 0 && Buffer.compare(a.e, b.e) === 0;

/**
 * The RSA public part (modulus and exponent, hex) of a SubjectPublicKeyInfo, or
 * undefined for another key type: what `openssl x509 -modulus` compares.
 */
export function rsaPublicOfSpki(spki: Uint8Array): RsaPublic | undefined {
  const outer = tlv(spki, 0, spki.length);
  const [alg, bits] = children(spki, outer);
  const oid = alg ? children(spki, alg)[0] : undefined;
  if (!oid || !bits || oidText(spki.subarray(oid.body, oid.end)) !== RSA_ENCRYPTION) return undefined;
  const key = tlv(spki, bits.body + 1, bits.end);
  const [n, e] = children(spki, key);
  return n && e ? { n: magnitude(spki, n), e: magnitude(spki, e) } : undefined;
}

/**
 * The RSA public part of a private key (PKCS#8 or PKCS#1 DER), read without
 * importing the key: a fleet's key-match compares it with the certificate's.
 * Undefined for other key types, which callers import instead.
 */
export function rsaPublicOfPrivateKey(der: Uint8Array, pkcs1: boolean): RsaPublic | undefined {
  let rsa: Tlv = tlv(der, 0, der.length);
  if (!pkcs1) {
    const [, alg, inner] = children(der, rsa);
    const oid = alg ? children(der, alg)[0] : undefined;
    if (!oid || !inner || inner.tag !== 0x04 || oidText(der.subarray(oid.body, oid.end)) !== RSA_ENCRYPTION) return undefined;
    rsa = tlv(der, inner.body, inner.end);
  }
  const [, n, e] = children(der, rsa);
  return n && e ? { n: magnitude(der, n), e: magnitude(der, e) } : undefined;
}

/**
 * A certificate's version ([0] EXPLICIT INTEGER, absent for v1) and its serial
 * INTEGER's content octets exactly as encoded; undefined where the DER is not
 * that shape.
 */
export function versionAndSerial(der: Uint8Array): { version: number | undefined; serial: Uint8Array | undefined } {
  try {
    const tbs = children(der, tlv(der, 0))[0];
    if (!tbs || tbs.tag !== 0x30) return { version: undefined, serial: undefined };
    const [first, second] = children(der, tbs);
    let version = 1;
    let serial = first;
    if (first?.tag === 0xa0) {
      const v = children(der, first)[0];
      if (!v || v.tag !== 0x02) return { version: undefined, serial: undefined };
      version = der[v.body]! + 1;
      serial = second;
    }
    return { version, serial: serial?.tag === 0x02 ? der.slice(serial.body, serial.end) : undefined };
  } catch {
    return { version: undefined, serial: undefined };
  }
}

/** What a signature covers and is: the TBS bytes, the algorithm (outer copy) and the signature value. */
export interface SignedParts {
  tbs: Uint8Array;
  signatureOid: string;
  /** DER of the algorithm's parameters; empty when absent. */
  signatureParams: Uint8Array;
  /** The TBS's own copy of the algorithm equals the outer one (Go and OpenSSL refuse a mismatch). */
  algorithmsAgree: boolean;
  signature: Uint8Array;
}

/**
 * A certificate as Go's parser reads it, in one pass over the DER, with the
 * fields Go's verifier uses in the shapes certinfo.ts gives them: what
 * validate --fleet needs on every host without a full parse.
 */
export interface RawCertificate {
  der: Uint8Array;
  version: number;
  serial: Uint8Array;
  subject: string;
  subjectDer: Uint8Array;
  issuer: string;
  issuerDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  signature: { oid: string; name: string; hash: string | undefined };
  publicKey: { spki: Uint8Array };
  extensions: { oid: string; name: string; critical: boolean; value: Uint8Array }[];
  basicConstraints: { ca: boolean; pathlen: number | undefined; critical: boolean } | undefined;
  keyUsage: { usages: KeyUsage[]; critical: boolean } | undefined;
  extendedKeyUsage: { oids: string[]; names: string[]; critical: boolean } | undefined;
  signed: SignedParts;
}

function malformed(what: string): SkycertError {
  return new SkycertError(`not a valid DER certificate (${what})`);
}

/** DER's length rules, which Go's cryptobyte enforces and OpenSSL does not: shortest form, no leading zero octet. */
function checkDer(der: Uint8Array, t: Tlv): void {
  const len = t.end - t.body;
  if (t.body - t.start > 2 && (len < 0x80 || der[t.start + 2] === 0)) throw malformed("length not in DER's shortest form");
  if ((t.tag & 0x1f) === 0x1f) throw malformed("multi-octet tag");
  if (!(t.tag & 0x20)) return;
  for (let at = t.body; at < t.end; ) {
    const c = tlv(der, at, t.end);
    checkDer(der, c);
    at = c.end;
  }
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw malformed(what);
  return t;
}

/** UTCTime (YYMMDDHHMMSSZ, 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), the forms RFC 5280 and Go accept. */
function readTime(der: Uint8Array, t: Tlv | undefined): Date {
  if (!t || (t.tag !== 0x17 && t.tag !== 0x18)) throw malformed("validity is not a time");
  const s = Buffer.from(der.subarray(t.body, t.end)).toString("latin1");
  const m = (t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(s);
  if (!m) throw malformed(`validity time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = m.slice(2).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) throw malformed(`validity time ${JSON.stringify(s)}`);
  return date;
}

/** The signed parts of a DER certificate, read from its top level only. */
export function signedParts(der: Uint8Array): SignedParts {
  return topLevel(der).signed;
}

/** The certificate's three parts and the TBS's fields, walked once. */
function topLevel(der: Uint8Array): { signed: SignedParts; fields: Tlv[] } {
  const cert = expectTag(tlv(der, 0), 0x30, "not a SEQUENCE");
  const [tbs, alg, sig, extra] = children(der, cert);
  if (extra) throw malformed("extra fields after the signature");
  expectTag(tbs, 0x30, "no TBSCertificate");
  expectTag(alg, 0x30, "no signatureAlgorithm");
  expectTag(sig, 0x03, "no signature BIT STRING");
  if (sig!.end === sig!.body || der[sig!.body] !== 0) throw malformed("signature BIT STRING with unused bits");
  const fields = children(der, tbs!);
  const innerAlg = expectTag(fields[fields[0]?.tag === 0xa0 ? 2 : 1], 0x30, "TBS signature algorithm");
  const [oid, params] = children(der, alg!);
  expectTag(oid, 0x06, "signatureAlgorithm OID");
  const bytes = (t: Tlv) => der.subarray(t.start, t.end);
  const signed = {
    tbs: bytes(tbs!),
    signatureOid: oidText(der.subarray(oid!.body, oid!.end)),
    signatureParams: params ? bytes(params) : new Uint8Array(0),
    algorithmsAgree: Buffer.compare(bytes(innerAlg), bytes(alg!)) === 0,
    signature: der.subarray(sig!.body + 1, sig!.end),
  };
  return { signed, fields };
}

/** Throws SkycertError where Go's parser refuses: BER lengths, trailing bytes, a malformed field or extension. */
export function walkCertificate(der: Uint8Array): RawCertificate {
  const cert = tlv(der, 0);
  if (cert.end !== der.length) throw malformed("trailing bytes after the certificate");
  checkDer(der, cert);
  const { signed, fields } = topLevel(der);
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    const v = expectTag(children(der, fields[0])[0], 0x02, "version");
    if (v.end - v.body !== 1 || der[v.body]! > 2) throw malformed("version");
    version = der[v.body]! + 1;
    i = 1;
  }
  const serial = expectTag(fields[i], 0x02, "serialNumber");
  const issuer = expectTag(fields[i + 2], 0x30, "issuer");
  const validity = expectTag(fields[i + 3], 0x30, "validity");
  const subject = expectTag(fields[i + 4], 0x30, "subject");
  const spki = expectTag(fields[i + 5], 0x30, "subjectPublicKeyInfo");
  for (const f of fields.slice(i + 6)) {
    if (f.tag !== 0xa1 && f.tag !== 0xa2 && f.tag !== 0xa3) throw malformed("unexpected field in TBSCertificate");
    if (f.tag === 0xa3 && version !== 3) throw malformed("extensions in a certificate that is not v3");
  }
  const [notBefore, notAfter, more] = children(der, validity);
  if (more) throw malformed("validity");
  const extensions = extensionsIn(der, fields.find((f) => f.tag === 0xa3)).map((e) => ({ oid: e.oid, name: EXTENSION_NAMES[e.oid] ?? e.oid, critical: e.critical, value: e.value }));
  const known = (oid: string) => extensions.find((e) => e.oid === oid);
  const bytes = (t: Tlv) => der.subarray(t.start, t.end);
  const subjectDer = bytes(subject);
  const issuerDer = bytes(issuer);
  const algorithm = SIGNATURE_ALGORITHMS[signed.signatureOid];
  return {
    der,
    version,
    serial: der.subarray(serial.body, serial.end),
    subject: nameText(subjectDer),
    subjectDer,
    issuer: nameText(issuerDer),
    issuerDer,
    notBefore: readTime(der, notBefore),
    notAfter: readTime(der, notAfter),
    signature: { oid: signed.signatureOid, name: algorithm?.name ?? signed.signatureOid, hash: algorithm?.hash },
    publicKey: { spki: bytes(spki) },
    extensions,
    basicConstraints: readBasicConstraints(known(EXTENSION_OIDS.basicConstraints)),
    keyUsage: readKeyUsage(known(EXTENSION_OIDS.keyUsage)),
    extendedKeyUsage: readExtendedKeyUsage(known(EXTENSION_OIDS.extendedKeyUsage)),
    signed,
  };
}

const EXTENSION_NAMES: Record<string, string> = Object.fromEntries(Object.entries(EXTENSION_OIDS).map(([n, o]) => [o, n]));

function readBasicConstraints(e: EncodedExtension | undefined): RawCertificate["basicConstraints"] {
  if (!e) return undefined;
  const v = e.value;
  const [first, second] = children(v, expectTag(tlv(v, 0), 0x30, "basicConstraints"));
  const ca = first?.tag === 0x01 && v[first.body] !== 0;
  const len = first?.tag === 0x02 ? first : second?.tag === 0x02 ? second : undefined;
  const pathlen = len ? v.subarray(len.body, len.end).reduce((n, b) => n * 256 + b, 0) : undefined;
  return { ca, pathlen, critical: e.critical };
}

function readKeyUsage(e: EncodedExtension | undefined): RawCertificate["keyUsage"] {
  if (!e) return undefined;
  const v = e.value;
  const bits = expectTag(tlv(v, 0), 0x03, "keyUsage");
  const at = (i: number) => ((v[bits.body + 1 + (i >> 3)] ?? 0) & (0x80 >> (i & 7))) !== 0;
  return { usages: KEY_USAGES.filter((_, i) => bits.body + 1 + (i >> 3) < bits.end && at(i)).map((k) => k.name), critical: e.critical };
}

function readExtendedKeyUsage(e: EncodedExtension | undefined): RawCertificate["extendedKeyUsage"] {
  if (!e) return undefined;
  const v = e.value;
  const oids = children(v, expectTag(tlv(v, 0), 0x30, "extendedKeyUsage")).map((o) => oidText(v.subarray(expectTag(o, 0x06, "extendedKeyUsage").body, o.end)));
  return { oids, names: oids.map((o) => EXTENDED_KEY_USAGES.find((k) => k.oid === o)?.name ?? o), critical: e.critical };
}

const NAME_KEYS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "1.2.840.113549.1.9.1": "emailAddress",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
};

/** A distinguished name (DER) as text for messages: `CN=skydive-agent, O=Skydive`, in encoded order. */
export function nameText(name: Uint8Array): string {
  return children(name, tlv(name, 0))
    .map((rdn) =>
      children(name, rdn)
        .map((ava) => {
          const [oid, value] = children(name, ava);
          if (!oid || oid.tag !== 0x06 || !value) throw malformed("name");
          const type = oidText(name.subarray(oid.body, oid.end));
          const raw = Buffer.from(name.subarray(value.body, value.end));
          const text = value.tag === 0x0c ? raw.toString("utf8") : value.tag === 0x1e && raw.length % 2 === 0 ? raw.swap16().toString("utf16le") : raw.toString("latin1");
          return `${NAME_KEYS[type] ?? type}=${text}`;
        })
        .join(" + "),
    )
    .join(", ");
}
