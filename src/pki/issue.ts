/**
 * Certificates and requests skycert issues: built with @peculiar/asn1-x509's
 * types and signed by Node's crypto. The digest is always SHA-256, the serial is
 * what randomSerial made, and any RSA or EC key Node holds can be the subject.
 */
import { type KeyObject, randomBytes, sign } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import * as csr from "@peculiar/asn1-csr";
import { SkycertError } from "../cli/errors.js";
import { type EncodedExtension, type ExtensionSpec, type Issuer, encodeExtensions, keyIdentifier } from "./extensions.js";
import { spkiDer } from "./keys.js";

const OID_CN = "2.5.4.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** sha256WithRSAEncryption for RSA, ecdsa-with-SHA256 for EC: Go accepts both, and SHA-256 is skycert's policy. */
function signatureAlgorithm(key: KeyObject): asn.AlgorithmIdentifier {
  if (key.asymmetricKeyType === "rsa") return new asn.AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: null });
  if (key.asymmetricKeyType === "ec") return new asn.AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" });
  throw new SkycertError(`cannot sign with a ${key.asymmetricKeyType} key`, { remedy: "use an RSA or ECDSA key" });
}

/** ECDSA signatures in X.509 are DER (r, s), which is what Node's sign gives by default. */
function signBytes(tbs: ArrayBuffer, key: KeyObject): ArrayBuffer {
  return ab(sign("sha256", new Uint8Array(tbs), key));
}

/** From now, to the second (as OpenSSL), for `days` days. */
export function validity(days: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
}

/** A Name holding only a Common Name, as `-subj /CN=...` makes it (UTF8String, OpenSSL's utf8only mask). */
export function commonNameDer(cn: string): Uint8Array {
  const name = new asn.Name([new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type: OID_CN, value: new asn.AttributeValue({ utf8String: cn }) })])]);
  return new Uint8Array(AsnConvert.serialize(name));
}

/**
 * 20 random octets with the top bit clear and the next one set: positive, minimally
 * encoded and exactly 20 octets, like OpenSSL's, within RFC 5280's limit.
 */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(20));
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

function asnExtensions(exts: readonly EncodedExtension[]): asn.Extensions {
  return new asn.Extensions(exts.map((e) => new asn.Extension({ extnID: e.oid, critical: e.critical, extnValue: new OctetString(ab(e.value)) })));
}

export interface RequestInput {
  subject: Uint8Array;
  privateKey: KeyObject;
  extensions: readonly ExtensionSpec[];
}

/** PKCS#10 request, self-signed, with the extensions as an extensionRequest attribute. */
export function makeRequest(input: RequestInput): Uint8Array {
  const spki = spkiDer(input.privateKey);
  const exts = encodeExtensions(input.extensions, spki);
  const info = new csr.CertificationRequestInfo({
    subject: AsnConvert.parse(ab(input.subject), asn.Name),
    subjectPKInfo: AsnConvert.parse(ab(spki), asn.SubjectPublicKeyInfo),
  });
  if (exts.length) info.attributes.push(new asn.Attribute({ type: OID_EXTENSION_REQUEST, values: [AsnConvert.serialize(asnExtensions(exts))] }));
  const alg = signatureAlgorithm(input.privateKey);
  const request = new csr.CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: alg,
    signature: signBytes(AsnConvert.serialize(info), input.privateKey),
  });
  return new Uint8Array(AsnConvert.serialize(request));
}

export interface CertificateInput {
  subject: Uint8Array;
  /** The certified key (public, or the private key of a self-signed certificate). */
  subjectKey: KeyObject;
  extensions: readonly ExtensionSpec[];
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The signer; absent for a self-signed certificate, which `subjectKey` (private) signs. */
  issuer?: { name: Uint8Array; serial: Uint8Array; keyIdentifier: Uint8Array | undefined; privateKey: KeyObject };
  /** Extensions already in DER, used as they are instead of `extensions` (renew carries an old certificate's). */
  encodedExtensions?: readonly EncodedExtension[];
}

export function makeCertificate(input: CertificateInput): Uint8Array {
  const spki = spkiDer(input.subjectKey);
  const signer = input.issuer?.privateKey ?? (input.subjectKey.type === "private" ? input.subjectKey : undefined);
  if (!signer) throw new SkycertError("no signing key for the certificate");
  const issuer: Issuer = input.issuer
    ? { name: input.issuer.name, serial: input.issuer.serial, keyIdentifier: input.issuer.keyIdentifier, selfSigned: false }
    : { name: input.subject, serial: input.serial, keyIdentifier: selfKeyIdentifier(input.extensions, spki), selfSigned: true };
  const exts = input.encodedExtensions ? [...input.encodedExtensions] : encodeExtensions(input.extensions, spki, issuer);
  const alg = signatureAlgorithm(signer);
  const tbs = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: ab(input.serial),
    signature: alg,
    issuer: AsnConvert.parse(ab(issuer.name), asn.Name),
    validity: new asn.Validity({ notBefore: input.notBefore, notAfter: input.notAfter }),
    subject: AsnConvert.parse(ab(input.subject), asn.Name),
    subjectPublicKeyInfo: AsnConvert.parse(ab(spki), asn.SubjectPublicKeyInfo),
    ...(exts.length ? { extensions: asnExtensions(exts) } : {}),
  });
  const cert = new asn.Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg, signatureValue: signBytes(AsnConvert.serialize(tbs), signer) });
  return new Uint8Array(AsnConvert.serialize(cert));
}

/** A self-signed certificate's own key identifier, which its authorityKeyIdentifier may repeat. */
function selfKeyIdentifier(exts: readonly ExtensionSpec[], spki: Uint8Array): Uint8Array | undefined {
  const skid = exts.find((e) => e.kind === "subjectKeyIdentifier");
  if (!skid || skid.mode === "none") return undefined;
  return skid.mode === "hash" ? keyIdentifier(spki) : skid.mode;
}
