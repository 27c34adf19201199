/**
 * One PEM block or DER object as plain data. Certificates and requests are
 * read by pki/read.ts (@peculiar/x509); keys by node:crypto, which opens a key
 * only to describe its public half; an encrypted key's scheme is read from its
 * AlgorithmIdentifier by node-forge's ASN.1 parser, and the key is not opened.
 * Nothing here returns key material: a private key is named by the SHA-256 of
 * its public key, the fingerprint a certificate's key shows too.
 */
import { type KeyObject, X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import asn1 from "node-forge/lib/asn1.js";
import { Pkcs10CertificateRequest } from "@peculiar/x509";
import { colonHex, publicKeyFingerprint } from "../pki/keys.js";
import type { PemBlock } from "../pki/pem.js";
import { type CertInfo, readCertificate, readRequest } from "../pki/read.js";
import { formatSan } from "../pki/san.js";
import type { CertRole } from "./roles.js";

export interface KeySummary {
  type: string;
  bits: number | undefined;
  curve: string | undefined;
  /** SHA-256 of the SubjectPublicKeyInfo. */
  fingerprint: string;
}

export interface ExtensionsSummary {
  subjectAltNames: string[];
  keyUsage: { usages: string[]; critical: boolean } | null;
  extendedKeyUsage: { usages: string[]; oids: string[]; critical: boolean } | null;
  basicConstraints: { ca: boolean; pathlen: number | null; critical: boolean } | null;
  subjectKeyIdentifier: string | null;
  authorityKeyIdentifier: string | null;
  /** Every extension, in order, duplicates included. */
  all: { name: string; oid: string; critical: boolean }[];
}

export interface CertificateItem extends ExtensionsSummary {
  kind: "certificate";
  /** 1-based line of the PEM block, or 0 for DER. */
  line: number;
  version: number | null;
  subject: string;
  issuer: string;
  selfSigned: boolean;
  serial: string;
  /** The serial as encoded: octets, sign, and whether the encoding is minimal (Go refuses negative and non-minimal serials). */
  serialEncoding: { octets: number; negative: boolean; minimal: boolean };
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  status: "valid" | "expired" | "not yet valid";
  signatureAlgorithm: string;
  publicKey: KeySummary;
  fingerprint: string;
  /** Which certificate skycert issues this is (filled in by roles.ts). */
  role?: CertRole;
}

export interface RequestItem {
  kind: "request";
  line: number;
  subject: string;
  signatureAlgorithm: string;
  signatureValid: boolean;
  publicKey: KeySummary;
  requestedExtensions: ExtensionsSummary;
  fingerprint: string;
}

export interface KeyItem {
  kind: "private-key" | "public-key";
  line: number;
  format: string;
  encrypted: boolean;
  /** Absent for an encrypted key, which is not opened. */
  publicKey?: KeySummary;
  encryption?: string;
  /** Certificates and requests given alongside whose public key this is (file#index). */
  matches?: string[];
  /** With no match among the files given: the certificate found on disk that this key belongs to (beside it, or in its fleet record). */
  certificate?: { path: string; subject: string; found: string };
}

export interface OtherItem {
  kind: "unsupported";
  line: number;
  label: string;
}

export type InspectItem = CertificateItem | RequestItem | KeyItem | OtherItem;

const TYPE_NAMES: Record<string, string> = { rsa: "RSA", ec: "EC", ed25519: "Ed25519", ed448: "Ed448", dsa: "DSA", "rsa-pss": "RSA-PSS" };
const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: "P-256", bits: 256 },
  secp384r1: { name: "P-384", bits: 384 },
  secp521r1: { name: "P-521", bits: 521 },
  secp224r1: { name: "P-224", bits: 224 },
  prime192v1: { name: "P-192", bits: 192 },
};

export function keySummary(key: KeyObject): KeySummary {
  const d = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType ?? "unknown";
  const curve = d.namedCurve ? CURVES[d.namedCurve] : undefined;
  return {
    type: TYPE_NAMES[type] ?? type,
    bits: d.modulusLength ?? curve?.bits ?? (type === "ed25519" ? 256 : type === "ed448" ? 456 : undefined),
    curve: d.namedCurve ? (curve?.name ?? d.namedCurve) : undefined,
    fingerprint: publicKeyFingerprint(key),
  };
}

const spkiKey = (i: CertInfo) => createPublicKey({ key: Buffer.from(i.publicKey.spki), format: "der", type: "spki" });
const colons = (hex: string | undefined) => (hex ? colonHex(Buffer.from(hex.replace(/:/g, ""), "hex")) : null);

function extensionsSummary(i: CertInfo): ExtensionsSummary {
  return {
    subjectAltNames: [...i.subjectAltNames.map(formatSan), ...i.otherNames, ...(i.invalidIpSans ?? []).map((v) => `IP:${v} (invalid)`)],
    keyUsage: i.keyUsage ? { usages: [...i.keyUsage.usages], critical: i.keyUsage.critical } : null,
    extendedKeyUsage: i.extendedKeyUsage ? { usages: i.extendedKeyUsage.names, oids: i.extendedKeyUsage.oids, critical: i.extendedKeyUsage.critical } : null,
    basicConstraints: i.basicConstraints ? { ca: i.basicConstraints.ca, pathlen: i.basicConstraints.pathlen ?? null, critical: i.basicConstraints.critical } : null,
    subjectKeyIdentifier: colons(i.subjectKeyIdentifier),
    authorityKeyIdentifier: colons(i.authorityKeyIdentifier),
    all: i.extensions.map((e) => ({ name: e.name, oid: e.oid, critical: e.critical })),
  };
}

/** Self-issued (issuer = subject) and signed by its own key. */
function isSelfSigned(der: Uint8Array, i: CertInfo): boolean {
  if (!i.issuerDer || !Buffer.from(i.subjectDer).equals(Buffer.from(i.issuerDer))) return false;
  try {
    const x = new X509Certificate(Buffer.from(der));
    return x.verify(x.publicKey);
  } catch {
    return false; // Node cannot parse or verify it: not self-signed as far as can be told
  }
}

export function certificateItem(der: Uint8Array, line: number, now: Date): CertificateItem {
  const i = readCertificate(der);
  const notBefore = i.notBefore!;
  const notAfter = i.notAfter!;
  const serial = i.serial!;
  return {
    kind: "certificate",
    line,
    version: i.version ?? null,
    subject: i.subject,
    issuer: i.issuer ?? "",
    selfSigned: isSelfSigned(der, i),
    serial: colons(serial.hex)!,
    serialEncoding: { octets: serial.octets, negative: serial.negative, minimal: serial.minimal },
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
    status: notAfter < now ? "expired" : notBefore > now ? "not yet valid" : "valid",
    signatureAlgorithm: i.signature.name,
    publicKey: keySummary(spkiKey(i)),
    ...extensionsSummary(i),
    fingerprint: i.fingerprint,
  };
}

/** A CSR is signed by its own key; @peculiar/x509 checks it with WebCrypto. */
async function requestSignatureValid(der: Uint8Array): Promise<boolean> {
  try {
    return await new Pkcs10CertificateRequest(Buffer.from(der)).verify();
  } catch {
    return false;
  }
}

export async function requestItem(der: Uint8Array, line: number): Promise<RequestItem> {
  const i = readRequest(der);
  return {
    kind: "request",
    line,
    subject: i.subject,
    signatureAlgorithm: i.signature.name,
    signatureValid: await requestSignatureValid(der),
    publicKey: keySummary(spkiKey(i)),
    requestedExtensions: extensionsSummary(i),
    fingerprint: i.fingerprint,
  };
}

const PBE: Record<string, string> = {
  "1.2.840.113549.1.5.13": "PBES2",
  "1.2.840.113549.1.12.1.3": "pbeWithSHA1And3-KeyTripleDES-CBC",
  "1.2.840.113549.1.12.1.6": "pbeWithSHA1And40BitRC2-CBC",
  "1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
  "1.2.840.113549.1.5.10": "pbeWithSHA1AndDES-CBC",
};
const CIPHERS: Record<string, string> = {
  "2.16.840.1.101.3.4.1.2": "aes-128-cbc",
  "2.16.840.1.101.3.4.1.22": "aes-192-cbc",
  "2.16.840.1.101.3.4.1.42": "aes-256-cbc",
  "1.2.840.113549.3.7": "des-ede3-cbc",
  "1.3.14.3.2.7": "des-cbc",
};

type Asn1 = ReturnType<typeof asn1.fromDer>;
const children = (node: Asn1 | undefined): Asn1[] => (node && Array.isArray(node.value) ? (node.value as Asn1[]) : []);
const oidOf = (node: Asn1 | undefined) => (node && node.type === asn1.Type.OID && typeof node.value === "string" ? asn1.derToOid(node.value) : undefined);

/**
 * The scheme of an EncryptedPrivateKeyInfo (RFC 5958): its encryptionAlgorithm,
 * and for PBES2 the cipher of its encryptionScheme. Only the AlgorithmIdentifier
 * is read; the encrypted octets are not touched.
 */
export function pkcs8Encryption(der: Uint8Array): string {
  try {
    const root = asn1.fromDer(Buffer.from(der).toString("binary"), true);
    const [alg] = children(root);
    const [oidNode, params] = children(alg);
    const scheme = oidOf(oidNode);
    if (!scheme) return "encrypted";
    const name = PBE[scheme] ?? scheme;
    if (scheme !== "1.2.840.113549.1.5.13") return name;
    const [, encryptionScheme] = children(params);
    const cipher = oidOf(children(encryptionScheme)[0]);
    return cipher ? `${name} (${CIPHERS[cipher] ?? cipher})` : name;
  } catch {
    return "encrypted";
  }
}

const PRIVATE_FORMATS: Record<string, { type: "pkcs8" | "pkcs1" | "sec1"; format: string }> = {
  "PRIVATE KEY": { type: "pkcs8", format: "PKCS#8" },
  "RSA PRIVATE KEY": { type: "pkcs1", format: "PKCS#1" },
  "EC PRIVATE KEY": { type: "sec1", format: "SEC1" },
};

/** A private key's public half, described; the KeyObject is dropped at once. */
function privateKeySummary(der: Uint8Array, type: "pkcs8" | "pkcs1" | "sec1"): KeySummary {
  return keySummary(createPublicKey(createPrivateKey({ key: Buffer.from(der), format: "der", type })));
}

export async function blockItem(block: PemBlock, now: Date): Promise<InspectItem> {
  const { label, der, line } = block;
  switch (label) {
    case "CERTIFICATE":
    case "X509 CERTIFICATE":
      return certificateItem(der, line, now);
    case "CERTIFICATE REQUEST":
    case "NEW CERTIFICATE REQUEST":
      return requestItem(der, line);
    case "ENCRYPTED PRIVATE KEY":
      return { kind: "private-key", line, format: "PKCS#8", encrypted: true, encryption: pkcs8Encryption(der) };
    case "PUBLIC KEY":
      return { kind: "public-key", line, format: "SubjectPublicKeyInfo", encrypted: false, publicKey: keySummary(createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" })) };
    default: {
      const priv = PRIVATE_FORMATS[label];
      if (!priv) return { kind: "unsupported", line, label };
      if (/ENCRYPTED/.test(block.headers["Proc-Type"] ?? "")) {
        const cipher = (block.headers["DEK-Info"] ?? "").split(",")[0]?.trim().toLowerCase();
        return { kind: "private-key", line, format: `${priv.format} (legacy PEM encryption)`, encrypted: true, encryption: cipher || "encrypted" };
      }
      return { kind: "private-key", line, format: priv.format, encrypted: false, publicKey: privateKeySummary(der, priv.type) };
    }
  }
}

/** A file without PEM: one DER certificate, request, key or public key. */
export async function derItem(bytes: Uint8Array, now: Date): Promise<InspectItem | undefined> {
  const attempts: (() => InspectItem | Promise<InspectItem>)[] = [
    () => certificateItem(bytes, 0, now),
    () => requestItem(bytes, 0),
    () => ({ kind: "private-key", line: 0, format: "PKCS#8 (DER)", encrypted: false, publicKey: privateKeySummary(bytes, "pkcs8") }),
    () => ({ kind: "private-key", line: 0, format: "PKCS#1 (DER)", encrypted: false, publicKey: privateKeySummary(bytes, "pkcs1") }),
    () => ({ kind: "private-key", line: 0, format: "SEC1 (DER)", encrypted: false, publicKey: privateKeySummary(bytes, "sec1") }),
    () => ({ kind: "public-key", line: 0, format: "SubjectPublicKeyInfo (DER)", encrypted: false, publicKey: keySummary(createPublicKey({ key: Buffer.from(bytes), format: "der", type: "spki" })) }),
  ];
  for (const attempt of attempts) {
    try {
      return await attempt();
    } catch {
      /* next */
    }
  }
  // An encrypted PKCS#8 key in DER: recognised by its scheme, never opened.
  const scheme = pkcs8Encryption(bytes);
  if (scheme !== "encrypted" && !/^\d+(\.\d+)+$/.test(scheme)) return { kind: "private-key", line: 0, format: "PKCS#8 (DER)", encrypted: true, encryption: scheme };
  return undefined;
}
