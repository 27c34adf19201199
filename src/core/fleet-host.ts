/**
 * What `validate --fleet` checks on every host by default: that its pair
 * matches, that Skydive's analyzer will trust it (it chains to the CA in the
 * host's tls.ca_cert) and that it is valid now, plus the key's file mode. All
 * with Node's native X509Certificate and a DER walk of the key: about a tenth
 * of a millisecond per host, where the full per-pair checks (--deep) parse each
 * certificate completely.
 */
import { type X509Certificate, createPrivateKey } from "node:crypto";
import { type Check, type FileInput, check, days, isKeyLabel, isoDay, pemProblem } from "./checks.js";
import { parsePem } from "./pem.js";
import { certIdentity, rsaPublicOfPrivateKey, rsaPublicOfSpki } from "./x509-raw.js";

export interface HostPair {
  cert: FileInput;
  key: FileInput;
  /** The host's trust anchor (its tls.ca_cert), parsed once for the whole fleet. */
  ca: { x509: X509Certificate; shown: string } | undefined;
}

export interface HostPairResult {
  checks: Check[];
  /** The host's certificate, when it parsed. */
  x509?: X509Certificate;
}

/**
 * `parse` is Node's X509Certificate constructor (passed in so this module stays
 * free of I/O and of certificate caches).
 */
export function checkHostPair(pair: HostPair, now: Date, warnDays: number, reissue: string, parse: (der: Uint8Array) => X509Certificate): HostPairResult {
  const { cert, key } = pair;
  const checks: Check[] = [];
  const fail = (id: Check["id"], f: FileInput, message: string, remedy: string) => checks.push(check(id, "fail", f.label, `${f.shown}: ${message}`, { file: f.path, remedy }));
  const pass = (id: Check["id"], f: FileInput, message: string) => checks.push(check(id, "pass", f.label, `${f.shown}: ${message}`, { file: f.path }));
  const skip = (id: Check["id"], f: FileInput, why: string) => checks.push(check(id, "skip", f.label, `${f.shown}: ${why}`, { file: f.path }));

  // pem-parse, certificate
  let x509: X509Certificate | undefined;
  let certDer: Uint8Array | undefined;
  if (cert.read.ok) {
    const { blocks, problem } = parsePem(Buffer.from(cert.read.bytes).toString("latin1"));
    certDer = blocks.find((b) => b.label === "CERTIFICATE")?.der;
    const text = pemProblem(problem) ?? (certDer ? undefined : blocks.some((b) => isKeyLabel(b.label)) ? "holds a private key where a certificate should be" : "no PEM certificate found");
    if (!text) {
      try {
        x509 = parse(certDer!);
      } catch (err) {
        fail("pem-parse", cert, `not a valid X.509 certificate (${(err as Error).message.split("\n")[0]})`, reissue);
      }
      if (x509) pass("pem-parse", cert, `certificate, ${x509.subject.replace(/\n/g, ", ")}`);
    } else fail("pem-parse", cert, text, reissue);
  } else skip("pem-parse", cert, "not read (see file-readable)");

  // pem-parse, key; key-match
  let keyPublic: { n: string; e: string } | undefined;
  let keyDer: { der: Uint8Array; pkcs1: boolean } | undefined;
  if (key.read.ok) {
    const { blocks, problem } = parsePem(Buffer.from(key.read.bytes).toString("latin1"));
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
        pass("pem-parse", key, `${keyPublic ? `RSA ${keyPublic.n.length * 4}` : block!.label.replace(" PRIVATE KEY", "") || "PKCS#8"} private key`);
      } catch {
        keyDer = undefined;
        fail("pem-parse", key, "not a valid private key (malformed DER)", reissue);
      }
    }
  } else skip("pem-parse", key, "not read (see file-readable)");

  if (x509 && keyDer) {
    let match: boolean;
    const certPublic = rsaPublicOfSpki(certIdentity(new Uint8Array(x509.raw)).spki);
    if (keyPublic && certPublic) match = keyPublic.n === certPublic.n && keyPublic.e === certPublic.e;
    else {
      try {
        match = x509.checkPrivateKey(createPrivateKey({ key: Buffer.from(keyDer.der), format: "der", type: keyDer.pkcs1 ? "pkcs1" : "pkcs8" }));
      } catch {
        match = false;
      }
    }
    if (match) pass("key-match", key, `matches ${cert.shown}`);
    else fail("key-match", key, `does not match ${cert.shown}: this pair cannot be loaded (tls.LoadX509KeyPair fails)`, reissue);
  } else skip("key-match", key, "needs both the certificate and the key");

  if (!x509) {
    skip("validity", cert, "certificate not parsed");
    skip("trust", cert, "certificate not parsed");
    return { checks };
  }

  // validity
  const from = new Date(x509.validFrom);
  const to = new Date(x509.validTo);
  if (now < from) fail("validity", cert, `not valid until ${isoDay(from)} (check this host's clock)`, reissue);
  else if (now > to) fail("validity", cert, `expired on ${isoDay(to)} (${days(now.getTime() - to.getTime())} days ago)`, reissue);
  else {
    const left = days(to.getTime() - now.getTime());
    if (left < warnDays) checks.push(check("validity", "warn", cert.label, `${cert.shown}: expires on ${isoDay(to)}, in ${left} days (under --warn-days ${warnDays})`, { file: cert.path, remedy: reissue }));
    else pass("validity", cert, `valid until ${isoDay(to)} (${left} days)`);
  }

  // trust: what the analyzer's Go TLS checks of an agent chaining to the CA (issuer, signature, time, clientAuth)
  const ca = pair.ca;
  if (!ca) skip("trust", cert, `no readable trust anchor (see the CA cert's checks)`);
  else {
    const caFrom = new Date(ca.x509.validFrom);
    const caTo = new Date(ca.x509.validTo);
    const eku = x509.keyUsage;
    const problem = !x509.checkIssued(ca.x509)
      ? `was not issued by ${ca.shown} (${ca.x509.subject.replace(/\n/g, ", ")})`
      : !x509.verify(ca.x509.publicKey)
        ? `its signature does not verify with the key of ${ca.shown}`
        : now < caFrom || now > caTo
          ? `the CA ${ca.shown} is not valid now (${isoDay(caFrom)} to ${isoDay(caTo)})`
          : eku && eku.length && !eku.includes("1.3.6.1.5.5.7.3.2") && !eku.includes("2.5.29.37.0")
            ? "its extendedKeyUsage lacks clientAuth, so the analyzer refuses it"
            : undefined;
    if (problem) fail("trust", cert, `does not verify against ${ca.shown}: ${problem}`, reissue);
    else pass("trust", cert, `chains to ${ca.shown} for clientAuth`);
  }
  return { checks, x509 };
}
