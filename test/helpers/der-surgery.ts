/**
 * Certificates no OpenSSL command line issues (a non-minimal serial, a duplicated
 * extension): the TBS of a real certificate is edited here, independently of
 * skycert's own DER code, and signed again by `openssl dgst -sign`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { ok, openssl, sh } from "./run.js";

interface Tlv {
  tag: number;
  /** Whole encoding: header and content. */
  raw: Buffer;
  content: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv & { end: number } {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
    head += n;
  }
  const end = at + head + len;
  return { tag, raw: buf.subarray(at, end), content: buf.subarray(at + head, end), end };
}

function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < content.length; ) {
    const t = readTlv(content, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

function encode(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const derToPem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;

export type TbsEdit = (fields: Tlv[]) => Buffer[];

/** Edit the TBS fields of `crtPath` (PEM), sign with `keyPath` (SHA-256), write to `outPath`. */
export function editCertificate(crtPath: string, keyPath: string, outPath: string, edit: TbsEdit): void {
  const cert = readTlv(pemToDer(readFileSync(crtPath, "utf8")), 0);
  const [tbs, sigAlg] = children(cert.content);
  const newTbs = encode(0x30, Buffer.concat(edit(children(tbs!.content))));
  writeFileSync(`${outPath}.tbs`, newTbs);
  ok(openssl(["dgst", "-sha256", "-sign", keyPath, "-out", `${outPath}.sig`, `${outPath}.tbs`]), "openssl dgst -sign");
  const sig = readFileSync(`${outPath}.sig`);
  const der = encode(0x30, Buffer.concat([newTbs, sigAlg!.raw, encode(0x03, Buffer.concat([Buffer.from([0]), sig]))]));
  writeFileSync(outPath, derToPem(der));
  ok(sh(`rm -f '${outPath}.tbs' '${outPath}.sig'`));
}

/** TBS fields: [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions. */
export const nonMinimalSerial: TbsEdit = (f) => f.map((t, i) => (i === 1 ? encode(0x02, Buffer.concat([Buffer.from([0x00]), t.content])) : t.raw));

/** Repeat the extension with `oid` (dotted, as DER content bytes given) at the end of the list. */
export function duplicateExtension(oidDer: Buffer): TbsEdit {
  return (f) =>
    f.map((t) => {
      if (t.tag !== 0xa3) return t.raw;
      const list = readTlv(t.content, 0);
      const exts = children(list.content);
      const dup = exts.find((e) => children(e.content)[0]!.content.equals(oidDer));
      if (!dup) throw new Error("extension to duplicate not found");
      return encode(0xa3, encode(0x30, Buffer.concat([...exts.map((e) => e.raw), dup.raw])));
    });
}

/** basicConstraints, 2.5.29.19. */
export const BASIC_CONSTRAINTS_OID = Buffer.from([0x55, 0x1d, 0x13]);
