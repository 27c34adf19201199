/**
 * skycert's one DER walker (definite lengths only, as DER requires), for what
 * must be read exactly as encoded: extensions renew carries byte for byte, the
 * version and serial octets validate judges, the identities and key parts a
 * fleet compares, the signed part of a request, an encrypted key's scheme.
 */
import { SkycertError } from "./errors.js";
import type { EncodedExtension } from "./extensions.js";

export interface Tlv {
  tag: number;
  start: number;
  /** First content octet. */
  body: number;
  end: number;
}

export function tlv(der: Uint8Array, at: number, limit = der.length): Tlv {
  const bad = () => new SkycertError("not a valid DER certificate (truncated or indefinite length)");
  if (at + 2 > limit) throw bad();
  const tag = der[at]!;
  let len = der[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw bad();
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + der[body + k]!;
    body += n;
  }
  if (body + len > limit) throw bad();
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

export function oidText(bytes: Uint8Array): string {
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
  const wrapper = children(der, tbs).find((t) => t.tag === 0xa3);
  if (!wrapper) return [];
  const list = children(der, wrapper)[0];
  if (!list) return [];
  return children(der, list).map((ext) => {
    const parts = children(der, ext);
    const oid = parts[0];
    const last = parts[parts.length - 1];
    if (!oid || oid.tag !== 0x06 || !last || last.tag !== 0x04) throw new SkycertError("not a valid DER certificate (malformed extension)");
    const critical = parts.length === 3 && parts[1]!.tag === 0x01 && der[parts[1]!.body] !== 0;
    return { oid: oidText(der.subarray(oid.body, oid.end)), critical, value: der.slice(last.body, last.end) };
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

function hex(der: Uint8Array, t: Tlv): string {
  return Buffer.from(der.subarray(t.body, t.end)).toString("hex").replace(/^(00)+(?=.)/, "");
}

/**
 * The RSA public part (modulus and exponent, hex) of a SubjectPublicKeyInfo, or
 * undefined for another key type: what `openssl x509 -modulus` compares.
 */
export function rsaPublicOfSpki(spki: Uint8Array): { n: string; e: string } | undefined {
  const outer = tlv(spki, 0, spki.length);
  const [alg, bits] = children(spki, outer);
  const oid = alg ? children(spki, alg)[0] : undefined;
  if (!oid || !bits || oidText(spki.subarray(oid.body, oid.end)) !== RSA_ENCRYPTION) return undefined;
  const key = tlv(spki, bits.body + 1, bits.end);
  const [n, e] = children(spki, key);
  return n && e ? { n: hex(spki, n), e: hex(spki, e) } : undefined;
}

/**
 * The RSA public part of a private key (PKCS#8 or PKCS#1 DER), read without
 * importing the key: a fleet's key-match compares it with the certificate's.
 * Undefined for other key types, which callers import instead.
 */
export function rsaPublicOfPrivateKey(der: Uint8Array, pkcs1: boolean): { n: string; e: string } | undefined {
  let rsa: Tlv = tlv(der, 0, der.length);
  if (!pkcs1) {
    const [, alg, inner] = children(der, rsa);
    const oid = alg ? children(der, alg)[0] : undefined;
    if (!oid || !inner || inner.tag !== 0x04 || oidText(der.subarray(oid.body, oid.end)) !== RSA_ENCRYPTION) return undefined;
    rsa = tlv(der, inner.body, inner.end);
  }
  const [, n, e] = children(der, rsa);
  return n && e ? { n: hex(der, n), e: hex(der, e) } : undefined;
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
