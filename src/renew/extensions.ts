/**
 * The renewed certificate's extensions: carried byte for byte, in order (ones
 * skycert does not issue too), but for what must be re-encoded: the SAN when
 * names change, the SKID with a new key, the AKID with a new signer (or in a
 * self-signed certificate naming its own key or serial). --profile derives them.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { usageError } from "../cli/errors.js";
import { chooseCnf, loadCnf } from "../pki/cnf.js";
import { type EncodedExtension, type ExtensionSpec, type Issuer, encodeExtensions, find, keyIdentifier, withSubjectAltNames } from "../pki/extensions.js";
import type { KeyType } from "../pki/keys.js";
import { EXTENSION_OIDS as OID } from "../pki/oids.js";
import { DEFAULT_EXTENSIONS_SECTION, caExtensions, planClient, planHostLeaf, planSelfSigned } from "../pki/profile.js";
import { type CertInfo, extensionName } from "../pki/read.js";
import type { San } from "../pki/san.js";
import type { CertKind, RenewOptions } from "./renew.js";

type Action = "carried" | "re-encoded" | "added" | "dropped" | "derived";
/** The old certificate's extensions, in order, and what renew did with each; then what it added. */
type Report = { name: string; oid: string; critical: boolean; action: Action }[];
const entry = (e: { oid: string; critical: boolean }, action: Action) => ({ name: extensionName(e.oid), oid: e.oid, critical: e.critical, action });

export interface ExtensionPlan {
  raw: readonly EncodedExtension[];
  info: CertInfo;
  serial: Uint8Array;
  /** The CA that signs it; absent when it signs itself. */
  ca?: { subjectDer: Uint8Array; serial: Uint8Array; keyIdentifier: Uint8Array };
  caChanged: boolean;
  rekey: boolean;
  /** The names, when they change. */
  sans?: San[];
  profile?: ExtensionSpec[];
}

/** The extensions that certify `spki` (known only once a new key is made), and what became of each old one. */
export function renewedExtensions(p: ExtensionPlan, spki: Uint8Array): { exts: EncodedExtension[]; report: Report } {
  const issuer: Issuer = p.ca
    ? { name: p.ca.subjectDer, serial: p.ca.serial, keyIdentifier: p.ca.keyIdentifier, selfSigned: false }
    : { name: p.info.subjectDer, serial: p.serial, keyIdentifier: selfKeyId(p, spki), selfSigned: true };
  if (p.profile) {
    const exts = encodeExtensions(p.profile, spki, issuer);
    return { exts, report: [...exts.map((e) => entry(e, "derived")), ...p.raw.filter((e) => !exts.some((x) => x.oid === e.oid)).map((e) => entry(e, "dropped"))] };
  }
  const exts: EncodedExtension[] = [];
  const report: Report = [];
  const put = (e: EncodedExtension, action: Action) => {
    exts.push(e);
    report.push(entry(e, action));
  };
  const encode = (spec: ExtensionSpec) => encodeExtensions([spec], spki, issuer)[0]!;
  const akid: ExtensionSpec = { kind: "authorityKeyIdentifier", critical: false, keyid: "always", issuer: "off" };
  for (const e of p.raw) {
    if (e.oid === OID.subjectAltName && p.sans) {
      if (p.sans.length) put(encode({ kind: "subjectAltName", critical: e.critical, names: p.sans }), "re-encoded");
      else report.push(entry(e, "dropped"));
    } else if (e.oid === OID.subjectKeyIdentifier && p.rekey) put(encode({ kind: "subjectKeyIdentifier", critical: e.critical, mode: "hash" }), "re-encoded");
    else if (e.oid === OID.authorityKeyIdentifier && p.caChanged) put(encode(akid), "re-encoded");
    else if (e.oid === OID.authorityKeyIdentifier && !p.ca) {
      const again = selfAkid(e, spki, issuer, p.rekey);
      put(again ?? e, again ? "re-encoded" : "carried");
    } else put(e, "carried");
  }
  if (p.sans?.length && !p.raw.some((e) => e.oid === OID.subjectAltName)) put(encode({ kind: "subjectAltName", critical: false, names: p.sans }), "added");
  if (p.caChanged && !p.raw.some((e) => e.oid === OID.authorityKeyIdentifier)) put(encode(akid), "added");
  return { exts, report };
}

/** The key identifier a self-signed certificate's AKID repeats: its SKID (new with --rekey), else the key's hash. */
function selfKeyId(p: ExtensionPlan, spki: Uint8Array): Uint8Array {
  const skid = p.profile ? find(p.profile, "subjectKeyIdentifier")?.mode : !p.rekey && p.info.subjectKeyIdentifier ? Buffer.from(p.info.subjectKeyIdentifier, "hex") : undefined;
  return skid instanceof Uint8Array ? skid : keyIdentifier(spki);
}

/**
 * A self-signed certificate's AKID names its own key, and may name its own
 * issuer and serial: re-encoded when the key or the serial changes; one that
 * does not parse is carried as it is.
 */
function selfAkid(e: EncodedExtension, spki: Uint8Array, issuer: Issuer, rekey: boolean): EncodedExtension | undefined {
  let akid: asn.AuthorityKeyIdentifier;
  try {
    akid = AsnConvert.parse(e.value, asn.AuthorityKeyIdentifier);
  } catch {
    return undefined;
  }
  const keyid = akid.keyIdentifier && new Uint8Array(akid.keyIdentifier.buffer);
  const name = akid.authorityCertIssuer?.find((g) => g.directoryName)?.directoryName;
  const withIssuer = name !== undefined && akid.authorityCertSerialNumber !== undefined;
  if (!(rekey && keyid) && !withIssuer) return undefined;
  const spec: ExtensionSpec = { kind: "authorityKeyIdentifier", critical: e.critical, keyid: keyid ? "always" : "off", issuer: withIssuer ? "always" : "off" };
  const named = { ...issuer, name: name ? new Uint8Array(AsnConvert.serialize(name)) : issuer.name, keyIdentifier: rekey ? issuer.keyIdentifier : keyid };
  return encodeExtensions([spec], spki, named)[0];
}

/** skycert's profile for the certificate's kind, with the names it keeps. */
export function profileExtensions(kind: CertKind, info: CertInfo, sans: San[], keyType: KeyType, opts: RenewOptions): { specs: ExtensionSpec[]; from: string } {
  if (kind === "ca") return { specs: caExtensions(), from: "skycert's CA profile" };
  if (kind === "client") return { specs: withSubjectAltNames(planClient({ cn: "client", keyType }).certificateExtensions, sans), from: "skycert's client profile (clientAuth only)" };
  const choice = chooseCnf(opts.cwd, opts.cnf);
  const cnf = loadCnf(choice.path, opts.cnf ? "--cnf" : "cnf");
  const where = `[${opts.extensions ?? DEFAULT_EXTENSIONS_SECTION}] of ${choice.source === "bundled template" ? "the bundled template" : choice.path}`;
  if (kind === "self-signed") {
    // The seed's CN is skydive-<role>; anything else reads as an analyzer (only messages depend on it).
    const role = /CN=skydive-agent\b/.test(info.subject) ? "agent" : "analyzer";
    const plan = planSelfSigned(cnf, { role, extraSans: sans, extensionsSection: opts.extensions });
    return { specs: withSubjectAltNames(plan.certificateExtensions, sans), from: `the seed's recipe, ${where}` };
  }
  if (sans.length === 0) throw usageError(`--profile: ${opts.cert} has no subjectAltName, and a host certificate must name its host`, "add --san ADDRESS for every name or IP a peer dials");
  const plan = planHostLeaf(cnf, { cn: "host", sans, cnfSans: false, extensionsSection: opts.extensions, stem: "host", keyType });
  return { specs: plan.certificateExtensions, from: `skycert's host profile (serverAuth + clientAuth), ${where}` };
}
