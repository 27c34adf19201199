/**
 * What each certificate carries, decided from the cnf and the flags before any
 * key exists:
 * - a self-signed role follows the seed's recipe (the cnf's v3_req and SANs);
 * - a host's certificate under skycert's CA is a leaf that serves and dials
 *   (serverAuth + clientAuth) and names that host only: the cnf's [alt_names]
 *   join it only when asked (--cnf-sans), so an agent's certificate never
 *   carries the analyzer's names;
 * - a person's client certificate is clientAuth only;
 * - skycert's CA signs and nothing else.
 */
import { usageError } from "../cli/errors.js";
import { type Cnf, getEntry, getSection } from "./cnf.js";
import { type ExtensionSpec, ensure, find, readExtensionSection, withSubjectAltNames } from "./extensions.js";
import { commonNameDer } from "./issue.js";
import type { KeyType } from "./keys.js";
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH } from "./oids.js";
import { type San, mergeSans } from "./san.js";

export type Role = "analyzer" | "agent";

export const DEFAULT_EXTENSIONS_SECTION = "v3_req";
const MAX_CN = 64; // ub-common-name

export interface Plan {
  cn: string;
  subject: Uint8Array;
  stem: string;
  extensionsSection: string;
  requestExtensions: ExtensionSpec[];
  certificateExtensions: ExtensionSpec[];
  sans: San[];
}

export function validateCommonName(cn: string, flag = "--cn"): string {
  if (cn.trim() === "") throw usageError(`${flag}: empty common name`);
  if (cn.length > MAX_CN) throw usageError(`${flag}: "${cn.slice(0, 20)}..." is ${cn.length} characters (a common name is at most ${MAX_CN})`);
  if (/[\x00-\x1f\x7f]/.test(cn)) throw usageError(`${flag}: control characters are not allowed in a common name`);
  return cn;
}

export function validateStem(stem: string, flag = "--stem"): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(stem)) {
    throw usageError(`${flag}: "${stem}" is not a usable file name stem`, "use letters, digits, dots, hyphens and underscores");
  }
  return stem;
}

/** The cnf's extensions section (`--extensions`, else the recipe's v3_req), with its SANs. */
function section(cnf: Cnf, name: string | undefined): { name: string; specs: ExtensionSpec[] } {
  const sectionName = name ?? DEFAULT_EXTENSIONS_SECTION;
  if (!getSection(cnf, sectionName)) {
    const available = [...cnf.sections.keys()].filter((s) => s !== "default").join(", ");
    throw usageError(
      name ? `--extensions ${sectionName}: ${cnf.file} has no section [${sectionName}]` : `${cnf.file}: no [${sectionName}] section, which the recipe signs with`,
      `choose a section with --extensions (sections: ${available || "none"})`,
    );
  }
  return { name: sectionName, specs: readExtensionSection(cnf, sectionName, { file: cnf.file, line: getSection(cnf, sectionName)!.where.line }) };
}

const noSans = (what: string, cnf: Cnf, sectionName: string) =>
  usageError(
    `no subjectAltName for ${what}: [${sectionName}] of ${cnf.file} has none and no --san was given`,
    "add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)",
  );

/** The seed's recipe for one role: the cnf's section, its SANs plus --san, self-signed. */
export function planSelfSigned(cnf: Cnf, request: { role: Role; cn?: string; extraSans: readonly San[]; extensionsSection?: string; stem?: string }): Plan {
  const cn = validateCommonName(request.cn ?? `skydive-${request.role}`);
  const { name, specs } = section(cnf, request.extensionsSection);
  const sans = mergeSans(find(specs, "subjectAltName")?.names ?? [], request.extraSans);
  if (sans.length === 0) throw noSans(`the ${request.role}`, cnf, name);
  const reqEntry = getEntry(cnf, "req", "req_extensions");
  let requested = reqEntry ? readExtensionSection(cnf, reqEntry.value, reqEntry.where) : [];
  requested = withSubjectAltNames(requested, mergeSans(find(requested, "subjectAltName")?.names ?? [], request.extraSans));
  const certificate = ensure(withSubjectAltNames(specs, sans), { kind: "subjectKeyIdentifier", critical: false, mode: "hash" });
  return {
    cn,
    subject: commonNameDer(cn),
    stem: request.stem ? validateStem(request.stem) : stemFor(request.role, sans, cn),
    extensionsSection: name,
    requestExtensions: requested,
    certificateExtensions: certificate,
    sans,
  };
}

/**
 * A host's certificate under skycert's CA: the cnf section's extensions, made a
 * leaf that serves and dials, with exactly `sans` (plus the cnf's own when
 * `cnfSans`). The request asks for the same, without key identifiers.
 */
export function planHostLeaf(cnf: Cnf, request: { cn: string; sans: readonly San[]; cnfSans: boolean; extensionsSection?: string; stem: string; keyType: KeyType }): Plan {
  const cn = validateCommonName(request.cn, "common name");
  const { name, specs } = section(cnf, request.extensionsSection);
  const sans = mergeSans(request.sans, request.cnfSans ? (find(specs, "subjectAltName")?.names ?? []) : []);
  if (sans.length === 0) throw noSans(`host ${cn}`, cnf, name);
  let leaf = withSubjectAltNames(specs, sans).map((s): ExtensionSpec => {
    if (s.kind === "basicConstraints") return { kind: "basicConstraints", critical: s.critical, ca: false };
    if (s.kind === "keyUsage") return { kind: "keyUsage", critical: s.critical, usages: leafUsages(request.keyType) };
    if (s.kind === "extendedKeyUsage") return { kind: "extendedKeyUsage", critical: s.critical, oids: [EKU_SERVER_AUTH, EKU_CLIENT_AUTH] };
    return s;
  });
  leaf = ensure(leaf, { kind: "basicConstraints", critical: false, ca: false });
  leaf = ensure(leaf, { kind: "keyUsage", critical: false, usages: leafUsages(request.keyType) });
  leaf = ensure(leaf, { kind: "extendedKeyUsage", critical: false, oids: [EKU_SERVER_AUTH, EKU_CLIENT_AUTH] });
  leaf = ensure(leaf, { kind: "subjectKeyIdentifier", critical: false, mode: "hash" });
  leaf = ensure(leaf, { kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" });
  return {
    cn,
    subject: commonNameDer(cn),
    stem: validateStem(request.stem),
    extensionsSection: name,
    requestExtensions: leafRequest(leaf),
    certificateExtensions: leaf,
    sans,
  };
}

/** A person's certificate for `skydive client --cert`: it authenticates, and serves nothing. */
export function planClient(request: { cn: string; keyType: KeyType }): Plan {
  const cn = validateCommonName(request.cn, "client name");
  const certificate: ExtensionSpec[] = [
    { kind: "basicConstraints", critical: false, ca: false },
    { kind: "keyUsage", critical: true, usages: ["digitalSignature"] },
    { kind: "extendedKeyUsage", critical: false, oids: [EKU_CLIENT_AUTH] },
    { kind: "subjectKeyIdentifier", critical: false, mode: "hash" },
    { kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" },
  ];
  return { cn, subject: commonNameDer(cn), stem: "client", extensionsSection: "(client profile)", requestExtensions: leafRequest(certificate), certificateExtensions: certificate, sans: [] };
}

/** ECDSA keys sign; RSA keys may also be used for key transport by older clients. */
function leafUsages(keyType: KeyType): ("digitalSignature" | "keyEncipherment")[] {
  return keyType === "ecdsa" ? ["digitalSignature"] : ["digitalSignature", "keyEncipherment"];
}

/** Key identifiers belong to the certificate, not to what the request asks for. */
export function leafRequest(certificate: readonly ExtensionSpec[]): ExtensionSpec[] {
  return certificate.filter((e) => e.kind !== "subjectKeyIdentifier" && e.kind !== "authorityKeyIdentifier");
}

/**
 * The seed's stems are `analyzer.domain.com` and `agent.domain.com`: the DNS SAN
 * named after the role. Without one, the common name.
 */
export function stemFor(role: string, sans: readonly San[], cn: string): string {
  const named = sans.find((s) => s.type === "DNS" && s.value.split(".")[0] === role);
  return named ? named.value : cn.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** skycert's CA: CA:TRUE with pathlen 0, keyCertSign and cRLSign (critical), a key identifier. */
export function caExtensions(): ExtensionSpec[] {
  return [
    { kind: "basicConstraints", critical: true, ca: true, pathlen: 0 },
    { kind: "keyUsage", critical: true, usages: ["keyCertSign", "cRLSign"] },
    { kind: "subjectKeyIdentifier", critical: false, mode: "hash" },
  ];
}
