/**
 * Reading certificates and requests into plain data, with @peculiar/x509 (its
 * extension classes) and @peculiar/asn1-x509 (the version and the serial's
 * octets as encoded). Judging them is Go's work (skydive/go-tls.ts); this is
 * what inspect shows, renew carries and CA loading needs.
 */
import "reflect-metadata";
import { X509Certificate, createPublicKey } from "node:crypto";
import { isIP } from "node:net";
import * as X509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { SkycertError } from "../cli/errors.js";
import { MAX_PEM_BYTES, readInput } from "../fs/files.js";
import type { EncodedExtension } from "./extensions.js";
import { EXTENDED_KEY_USAGES, EXTENSION_OIDS, KEY_USAGES, type KeyUsage, SIGNATURE_ALGORITHMS } from "./oids.js";
import { sha256Fingerprint } from "./keys.js";
import { parsePem } from "./pem.js";
import { type San, bytesToIp, ipToBytes } from "./san.js";

export interface SerialInfo {
  hex: string;
  octets: number;
  negative: boolean;
  /** DER requires the shortest encoding: no needless leading 0x00 or 0xFF. */
  minimal: boolean;
}

export interface SignatureInfo {
  oid: string | undefined;
  name: string;
  /** SHA-256, SHA-1, MD5...; undefined when the algorithm has no separate digest (Ed25519). */
  hash: string | undefined;
}

export interface PublicKeyInfo {
  type: string;
  bits: number | undefined;
  curve: string | undefined;
  spki: Uint8Array;
  /** SHA-256 of the SubjectPublicKeyInfo. */
  fingerprint: string;
}

export interface ExtensionInfo {
  oid: string;
  name: string;
  critical: boolean;
}

export interface CertInfo {
  kind: "certificate" | "request";
  der: Uint8Array;
  subject: string;
  subjectDer: Uint8Array;
  issuer: string | undefined;
  issuerDer: Uint8Array | undefined;
  serial: SerialInfo | undefined;
  notBefore: Date | undefined;
  notAfter: Date | undefined;
  signature: SignatureInfo;
  publicKey: PublicKeyInfo;
  /** Every extension as it appears, duplicates included. */
  extensions: ExtensionInfo[];
  basicConstraints: { ca: boolean; pathlen: number | undefined; critical: boolean } | undefined;
  keyUsage: { usages: KeyUsage[]; critical: boolean } | undefined;
  extendedKeyUsage: { oids: string[]; names: string[]; critical: boolean } | undefined;
  subjectAltNames: San[];
  /** SAN entries of other types (dirName, otherName...), as text. */
  otherNames: string[];
  /** IP SANs that are not 4 or 16 octets (which Go refuses to parse), as the parser renders them. */
  invalidIpSans?: string[];
  subjectKeyIdentifier: string | undefined;
  authorityKeyIdentifier: string | undefined;
  /** SHA-256 of the DER, colon-separated upper-case hex (as openssl -fingerprint -sha256). */
  fingerprint: string;
  /** X.509 version (1 or 3; 2 is rare), certificates only. */
  version?: number;
}


const EXTENSION_NAMES: Record<string, string> = Object.fromEntries(Object.entries(EXTENSION_OIDS).map(([n, o]) => [o, n]));
export const extensionName = (oid: string) => EXTENSION_NAMES[oid] ?? oid;
export const KEY_TYPE_NAMES: Record<string, string> = { rsa: "RSA", ec: "EC", ed25519: "Ed25519", ed448: "Ed448", dsa: "DSA", "rsa-pss": "RSA-PSS" };
const CURVES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

/** From the parser's WebCrypto-style description; unknown algorithms (MD5) arrive as their OID. */
function signatureInfo(alg: { name: string; hash?: { name: string } }): SignatureInfo {
  if (/^\d+(\.\d+)+$/.test(alg.name)) {
    const known = SIGNATURE_ALGORITHMS[alg.name];
    return { oid: alg.name, name: known?.name ?? alg.name, hash: known?.hash };
  }
  const hash = alg.hash?.name;
  const family = { "RSASSA-PKCS1-v1_5": "WithRSAEncryption", ECDSA: "ecdsa-with-", Ed25519: "ED25519", "RSA-PSS": "rsassaPss" }[alg.name];
  const entry = Object.entries(SIGNATURE_ALGORITHMS).find(([, v]) => family !== undefined && v.name.includes(family) && (v.hash === hash || v.hash === undefined));
  return entry ? { oid: entry[0], name: entry[1].name, hash: hash ?? entry[1].hash } : { oid: undefined, name: `${alg.name}${hash ? ` with ${hash}` : ""}`, hash };
}

/**
 * From the INTEGER's content octets as encoded. (The parser's `serialNumber` drops
 * the 0x00 that keeps a high-bit serial positive, so it cannot tell sign or size.)
 */
function serialInfo(hex: string, content: Uint8Array | undefined): SerialInfo {
  const bytes = content ? Buffer.from(content) : Buffer.from(hex, "hex");
  const negative = bytes.length > 0 && (bytes[0]! & 0x80) !== 0;
  const minimal =
    bytes.length > 0 &&
    !(bytes.length > 1 && bytes[0] === 0x00 && (bytes[1]! & 0x80) === 0) &&
    !(bytes.length > 1 && bytes[0] === 0xff && (bytes[1]! & 0x80) !== 0);
  return { hex, octets: bytes.length, negative, minimal };
}

function publicKeyInfo(spki: ArrayBuffer): PublicKeyInfo {
  const bytes = new Uint8Array(spki);
  const key = createPublicKey({ key: Buffer.from(bytes), format: "der", type: "spki" });
  const d = key.asymmetricKeyDetails ?? {};
  const type = KEY_TYPE_NAMES[key.asymmetricKeyType ?? ""] ?? String(key.asymmetricKeyType);
  return {
    type,
    bits: d.modulusLength ?? (d.namedCurve ? { prime256v1: 256, secp384r1: 384, secp521r1: 521 }[d.namedCurve] : undefined),
    curve: d.namedCurve ? (CURVES[d.namedCurve] ?? d.namedCurve) : undefined,
    spki: bytes,
    fingerprint: sha256Fingerprint(bytes),
  };
}

function describeExtensions(list: X509.Extension[]): Pick<
  CertInfo,
  "extensions" | "basicConstraints" | "keyUsage" | "extendedKeyUsage" | "subjectAltNames" | "otherNames" | "invalidIpSans" | "subjectKeyIdentifier" | "authorityKeyIdentifier"
> {
  const out: ReturnType<typeof describeExtensions> = {
    extensions: list.map((e) => ({ oid: e.type, name: extensionName(e.type), critical: e.critical })),
    basicConstraints: undefined,
    keyUsage: undefined,
    extendedKeyUsage: undefined,
    subjectAltNames: [],
    otherNames: [],
    subjectKeyIdentifier: undefined,
    authorityKeyIdentifier: undefined,
  };
  const { BasicConstraintsExtension, KeyUsagesExtension, ExtendedKeyUsageExtension, SubjectAlternativeNameExtension, SubjectKeyIdentifierExtension, AuthorityKeyIdentifierExtension } = X509;
  for (const e of list) {
    if (e instanceof BasicConstraintsExtension) out.basicConstraints = { ca: e.ca, pathlen: e.pathLength, critical: e.critical };
    else if (e instanceof KeyUsagesExtension) {
      out.keyUsage = { usages: KEY_USAGES.filter((_, i) => (e.usages & (1 << i)) !== 0).map((k) => k.name), critical: e.critical };
    } else if (e instanceof ExtendedKeyUsageExtension) {
      const oids = e.usages.map(String);
      out.extendedKeyUsage = { oids, names: oids.map((o) => EXTENDED_KEY_USAGES.find((k) => k.oid === o)?.name ?? o), critical: e.critical };
    } else if (e instanceof SubjectAlternativeNameExtension) {
      for (const n of e.names.items) {
        if (n.type === "dns") out.subjectAltNames.push({ type: "DNS", value: n.value.toLowerCase() });
        else if (n.type === "ip") {
          // The parser turns 8 or 32 octets into CIDR text and other lengths into hex; Go refuses both.
          if (isIP(n.value) === 0) (out.invalidIpSans ??= []).push(n.value);
          else out.subjectAltNames.push({ type: "IP", value: bytesToIp(ipToBytes(n.value)) });
        }
        else if (n.type === "email") out.subjectAltNames.push({ type: "email", value: n.value });
        else if (n.type === "url") out.subjectAltNames.push({ type: "URI", value: n.value });
        else out.otherNames.push(`${n.type}:${n.value}`);
      }
    } else if (e instanceof SubjectKeyIdentifierExtension) out.subjectKeyIdentifier = e.keyId.toUpperCase();
    else if (e instanceof AuthorityKeyIdentifierExtension) out.authorityKeyIdentifier = e.keyId?.toUpperCase();
  }
  return out;
}

function parseFailure(what: string, err: unknown): SkycertError {
  const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return new SkycertError(`not a valid ${what} (${detail})`);
}

/** Parse a DER certificate. Throws SkycertError when the DER is not one. */
export function readCertificate(der: Uint8Array): CertInfo {
  let cert: X509.X509Certificate;
  try {
    cert = new X509.X509Certificate(Buffer.from(der));
    void cert.subject;
  } catch (err) {
    throw parseFailure("X.509 certificate", err);
  }
  try {
    const tbs = AsnConvert.parse(Buffer.from(der), asn.Certificate).tbsCertificate;
    const head = { version: tbs.version + 1, serial: new Uint8Array(tbs.serialNumber) };
    return {
      kind: "certificate",
      der,
      subject: cert.subject,
      subjectDer: new Uint8Array(cert.subjectName.toArrayBuffer()),
      issuer: cert.issuer,
      issuerDer: new Uint8Array(cert.issuerName.toArrayBuffer()),
      serial: serialInfo(cert.serialNumber, head.serial),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      signature: signatureInfo(cert.signatureAlgorithm as never),
      publicKey: publicKeyInfo(cert.publicKey.rawData),
      ...describeExtensions(cert.extensions),
      fingerprint: sha256Fingerprint(der),
      version: head.version,
    };
  } catch (err) {
    throw parseFailure("X.509 certificate", err);
  }
}

/** Parse a DER PKCS#10 request, with its requested extensions. */
export function readRequest(der: Uint8Array): CertInfo {
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new X509.Pkcs10CertificateRequest(Buffer.from(der));
    return {
      kind: "request",
      der,
      subject: csr.subject,
      subjectDer: new Uint8Array(csr.subjectName.toArrayBuffer()),
      issuer: undefined,
      issuerDer: undefined,
      serial: undefined,
      notBefore: undefined,
      notAfter: undefined,
      signature: signatureInfo(csr.signatureAlgorithm as never),
      publicKey: publicKeyInfo(csr.publicKey.rawData),
      ...describeExtensions(csr.extensions),
      fingerprint: sha256Fingerprint(der),
    };
  } catch (err) {
    throw parseFailure("certificate request", err);
  }
}

/** The certificate's extensions in order, duplicates included, with their values as encoded (renew carries them byte for byte). */
export function rawExtensions(der: Uint8Array): EncodedExtension[] {
  try {
    const tbs = AsnConvert.parse(Buffer.from(der), asn.Certificate).tbsCertificate;
    return (tbs.extensions ?? []).map((e) => ({ oid: e.extnID, critical: e.critical, value: new Uint8Array(e.extnValue.buffer) }));
  } catch (err) {
    throw parseFailure("X.509 certificate", err);
  }
}

/** Self-issued (issuer = subject) and signed by its own key. */
export function isSelfSigned(info: CertInfo): boolean {
  if (!info.issuerDer || !Buffer.from(info.subjectDer).equals(info.issuerDer)) return false;
  try {
    const x = new X509Certificate(info.der);
    return x.verify(x.publicKey);
  } catch {
    return false; // Node cannot parse or verify it: not self-signed as far as can be told
  }
}

/** The first certificate in a PEM file, parsed; undefined when there is none or it cannot be read. */
export function firstCertificate(path: string): CertInfo | undefined {
  try {
    const der = parsePem(readInput(path, "certificate", MAX_PEM_BYTES).text).blocks.find((b) => b.label === "CERTIFICATE")?.der;
    return der && readCertificate(der);
  } catch {
    return undefined;
  }
}
