/**
 * pem-parse and key-match: what Go's tls.LoadX509KeyPair and
 * CertPool.AppendCertsFromPEM accept, in Go's own words where Go has them.
 */
import { createPrivateKey } from "node:crypto";
import { command } from "../../cli/invocation.js";
import { type PemBlock, parsePem, pemProblemText, toPem } from "../../pki/pem.js";
import type { CertFile, HostContext, Material } from "../context.js";
import { type Check, check } from "../model.js";

const looksDer = (b: Uint8Array) => b.length > 1 && b[0] === 0x30 && (b[1]! & 0x80) !== 0;
const isKeyLabel = (label: string) => label === "PRIVATE KEY" || label.endsWith(" PRIVATE KEY");
const isEncrypted = (b: PemBlock) => b.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/i.test(b.headers["Proc-Type"] ?? "");
const isPool = (m: Material) => m.part === "client CAs" || m.part === "roots";

/** Go's parse of a certificate file, and the pem-parse check of it. */
export function readCertFile(m: Material, ctx: HostContext): { check: Check; file?: CertFile } {
  const extra = { file: m.path };
  const fail = (message: string, remedy: string, go?: string) => ({ check: check("pem-parse", "fail", m.part, `${m.shown}: ${message}`, { ...extra, remedy, go }) });
  if (!m.read.ok) return { check: check("pem-parse", "skip", m.part, `${m.shown}: not read (see file-readable)`, extra) };
  const text = m.read.bytes.toString("latin1");
  const { blocks, problem } = parsePem(text);
  const replace = ctx.remedies.forSetting(m, `replace ${m.shown} with the certificate, PEM-encoded (CERTIFICATE blocks)`);
  // A block of bad base64 is skipped by Go too: only a problem that ends the reading is fatal here.
  if (problem.kind !== "none" && problem.kind !== "bad-base64") return fail(pemProblemText(problem), replace);
  const skipped = problem.kind === "bad-base64" ? `; Go skips ${pemProblemText(problem)}` : "";
  const certBlocks = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certBlocks.length === 0) {
    if (blocks.some((b) => isKeyLabel(b.label))) {
      // Skydive would print this file's content in its start-up error (SetupTLSLoadCA quotes what it could not parse).
      return fail(`holds a private key where a certificate should be${isPool(m) ? "; Skydive would print this file, key included, in its start-up error" : ""}`, ctx.remedies.pointAt(m, "the certificate (.crt), not the key"));
    }
    if (blocks.some((b) => b.label.includes("CERTIFICATE REQUEST"))) return fail("holds a certificate request (CSR), not a certificate", ctx.remedies.pointAt(m, "the .crt file, not the .csr"));
    if (blocks.length) return fail(`holds ${blocks.map((b) => b.label).join(", ")}, not a CERTIFICATE`, replace);
    if (looksDer(m.read.bytes)) return fail("is DER (binary); Skydive reads PEM only", `openssl x509 -inform der -in ${m.shown} -out ${m.shown}.pem, then point ${m.key} at the .pem`);
    return fail("no PEM certificate found (garbage or not a certificate)", replace);
  }
  // A fleet's hosts share their CA file: Go parses each distinct text once.
  const parsed = ctx.parses?.get(text) ?? ctx.go.parse(text);
  ctx.parses?.set(text, parsed);
  const certs: CertFile["certs"] = [];
  const refused: string[] = [];
  // Go's blocks and ours are the same blocks, matched by their BEGIN line.
  const byLine = new Map(certBlocks.map((b) => [b.line, b]));
  parsed.certificates.forEach((c, i) => {
    const block = byLine.get(c.line);
    if (c.ok && block) certs.push({ cert: c, pem: toPem("CERTIFICATE", block.der) });
    else refused.push(`certificate ${i + 1} (line ${c.line}): ${c.ok ? "not read" : c.error}`);
  });
  if (certs.length === 0 && refused.length === 0) return fail(`no certificate Go can read${skipped}`, replace);
  const file: CertFile = { material: m, parsed, certs, text };
  const summary = `${certs.length === 1 ? "1 certificate" : `${certs.length} certificates`}, ${certs[0]?.cert.subject || "(empty subject)"}`;
  if (refused.length) {
    const go = refused.join("; ");
    if (isPool(m) && parsed.appendCertsOk) {
      return { check: check("pem-parse", "warn", m.part, `${m.shown}: Go skips what it cannot parse and trusts the rest: ${go}`, { ...extra, go, remedy: `remove the certificates Go refuses from ${m.shown}` }), file };
    }
    // Skydive still loads a pair whose leaf parses (tls.X509KeyPair reads the leaf alone), but it presents every
    // block, and its peers refuse the whole chain: the trust check is not judged on the rest.
    const first = parsed.certificates.findIndex((c) => !c.ok);
    const failed = fail(`refused by Go: ${go}`, first === 0 ? ctx.remedies.forSetting(m, `re-issue ${m.shown}; Go cannot read it`) : `remove certificate ${first + 1} from ${m.shown}, or replace it with one Go reads`, go);
    return first === 0 ? failed : { ...failed, file: { ...file, chainRefused: go } };
  }
  if (isPool(m) && !parsed.appendCertsOk) {
    return fail("Go's AppendCertsFromPEM takes nothing from it (a PEM header on every block?); Skydive stops with \"Failed to parse root certificate\"", replace);
  }
  if (blocks.some((b) => isKeyLabel(b.label))) {
    return { check: check("pem-parse", "warn", m.part, `${m.shown}: ${summary}, but the file also holds a private key, and certificates are meant to be public`, { ...extra, remedy: `keep only the CERTIFICATE blocks in ${m.shown}; the key belongs in its own 0400 file` }), file };
  }
  if (skipped) return { check: check("pem-parse", "warn", m.part, `${m.shown}: ${summary}${skipped}`, { ...extra, remedy: `remove the damaged block from ${m.shown}` }), file };
  return { check: check("pem-parse", "pass", m.part, `${m.shown}: ${summary}`, extra), file };
}

/** A key file as Go's tls.X509KeyPair reads it: PKCS#1, PKCS#8 or SEC1, unencrypted. */
export function readKeyFile(m: Material, ctx: HostContext, opts: { alone: boolean }): { check: Check; text?: string } {
  const extra = { file: m.path };
  const fail = (message: string, remedy: string) => ({ check: check("pem-parse", "fail", m.part, `${m.shown}: ${message}`, { ...extra, remedy }) });
  if (!m.read.ok) return { check: check("pem-parse", "skip", m.part, `${m.shown}: not read (see file-readable)`, extra) };
  const text = m.read.bytes.toString("latin1");
  const { blocks, problem } = parsePem(text);
  const replace = ctx.remedies.forSetting(m, `replace ${m.shown} with the unencrypted private key, PEM-encoded (PKCS#8, PKCS#1 or SEC1)`);
  if (problem.kind !== "none" && (problem.kind !== "bad-base64" || !blocks.some((b) => isKeyLabel(b.label)))) return fail(pemProblemText(problem), replace);
  const block = blocks.find((b) => isKeyLabel(b.label));
  if (!block) {
    if (blocks.some((b) => b.label === "CERTIFICATE")) return fail("holds a certificate where a private key should be", ctx.remedies.pointAt(m, "the private key (.key), not the certificate"));
    if (blocks.length) return fail(`holds ${blocks.map((b) => b.label).join(", ")}, not a PRIVATE KEY`, replace);
    if (looksDer(m.read.bytes)) return fail("is DER (binary); Skydive reads PEM only", `openssl pkey -inform der -in ${m.shown} -out ${m.shown}.pem, then point ${m.key} at the .pem`);
    return fail("no PEM private key found (garbage or not a key)", replace);
  }
  if (isEncrypted(block)) {
    return fail("private key is encrypted, and Skydive (Go's tls.LoadX509KeyPair) reads only unencrypted keys", `openssl pkey -in ${m.shown} -out ${m.shown}.plain (asks for the passphrase), chmod 400 it and point ${m.key} at it`);
  }
  // Go reads the key with its certificate (key-match); read here only when there is no certificate to pair it with.
  if (opts.alone) {
    try {
      createPrivateKey({ key: Buffer.from(block.der), format: "der", type: block.label === "RSA PRIVATE KEY" ? "pkcs1" : block.label === "EC PRIVATE KEY" ? "sec1" : "pkcs8" });
    } catch {
      return fail(`line ${block.line}: the ${block.label} block is not a readable private key`, replace);
    }
  }
  return { check: check("pem-parse", "pass", m.part, `${m.shown}: a ${block.label} block, unencrypted`, extra), text };
}

export interface PairFiles {
  which: "server" | "client";
  cert: CertFile;
  certMaterial: Material;
  key: string;
  keyMaterial: Material;
}

/**
 * key-match, as tls.X509KeyPair judges it. When both pairs fail but match
 * each other's files, the settings are swapped and the remedy swaps them back.
 */
export function checkKeyMatches(pairs: PairFiles[], ctx: HostContext): Check[] {
  const out: Check[] = [];
  const results = pairs.map((p) => ctx.go.keyPair(p.cert.text, p.key));
  pairs.forEach((p, i) => {
    const r = results[i]!;
    const subject = `${p.which} pair`;
    const extra = { file: p.keyMaterial.path };
    if (r.ok) {
      out.push(check("key-match", "pass", subject, `${p.keyMaterial.shown} is the key of ${p.certMaterial.shown} (${r.keyType} ${r.curve ?? r.keyBits}, as Go's tls.X509KeyPair reads them)`, extra));
      return;
    }
    const other = pairs[1 - i];
    let remedy: string;
    if (other && ctx.go.keyPair(other.cert.text, p.key).ok && ctx.go.keyPair(p.cert.text, other.key).ok) {
      // The certificate settings are swapped: each key matches the other pair's certificate.
      remedy = ctx.remedies.configSet({ [p.certMaterial.key]: other.certMaterial.path, [other.certMaterial.key]: p.certMaterial.path });
    } else if (other && ctx.go.keyPair(p.cert.text, other.key).ok && ctx.go.keyPair(other.cert.text, p.key).ok) {
      remedy = ctx.remedies.configSet({ [p.keyMaterial.key]: other.keyMaterial.path, [other.keyMaterial.key]: p.keyMaterial.path });
    } else if (p.keyMaterial.fromEnv || p.certMaterial.fromEnv) {
      remedy = ctx.remedies.forSetting(p.keyMaterial.fromEnv ? p.keyMaterial : p.certMaterial, `point ${p.keyMaterial.key} at the key that made ${p.certMaterial.shown}`);
    } else {
      remedy = `point ${p.keyMaterial.key} at the key that made ${p.certMaterial.shown}; if that key is lost, make a new pair: ${command("renew", p.certMaterial.shown, "--rekey")}`;
    }
    out.push(check("key-match", "fail", subject, `${p.keyMaterial.shown} is not the key of ${p.certMaterial.shown}: ${r.error}`, { ...extra, remedy, go: r.error }));
  });
  return out;
}
