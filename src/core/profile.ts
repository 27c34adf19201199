/**
 * What each role's request and certificate carry, decided from the cnf and the
 * flags, before any key exists. Self-signed roles follow the seed's recipe;
 * CA-signed roles are leaf certificates under skycert's CA.
 */
import { type Cnf, getEntry, getSection } from "./cnf.js";
import { usageError } from "./errors.js";
import { type ExtensionSpec, ensure, find, readExtensionSection, withSubjectAltNames } from "./extensions.js";
import { commonNameDer } from "./issue.js";
import { type San, mergeSans } from "./san.js";
import type { Role } from "./stanza.js";

export const DEFAULT_EXTENSIONS_SECTION = "v3_req";
const MAX_CN = 64; // ub-common-name

export interface RoleRequest {
  role: Role;
  cn?: string;
  /** From --san, already validated. */
  extraSans: readonly San[];
  /** From --extensions; the recipe's `v3_req` otherwise. */
  extensionsSection?: string;
  stem?: string;
  /** Signed by skycert's CA rather than self-signed. */
  caSigned: boolean;
}

export interface RolePlan {
  role: Role;
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

export function planRole(cnf: Cnf, request: RoleRequest): RolePlan {
  const { role } = request;
  const cn = validateCommonName(request.cn ?? `skydive-${role}`);
  const sectionName = request.extensionsSection ?? DEFAULT_EXTENSIONS_SECTION;
  if (!getSection(cnf, sectionName)) {
    const available = [...cnf.sections.keys()].filter((s) => s !== "default").join(", ");
    throw usageError(
      request.extensionsSection
        ? `--extensions ${sectionName}: ${cnf.file} has no section [${sectionName}]`
        : `${cnf.file}: no [${sectionName}] section, which the recipe signs with`,
      `choose a section with --extensions (sections: ${available || "none"})`,
    );
  }
  const at = { file: cnf.file, line: getSection(cnf, sectionName)!.where.line };
  let certificate = readExtensionSection(cnf, sectionName, at);

  const reqEntry = getEntry(cnf, "req", "req_extensions");
  let requested = reqEntry ? readExtensionSection(cnf, reqEntry.value, reqEntry.where) : [];

  const sans = mergeSans(find(certificate, "subjectAltName")?.names ?? [], request.extraSans);
  if (sans.length === 0) {
    throw usageError(
      `no subjectAltName for the ${role}: [${sectionName}] of ${cnf.file} has none and no --san was given`,
      `add --san ADDRESS for every name or IP a peer dials (Go never uses the CN)`,
    );
  }
  certificate = withSubjectAltNames(certificate, sans);
  requested = withSubjectAltNames(requested, mergeSans(find(requested, "subjectAltName")?.names ?? [], request.extraSans));
  certificate = ensure(certificate, { kind: "subjectKeyIdentifier", critical: false, mode: "hash" });

  if (request.caSigned) certificate = leafUnderCa(certificate);

  return {
    role,
    cn,
    subject: commonNameDer(cn),
    stem: request.stem ? validateStem(request.stem) : stemFor(role, sans, cn),
    extensionsSection: sectionName,
    requestExtensions: requested,
    certificateExtensions: certificate,
    sans,
  };
}

/**
 * The seed's stems are `analyzer.domain.com` and `agent.domain.com`: the DNS SAN
 * named after the role. Without one, the common name.
 */
export function stemFor(role: string, sans: readonly San[], cn: string): string {
  const named = sans.find((s) => s.type === "DNS" && s.value.split(".")[0] === role);
  return named ? named.value : cn.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * Under a CA a role certificate is a leaf: CA:FALSE, digitalSignature and
 * keyEncipherment, the cnf's extendedKeyUsage, and the CA's key identifier.
 */
function leafUnderCa(specs: ExtensionSpec[]): ExtensionSpec[] {
  const leaf: ExtensionSpec[] = specs.map((s) => {
    if (s.kind === "basicConstraints") return { kind: "basicConstraints", critical: s.critical, ca: false };
    if (s.kind === "keyUsage") return { kind: "keyUsage", critical: s.critical, usages: ["digitalSignature", "keyEncipherment"] };
    return s;
  });
  let out = ensure(leaf, { kind: "basicConstraints", critical: false, ca: false });
  out = ensure(out, { kind: "keyUsage", critical: false, usages: ["digitalSignature", "keyEncipherment"] });
  return ensure(out, { kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" });
}

/** skycert's CA: CA:TRUE with pathlen 0, keyCertSign and cRLSign (critical), a key identifier. */
export function caExtensions(): ExtensionSpec[] {
  return [
    { kind: "basicConstraints", critical: true, ca: true, pathlen: 0 },
    { kind: "keyUsage", critical: true, usages: ["keyCertSign", "cRLSign"] },
    { kind: "subjectKeyIdentifier", critical: false, mode: "hash" },
  ];
}
