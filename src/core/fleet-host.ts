/**
 * What `validate --fleet` checks on every host by default: that its pair
 * matches, that Skydive's analyzer will trust it (Go's x509.Verify for
 * clientAuth against the CA in the host's tls.ca_cert) and that it is valid
 * now, plus the key's file mode. The certificate is read by skycert's DER
 * walker, held to Go's parser rules, and judged by go-verify.ts, as validate
 * judges it: a few hundredths of a millisecond per host, where a full parse
 * (--deep) costs ten times that.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { type Check, type FileInput, check, isKeyLabel, latin1, pemProblem } from "./checks.js";
import { days, isoDay } from "./time.js";
import { goVerify } from "./go-verify.js";
import { parsePem } from "./pem.js";
import { type RawCertificate, type RsaPublic, rsaPublicOfPrivateKey, rsaPublicOfSpki, sameRsaPublic, walkCertificate } from "./x509-raw.js";

/** A trust anchor (a tls.ca_cert), read once for the whole fleet. */
export interface Anchor {
  cert: RawCertificate;
  shown: string;
}

export interface HostPair {
  cert: FileInput;
  key: FileInput;
  /** The host's trust anchor (its tls.ca_cert), parsed once for the whole fleet. */
  ca: Anchor | undefined;
}

export interface HostPairResult {
  checks: Check[];
  /** The host's certificate, when it parsed. */
  cert?: RawCertificate;
}

export function checkHostPair(pair: HostPair, now: Date, warnDays: number, reissue: string): HostPairResult {
  const { cert, key } = pair;
  const checks: Check[] = [];
  const fail = (id: Check["id"], f: FileInput, message: string, remedy: string) => checks.push(check(id, "fail", f.label, `${f.shown}: ${message}`, { file: f.path, remedy }));
  const pass = (id: Check["id"], f: FileInput, message: string) => checks.push(check(id, "pass", f.label, `${f.shown}: ${message}`, { file: f.path }));
  const skip = (id: Check["id"], f: FileInput, why: string) => checks.push(check(id, "skip", f.label, `${f.shown}: ${why}`, { file: f.path }));

  // pem-parse, certificate
  let leaf: RawCertificate | undefined;
  let certDer: Uint8Array | undefined;
  if (cert.read.ok) {
    const { blocks, problem } = parsePem(latin1(cert.read.bytes));
    certDer = blocks.find((b) => b.label === "CERTIFICATE")?.der;
    const text = pemProblem(problem) ?? (certDer ? undefined : blocks.some((b) => isKeyLabel(b.label)) ? "holds a private key where a certificate should be" : "no PEM certificate found");
    if (!text) {
      try {
        leaf = walkCertificate(certDer!);
        pass("pem-parse", cert, `certificate, ${leaf.subject}`);
      } catch (err) {
        leaf = undefined;
        fail("pem-parse", cert, (err as Error).message.split("\n")[0]!, reissue);
      }
    } else fail("pem-parse", cert, text, reissue);
  } else skip("pem-parse", cert, "not read (see file-readable)");

  // pem-parse, key; key-match
  let keyPublic: RsaPublic | undefined;
  let keyDer: { der: Uint8Array; pkcs1: boolean } | undefined;
  if (key.read.ok) {
    const { blocks, problem } = parsePem(latin1(key.read.bytes));
    const block = blocks.find((b) => isKeyLabel(b.label));
    const text =
      pemProblem(problem) ??
      (!block
        ? blocks.some((b) => b.label === "CERTIFICATE")
          ? "holds a certificate where a private key should be"
          : "no PEM private key found"
        : block.label === "ENCRYPTED PRIVATE KEY" || block.headers["Proc-Type"]
          ? "private key is encrypted, and Skydive reads only unencrypted keys"
          : undefined);
    if (text) fail("pem-parse", key, text, reissue);
    else {
      keyDer = { der: block!.der, pkcs1: block!.label === "RSA PRIVATE KEY" };
      try {
        keyPublic = rsaPublicOfPrivateKey(keyDer.der, keyDer.pkcs1);
        pass("pem-parse", key, `${keyPublic ? `RSA ${keyPublic.n.length * 8}` : block!.label.replace(" PRIVATE KEY", "") || "PKCS#8"} private key`);
      } catch {
        keyDer = undefined;
        fail("pem-parse", key, "not a valid private key (malformed DER)", reissue);
      }
    }
  } else skip("pem-parse", key, "not read (see file-readable)");

  if (leaf && keyDer) {
    let match: boolean;
    const certPublic = rsaPublicOfSpki(leaf.publicKey.spki);
    if (keyPublic && certPublic) match = sameRsaPublic(keyPublic, certPublic);
    else {
      try {
        const spki = createPublicKey(createPrivateKey({ key: Buffer.from(keyDer.der), format: "der", type: keyDer.pkcs1 ? "pkcs1" : "pkcs8" })).export({ format: "der", type: "spki" });
        match = Buffer.compare(spki, leaf.publicKey.spki) === 0;
      } catch {
        match = false;
      }
    }
    if (match) pass("key-match", key, `matches ${cert.shown}`);
    else fail("key-match", key, `does not match ${cert.shown}: this pair cannot be loaded (tls.LoadX509KeyPair fails)`, reissue);
  } else skip("key-match", key, "needs both the certificate and the key");

  if (!leaf) {
    skip("validity", cert, "certificate not parsed");
    skip("trust", cert, "certificate not parsed");
    return { checks };
  }

  // validity
  const from = leaf.notBefore;
  const to = leaf.notAfter;
  if (now < from) fail("validity", cert, `not valid until ${isoDay(from)} (check this host's clock)`, reissue);
  else if (now > to) fail("validity", cert, `expired on ${isoDay(to)} (${days(now.getTime() - to.getTime())} days ago)`, reissue);
  else {
    const left = days(to.getTime() - now.getTime());
    if (left < warnDays) checks.push(check("validity", "warn", cert.label, `${cert.shown}: expires on ${isoDay(to)}, in ${left} days (under --warn-days ${warnDays})`, { file: cert.path, remedy: reissue }));
    else pass("validity", cert, `valid until ${isoDay(to)} (${left} days)`);
  }

  // trust: Go's x509.Verify as the analyzer runs it on an agent (this host's tls.ca_cert as the pool, clientAuth)
  const ca = pair.ca;
  if (!ca) skip("trust", cert, `no readable trust anchor (see the CA cert's checks)`);
  else {
    const r = goVerify([leaf], [ca.cert], "clientAuth", now);
    if (r.ok) pass("trust", cert, `chains to ${ca.shown} for clientAuth`);
    else fail("trust", cert, `does not verify against ${ca.shown}: ${r.error}`, reissue);
  }
  return { checks, cert: leaf };
}
