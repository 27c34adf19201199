/**
 * skycert's policy on each certificate a host uses, read from Go's parse of
 * it: key-strength, signature-algorithm, validity, serial, basic-constraints,
 * key-usage, san-present. Go's own verdicts (trust, names, handshake) are in
 * trust.ts and names.ts; where the policy is stricter than the Go that
 * Skydive is built with, the check warns and says which Go it anticipates.
 */
import type { ParsedCertificateOk } from "../../skydive/go-tls.js";
import type { CertFile, HostContext } from "../context.js";
import { type Check, type Status, check } from "../model.js";

/** One certificate, and every part it plays on this host. */
export interface CertUse {
  file: CertFile;
  cert: ParsedCertificateOk;
  pem: string;
  label: string;
  /** Presented as the leaf of the server pair or the client pair. */
  leaf: ("server" | "client")[];
  /** In a trust pool. */
  anchor: boolean;
  /** An intermediate in a pair's file. */
  intermediate: boolean;
}

/** The certificates of the host's files, each once (a legacy certificate is both a leaf and the other side's anchor). */
export function certUses(files: CertFile[]): CertUse[] {
  const uses = new Map<string, CertUse>();
  for (const file of files) {
    const part = file.material.part;
    file.certs.forEach(({ cert, pem }, i) => {
      let u = uses.get(cert.rawSha256);
      if (!u) {
        const label = file.certs.length > 1 ? `${part} #${i + 1}` : part;
        u = { file, cert, pem, label, leaf: [], anchor: false, intermediate: false };
        uses.set(cert.rawSha256, u);
      }
      if (part === "client CAs" || part === "roots") u.anchor = true;
      else if (i === 0) u.leaf.push(part === "server cert" ? "server" : "client");
      else u.intermediate = true;
    });
  }
  return [...uses.values()];
}

const days = (ms: number) => Math.floor(ms / 86_400_000);
const isoDay = (s: string) => s.replace(/\.\d{3}Z$/, "Z");

function say(use: CertUse, id: Check["id"], status: Status, message: string, remedy?: string): Check {
  return check(id, status, use.label, `${use.file.material.shown}: ${message}`, { file: use.file.material.path, remedy });
}

const renewable = (use: CertUse) => use.leaf.length > 0 || use.intermediate === false;

export function checkKeyStrength(use: CertUse, ctx: HostContext): Check {
  const c = use.cert;
  const rekey = ctx.remedies.renew(use.file.material.path, { rekey: true });
  if (c.publicKeyAlgorithm === "RSA") {
    const bits = c.keyBits ?? 0;
    if (bits < 2048) return say(use, "key-strength", "fail", `RSA ${bits}-bit key; at least 2048 bits are required`, rekey);
    if (bits > 8192) return say(use, "key-strength", "warn", `RSA ${bits}-bit key; Go 1.22 and later refuse RSA keys over 8192 bits in TLS`, rekey);
    return say(use, "key-strength", "pass", `RSA ${bits} bits`);
  }
  if (c.publicKeyAlgorithm === "ECDSA") {
    if (c.curve === "P-256" || c.curve === "P-384" || c.curve === "P-521") return say(use, "key-strength", "pass", `ECDSA ${c.curve}`);
    return say(use, "key-strength", "fail", `ECDSA key on ${c.curve ?? "an unknown curve"}; Skydive's TLS signs with P-256, P-384 or P-521 only`, rekey);
  }
  if (c.publicKeyAlgorithm === "Ed25519") return say(use, "key-strength", "warn", "Ed25519: only TLS 1.3 clients can verify it (Skydive's TLS 1.2 suites are ECDHE-RSA and ECDHE-ECDSA)", rekey);
  return say(use, "key-strength", "fail", `${c.publicKeyAlgorithm} key, which Go's TLS cannot use`, rekey);
}

export function checkSignatureAlgorithm(use: CertUse, ctx: HostContext): Check {
  const alg = use.cert.signatureAlgorithm;
  const weak = /^(MD5|SHA1|MD2)-|-SHA1$/.test(alg);
  if (!weak) return say(use, "signature-algorithm", "pass", alg);
  const renew = ctx.remedies.renew(use.file.material.path);
  if (use.cert.selfSigned && use.anchor && use.leaf.length === 0) return say(use, "signature-algorithm", "pass", `${alg} self-signature of a trust anchor, which Go never checks`);
  if (use.cert.selfSigned && use.anchor) {
    return say(use, "signature-algorithm", "warn", `signed with ${alg}: Go accepts it only because legacy cross validation makes it its own trust anchor (Go never checks an anchor's signature); every other verifier refuses it`, renew);
  }
  return say(use, "signature-algorithm", "fail", `signed with ${alg}; Go 1.18 and later refuse it (x509: cannot verify signature: insecure algorithm)`, renew);
}

export function checkValidity(use: CertUse, ctx: HostContext): Check {
  const notBefore = new Date(use.cert.notBefore);
  const notAfter = new Date(use.cert.notAfter);
  const now = ctx.now;
  // Renew keeps the previous validity length: one too short for the warning window gets a year.
  const lifetime = days(notAfter.getTime() - notBefore.getTime());
  const renew = use.anchor && use.leaf.length === 0 && !use.cert.selfSigned ? undefined : ctx.remedies.renew(use.file.material.path, lifetime <= ctx.warnDays ? { days: 365 } : {});
  const fix = renew ?? `renew ${use.file.material.shown} where it was made`;
  if (now < notBefore) return say(use, "validity", "fail", `not valid until ${isoDay(use.cert.notBefore)} (${days(notBefore.getTime() - now.getTime()) + 1} days from now; check this host's clock)`, fix);
  if (now > notAfter) return say(use, "validity", "fail", `expired on ${isoDay(use.cert.notAfter)} (${days(now.getTime() - notAfter.getTime())} days ago)`, fix);
  const left = days(notAfter.getTime() - now.getTime());
  if (left < ctx.warnDays) return say(use, "validity", "warn", `expires on ${isoDay(use.cert.notAfter)}, in ${left} days (under --warn-days ${ctx.warnDays})`, fix);
  return say(use, "validity", "pass", `valid until ${isoDay(use.cert.notAfter)} (${left} days)`);
}

export function checkSerial(use: CertUse, ctx: HostContext): Check {
  const hex = use.cert.serialHex.replace(/^-/, "");
  const octets = Math.ceil(hex.length / 2) + (parseInt(hex[0] ?? "0", 16) >= 8 && hex.length % 2 === 0 ? 1 : 0);
  const renew = ctx.remedies.renew(use.file.material.path);
  if (use.cert.serialNegative) return say(use, "serial", "warn", `serial -${hex} is negative; Go 1.19 reads it, but Go 1.23 and later refuse to parse it (x509: negative serial number)`, renew);
  if (/^0*$/.test(hex)) return say(use, "serial", "warn", "serial is zero; RFC 5280 requires a positive serial", renew);
  if (octets > 20) return say(use, "serial", "warn", `serial is ${octets} octets; RFC 5280 allows at most 20`, renew);
  return say(use, "serial", "pass", `${octets} octets, positive`);
}

export function checkBasicConstraints(use: CertUse, ctx: HostContext): Check {
  const c = use.cert;
  const isCa = c.basicConstraintsValid && c.isCA;
  const what = c.basicConstraintsValid ? "CA:FALSE" : c.version === 1 ? "no basicConstraints (an X.509 v1 certificate)" : "no basicConstraints";
  if (use.intermediate || (use.anchor && use.leaf.length === 0)) {
    if (!isCa) return say(use, "basic-constraints", "fail", `has ${what}, but it signs others (${use.anchor ? "a trust anchor" : "an intermediate"}); Go refuses a chain through it`, renewable(use) ? ctx.remedies.renew(use.file.material.path, { profile: true }) : undefined);
    return say(use, "basic-constraints", "pass", `CA:TRUE${c.maxPathLen >= 0 && (c.maxPathLen > 0 || c.maxPathLenZero) ? `, pathlen ${c.maxPathLen}` : ""}`);
  }
  if (use.anchor && !isCa) {
    return say(use, "basic-constraints", "warn", `has ${what} and is its own trust anchor (legacy cross validation): Go accepts a pool member that is the very certificate presented, but nothing else would; the seed's v3_req sets CA:TRUE`, ctx.remedies.renew(use.file.material.path, { profile: true }));
  }
  return say(use, "basic-constraints", "pass", `${isCa ? "CA:TRUE" : c.basicConstraintsValid ? "CA:FALSE" : "no basicConstraints"} (${use.anchor ? "its own trust anchor" : "end-entity"})`);
}

export function checkKeyUsage(use: CertUse, ctx: HostContext): Check {
  const ku = use.cert.keyUsage;
  if (ku.length === 0) return say(use, "key-usage", "pass", "no keyUsage extension (any usage allowed)");
  const missing: string[] = [];
  if ((use.anchor || use.intermediate) && !ku.includes("keyCertSign")) missing.push("keyCertSign (it signs others; Go does not check it, OpenSSL and browsers do)");
  if (use.leaf.length && !ku.includes("digitalSignature")) missing.push("digitalSignature (Skydive's ECDHE suites sign with the key; Go does not check it, other TLS stacks do)");
  if (missing.length) return say(use, "key-usage", "warn", `keyUsage ${ku.join(", ")} lacks ${missing.join(" and ")}`, ctx.remedies.renew(use.file.material.path, { profile: true }));
  return say(use, "key-usage", "pass", ku.join(", "));
}

/** The analyzer's certificate must name what agents dial: Go never falls back to the Common Name. */
export function checkSanPresent(use: CertUse, ctx: HostContext, serves: boolean): Check {
  const names = [...use.cert.dnsNames.map((n) => `DNS:${n}`), ...use.cert.ipAddresses.map((a) => `IP:${a}`)];
  if (names.length) return say(use, "san-present", "pass", names.join(", "));
  const cn = /(?:^|,)CN=([^,]+)/.exec(use.cert.subject)?.[1];
  const base = `no DNS or IP subjectAltName${cn ? `; Go (since 1.15) never uses the Common Name (CN=${cn})` : ""}`;
  const dialed = ctx.hosts.map((h) => h.name);
  const remedy = ctx.remedies.renew(use.file.material.path, { addSans: dialed.length ? dialed : cn ? [cn] : [] });
  if (!serves) return say(use, "san-present", "warn", `${base}. Servers do not check client names, so it still connects as a client`, remedy);
  return say(use, "san-present", "fail", `${base}: clients cannot verify it`, remedy);
}
