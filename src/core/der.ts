/**
 * DER building blocks for what skycert issues, on node-forge's ASN.1 encoder.
 * Values cross this boundary as Uint8Array; forge's "binary strings" stay inside.
 */
import asn1 from "node-forge/lib/asn1.js";
import type { asn1 as Asn1Types } from "node-forge";

export type Node = Asn1Types.Asn1;

const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const bin = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("binary");

export const seq = (items: Node[]): Node => asn1.create(U, T.SEQUENCE, true, items);
export const set = (items: Node[]): Node => asn1.create(U, T.SET, true, items);
export const oid = (dotted: string): Node => asn1.create(U, T.OID, false, asn1.oidToDer(dotted).getBytes());
export const bool = (v: boolean): Node => asn1.create(U, T.BOOLEAN, false, v ? "\xff" : "\x00");
export const nul = (): Node => asn1.create(U, T.NULL, false, "");
export const octets = (b: Uint8Array): Node => asn1.create(U, T.OCTETSTRING, false, bin(b));
export const utf8 = (s: string): Node => asn1.create(U, T.UTF8, false, Buffer.from(s, "utf8").toString("binary"));
export const ia5 = (s: string): Node => asn1.create(U, T.IA5STRING, false, s);

/** INTEGER from its content octets, which the caller has made minimal. */
export const integerBytes = (b: Uint8Array): Node => asn1.create(U, T.INTEGER, false, bin(b));
export const integer = (n: number): Node => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());

/** BIT STRING with `unused` padding bits in the last octet. */
export const bitString = (b: Uint8Array, unused = 0): Node =>
  asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused) + bin(b));

/** [tag] EXPLICIT or constructed IMPLICIT wrapper. */
export const explicit = (tag: number, inner: Node[]): Node => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, inner);
/** [tag] IMPLICIT primitive (GeneralName alternatives, key identifiers). */
export const implicit = (tag: number, b: Uint8Array): Node => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bin(b));

/** RFC 5280 section 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always whole seconds in Z. */
export function time(d: Date): Node {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = d.getUTCFullYear();
  return year < 2050 && year >= 1950
    ? asn1.create(U, T.UTCTIME, false, digits.slice(2) + "Z")
    : asn1.create(U, T.GENERALIZEDTIME, false, digits + "Z");
}

export function toDer(node: Node): Uint8Array {
  return new Uint8Array(Buffer.from(asn1.toDer(node).getBytes(), "binary"));
}

/** Embed DER produced elsewhere (a SubjectPublicKeyInfo from Node, a Name copied from a certificate). */
export function fromDer(b: Uint8Array): Node {
  return asn1.fromDer(bin(b), { strict: true, decodeBitStrings: false } as never);
}

/** The contents of a BIT STRING node, without the unused-bits octet. */
export function bitStringContents(node: Node): Uint8Array {
  const v = node.value as string;
  return new Uint8Array(Buffer.from(v.slice(1), "binary"));
}
