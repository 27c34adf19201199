/**
 * `skycert inspect`: every field the issue lists, compared with what the
 * openssl CLI says of the same files; keys described without their material.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ok, openssl, scratch, sh, skycert } from "./helpers/run.js";

const dir = scratch("skycert-inspect-");
const ca = join(dir, "pki", "ca", "skydive-ca.crt");
const caKey = join(dir, "pki", "ca", "skydive-ca.key");
const agent = { crt: join(dir, "pki", "agent", "agent.domain.com.crt"), csr: join(dir, "pki", "agent", "agent.domain.com.csr"), key: join(dir, "pki", "agent", "agent.domain.com.key") };
const x509 = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args])).stdout;
const colon = (hex: string) => hex.toUpperCase().replace(/(..)(?!$)/g, "$1:");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const inspect = (...files: string[]): Json => JSON.parse(ok(skycert(["inspect", ...files, "--json"], { cwd: dir })).stdout);

beforeAll(() => {
  ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
  ok(skycert(["init", "agent", "--ca", "pki", "--out", "pki", "--san", "node7.example"], { cwd: dir }));
});

describe("a certificate", () => {
  let c: Json;
  beforeAll(() => {
    const r = inspect(agent.crt);
    expect(r.ok).toBe(true);
    expect(r.files).toHaveLength(1);
    c = r.files[0].items[0];
  });

  it("subject, issuer, serial, validity and days left, as openssl reads them", () => {
    expect(c.kind).toBe("certificate");
    expect(c.version).toBe(3);
    expect(c.subject).toBe("CN=skydive-agent");
    expect(c.issuer).toBe("CN=skydive-ca");
    expect(c.selfSigned).toBe(false);
    expect(c.serial).toBe(colon(x509(agent.crt, "-serial").trim().replace("serial=", "")));
    const [nb, na] = x509(agent.crt, "-dates").trim().split("\n").map((l) => new Date(l.split("=")[1]!).toISOString());
    expect([c.notBefore, c.notAfter]).toEqual([nb, na]);
    expect(c.daysLeft).toBe(364);
    expect(c.status).toBe("valid");
    expect(c.signatureAlgorithm).toBe("sha256WithRSAEncryption");
  });

  it("key type and size, SANs, key usage, EKU, basic constraints, SKID/AKID, SHA-256 fingerprint", () => {
    expect(c.publicKey).toMatchObject({ type: "RSA", bits: 2048 });
    expect(c.subjectAltNames).toContain("DNS:node7.example");
    expect(c.subjectAltNames).toContain("IP:127.0.0.1");
    expect(c.keyUsage).toEqual({ usages: ["digitalSignature", "keyEncipherment"], critical: false });
    expect(c.extendedKeyUsage).toEqual({ usages: ["serverAuth", "clientAuth"], oids: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], critical: false });
    expect(c.basicConstraints).toEqual({ ca: false, pathlen: null, critical: false });
    expect(c.subjectKeyIdentifier).toBe(x509(agent.crt, "-ext", "subjectKeyIdentifier").split("\n")[1]!.trim());
    expect(c.authorityKeyIdentifier).toBe(x509(ca, "-ext", "subjectKeyIdentifier").split("\n")[1]!.trim());
    expect(c.fingerprint).toBe(x509(agent.crt, "-fingerprint", "-sha256").trim().replace(/^sha256 Fingerprint=/i, ""));
    expect(c.all.map((e: { name: string }) => e.name)).toEqual(["basicConstraints", "keyUsage", "extendedKeyUsage", "subjectAltName", "subjectKeyIdentifier", "authorityKeyIdentifier"]);
  });

  it("the CA: self-signed, CA:TRUE pathlen 0 critical, keyCertSign and cRLSign", () => {
    const r = inspect(ca).files[0].items[0];
    expect(r.selfSigned).toBe(true);
    expect(r.basicConstraints).toEqual({ ca: true, pathlen: 0, critical: true });
    expect(r.keyUsage).toEqual({ usages: ["keyCertSign", "cRLSign"], critical: true });
    expect(r.authorityKeyIdentifier).toBeNull();
  });

  it("an expired certificate: negative days left (made in the past with faketime)", () => {
    const old = join(dir, "old.crt");
    ok(sh(`faketime -f '-10d' openssl req -x509 -newkey rsa:2048 -nodes -keyout ${join(dir, "old.key")} -subj /CN=old -days 3 -out ${old} 2>/dev/null`));
    const r = inspect(old).files[0].items[0];
    expect(r.status).toBe("expired");
    expect(r.daysLeft).toBeLessThanOrEqual(-6);
    expect(ok(skycert(["inspect", old])).stdout).toMatch(/expired \d+ days ago/);
  });

  it("DER, and several PEM blocks in one file", () => {
    const der = join(dir, "agent.der");
    ok(openssl(["x509", "-in", agent.crt, "-outform", "DER", "-out", der]));
    const d = inspect(der).files[0].items[0];
    expect(d).toMatchObject({ kind: "certificate", line: 0, subject: "CN=skydive-agent", fingerprint: c.fingerprint });
    const chain = join(dir, "chain.pem");
    writeFileSync(chain, readFileSync(agent.crt, "utf8") + readFileSync(ca, "utf8"));
    const items = inspect(chain).files[0].items;
    expect(items.map((i: Json) => [i.subject, i.line])).toEqual([["CN=skydive-agent", 1], ["CN=skydive-ca", 1 + readFileSync(agent.crt, "utf8").split("\n").length - 1]]);
  });
});

describe("a request", () => {
  it("the same fields, with its requested extensions and a checked signature", () => {
    const r = inspect(agent.csr).files[0].items[0];
    expect(r.kind).toBe("request");
    expect(r.subject).toBe("CN=skydive-agent");
    expect(r.signatureValid).toBe(true);
    expect(r.publicKey).toMatchObject({ type: "RSA", bits: 2048 });
    expect(r.requestedExtensions.basicConstraints).toEqual({ ca: false, pathlen: null, critical: false });
    expect(r.requestedExtensions.subjectAltNames).toContain("DNS:node7.example");
    expect(r.requestedExtensions.extendedKeyUsage.usages).toEqual(["serverAuth", "clientAuth"]);
    expect(r.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

describe("keys: type, size and fingerprint, never the material", () => {
  it("a PKCS#8 RSA key matches its certificate and request, and no key material is printed", () => {
    const out = ok(skycert(["inspect", agent.key, agent.crt, agent.csr, "--json"], { cwd: dir })).stdout;
    const r = JSON.parse(out);
    const key = r.files[0].items[0];
    expect(key).toMatchObject({ kind: "private-key", format: "PKCS#8", encrypted: false, publicKey: { type: "RSA", bits: 2048 } });
    expect(key.publicKey.fingerprint).toBe(r.files[1].items[0].publicKey.fingerprint);
    expect(key.matches).toEqual([`${agent.crt}#1`, `${agent.csr}#1`]);
    // Nothing of the key: not its PEM body, not its modulus, not its private exponent.
    const pem = readFileSync(agent.key, "utf8");
    for (const line of pem.split("\n").filter((l) => l.length > 20)) expect(out).not.toContain(line);
    const modulus = ok(openssl(["rsa", "-in", agent.key, "-noout", "-modulus"])).stdout.trim().replace("Modulus=", "");
    expect(out.toUpperCase()).not.toContain(modulus.slice(0, 32));
    expect(out).not.toMatch(/PRIVATE KEY|privateExponent|"d":/);
    const human = ok(skycert(["inspect", agent.key, agent.crt], { cwd: dir })).stdout;
    for (const line of pem.split("\n").filter((l) => l.length > 20)) expect(human).not.toContain(line);
    expect(human).toContain("matches");
  });

  it("an encrypted key is reported as encrypted, without being opened", () => {
    const pass = join(dir, "pass");
    writeFileSync(pass, "inspect-secret\n");
    ok(skycert(["init", "ca", "--out", "enc", "--bits", "2048", "--encrypt", "--passphrase-file", pass], { cwd: dir }));
    const out = ok(skycert(["inspect", join(dir, "enc", "ca", "skydive-ca.key"), "--json"], { cwd: dir })).stdout;
    const k = JSON.parse(out).files[0].items[0];
    expect(k).toEqual({ kind: "private-key", line: 1, format: "PKCS#8", encrypted: true, encryption: "PBES2 (aes-256-cbc)" });
    expect(out).not.toContain("inspect-secret");
  });

  it("PKCS#1, SEC1 EC keys and public keys", () => {
    const rsa1 = join(dir, "pkcs1.key");
    const ec = join(dir, "ec.key");
    const pub = join(dir, "ec.pub");
    ok(openssl(["genrsa", "-traditional", "-out", rsa1, "2048"]));
    ok(openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec]));
    ok(openssl(["ec", "-in", ec, "-pubout", "-out", pub]));
    const r = inspect(rsa1, ec, pub).files.map((f: Json) => f.items[0]);
    expect(r[0]).toMatchObject({ kind: "private-key", format: "PKCS#1", publicKey: { type: "RSA", bits: 2048 } });
    expect(r[1]).toMatchObject({ kind: "private-key", format: "SEC1", publicKey: { type: "EC", bits: 256, curve: "P-256" } });
    expect(r[2]).toMatchObject({ kind: "public-key", publicKey: { type: "EC", curve: "P-256" } });
    expect(r[2].publicKey.fingerprint).toBe(r[1].publicKey.fingerprint);
    expect(r[1].matches).toBeUndefined();
  });

  it("never prints the CA key's material either", () => {
    const out = ok(skycert(["inspect", caKey], { cwd: dir })).stdout;
    expect(out).not.toMatch(/MII/);
  });
});

describe("bad input", () => {
  it("a file with nothing readable: exit 1, one line naming it, the others still shown", () => {
    const junk = join(dir, "junk.crt");
    writeFileSync(junk, "this is not a certificate\n");
    const r = skycert(["inspect", agent.crt, junk, "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(junk);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.files[0].items[0].kind).toBe("certificate");
    expect(j.files[1].error).toMatch(/no PEM block/);
  });

  it("a truncated PEM block names its line", () => {
    const cut = join(dir, "cut.crt");
    writeFileSync(cut, readFileSync(agent.crt, "utf8").split("\n").slice(0, 5).join("\n"));
    const r = skycert(["inspect", cut], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cut\.crt: line 1: a PEM block has no END line/);
  });

  it("a missing file is a usage error (exit 2), one line", () => {
    const r = skycert(["inspect", join(dir, "nope.crt")], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("nope.crt: no such file");
  });

  it("--help shows examples and exit codes", () => {
    const h = ok(skycert(["inspect", "--help"])).stdout;
    expect(h).toContain("Examples:");
    expect(h).toContain("Exit codes:");
    const rh = ok(skycert(["renew", "--help"])).stdout;
    expect(rh).toContain("Examples:");
    expect(rh).toContain("Exit codes:");
  });
});
