/**
 * One PEM block or DER object as plain data, never key material. Certificates
 * and requests are read by pki/read.ts; keys by node:crypto, which opens a key
 * only to describe its public half; an encrypted key is not opened: its scheme
 * is read from its AlgorithmIdentifier by node-forge's ASN.1 parser.
 */
import { type KeyObject, createPrivateKey, createPublicKey } from "node:crypto";
import asn1 from "node-forge/lib/asn1.js";
import { Pkcs10CertificateRequest } from "@peculiar/x509";
import { CURVE_NAMES, colonHex, publicKeyFingerprint } from "../pki/keys.js";
import type { PemBlock } from "../pki/pem.js";
import { type CertInfo, KEY_TYPE_NAMES, type PublicKeyInfo, isSelfSigned, readCertificate, readRequest } from "../pki/read.js";
import { formatSan } from "../pki/san.js";
import type { CertRole } from "./roles.js";

export type KeySummary = Omit<PublicKeyInfo, "spki">;
export type ExtensionsSummary = ReturnType<typeof extensionsSummary>;
export type CertificateItem = ReturnType<typeof certificateItem> & { role?: CertRole };
export type RequestItem = Awaited<ReturnType<typeof requestItem>>;

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
  /** With no match among the files given: the certificate on disk this key belongs to (beside it, or in its fleet record). */
  certificate?: { path: string; subject: string; found: string };
}

export type InspectItem = CertificateItem | RequestItem | KeyItem | { kind: "unsupported"; line: number; label: string };

export function keySummary(key: KeyObject): KeySummary {
  const { modulusLength, namedCurve } = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType ?? "unknown";
  const curve = namedCurve ? CURVE_NAMES[namedCurve] : undefined;
  return {
    type: KEY_TYPE_NAMES[type] ?? type,
    // "P-256" names its size.
    bits: modulusLength ?? (curve ? Number(curve.slice(2)) : ({ ed25519: 256, ed448: 456 } as Record<string, number>)[type]),
    curve: namedCurve && (curve ?? namedCurve),
    fingerprint: publicKeyFingerprint(key),
  };
}

const spkiSummary = (der: Uint8Array) => keySummary(createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" }));
const colons = (hex: string | undefined) => (hex ? colonHex(Buffer.from(hex, "hex")) : null);

/** Each of the usual extensions (null when absent), then every extension in order, duplicates included. */
function extensionsSummary(i: CertInfo) {
  const { extendedKeyUsage: eku, basicConstraints: bc } = i;
  return {
    subjectAltNames: [...i.subjectAltNames.map(formatSan), ...i.otherNames, ...(i.invalidIpSans ?? []).map((v) => `IP:${v} (invalid)`)],
    keyUsage: i.keyUsage ?? null,
    extendedKeyUsage: eku ? { usages: eku.names, oids: eku.oids, critical: eku.critical } : null,
    basicConstraints: bc ? { ca: bc.ca, pathlen: bc.pathlen ?? null, critical: bc.critical } : null,
    subjectKeyIdentifier: colons(i.subjectKeyIdentifier),
    authorityKeyIdentifier: colons(i.authorityKeyIdentifier),
    all: i.extensions.map(({ name, oid, critical }) => ({ name, oid, critical })),
  };
}

/** `line`: the PEM block's, 1-based, or 0 for DER. The serial's encoding is kept: Go refuses negative and non-minimal serials. */
export function certificateItem(der: Uint8Array, line: number, now: Date) {
  const i = readCertificate(der);
  const [notBefore, notAfter, { hex, ...serialEncoding }] = [i.notBefore!, i.notAfter!, i.serial!];
  return {
    kind: "certificate" as const,
    line,
    version: i.version ?? null,
    subject: i.subject,
    issuer: i.issuer ?? "",
    selfSigned: isSelfSigned(i),
    serial: colons(hex)!,
    serialEncoding,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
    status: notAfter < now ? "expired" : notBefore > now ? "not yet valid" : "valid",
    signatureAlgorithm: i.signature.name,
    publicKey: spkiSummary(i.publicKey.spki),
    ...extensionsSummary(i),
    fingerprint: i.fingerprint,
  };
}

export async function requestItem(der: Uint8Array, line: number) {
  const i = readRequest(der);
  // A CSR is signed by its own key; @peculiar/x509 checks it with WebCrypto.
  const signatureValid = await new Pkcs10CertificateRequest(Buffer.from(der)).verify().catch(() => false);
  return { kind: "request" as const, line, subject: i.subject, signatureAlgorithm: i.signature.name, signatureValid, publicKey: spkiSummary(i.publicKey.spki), requestedExtensions: extensionsSummary(i), fingerprint: i.fingerprint };
}

const PBES2 = "1.2.840.113549.1.5.13";
const PKCS5 = "1.2.840.113549.1.5.";
const PKCS12 = "1.2.840.113549.1.12.1.";
const PBE: Record<string, string> = { [PBES2]: "PBES2", [`${PKCS12}3`]: "pbeWithSHA1And3-KeyTripleDES-CBC", [`${PKCS12}6`]: "pbeWithSHA1And40BitRC2-CBC", [`${PKCS5}3`]: "pbeWithMD5AndDES-CBC", [`${PKCS5}10`]: "pbeWithSHA1AndDES-CBC" };
const AES = "2.16.840.1.101.3.4.1.";
const CIPHERS: Record<string, string> = { [`${AES}2`]: "aes-128-cbc", [`${AES}22`]: "aes-192-cbc", [`${AES}42`]: "aes-256-cbc", "1.2.840.113549.3.7": "des-ede3-cbc", "1.3.14.3.2.7": "des-cbc" };

type Asn1 = ReturnType<typeof asn1.fromDer>;
const children = (node: Asn1 | undefined): Asn1[] => (node && Array.isArray(node.value) ? (node.value as Asn1[]) : []);
const oidOf = (node: Asn1 | undefined) => (node && node.type === asn1.Type.OID && typeof node.value === "string" ? asn1.derToOid(node.value) : undefined);

/**
 * The scheme of an EncryptedPrivateKeyInfo (RFC 5958): its encryptionAlgorithm,
 * and for PBES2 the cipher of its encryptionScheme. Only the AlgorithmIdentifier
 * is read; the encrypted octets are not touched.
 */
function pkcs8Encryption(der: Uint8Array): string {
  try {
    const [oidNode, params] = children(children(asn1.fromDer(Buffer.from(der).toString("binary"), true))[0]);
    const scheme = oidOf(oidNode);
    if (!scheme) return "encrypted";
    const cipher = scheme === PBES2 ? oidOf(children(children(params)[1])[0]) : undefined;
    return `${PBE[scheme] ?? scheme}${cipher ? ` (${CIPHERS[cipher] ?? cipher})` : ""}`;
  } catch {
    return "encrypted";
  }
}

const PRIVATE_FORMATS = { "PRIVATE KEY": ["pkcs8", "PKCS#8"], "RSA PRIVATE KEY": ["pkcs1", "PKCS#1"], "EC PRIVATE KEY": ["sec1", "SEC1"] } as const;

/** A private key's public half, described; the KeyObject is dropped at once. */
const privateKeyItem = (der: Uint8Array, line: number, type: "pkcs8" | "pkcs1" | "sec1", format: string): KeyItem => ({
  kind: "private-key", line, format, encrypted: false, publicKey: keySummary(createPublicKey(createPrivateKey({ key: Buffer.from(der), format: "der", type }))),
});
const publicKeyItem = (der: Uint8Array, line: number, format: string): KeyItem => ({ kind: "public-key", line, format, encrypted: false, publicKey: spkiSummary(der) });
const encryptedKeyItem = (line: number, format: string, encryption: string): KeyItem => ({ kind: "private-key", line, format, encrypted: true, encryption });

export async function blockItem(block: PemBlock, now: Date): Promise<InspectItem> {
  const { label, der, line } = block;
  if (label === "CERTIFICATE" || label === "X509 CERTIFICATE") return certificateItem(der, line, now);
  if (label === "CERTIFICATE REQUEST" || label === "NEW CERTIFICATE REQUEST") return requestItem(der, line);
  if (label === "ENCRYPTED PRIVATE KEY") return encryptedKeyItem(line, "PKCS#8", pkcs8Encryption(der));
  if (label === "PUBLIC KEY") return publicKeyItem(der, line, "SubjectPublicKeyInfo");
  if (!Object.hasOwn(PRIVATE_FORMATS, label)) return { kind: "unsupported", line, label };
  const [type, format] = PRIVATE_FORMATS[label as keyof typeof PRIVATE_FORMATS];
  if (!/ENCRYPTED/.test(block.headers["Proc-Type"] ?? "")) return privateKeyItem(der, line, type, format);
  const cipher = (block.headers["DEK-Info"] ?? "").split(",")[0]?.trim().toLowerCase();
  return encryptedKeyItem(line, `${format} (legacy PEM encryption)`, cipher || "encrypted");
}

/** A file without PEM: one DER certificate, request, key or public key. */
export async function derItem(bytes: Uint8Array, now: Date): Promise<InspectItem | undefined> {
  const attempts = [
    () => certificateItem(bytes, 0, now),
    () => requestItem(bytes, 0),
    ...Object.values(PRIVATE_FORMATS).map(([type, format]) => () => privateKeyItem(bytes, 0, type, `${format} (DER)`)),
    () => publicKeyItem(bytes, 0, "SubjectPublicKeyInfo (DER)"),
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
  return scheme !== "encrypted" && !/^\d+(\.\d+)+$/.test(scheme) ? encryptedKeyItem(0, "PKCS#8 (DER)", scheme) : undefined;
}
