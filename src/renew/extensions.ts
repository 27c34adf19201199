/**
 * A certificate's extensions as they are encoded, so renew can carry each one
 * byte for byte (ones skycert does not issue too), and the few it must
 * re-encode: the subjectAltName when names are added or dropped, the key
 * identifiers when the key changes, the authorityKeyIdentifier when the signer
 * changes (or, in a self-signed certificate, when it names its own serial).
 * Parsed with @peculiar/asn1-x509, never by hand.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { failure } from "../cli/errors.js";
import type { EncodedExtension } from "../pki/extensions.js";
import { EXTENSION_OIDS } from "../pki/oids.js";

const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

export const EXTENSION_NAMES: Record<string, string> = Object.fromEntries(Object.entries(EXTENSION_OIDS).map(([n, o]) => [o, n]));
export const extensionName = (oid: string) => EXTENSION_NAMES[oid] ?? oid;

/** The TBSCertificate's extensions, in order, duplicates included, with their values as encoded. */
export function rawExtensions(der: Uint8Array): EncodedExtension[] {
  const tbs = AsnConvert.parse(ab(der), asn.Certificate).tbsCertificate;
  return (tbs.extensions ?? []).map((e) => ({ oid: e.extnID, critical: e.critical, value: new Uint8Array(e.extnValue.buffer) }));
}

/** Go refuses a certificate with two extensions of one type: renew cannot reproduce it. */
export function refuseDuplicates(exts: readonly EncodedExtension[], certPath: string): void {
  const seen = new Set<string>();
  for (const e of exts) {
    if (seen.has(e.oid)) {
      throw failure(`${certPath} has two ${extensionName(e.oid)} extensions, which Go rejects ("x509: certificate contains duplicate extensions")`, "re-issue it with skycert init instead of renewing it");
    }
    seen.add(e.oid);
  }
}

export interface AkidParts {
  keyIdentifier?: Uint8Array;
  issuer?: Uint8Array;
  serial?: Uint8Array;
}

/** What an authorityKeyIdentifier holds; undefined when its value does not parse (it is then carried as it is). */
export function readAkid(value: Uint8Array): AkidParts | undefined {
  try {
    const akid = AsnConvert.parse(ab(value), asn.AuthorityKeyIdentifier);
    const name = akid.authorityCertIssuer?.find((g) => g.directoryName)?.directoryName;
    return {
      ...(akid.keyIdentifier ? { keyIdentifier: new Uint8Array(akid.keyIdentifier.buffer) } : {}),
      ...(name ? { issuer: new Uint8Array(AsnConvert.serialize(name)) } : {}),
      ...(akid.authorityCertSerialNumber ? { serial: new Uint8Array(akid.authorityCertSerialNumber) } : {}),
    };
  } catch {
    return undefined;
  }
}

export function encodeAkid(parts: AkidParts, critical: boolean): EncodedExtension {
  const value = new asn.AuthorityKeyIdentifier({
    ...(parts.keyIdentifier ? { keyIdentifier: new asn.KeyIdentifier(ab(parts.keyIdentifier)) } : {}),
    ...(parts.issuer && parts.serial
      ? { authorityCertIssuer: [new asn.GeneralName({ directoryName: AsnConvert.parse(ab(parts.issuer), asn.Name) })], authorityCertSerialNumber: ab(parts.serial) }
      : {}),
  });
  return { oid: EXTENSION_OIDS.authorityKeyIdentifier, critical, value: new Uint8Array(AsnConvert.serialize(value)) };
}

export function encodeSkid(keyId: Uint8Array, critical: boolean): EncodedExtension {
  return { oid: EXTENSION_OIDS.subjectKeyIdentifier, critical, value: new Uint8Array(AsnConvert.serialize(new asn.SubjectKeyIdentifier(ab(keyId)))) };
}
