/**
 * `skycert renew`: the same key, subject and extensions, a new serial and a new
 * validity, checked with the openssl CLI; CA-signed certificates renewed by
 * their CA (and only theirs unless --change-ca); extensions skycert does not
 * issue carried byte for byte; the file replaced atomically, 0444.
 */
import { copyFileSync, existsSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { goHandshake } from "./helpers/go-peer.js";
import { recipe } from "./helpers/recipe.js";
import { SEED_CNF, SHARED, ok, oneLine, openssl, scratch, skycert } from "./helpers/run.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const read = (p: string) => readFileSync(p, "utf8");
const x509 = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args])).stdout;
const pubkey = (p: string) => x509(p, "-pubkey");
const serial = (p: string) => x509(p, "-serial").trim();
const dates = (p: string) => x509(p, "-dates");

/** `openssl x509 -text` without what renew changes: serial, dates, signature. */
function unchangedPart(p: string): string {
  return x509(p, "-text")
    .replace(/Serial Number:\n.*\n/, "Serial Number: <serial>\n")
    .replace(/Not (Before|After) ?: .*/g, "Not $1: <date>")
    .replace(/(Signature Value:\n)(\s+[0-9a-f:]+\n)+/, "$1<signature>\n");
}

const dir = scratch("skycert-renew-");

describe("a self-signed certificate from init", () => {
  const crt = join(dir, "analyzer", "analyzer.domain.com.crt");
  let before: { text: string; pub: string; serial: string; dates: string };
  let result: { before: { serial: string }; after: { serial: string; notAfter: string }; signer: { kind: string }; days: number; mode: string };

  beforeAll(() => {
    ok(skycert(["init", "analyzer"], { cwd: dir }));
    before = { text: unchangedPart(crt), pub: pubkey(crt), serial: serial(crt), dates: dates(crt) };
    result = JSON.parse(ok(skycert(["renew", crt, "--days", "30", "--json"], { cwd: dir })).stdout);
  });

  it("keeps the key, the subject and every extension; changes the serial and the validity", () => {
    expect(pubkey(crt)).toBe(before.pub);
    expect(unchangedPart(crt)).toBe(before.text);
    expect(serial(crt)).not.toBe(before.serial);
    expect(dates(crt)).not.toBe(before.dates);
    expect(serial(crt)).toBe(`serial=${result.after.serial}`);
    expect(result.before.serial).toBe(before.serial.replace("serial=", ""));
    expect(result.signer.kind).toBe("self-signed");
    expect(result.days).toBe(30);
    expect(ok(openssl(["x509", "-in", crt, "-noout", "-checkend", String(29 * 86400)])).code).toBe(0);
    expect(openssl(["x509", "-in", crt, "-noout", "-checkend", String(31 * 86400)]).code).toBe(1);
  });

  it("the new certificate is a valid self-signed anchor, sha256, positive 20-octet serial, 0444, nothing left behind", () => {
    expect(ok(openssl(["verify", "-CAfile", crt, crt])).stdout).toContain("OK");
    expect(x509(crt, "-text")).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(serial(crt)).toMatch(/^serial=[0-7][0-9A-F]{39}$/);
    expect(mode(crt)).toBe("444");
    expect(readdirSync(join(dir, "analyzer")).sort()).toEqual(["analyzer.domain.com.crt", "analyzer.domain.com.csr", "analyzer.domain.com.key"]);
  });

  it("without --days keeps the length of the previous validity", () => {
    const r = JSON.parse(ok(skycert(["renew", crt, "--json"], { cwd: dir })).stdout);
    expect(r.days).toBe(30);
  });

  it("--dry-run shows the change and writes nothing", () => {
    const now = read(crt);
    const r = JSON.parse(ok(skycert(["renew", crt, "--days", "90", "--dry-run", "--json"], { cwd: dir })).stdout);
    expect(r.dryRun).toBe(true);
    expect(r.after.serial).toBeUndefined();
    expect(read(crt)).toBe(now);
  });

  it("refuses a key that is not the certificate's, and a self-signed certificate without its key", () => {
    ok(skycert(["init", "agent", "--out", "other"], { cwd: dir }));
    const otherKey = join(dir, "other", "agent", "agent.domain.com.key");
    expect(oneLine(skycert(["renew", crt, "--key", otherKey], { cwd: dir }), 1)).toContain("is not the key of");
    const lone = join(dir, "lone.crt");
    copyFileSync(crt, lone);
    const line = oneLine(skycert(["renew", lone], { cwd: dir }), 2);
    expect(line).toContain("self-signed and its key is not beside it");
    expect(line).toContain("--key");
  });

  it("never writes through a symlink: refused without --force, the link itself replaced with it", () => {
    const link = join(dir, "analyzer", "current.crt");
    symlinkSync("analyzer.domain.com.crt", link);
    const target = read(crt);
    copyFileSync(join(dir, "analyzer", "analyzer.domain.com.key"), join(dir, "analyzer", "current.key"));
    const line = oneLine(skycert(["renew", link], { cwd: dir }), 1);
    expect(line).toContain("symlink");
    ok(skycert(["renew", link, "--force"], { cwd: dir }));
    expect(lstatSync(link).isSymbolicLink()).toBe(false);
    expect(read(crt)).toBe(target); // the link's target is untouched
    expect(mode(link)).toBe("444");
  });
});

describe("the seed recipe's certificates", () => {
  it("renew, and still complete Skydive's legacy mutual TLS in Go", () => {
    const ref = join(dir, "recipe");
    const an = recipe(ref, "analyzer");
    const ag = recipe(ref, "agent");
    const old = serial(an.crt);
    ok(skycert(["renew", an.crt]));
    ok(skycert(["renew", ag.crt]));
    expect(serial(an.crt)).not.toBe(old);
    const r = goHandshake({ serverCert: an.crt, serverKey: an.key, clientCa: ag.crt, clientCert: ag.crt, clientKey: ag.key, rootCa: an.crt, dial: "127.0.0.1" });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
  });

  it("carry extensions skycert does not issue byte for byte (certificatePolicies, crlDistributionPoints, nsComment)", () => {
    const cnf = join(dir, "custom.cnf");
    writeFileSync(
      cnf,
      `${read(SEED_CNF)}
[ v3_custom ]
basicConstraints = critical, CA:TRUE
keyUsage = digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = @alt_names
certificatePolicies = 1.2.3.4.5
crlDistributionPoints = URI:http://crl.example.com/skydive.crl
nsComment = "made by the recipe"
`,
    );
    const c = recipe(join(dir, "custom"), "agent", { cnf, extensions: "v3_custom" });
    const before = unchangedPart(c.crt);
    expect(before).toContain("X509v3 Certificate Policies");
    const r = JSON.parse(ok(skycert(["renew", c.crt, "--json"])).stdout);
    expect(unchangedPart(c.crt)).toBe(before);
    const carried = r.extensions.map((e: { name: string; action: string }) => `${e.name}:${e.action}`);
    expect(carried).toEqual(expect.arrayContaining(["2.5.29.32:carried", "2.5.29.31:carried", "2.16.840.1.113730.1.13:carried", "basicConstraints:carried"]));
    // The DER of each extension is the same: compare openssl's parse of the raw extensions.
    expect(ok(openssl(["x509", "-in", c.crt, "-noout", "-ext", "crlDistributionPoints,certificatePolicies,nsComment"])).stdout).toContain("http://crl.example.com/skydive.crl");
  });
});

describe("a CA-signed certificate", () => {
  const caCrt = join(dir, "pki", "ca", "skydive-ca.crt");
  const crt = join(dir, "pki", "agents", "10.0.0.9", "agent.domain.com.crt");
  let before: { text: string; pub: string; serial: string; akid: string };

  beforeAll(() => {
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", join(SHARED, "skydive", "inventory-hosts.multiple.container"), "--out", "pki"], { cwd: dir }));
    before = { text: unchangedPart(crt), pub: pubkey(crt), serial: serial(crt), akid: x509(crt, "-ext", "authorityKeyIdentifier") };
  });

  it("is renewed by the CA found above it (no --ca needed): same key, AKID and extensions, new serial, verifies", () => {
    const r = JSON.parse(ok(skycert(["renew", crt, "--days", "60", "--json"], { cwd: dir })).stdout);
    expect(r.signer).toMatchObject({ kind: "ca", found: "beside the certificate", changed: false });
    expect(pubkey(crt)).toBe(before.pub);
    expect(unchangedPart(crt)).toBe(before.text);
    expect(serial(crt)).not.toBe(before.serial);
    expect(x509(crt, "-ext", "authorityKeyIdentifier")).toBe(before.akid);
    expect(ok(openssl(["verify", "-CAfile", caCrt, crt])).stdout).toBe(`${crt}: OK\n`);
    expect(mode(crt)).toBe("444");
  });

  it("refreshes the SANs from --cnf and reports the difference", () => {
    const cnf = join(dir, "new-sans.cnf");
    writeFileSync(cnf, read(SEED_CNF).replace(/\[alt_names\][\s\S]*$/, "[alt_names]\nDNS.1 = agent.domain.com\nIP.1 = 10.0.0.9\nIP.2 = 10.5.5.5\n"));
    const r = JSON.parse(ok(skycert(["renew", crt, "--cnf", cnf, "--json"], { cwd: dir })).stdout);
    expect(r.sans.source).toBe("--cnf");
    expect(r.sans.added).toEqual(["IP:10.5.5.5"]);
    expect(r.sans.removed).toEqual(["DNS:analyzer.domain.com", "DNS:localhost", "IP:192.168.1.1", "IP:192.168.69.14", "IP:127.0.0.1"]);
    expect(x509(crt, "-ext", "subjectAltName")).toContain("DNS:agent.domain.com, IP Address:10.0.0.9, IP Address:10.5.5.5");
    expect(pubkey(crt)).toBe(before.pub);
    ok(openssl(["verify", "-CAfile", caCrt, crt]));
    const human = ok(skycert(["renew", crt, "--san", "10.6.6.6", "--dry-run"], { cwd: dir })).stdout;
    expect(human).toContain("+IP:10.6.6.6");
  });

  it("with another CA is refused (one line, exit 1) unless --change-ca, which re-signs and re-keys the AKID", () => {
    ok(skycert(["init", "ca", "--out", "pki2", "--bits", "2048", "--cn", "other-ca"], { cwd: dir }));
    const now = read(crt);
    const line = oneLine(skycert(["renew", crt, "--ca", "pki2"], { cwd: dir }), 1);
    expect(line).toContain("not by the CA");
    expect(line).toContain("--change-ca");
    expect(read(crt)).toBe(now);
    const r = JSON.parse(ok(skycert(["renew", crt, "--ca", "pki2", "--change-ca", "--json"], { cwd: dir })).stdout);
    expect(r.signer).toMatchObject({ kind: "ca", changed: true, previousIssuer: "CN=skydive-ca" });
    const other = join(dir, "pki2", "ca", "other-ca.crt");
    expect(ok(openssl(["verify", "-CAfile", other, crt])).stdout).toContain("OK");
    expect(openssl(["verify", "-CAfile", caCrt, crt]).code).not.toBe(0);
    const keyId = (text: string) => text.split("\n")[1]!.trim();
    expect(keyId(x509(crt, "-ext", "authorityKeyIdentifier"))).toBe(keyId(x509(other, "-ext", "subjectKeyIdentifier")));
    expect(x509(crt, "-issuer")).toBe("issuer=CN = other-ca\n");
    expect(pubkey(crt)).toBe(before.pub);
  });

  it("without a CA to be found, asks for --ca (exit 2)", () => {
    const lone = join(dir, "lone-leaf");
    ok(skycert(["init", "agent", "--ca", "pki", "--out", lone], { cwd: dir }));
    // Move the certificate away from any ca/ folder.
    const moved = join(dir, "moved.crt");
    copyFileSync(join(lone, "agent", "agent.domain.com.crt"), moved);
    const line = oneLine(skycert(["renew", moved], { cwd: dir }), 2);
    expect(line).toContain("pass --ca DIR");
    expect(existsSync(moved)).toBe(true);
  });
});
