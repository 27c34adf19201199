/**
 * The X.509v3 extension model behind `[req] req_extensions` and `-extensions`
 * sections (x509v3_config(5)): read from a parsed cnf, then DER-encoded for
 * encoded with @peculiar/asn1-x509 for issuance. Names OpenSSL knows but
 * skycert does not are errors, never dropped.
 */
import { createHash } from "node:crypto";
import { type Cnf, type CnfEntry, CnfError, getSection } from "./cnf.js";
import { type Where, failure } from "../cli/errors.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { type San, bytesToIp, dnsNameProblem, ipProblem, ipToBytes } from "./san.js";

import { EXTENDED_KEY_USAGES, EXTENSION_OIDS, KEY_USAGES, type KeyUsage } from "./oids.js";
export type ExtensionName = keyof typeof EXTENSION_OIDS;

/** Extensions OpenSSL knows that skycert deliberately does not issue. */
const KNOWN_UNSUPPORTED = new Set([
  "issuerAltName", "crlDistributionPoints", "certificatePolicies", "policyConstraints", "policyMappings",
  "nameConstraints", "authorityInfoAccess", "subjectInfoAccess", "inhibitAnyPolicy", "noCheck", "tlsfeature",
  "nsComment", "nsCertType", "nsBaseUrl", "nsRevocationUrl", "nsCaRevocationUrl", "nsRenewalUrl", "nsCaPolicyUrl",
  "nsSslServerName", "proxyCertInfo", "freshestCRL", "deltaCRL", "issuingDistributionPoint", "crlNumber",
  "subjectDirectoryAttributes", "basicConstraints_", "ct_precert_poison", "ct_precert_scts", "1.3.6.1.5.5.7.1.24",
]);

interface Base {
  readonly critical: boolean;
  /** Where the extension was defined; absent for ones skycert adds itself. */
  readonly where?: Where;
}
export type ExtensionSpec =
  | (Base & { kind: "basicConstraints"; ca: boolean; pathlen?: number })
  | (Base & { kind: "keyUsage"; usages: KeyUsage[] })
  | (Base & { kind: "extendedKeyUsage"; oids: string[] })
  | (Base & { kind: "subjectAltName"; names: San[] })
  | (Base & { kind: "subjectKeyIdentifier"; mode: "hash" | "none" | Uint8Array })
  | (Base & { kind: "authorityKeyIdentifier"; keyid: Directive; issuer: Directive });
type Directive = "off" | "on" | "always";

// ---------------------------------------------------------------------------
// Reading a section

/** The extensions of `[sectionName]`, in section order. `ref` is where the section was named. */
export function readExtensionSection(cnf: Cnf, sectionName: string, ref: Where): ExtensionSpec[] {
  const section = getSection(cnf, sectionName);
  if (!section) {
    const available = [...cnf.sections.keys()].filter((s) => s !== "default").join(", ");
    throw new CnfError(ref, `extension section [${sectionName}] is not defined`, `define it or choose one of: ${available || "(none)"}`);
  }
  return section.entries.map((entry) => readExtension(cnf, entry));
}

function readExtension(cnf: Cnf, entry: CnfEntry): ExtensionSpec {
  const { name, where } = entry;
  let value = entry.value;
  let critical = false;
  if (value.startsWith("critical,")) {
    critical = true;
    value = value.slice(9).replace(/^[ \t]+/, "");
  }
  if (/^(DER|ASN1):/.test(value)) {
    throw new CnfError(where, `${name}: raw ${value.split(":")[0]}: values are not supported`, "write the extension in its text form");
  }
  switch (name) {
    case "basicConstraints":
      return readBasicConstraints(items(cnf, entry, value), critical, where);
    case "keyUsage":
      return { kind: "keyUsage", critical, where, usages: items(cnf, entry, value).map(([n, , at]) => keyUsageNamed(n, at)) };
    case "extendedKeyUsage":
      return { kind: "extendedKeyUsage", critical, where, oids: items(cnf, entry, value).map(([n, v, at]) => ekuOid(v ?? n, at)) };
    case "subjectAltName":
      return { kind: "subjectAltName", critical, where, names: items(cnf, entry, value).map(([n, v, at]) => generalName(n, v, at)) };
    case "subjectKeyIdentifier":
      return { kind: "subjectKeyIdentifier", critical, where, mode: readSkid(value, where) };
    case "authorityKeyIdentifier":
      return readAkid(items(cnf, entry, value), critical, where);
    default:
      if (KNOWN_UNSUPPORTED.has(name)) {
        throw new CnfError(where, `extension ${name} is not supported by skycert`, `remove it; skycert issues ${Object.keys(EXTENSION_OIDS).join(", ")}`);
      }
      throw new CnfError(where, `unknown extension name "${name}"`, `skycert issues ${Object.keys(EXTENSION_OIDS).join(", ")}`);
  }
}

type Item = [name: string, value: string | undefined, where: Where];

/** `@section` (its name = value pairs) or an inline X509V3_parse_list list. */
function items(cnf: Cnf, entry: CnfEntry, value: string): Item[] {
  if (value.startsWith("@")) {
    const target = value.slice(1);
    const section = getSection(cnf, target);
    if (!section) throw new CnfError(entry.where, `${entry.name} refers to section [${target}], which is not defined`, `add a [${target}] section`);
    if (section.entries.length === 0) throw new CnfError(section.where, `section [${target}] used by ${entry.name} is empty`);
    return section.entries.map((e) => [e.name, e.value, e.where]);
  }
  const list = parseList(value, entry.where, entry.name);
  if (list.length === 0) throw new CnfError(entry.where, `${entry.name} has an empty value`);
  return list;
}

/** X509V3_parse_list: `name[:value]` items separated by commas, blanks trimmed. */
export function parseList(text: string, where: Where, what: string): Item[] {
  const out: Item[] = [];
  let name: string | undefined;
  let start = 0;
  const strip = (s: string) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  const need = (s: string, kind: "name" | "value") => {
    const v = strip(s);
    if (v === "") throw new CnfError(where, `${what}: empty ${kind} in "${text}"`);
    return v;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (name === undefined) {
      if (c === ":") {
        name = need(text.slice(start, i), "name");
        start = i + 1;
      } else if (c === ",") {
        out.push([need(text.slice(start, i), "name"), undefined, where]);
        start = i + 1;
      }
    } else if (c === ",") {
      out.push([name, need(text.slice(start, i), "value"), where]);
      name = undefined;
      start = i + 1;
    }
  }
  if (name !== undefined) out.push([name, need(text.slice(start), "value"), where]);
  else out.push([need(text.slice(start), "name"), undefined, where]);
  return out;
}

const TRUE = new Set(["TRUE", "true", "Y", "y", "YES", "yes"]);
const FALSE = new Set(["FALSE", "false", "N", "n", "NO", "no"]);

function readBasicConstraints(list: Item[], critical: boolean, where: Where): ExtensionSpec {
  let ca = false;
  let pathlen: number | undefined;
  for (const [name, value, at] of list) {
    if (name === "CA") {
      if (value !== undefined && TRUE.has(value)) ca = true;
      else if (value !== undefined && FALSE.has(value)) ca = false;
      else throw new CnfError(at, `basicConstraints: CA needs TRUE or FALSE, not "${value ?? ""}"`);
    } else if (name === "pathlen") {
      if (value === undefined || !/^(\d+|0x[0-9a-fA-F]+)$/.test(value)) {
        throw new CnfError(at, `basicConstraints: pathlen needs a non-negative integer, not "${value ?? ""}"`);
      }
      pathlen = Number(value);
      if (!Number.isSafeInteger(pathlen) || pathlen > 0x7fffffff) throw new CnfError(at, `basicConstraints: pathlen ${value} is too large`);
    } else {
      throw new CnfError(at, `basicConstraints: unknown option "${name}"`, "use CA:TRUE|FALSE and pathlen:N");
    }
  }
  if (pathlen !== undefined && !ca) throw new CnfError(where, "basicConstraints: pathlen is only allowed with CA:TRUE");
  return { kind: "basicConstraints", critical, where, ca, ...(pathlen !== undefined ? { pathlen } : {}) };
}

function keyUsageNamed(name: string, where: Where): KeyUsage {
  const ku = KEY_USAGES.find((k) => k.name === name || k.long === name);
  if (!ku) throw new CnfError(where, `keyUsage: unknown usage "${name}"`, `use ${KEY_USAGES.map((k) => k.name).join(", ")}`);
  return ku.name;
}

function ekuOid(name: string, where: Where): string {
  if (/^[0-2](\.(0|[1-9][0-9]*))+$/.test(name)) return name;
  const eku = EXTENDED_KEY_USAGES.find((e) => e.name === name || e.long === name);
  if (!eku) throw new CnfError(where, `extendedKeyUsage: unknown usage "${name}"`, "use serverAuth, clientAuth, another OpenSSL name, or a dotted OID");
  return eku.oid;
}

/** ossl_v3_name_cmp: `DNS`, `DNS.1` and `DNS.anything` all name the DNS type. */
function typeIs(name: string, type: string): boolean {
  return name === type || name.startsWith(`${type}.`);
}

function generalName(name: string, value: string | undefined, where: Where): San {
  if (value === undefined) {
    throw new CnfError(where, `subjectAltName: "${name}" has no type`, `write it as DNS:${name} or IP:${name}`);
  }
  if (typeIs(name, "DNS")) {
    const problem = dnsNameProblem(value);
    if (problem) throw new CnfError(where, `subjectAltName: DNS name "${value}" ${problem}`);
    return { type: "DNS", value: value.toLowerCase() };
  }
  if (typeIs(name, "IP")) {
    const problem = ipProblem(value);
    if (problem) throw new CnfError(where, `subjectAltName: IP "${value}" ${problem}`);
    return { type: "IP", value: bytesToIp(ipToBytes(value)) };
  }
  if (typeIs(name, "email")) {
    if (value === "copy" || value === "move") throw new CnfError(where, `subjectAltName: email:${value} is not supported`, "write the address itself");
    if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw new CnfError(where, `subjectAltName: "${value}" is not an e-mail address`);
    return { type: "email", value };
  }
  if (typeIs(name, "URI")) {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value) || !URL.canParse(value)) {
      throw new CnfError(where, `subjectAltName: "${value}" is not an absolute URI`);
    }
    return { type: "URI", value };
  }
  for (const t of ["RID", "dirName", "otherName"]) {
    if (typeIs(name, t)) throw new CnfError(where, `subjectAltName: ${t} names are not supported by skycert`, "use DNS, IP, email or URI");
  }
  throw new CnfError(where, `subjectAltName: unknown name type "${name}"`, "types are DNS, IP, email and URI (DNS.1, IP.2 ... in a section); they are case-sensitive");
}

function readSkid(value: string, where: Where): "hash" | "none" | Uint8Array {
  if (value === "hash" || value === "none") return value;
  const hex = value.replace(/:/g, "");
  if (/^([0-9a-fA-F]{2})+$/.test(hex)) return new Uint8Array(Buffer.from(hex, "hex"));
  throw new CnfError(where, `subjectKeyIdentifier: "${value}" is not hash, none or a hex string`);
}

function readAkid(list: Item[], critical: boolean, where: Where): ExtensionSpec {
  let keyid: Directive = "off";
  let issuer: Directive = "off";
  for (const [name, value, at] of list) {
    const directive: Directive = value === undefined ? "on" : value === "always" ? "always" : "off";
    if (value !== undefined && value !== "always") throw new CnfError(at, `authorityKeyIdentifier: "${name}:${value}" (only :always is allowed)`);
    if (name === "keyid") keyid = directive;
    else if (name === "issuer") issuer = directive;
    else if (name === "none") return { kind: "authorityKeyIdentifier", critical, where, keyid: "off", issuer: "off" };
    else throw new CnfError(at, `authorityKeyIdentifier: unknown option "${name}"`, "use keyid[:always] and issuer[:always]");
  }
  return { kind: "authorityKeyIdentifier", critical, where, keyid, issuer };
}

// ---------------------------------------------------------------------------
// Editing the list

/** Add `sans` to the section's subjectAltName, or add one; duplicates are merged by the caller. */
export function withSubjectAltNames(specs: ExtensionSpec[], names: San[]): ExtensionSpec[] {
  const i = specs.findIndex((s) => s.kind === "subjectAltName");
  if (i < 0) return names.length ? [...specs, { kind: "subjectAltName", critical: false, names }] : specs;
  const out = specs.slice();
  out[i] = { ...(specs[i] as Extract<ExtensionSpec, { kind: "subjectAltName" }>), names };
  return names.length ? out : out.filter((_, j) => j !== i);
}

export function find<K extends ExtensionSpec["kind"]>(specs: readonly ExtensionSpec[], kind: K): Extract<ExtensionSpec, { kind: K }> | undefined {
  return specs.find((s) => s.kind === kind) as Extract<ExtensionSpec, { kind: K }> | undefined;
}

/** Append `spec` unless one of its kind is already there (no duplicate extensions, ever). */
export function ensure(specs: ExtensionSpec[], spec: ExtensionSpec): ExtensionSpec[] {
  return specs.some((s) => s.kind === spec.kind) ? specs : [...specs, spec];
}

// ---------------------------------------------------------------------------
// Encoding, with @peculiar/asn1-x509's types

export interface Issuer {
  /** DER Name of the issuer (the subject itself when self-signed). */
  name: Uint8Array;
  serial: Uint8Array;
  keyIdentifier: Uint8Array | undefined;
  /** OpenSSL suppresses a self-signed certificate's AKID parts unless they say :always. */
  selfSigned: boolean;
}

export interface EncodedExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING, as OpenSSL's `hash`. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const info = AsnConvert.parse(ab(spki), asn.SubjectPublicKeyInfo);
  return new Uint8Array(createHash("sha1").update(new Uint8Array(info.subjectPublicKey)).digest());
}

/** DER of each extension. `issuer` is absent for requests. */
export function encodeExtensions(specs: readonly ExtensionSpec[], spki: Uint8Array, issuer?: Issuer): EncodedExtension[] {
  const out: EncodedExtension[] = [];
  for (const spec of specs) {
    const value = encodeValue(spec, spki, issuer);
    if (value) out.push({ oid: EXTENSION_OIDS[spec.kind], critical: spec.critical, value: new Uint8Array(AsnConvert.serialize(value)) });
  }
  return out;
}

function encodeValue(spec: ExtensionSpec, spki: Uint8Array, issuer: Issuer | undefined): object | undefined {
  switch (spec.kind) {
    case "basicConstraints":
      return new asn.BasicConstraints({ cA: spec.ca, ...(spec.pathlen !== undefined ? { pathLenConstraint: spec.pathlen } : {}) });
    case "keyUsage":
      return new asn.KeyUsage(spec.usages.reduce((flags, u) => flags | (1 << KEY_USAGES.findIndex((k) => k.name === u)), 0));
    case "extendedKeyUsage":
      return new asn.ExtendedKeyUsage(spec.oids);
    case "subjectAltName":
      return new asn.SubjectAlternativeName(spec.names.map(generalNameOf));
    case "subjectKeyIdentifier":
      if (spec.mode === "none") return undefined;
      return new asn.SubjectKeyIdentifier(ab(spec.mode === "hash" ? keyIdentifier(spki) : spec.mode));
    case "authorityKeyIdentifier": {
      if (!issuer) return undefined; // meaningless in a request
      const wanted = (d: Directive) => d === "always" || (d === "on" && !issuer.selfSigned);
      const keyid = wanted(spec.keyid) ? issuer.keyIdentifier : undefined;
      if (spec.keyid === "always" && !keyid) throw failure("authorityKeyIdentifier keyid:always, but the issuer certificate has no subjectKeyIdentifier", "use keyid without :always, or an issuer with a subjectKeyIdentifier");
      const withIssuer = spec.issuer === "always" || (wanted(spec.issuer) && !keyid);
      if (!keyid && !withIssuer) return undefined;
      return new asn.AuthorityKeyIdentifier({
        ...(keyid ? { keyIdentifier: new asn.KeyIdentifier(ab(keyid)) } : {}),
        ...(withIssuer
          ? { authorityCertIssuer: [new asn.GeneralName({ directoryName: AsnConvert.parse(ab(issuer.name), asn.Name) })], authorityCertSerialNumber: ab(issuer.serial) }
          : {}),
      });
    }
  }
}

function generalNameOf(san: San): asn.GeneralName {
  switch (san.type) {
    case "email":
      return new asn.GeneralName({ rfc822Name: san.value });
    case "DNS":
      return new asn.GeneralName({ dNSName: san.value });
    case "URI":
      return new asn.GeneralName({ uniformResourceIdentifier: san.value });
    case "IP":
      return new asn.GeneralName({ iPAddress: san.value });
  }
}
