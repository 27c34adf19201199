/**
 * Certificates and requests skycert issues: the to-be-signed structure is
 * DER-encoded with node-forge's ASN.1 module and signed by Node's native
 * crypto. So the digest is always SHA-256, the serial is what randomSerial
 * made, IP SANs are octets, and any key type Node holds can be the subject.
 */
import { type KeyObject, createPublicKey, randomBytes, sign } from "node:crypto";
import * as der from "./der.js";
import { SkycertError } from "./errors.js";
import { type EncodedExtension, type ExtensionSpec, type Issuer, encodeExtensions, extensionsNode, keyIdentifier } from "./extensions.js";

const OID_CN = "2.5.4.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

interface SignatureAlgorithm {
  oid: string;
  digest: string;
  /** RSA PKCS#1 v1.5 algorithms carry an explicit NULL parameter; ECDSA ones carry none. */
  nullParams: boolean;
}

/** sha256WithRSAEncryption for RSA; ECDSA with the digest that matches the curve. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === "rsa") return { oid: "1.2.840.113549.1.1.11", digest: "sha256", nullParams: true };
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "secp384r1") return { oid: "1.2.840.10045.4.3.3", digest: "sha384", nullParams: false };
    if (curve === "secp521r1") return { oid: "1.2.840.10045.4.3.4", digest: "sha512", nullParams: false };
    return { oid: "1.2.840.10045.4.3.2", digest: "sha256", nullParams: false };
  }
  throw new SkycertError(`cannot sign with a ${key.asymmetricKeyType} key`, { remedy: "use an RSA or EC key" });
}

function algorithmIdentifier(alg: SignatureAlgorithm): der.Node {
  return der.seq([der.oid(alg.oid), ...(alg.nullParams ? [der.nul()] : [])]);
}

/** A Name holding only a Common Name, as `-subj /CN=...` makes it (UTF8String, OpenSSL's utf8only mask). */
export function commonNameDer(cn: string): Uint8Array {
  return der.toDer(der.seq([der.set([der.seq([der.oid(OID_CN), der.utf8(cn)])])]));
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

export function spkiDer(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}

function signed(tbs: der.Node, signer: KeyObject, alg: SignatureAlgorithm): Uint8Array {
  const tbsDer = der.toDer(tbs);
  const signature = sign(alg.digest, tbsDer, signer);
  return der.toDer(der.seq([der.fromDer(tbsDer), algorithmIdentifier(alg), der.bitString(new Uint8Array(signature))]));
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
  const attributes = exts.length ? [der.seq([der.oid(OID_EXTENSION_REQUEST), der.set([extensionsNode(exts)])])] : [];
  const alg = signatureAlgorithmFor(input.privateKey);
  const info = der.seq([der.integer(0), der.fromDer(input.subject), der.fromDer(spki), der.explicit(0, attributes)]);
  return signed(info, input.privateKey, alg);
}

export interface CertificateInput {
  subject: Uint8Array;
  /** The certified key (public, or the private key of a self-signed certificate). */
  subjectKey: KeyObject;
  extensions: readonly ExtensionSpec[];
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The signer; absent for a self-signed certificate. */
  issuer?: { name: Uint8Array; serial: Uint8Array; keyIdentifier: Uint8Array | undefined; privateKey: KeyObject };
  /** Private key of a self-signed certificate. */
  selfKey?: KeyObject;
  /** Extensions already in DER, used as they are instead of `extensions` (renew carries an old certificate's). */
  encodedExtensions?: readonly EncodedExtension[];
}

export function makeCertificate(input: CertificateInput): Uint8Array {
  const spki = spkiDer(input.subjectKey);
  const signer = input.issuer?.privateKey ?? input.selfKey;
  if (!signer) throw new SkycertError("no signing key for the certificate");
  const issuer: Issuer = input.issuer
    ? { name: input.issuer.name, serial: input.issuer.serial, keyIdentifier: input.issuer.keyIdentifier, selfSigned: false }
    : { name: input.subject, serial: input.serial, keyIdentifier: selfKeyIdentifier(input.extensions, spki), selfSigned: true };
  const alg = signatureAlgorithmFor(signer);
  const exts = input.encodedExtensions ? [...input.encodedExtensions] : encodeExtensions(input.extensions, spki, issuer);
  const tbs = der.seq([
    der.explicit(0, [der.integer(2)]),
    der.integerBytes(input.serial),
    algorithmIdentifier(alg),
    der.fromDer(issuer.name),
    der.seq([der.time(input.notBefore), der.time(input.notAfter)]),
    der.fromDer(input.subject),
    der.fromDer(spki),
    ...(exts.length ? [der.explicit(3, [extensionsNode(exts)])] : []),
  ]);
  return signed(tbs, signer, alg);
}

/** A self-signed certificate's own key identifier, which its authorityKeyIdentifier may repeat. */
function selfKeyIdentifier(exts: readonly ExtensionSpec[], spki: Uint8Array): Uint8Array | undefined {
  const skid = exts.find((e) => e.kind === "subjectKeyIdentifier");
  if (!skid || skid.mode === "none") return undefined;
  return skid.mode === "hash" ? keyIdentifier(spki) : skid.mode;
}
