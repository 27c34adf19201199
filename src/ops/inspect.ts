/**
 * `skycert inspect FILE...`: what certificates, requests and keys hold, as
 * plain data. A file may hold several PEM blocks, or one DER object. Keys are
 * described by type, size and the SHA-256 of their public key (the same
 * fingerprint a certificate's key shows, so a key and its certificate can be
 * matched); the key material itself never appears, and an encrypted key is
 * reported as encrypted without being opened.
 */
import { type KeyObject, X509Certificate, createPrivateKey, createPublicKey, verify } from "node:crypto";
import { resolve } from "node:path";
import { type CertInfo, readCertificate, readRequest } from "../core/certinfo.js";
import { describeKey, publicKeyFingerprint } from "../core/keys.js";
import { type PemBlock, parsePem } from "../core/pem.js";
import { formatSan } from "../core/san.js";
import { oidText, tlv } from "../core/x509-raw.js";
import { readInput } from "../io/files.js";

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
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  status: "valid" | "expired" | "not yet valid";
  signatureAlgorithm: string;
  publicKey: KeySummary;
  fingerprint: string;
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
}

export interface OtherItem {
  kind: "unsupported";
  line: number;
  label: string;
}

export type InspectItem = CertificateItem | RequestItem | KeyItem | OtherItem;

export interface InspectedFile {
  path: string;
  items: InspectItem[];
  /** Why nothing could be read from it. */
  error?: string;
}

export interface InspectResult {
  ok: boolean;
  files: InspectedFile[];
}

const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
const TYPE_NAMES: Record<string, string> = { rsa: "RSA", ec: "EC", ed25519: "Ed25519", ed448: "Ed448", dsa: "DSA", "rsa-pss": "RSA-PSS" };

function keySummary(key: KeyObject): KeySummary {
  const d = describeKey(key);
  return {
    type: TYPE_NAMES[d.type] ?? d.type,
    bits: d.bits ?? (d.curve ? { prime256v1: 256, secp384r1: 384, secp521r1: 521 }[d.curve] : undefined),
    curve: d.curve ? (CURVE_NAMES[d.curve] ?? d.curve) : undefined,
    fingerprint: publicKeyFingerprint(key),
  };
}

function extensionsSummary(i: CertInfo): ExtensionsSummary {
  return {
    subjectAltNames: [...i.subjectAltNames.map(formatSan), ...i.otherNames],
    keyUsage: i.keyUsage ? { usages: [...i.keyUsage.usages], critical: i.keyUsage.critical } : null,
    extendedKeyUsage: i.extendedKeyUsage ? { usages: i.extendedKeyUsage.names, oids: i.extendedKeyUsage.oids, critical: i.extendedKeyUsage.critical } : null,
    basicConstraints: i.basicConstraints ? { ca: i.basicConstraints.ca, pathlen: i.basicConstraints.pathlen ?? null, critical: i.basicConstraints.critical } : null,
    subjectKeyIdentifier: colons(i.subjectKeyIdentifier),
    authorityKeyIdentifier: colons(i.authorityKeyIdentifier),
    all: i.extensions.map((e) => ({ name: e.name, oid: e.oid, critical: e.critical })),
  };
}

const colons = (hex: string | undefined) => (hex ? hex.toUpperCase().replace(/(..)(?!$)/g, "$1:") : null);

function certificateItem(der: Uint8Array, line: number, now: Date): CertificateItem {
  const i = readCertificate(der);
  const notBefore = i.notBefore!;
  const notAfter = i.notAfter!;
  let selfSigned = false;
  try {
    const x = new X509Certificate(Buffer.from(der));
    selfSigned = Buffer.from(i.subjectDer).equals(Buffer.from(i.issuerDer ?? [])) && x.verify(x.publicKey);
  } catch {
    /* Node cannot parse or verify it: not self-signed as far as we can tell */
  }
  const pub = createPublicKey({ key: Buffer.from(i.publicKey.spki), format: "der", type: "spki" });
  return {
    kind: "certificate",
    line,
    version: i.version ?? null,
    subject: i.subject,
    issuer: i.issuer ?? "",
    selfSigned,
    serial: colons(i.serial!.hex)!,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
    status: notAfter < now ? "expired" : notBefore > now ? "not yet valid" : "valid",
    signatureAlgorithm: i.signature.name,
    publicKey: keySummary(pub),
    ...extensionsSummary(i),
    fingerprint: i.fingerprint,
  };
}

function requestItem(der: Uint8Array, line: number): RequestItem {
  const i = readRequest(der);
  const pub = createPublicKey({ key: Buffer.from(i.publicKey.spki), format: "der", type: "spki" });
  return {
    kind: "request",
    line,
    subject: i.subject,
    signatureAlgorithm: i.signature.name,
    signatureValid: requestSignatureValid(der, pub, i.signature.hash),
    publicKey: keySummary(pub),
    requestedExtensions: extensionsSummary(i),
    fingerprint: i.fingerprint,
  };
}

/** A CSR is signed by its own key: CertificationRequestInfo, algorithm, signature. */
function requestSignatureValid(der: Uint8Array, key: KeyObject, hash: string | undefined): boolean {
  try {
    const seq = tlv(der, 0);
    const info = tlv(der, seq.body);
    const alg = tlv(der, info.end);
    const sig = tlv(der, alg.end);
    const signature = der.subarray(sig.body + 1, sig.end);
    const digest = hash ? hash.replace("-", "").toLowerCase() : null;
    return verify(digest, der.subarray(info.start, info.end), key, signature);
  } catch {
    return false;
  }
}


const PBE: Record<string, string> = {
  "1.2.840.113549.1.5.13": "PBES2",
  "1.2.840.113549.1.12.1.3": "pbeWithSHA1And3-KeyTripleDES-CBC",
  "1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
};
const CIPHERS: Record<string, string> = {
  "2.16.840.1.101.3.4.1.2": "aes-128-cbc",
  "2.16.840.1.101.3.4.1.22": "aes-192-cbc",
  "2.16.840.1.101.3.4.1.42": "aes-256-cbc",
  "1.2.840.113549.3.7": "des-ede3-cbc",
};

/** The scheme of an EncryptedPrivateKeyInfo (PBES2 with its cipher), read without decrypting anything. */
function pkcs8Encryption(der: Uint8Array): string {
  try {
    const outer = tlv(der, 0);
    const algSeq = tlv(der, outer.body);
    const oid = tlv(der, algSeq.body);
    const scheme = oidText(der.subarray(oid.body, oid.end));
    const name = PBE[scheme] ?? scheme;
    if (scheme !== "1.2.840.113549.1.5.13") return name;
    const params = tlv(der, oid.end);
    const kdf = tlv(der, params.body);
    const enc = tlv(der, kdf.end);
    const encOid = tlv(der, enc.body);
    const cipher = oidText(der.subarray(encOid.body, encOid.end));
    return `${name} (${CIPHERS[cipher] ?? cipher})`;
  } catch {
    return "encrypted";
  }
}

const PRIVATE_FORMATS: Record<string, { type: "pkcs8" | "pkcs1" | "sec1"; format: string }> = {
  "PRIVATE KEY": { type: "pkcs8", format: "PKCS#8" },
  "RSA PRIVATE KEY": { type: "pkcs1", format: "PKCS#1" },
  "EC PRIVATE KEY": { type: "sec1", format: "SEC1" },
};

function blockItem(block: PemBlock, now: Date): InspectItem {
  const { label, der, line } = block;
  switch (label) {
    case "CERTIFICATE":
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
      const procType = block.headers["Proc-Type"] ?? "";
      if (/ENCRYPTED/.test(procType)) {
        return { kind: "private-key", line, format: `${priv.format} (legacy PEM encryption)`, encrypted: true, encryption: (block.headers["DEK-Info"] ?? "").split(",")[0]?.toLowerCase() || "encrypted" };
      }
      const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: priv.type });
      return { kind: "private-key", line, format: priv.format, encrypted: false, publicKey: keySummary(key) };
    }
  }
}

/** A file with no PEM: one DER certificate, request or key. */
function derItem(bytes: Uint8Array, now: Date): InspectItem | undefined {
  const attempts: (() => InspectItem)[] = [
    () => certificateItem(bytes, 0, now),
    () => requestItem(bytes, 0),
    () => ({ kind: "private-key", line: 0, format: "PKCS#8 (DER)", encrypted: false, publicKey: keySummary(createPrivateKey({ key: Buffer.from(bytes), format: "der", type: "pkcs8" })) }),
    () => ({ kind: "private-key", line: 0, format: "PKCS#1 (DER)", encrypted: false, publicKey: keySummary(createPrivateKey({ key: Buffer.from(bytes), format: "der", type: "pkcs1" })) }),
    () => ({ kind: "private-key", line: 0, format: "SEC1 (DER)", encrypted: false, publicKey: keySummary(createPrivateKey({ key: Buffer.from(bytes), format: "der", type: "sec1" })) }),
    () => ({ kind: "public-key", line: 0, format: "SubjectPublicKeyInfo (DER)", encrypted: false, publicKey: keySummary(createPublicKey({ key: Buffer.from(bytes), format: "der", type: "spki" })) }),
  ];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function inspectFiles(paths: string[], cwd: string, now = new Date()): InspectResult {
  const files: InspectedFile[] = paths.map((p) => {
    const path = resolve(cwd, p);
    const input = readInput(path, "inspect", 16 * 1024 * 1024);
    const { blocks, problem } = parsePem(input.text);
    const items: InspectItem[] = [];
    let error: string | undefined;
    for (const block of blocks) {
      try {
        items.push(blockItem(block, now));
      } catch (err) {
        error ??= `line ${block.line}: ${block.label} block is not valid (${(err instanceof Error ? err.message : String(err)).split("\n")[0]})`;
      }
    }
    if (problem.kind !== "none") {
      const what = { truncated: "has no END line", mismatch: "ends with a different label", "bad-base64": "is not valid base64" }[problem.kind];
      error ??= `line ${problem.line}: a PEM block ${what}`;
    }
    if (blocks.length === 0 && problem.kind === "none") {
      const item = input.bytes.length ? derItem(new Uint8Array(input.bytes), now) : undefined;
      if (item) items.push(item);
      else error = input.bytes.length ? "no PEM block, and not a DER certificate, request or key" : "the file is empty";
    }
    return { path, items, ...(error ? { error } : {}) };
  });
  // Which keys belong to which certificates and requests given alongside.
  const owners = new Map<string, string[]>();
  for (const f of files) {
    f.items.forEach((item, n) => {
      if (item.kind === "certificate" || item.kind === "request") {
        const ref = `${f.path}#${n + 1}`;
        owners.set(item.publicKey.fingerprint, [...(owners.get(item.publicKey.fingerprint) ?? []), ref]);
      }
    });
  }
  for (const f of files) {
    for (const item of f.items) {
      if ((item.kind === "private-key" || item.kind === "public-key") && item.publicKey) {
        const m = owners.get(item.publicKey.fingerprint);
        if (m) item.matches = m;
      }
    }
  }
  return { ok: files.every((f) => !f.error), files };
}
