/**
 * `skycert renew`: the same key, subject and extensions, a new serial and a new
 * validity, checked with the openssl CLI; CA-signed certificates renewed by
 * their CA (and only theirs unless --change-ca); extensions skycert does not
 * issue carried byte for byte; the file replaced atomically, 0444. Then what
 * the operator's year needs: --san that only adds, --drop-san, --profile,
 * --rekey, a CA renewed without orphaning its leaves, and a whole fleet.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { pairHandshake } from "./helpers/emulator.js";
import { recipe } from "./helpers/recipe.js";
import { SEED_CNF, SHARED, ok, oneLine, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { skycertInPty } from "./helpers/pty.js";
import { recordStreams, registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";
import { commonNameDer, makeCertificate, randomSerial } from "../src/pki/issue.js";
import { encodeExtensions } from "../src/pki/extensions.js";
import { toPem } from "../src/pki/pem.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const read = (p: string) => readFileSync(p, "utf8");
const x509 = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args])).stdout;
const pubkey = (p: string) => x509(p, "-pubkey");
const keyPub = (p: string) => ok(openssl(["pkey", "-in", p, "-pubout"])).stdout;
const serial = (p: string) => x509(p, "-serial").trim();
const dates = (p: string) => x509(p, "-dates");
const sans = (p: string) => x509(p, "-ext", "subjectAltName");
const sanList = (p: string) => (sans(p).split("\n")[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const json = <T = Record<string, any>>(args: string[], cwd?: string): T => JSON.parse(ok(skycert([...args, "--json"], { cwd })).stdout) as T;

/** `openssl x509 -text` without what renew changes: serial, dates, signature. */
function unchangedPart(p: string): string {
  return x509(p, "-text")
    .replace(/Serial Number:\n.*\n/, "Serial Number: <serial>\n")
    .replace(/Not (Before|After) ?: .*/g, "Not $1: <date>")
    .replace(/(Signature Value:\n)(\s+[0-9a-f:]+\n)+/, "$1<signature>\n");
}

/** Nothing an output shows may be key material. */
function noKeys(text: string): void {
  expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  expect(text).not.toMatch(/^[A-Za-z0-9+/=]{60,}$/m);
}

const dir = scratch("skycert-renew-");

describe("a self-signed certificate from init", () => {
  const crt = join(dir, "analyzer", "analyzer.domain.com.crt");
  let before: { text: string; pub: string; serial: string; dates: string };
  let result: { before: { serial: string }; after: { serial: string; notAfter: string }; signer: { kind: string }; days: number; mode: string };

  beforeAll(() => {
    ok(skycert(["init", "analyzer"], { cwd: dir }));
    before = { text: unchangedPart(crt), pub: pubkey(crt), serial: serial(crt), dates: dates(crt) };
    result = json(["renew", crt, "--days", "30"], dir);
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
    const r = json(["renew", crt], dir);
    expect(r.days).toBe(30);
  });

  it("--dry-run shows the change and writes nothing", () => {
    const now = snapshot(dir);
    const r = json(["renew", crt, "--days", "90", "--dry-run"], dir);
    expect(r.dryRun).toBe(true);
    expect(r.after.serial).toBeUndefined();
    expect(snapshot(dir)).toEqual(now);
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
    // Every legacy host holds both pairs; the agent dials 127.0.0.1, which the seed's alt_names carry.
    const settings = { "analyzer.X509_cert": an.crt, "analyzer.X509_key": an.key, "agent.X509_cert": ag.crt, "agent.X509_key": ag.key, analyzers: ["127.0.0.1:8082"] };
    const r = pairHandshake({ release: "legacy", server: { role: "analyzer", settings }, client: { role: "agent", settings }, analyzer: "127.0.0.1:8082" });
    expect(r.dial.error).toBe("");
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, dial: { tls: true, serverSubject: "CN=skydive-analyzer", clientCertSent: "CN=skydive-agent" } });
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
    const r = json(["renew", c.crt]);
    expect(unchangedPart(c.crt)).toBe(before);
    const carried = r.extensions.map((e: { name: string; action: string }) => `${e.name}:${e.action}`);
    expect(carried).toEqual(expect.arrayContaining(["2.5.29.32:carried", "2.5.29.31:carried", "2.16.840.1.113730.1.13:carried", "basicConstraints:carried"]));
    // The DER of each extension is the same: compare openssl's parse of the raw extensions.
    expect(ok(openssl(["x509", "-in", c.crt, "-noout", "-ext", "crlDistributionPoints,certificatePolicies,nsComment"])).stdout).toContain("http://crl.example.com/skydive.crl");
  });

  it("--profile re-derives a seed pair's extensions from the cnf, keeping its SANs and key", () => {
    const c = recipe(join(dir, "custom2"), "agent", { cnf: join(dir, "custom.cnf"), extensions: "v3_custom" });
    const before = { sans: sans(c.crt), pub: pubkey(c.crt) };
    const r = json(["renew", c.crt, "--profile", "--cnf", SEED_CNF]);
    expect(r.profile.from).toContain("[v3_req]");
    expect(r.extensions.filter((e: { action: string }) => e.action === "dropped").map((e: { name: string }) => e.name)).toEqual(["2.5.29.32", "2.5.29.31", "2.16.840.1.113730.1.13"]);
    const text = x509(c.crt, "-text");
    expect(text).not.toContain("Certificate Policies");
    expect(text).toMatch(/Basic Constraints: \n\s+CA:TRUE/);
    expect(sans(c.crt)).toBe(before.sans);
    expect(pubkey(c.crt)).toBe(before.pub);
    ok(openssl(["verify", "-CAfile", c.crt, c.crt]));
  });
  it("a self-signed certificate whose authorityKeyIdentifier names its own serial (and key) is re-encoded to match", () => {
    const d = join(dir, "akid");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "c.cnf"), "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3\n[dn]\nCN = akid-test\n[v3]\nbasicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyCertSign\nsubjectAltName = DNS:ak.example\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always, issuer:always\n");
    ok(openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ak.key", "-out", "ak.crt", "-days", "10", "-config", "c.cnf"], { cwd: d }));
    chmodSync(join(d, "ak.key"), 0o400);
    const crt = join(d, "ak.crt");
    const akidSerial = () => /serial:([0-9A-F:]+)/.exec(x509(crt, "-ext", "authorityKeyIdentifier"))![1]!.replace(/:/g, "");
    const akidKey = () => /keyid:([0-9A-F:]+)/.exec(x509(crt, "-ext", "authorityKeyIdentifier"))![1]!;
    const skid = () => x509(crt, "-ext", "subjectKeyIdentifier").split("\n")[1]!.trim();
    expect(akidSerial()).toBe(serial(crt).replace("serial=", ""));
    const r = json(["renew", crt]);
    expect(r.extensions.find((e: { name: string }) => e.name === "authorityKeyIdentifier").action).toBe("re-encoded");
    expect(akidSerial()).toBe(serial(crt).replace("serial=", ""));
    ok(openssl(["verify", "-CAfile", crt, crt]));
    ok(skycert(["renew", crt, "--rekey"]));
    expect(akidSerial()).toBe(serial(crt).replace("serial=", ""));
    expect(akidKey()).toBe(skid());
    ok(openssl(["verify", "-CAfile", crt, crt]));
  });
});

describe("a CA-signed certificate", () => {
  const caCrt = join(dir, "pki", "ca", "skydive-ca.crt");
  const crt = join(dir, "pki", "agents", "10.0.0.9", "agent.crt");
  let before: { text: string; pub: string; serial: string; akid: string };

  beforeAll(() => {
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    // --cnf-sans: the seed's alt_names too, as the old init gave every host.
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", join(SHARED, "skydive", "inventory-hosts.multiple.container"), "--out", "pki", "--cnf-sans"], { cwd: dir }));
    before = { text: unchangedPart(crt), pub: pubkey(crt), serial: serial(crt), akid: x509(crt, "-ext", "authorityKeyIdentifier") };
  });

  it("is renewed by the CA the fleet record names (no --ca needed): same key, AKID and extensions, new serial, verifies", () => {
    const r = json(["renew", crt, "--days", "60"], dir);
    expect(r.signer).toMatchObject({ kind: "ca", found: "fleet record", changed: false });
    expect(pubkey(crt)).toBe(before.pub);
    expect(unchangedPart(crt)).toBe(before.text);
    expect(serial(crt)).not.toBe(before.serial);
    expect(x509(crt, "-ext", "authorityKeyIdentifier")).toBe(before.akid);
    expect(ok(openssl(["verify", "-CAfile", caCrt, crt])).stdout).toBe(`${crt}: OK\n`);
    expect(mode(crt)).toBe("444");
  });

  it("without a fleet record, by the ca/ folder found above it", () => {
    const away = join(dir, "norecord");
    mkdirSync(join(away, "agents", "x"), { recursive: true });
    mkdirSync(join(away, "ca"));
    for (const f of ["skydive-ca.crt", "skydive-ca.key"]) copyFileSync(join(dir, "pki", "ca", f), join(away, "ca", f));
    for (const f of ["agent.crt", "agent.key"]) copyFileSync(join(dir, "pki", "agents", "10.0.0.9", f), join(away, "agents", "x", f));
    const r = json(["renew", join(away, "agents", "x", "agent.crt")], dir);
    expect(r.signer).toMatchObject({ kind: "ca", found: "beside the certificate", changed: false });
    expect(pubkey(join(away, "agents", "x", "agent.crt"))).toBe(before.pub);
  });

  it("refreshes the SANs from --cnf and reports the difference; the fleet record follows", () => {
    const cnf = join(dir, "new-sans.cnf");
    writeFileSync(cnf, read(SEED_CNF).replace(/\[alt_names\][\s\S]*$/, "[alt_names]\nDNS.1 = agent.domain.com\nIP.1 = 10.0.0.9\nIP.2 = 10.5.5.5\n"));
    const r = json(["renew", crt, "--cnf", cnf], dir);
    expect(r.sans.source).toBe("--cnf");
    expect(r.sans.added).toEqual(["IP:10.5.5.5"]);
    expect(r.sans.removed).toEqual(["DNS:analyzer.domain.com", "DNS:localhost", "IP:192.168.1.1", "IP:192.168.69.14", "IP:127.0.0.1"]);
    expect(x509(crt, "-ext", "subjectAltName")).toContain("DNS:agent.domain.com, IP Address:10.0.0.9, IP Address:10.5.5.5");
    expect(pubkey(crt)).toBe(before.pub);
    ok(openssl(["verify", "-CAfile", caCrt, crt]));
    const record = JSON.parse(read(join(dir, "pki", "skycert.json")));
    expect(record.hosts.find((h: { name: string }) => h.name === "10.0.0.9").sans).toEqual(["DNS:agent.domain.com", "IP:10.0.0.9", "IP:10.5.5.5"]);
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
    const r = json(["renew", crt, "--ca", "pki2", "--change-ca"], dir);
    expect(r.signer).toMatchObject({ kind: "ca", changed: true, previousIssuer: "CN=skydive-ca" });
    const other = join(dir, "pki2", "ca", "other-ca.crt");
    expect(ok(openssl(["verify", "-CAfile", other, crt])).stdout).toContain("OK");
    expect(openssl(["verify", "-CAfile", caCrt, crt]).code).not.toBe(0);
    const keyId = (text: string) => text.split("\n")[1]!.trim();
    expect(keyId(x509(crt, "-ext", "authorityKeyIdentifier"))).toBe(keyId(x509(other, "-ext", "subjectKeyIdentifier")));
    expect(x509(crt, "-issuer")).toBe("issuer=CN = other-ca\n");
    expect(pubkey(crt)).toBe(before.pub);
    // Its fleet still trusts the first CA: said.
    expect(r.warnings.join(" ")).toContain("tls.ca_cert");
  });

  it("without a CA to be found, asks for --ca (exit 2)", () => {
    const lone = join(dir, "lone-leaf");
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "lone1", "--out", lone], { cwd: dir }));
    // Move the certificate away from any ca/ folder and any fleet record naming a CA.
    const moved = join(dir, "moved.crt");
    copyFileSync(join(lone, "agents", "lone1", "agent.crt"), moved);
    const line = oneLine(skycert(["renew", moved], { cwd: dir }), 2);
    expect(line).toContain("pass --ca DIR");
    expect(existsSync(moved)).toBe(true);
  });
});

/** A small ECDSA fleet: one analyzer (dialed as analyzer.domain.com) and agents. */
function makeFleet(out: string, agents: string, opts: { cnfSans?: boolean; analyzerFirst?: boolean } = {}): void {
  ok(skycert(["init", "ca", "--key-type", "ecdsa", "--out", out]));
  const analyzer = () => ok(skycert(["init", "analyzer", "--ca", out, "--hosts", "a1=analyzer.domain.com", "--key-type", "ecdsa", "--out", out]));
  if (opts.analyzerFirst !== false) analyzer();
  ok(skycert(["init", "agent", "--ca", out, "--hosts", agents, "--key-type", "ecdsa", "--out", out, ...(opts.cnfSans ? ["--cnf-sans"] : [])]));
  if (opts.analyzerFirst === false) analyzer();
}

describe("--san adds, --drop-san removes", () => {
  const f = join(dir, "names");
  const g1 = join(f, "agents", "g1", "agent.crt");
  const a1 = join(f, "analyzers", "a1", "analyzer.crt");

  beforeAll(() => {
    // The agent is issued before the analyzer is known, with the cnf's alt_names: it carries analyzer.domain.com.
    makeFleet(f, "g1=10.0.0.10", { cnfSans: true, analyzerFirst: false });
  });

  it("--san keeps every SAN the certificate had, and its key; the added name is reported and recorded", () => {
    const before = { sans: sanList(a1), pub: pubkey(a1), key: keyPub(join(f, "analyzers", "a1", "analyzer.key")) };
    const r = json(["renew", a1, "--san", "10.0.0.4,analyzer.example.net"]);
    expect(r.sans.added).toEqual(["IP:10.0.0.4", "DNS:analyzer.example.net"]);
    expect(r.sans.removed).toEqual([]);
    const after = sanList(a1);
    for (const s of before.sans) expect(after).toContain(s);
    expect(after).toEqual(expect.arrayContaining(["IP Address:10.0.0.4", "DNS:analyzer.example.net"]));
    expect(after).toHaveLength(before.sans.length + 2);
    expect(pubkey(a1)).toBe(before.pub);
    expect(pubkey(a1)).toBe(before.key);
    ok(openssl(["verify", "-CAfile", join(f, "ca", "skydive-ca.crt"), a1]));
    const record = JSON.parse(read(join(f, "skycert.json")));
    expect(record.hosts.find((h: { name: string }) => h.name === "a1").sans).toEqual(r.sans.after);
    // Adding a name it has already changes nothing about the names.
    const again = json(["renew", a1, "--san", "10.0.0.4"]);
    expect(again.sans.added).toEqual([]);
    expect(sanList(a1)).toEqual(after);
  });

  it("--drop-san fixes an agent certificate that carries the analyzer's name (validate --fleet agrees)", () => {
    const failing = skycert(["validate", "--fleet", f, "--json"]);
    expect(failing.code).toBe(1);
    const checks = JSON.parse(failing.stdout).hosts.find((h: { host: string }) => h.host === "g1").checks;
    expect(checks.find((c: { id: string; status: string }) => c.id === "impersonation" && c.status === "fail")).toBeTruthy();
    const before = { sans: sanList(g1), pub: pubkey(g1) };
    expect(before.sans).toContain("DNS:analyzer.domain.com");
    const r = json(["renew", g1, "--drop-san", "analyzer.domain.com"]);
    expect(r.sans.removed).toEqual(["DNS:analyzer.domain.com"]);
    expect(r.fleet).toMatchObject({ kind: "host", entry: "g1", sansUpdated: true });
    expect(sanList(g1)).toEqual(before.sans.filter((s) => s !== "DNS:analyzer.domain.com"));
    expect(pubkey(g1)).toBe(before.pub);
    ok(skycert(["validate", "--fleet", f]));
  });

  it("refuses to give an agent a name agents dial for the analyzer, and a --drop-san it does not have", () => {
    const now = snapshot(f);
    expect(oneLine(skycert(["renew", g1, "--san", "analyzer.domain.com"]), 1)).toContain("impersonate the analyzer");
    expect(oneLine(skycert(["renew", g1, "--drop-san", "nowhere.example"]), 2)).toContain("--drop-san DNS:nowhere.example");
    expect(oneLine(skycert(["renew", g1, "--drop-san", "not a name"]), 2)).toContain("--drop-san");
    expect(snapshot(f)).toEqual(now);
  });
});

describe("--profile", () => {
  const f = join(dir, "profile");
  const srv = join(f, "extra", "srv");

  beforeAll(() => {
    makeFleet(f, "g1=10.0.0.10");
    // A certificate from the fleet's CA made elsewhere, for serverAuth only.
    mkdirSync(srv, { recursive: true });
    writeFileSync(join(srv, "ext.cnf"), "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:srv.example, IP:10.9.9.9\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
    ok(openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=srv"], { cwd: srv }));
    ok(openssl(["x509", "-req", "-in", "srv.csr", "-CA", join(f, "ca", "skydive-ca.crt"), "-CAkey", join(f, "ca", "skydive-ca.key"), "-CAcreateserial", "-CAserial", join(srv, "ca.srl"), "-days", "30", "-extfile", "ext.cnf", "-out", "srv.crt"], { cwd: srv }));
    chmodSync(join(srv, "srv.key"), 0o400);
  });

  it("turns a certificate without clientAuth into one that Go and OpenSSL accept for clientAuth, keeping its SANs and key", () => {
    const crt = join(srv, "srv.crt");
    const ca = join(f, "ca", "skydive-ca.crt");
    expect(openssl(["verify", "-purpose", "sslclient", "-CAfile", ca, crt]).code).not.toBe(0);
    const before = { sans: sans(crt), pub: pubkey(crt), csr: read(join(srv, "srv.csr")) };
    const r = json(["renew", crt, "--profile"], f);
    expect(r.kind).toBe("host");
    expect(r.profile.from).toContain("serverAuth + clientAuth");
    expect(ok(openssl(["verify", "-purpose", "sslclient", "-CAfile", ca, crt])).stdout).toContain("OK");
    expect(ok(openssl(["verify", "-purpose", "sslserver", "-CAfile", ca, crt])).stdout).toContain("OK");
    expect(x509(crt, "-ext", "extendedKeyUsage")).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(sans(crt)).toBe(before.sans);
    expect(pubkey(crt)).toBe(before.pub);
    expect(read(join(srv, "srv.csr"))).toBe(before.csr); // the CSR is left as it was
    // Go's verdict, through validate: the certificate as a Skydive agent's client pair.
    const v = skycert(["validate", "--skydive", "0.27", "--role", "agent", "--agent-cert", crt, "--agent-key", join(srv, "srv.key"), "--analyzer-cert", crt, "--analyzer-key", join(srv, "srv.key"), "--ca-cert", ca, "--host", "srv.example", "--json"]);
    const eku = JSON.parse(v.stdout).checks.filter((c: { id: string }) => c.id === "extended-key-usage");
    expect(eku.length).toBeGreaterThan(0);
    expect(eku.every((c: { status: string }) => c.status === "pass"), JSON.stringify(eku)).toBe(true);
  });
});

describe("--rekey", () => {
  const f = join(dir, "rekey");
  const g1 = join(f, "agents", "g1");

  beforeAll(() => makeFleet(f, "g1=10.0.0.10,g2=10.0.0.11"));

  it("makes a new key, 0400, that matches the certificate; the rest of the folder is kept", () => {
    const crt = join(g1, "agent.crt");
    const key = join(g1, "agent.key");
    const before = { pub: pubkey(crt), sans: sans(crt), csr: read(join(g1, "agent.csr")), yml: read(join(g1, "skydive.yml")), subject: x509(crt, "-subject") };
    const out = ok(skycert(["renew", crt, "--rekey", "--json"]));
    noKeys(out.stdout + out.stderr);
    const r = JSON.parse(out.stdout);
    expect(r.key).toMatchObject({ kept: false, source: "new (--rekey)", type: "EC P-256" });
    expect(pubkey(crt)).not.toBe(before.pub);
    expect(keyPub(key)).toBe(pubkey(crt));
    expect(mode(key)).toBe("400");
    expect(mode(crt)).toBe("444");
    expect(sans(crt)).toBe(before.sans);
    expect(x509(crt, "-subject")).toBe(before.subject);
    expect(read(join(g1, "agent.csr"))).toBe(before.csr);
    expect(read(join(g1, "skydive.yml"))).toBe(before.yml);
    expect(readdirSync(g1).sort()).toEqual(["agent.crt", "agent.csr", "agent.key", "skydive.yml"]);
    ok(openssl(["verify", "-CAfile", join(f, "ca", "skydive-ca.crt"), crt]));
    // The subjectKeyIdentifier names the new key.
    const skid = x509(crt, "-ext", "subjectKeyIdentifier").split("\n")[1]!.trim();
    // RFC 5280 method 1: SHA-1 of the public key's BIT STRING, for P-256 the last 65 octets of the SPKI.
    const hash = ok(sh(`openssl pkey -in '${key}' -pubout -outform DER | tail -c 65 | openssl sha1 -r | cut -c1-40`)).stdout.trim().toUpperCase();
    expect(skid.replace(/:/g, "")).toBe(hash);
    ok(skycert(["validate", "--fleet", f]));
  });

  it("--key-type and --bits choose the new key", () => {
    const crt = join(f, "agents", "g2", "agent.crt");
    const r = json(["renew", crt, "--rekey", "--key-type", "rsa", "--bits", "3072"]);
    expect(r.key.type).toBe("RSA 3072");
    expect(x509(crt, "-text")).toContain("Public-Key: (3072 bit)");
    expect(keyPub(join(f, "agents", "g2", "agent.key"))).toBe(pubkey(crt));
  });

  it("a self-signed pair gets a new key that signs itself", () => {
    const out = join(dir, "rekey-seed");
    ok(skycert(["init", "agent", "--out", out, "--key-type", "ecdsa"]));
    const crt = join(out, "agent", "agent.domain.com.crt");
    const old = pubkey(crt);
    ok(skycert(["renew", crt, "--rekey"]));
    expect(pubkey(crt)).not.toBe(old);
    expect(keyPub(join(out, "agent", "agent.domain.com.key"))).toBe(pubkey(crt));
    ok(openssl(["verify", "-CAfile", crt, crt]));
  });

  it("is refused on a CA (a new CA key orphans what it signed), changing nothing", () => {
    const now = snapshot(f);
    const line = oneLine(skycert(["renew", join(f, "ca", "skydive-ca.crt"), "--rekey"]), 2);
    expect(line).toContain("--rekey");
    expect(line).toContain("init ca");
    expect(snapshot(f)).toEqual(now);
  });
});

describe("renewing the CA", () => {
  const f = join(dir, "carenew");
  const ca = join(f, "ca", "skydive-ca.crt");

  beforeAll(() => makeFleet(f, "g1=10.0.0.10,g2=10.0.0.11"));

  it("keeps its key and subject: every certificate it signed still verifies under the new CA certificate", () => {
    const leaves = [join(f, "analyzers", "a1", "analyzer.crt"), join(f, "agents", "g1", "agent.crt"), join(f, "agents", "g2", "agent.crt")];
    const leafBytes = leaves.map(read);
    const before = { pub: pubkey(ca), serial: serial(ca), subject: x509(ca, "-subject"), skid: x509(ca, "-ext", "subjectKeyIdentifier") };
    const r = json(["renew", ca, "--days", "7300"]);
    expect(r).toMatchObject({ kind: "ca", trustKept: true, signer: { kind: "self-signed" }, days: 7300 });
    expect(serial(ca)).not.toBe(before.serial);
    expect(pubkey(ca)).toBe(before.pub);
    expect(x509(ca, "-subject")).toBe(before.subject);
    expect(x509(ca, "-ext", "subjectKeyIdentifier")).toBe(before.skid);
    for (const leaf of leaves) expect(ok(openssl(["verify", "-CAfile", ca, leaf])).stdout).toBe(`${leaf}: OK\n`);
    expect(leaves.map(read)).toEqual(leafBytes);
    const human = ok(skycert(["renew", ca, "--dry-run"])).stdout;
    expect(human).toContain("every certificate it signed still verifies");
    ok(skycert(["validate", "--fleet", f]));
  });
});

describe("renew --fleet", () => {
  const f = join(dir, "fleet50");
  const hosts = Array.from({ length: 50 }, (_, i) => `h${i + 1}`);
  /**
   * For every host: its certificate's public key, SANs and serial, its key's
   * public key, and openssl's verdict under the fleet CA. One shell, two
   * openssl runs per host and one verify for all.
   */
  const state = () => {
    const out = ok(
      sh(`cd '${f}'; for d in analyzers/* agents/*; do c=$(ls $d/*.crt); echo "=== $(basename $d)"; openssl x509 -in $c -noout -serial -ext subjectAltName -pubkey; echo "--- key"; openssl pkey -in \${c%.crt}.key -pubout; done; echo "=== verify"; openssl verify -CAfile ca/skydive-ca.crt analyzers/*/*.crt agents/*/*.crt`),
    ).stdout;
    const [verify, ...blocks] = out.split("=== ").filter(Boolean).reverse();
    const verified = new Set(verify!.split("\n").filter((l) => l.endsWith(": OK")).map((l) => l.split("/")[1]));
    return blocks.reverse().map((b) => {
      const [head, key] = b.split("--- key\n");
      const name = head!.split("\n")[0]!;
      const pub = head!.slice(head!.indexOf("-----BEGIN PUBLIC KEY"));
      return { name, pub, keyPub: key!, sans: head!.split("\n").slice(2).join("\n").split("-----BEGIN")[0]!, serial: head!.split("\n")[1]!, verified: verified.has(name) };
    });
  };

  beforeAll(() => {
    ok(skycert(["init", "ca", "--key-type", "ecdsa", "--out", f]));
    ok(skycert(["init", "analyzer", "--ca", f, "--hosts", "a1=10.0.0.4", "--key-type", "ecdsa", "--out", f]));
    ok(skycert(["init", "agent", "--ca", f, "--hosts", hosts.join(","), "--key-type", "ecdsa", "--out", f]));
  });

  it("the default window (30d) renews nothing a year from expiry; --dry-run lists what would be renewed and writes nothing", () => {
    const now = snapshot(f);
    const idle = json(["renew", "--fleet", f]);
    expect(idle.counts).toMatchObject({ renewed: 0, "not due": 51, failed: 0 });
    const dry = json(["renew", "--fleet", f, "--within", "400d", "--dry-run"]);
    expect(dry.counts).toMatchObject({ due: 51, renewed: 0, failed: 0 });
    expect(dry.hosts.every((h: { status: string }) => h.status === "due")).toBe(true);
    const human = ok(skycert(["renew", "--fleet", f, "--within", "400d", "--dry-run"])).stdout;
    expect(human).toContain("would renew");
    expect(human).toContain(`renew --fleet ${f} --within 400d`);
    expect(snapshot(f)).toEqual(now);
  });

  it("--within 400d renews all 51 hosts, keeping every key and SAN (openssl on every host); validate --fleet passes after", () => {
    const before = state();
    expect(before).toHaveLength(51);
    const out = ok(skycert(["renew", "--fleet", f, "--within", "400d", "--json"]));
    noKeys(out.stdout + out.stderr);
    const r = JSON.parse(out.stdout);
    expect(r.counts).toMatchObject({ renewed: 51, failed: 0 });
    expect(r.ca.expiresWithinWindow).toBe(false);
    const after = state();
    expect(after.map((h) => h.name)).toEqual(before.map((h) => h.name));
    after.forEach((h, i) => {
      const b = before[i]!;
      expect(h.sans, h.name).toMatch(/Subject Alternative Name/);
      expect(h.pub, h.name).toMatch(/^-----BEGIN PUBLIC KEY/);
      expect(h.pub, h.name).toBe(b.pub);
      expect(h.keyPub, h.name).toBe(h.pub);
      expect(h.sans, h.name).toBe(b.sans);
      expect(h.serial, h.name).toMatch(/^serial=/);
      expect(h.serial, h.name).not.toBe(b.serial);
      expect(h.verified, h.name).toBe(true);
    });
    const v = ok(skycert(["validate", "--fleet", f]));
    expect(v.stdout).toContain("51 of 51 hosts OK");
  });

  it("names a CA that expires within the window, with the command that renews it, and never renews it", () => {
    const ca = join(f, "ca", "skydive-ca.crt");
    const caBefore = read(ca);
    const r = json(["renew", "--fleet", f, "--within", "11y", "--dry-run"]);
    expect(r.ca.expiresWithinWindow).toBe(true);
    expect(r.warnings.join(" ")).toContain(`skycert renew ${ca}`);
    const human = ok(skycert(["renew", "--fleet", f, "--within", "11y", "--dry-run"])).stdout;
    expect(human).toMatch(/Renew the CA \(same key\): \S*skycert renew /);
    expect(read(ca)).toBe(caBefore);
  });

  it("--rekey gives every host a new key; one broken host fails (exit 1, one line) while the others are renewed", () => {
    const small = join(dir, "fleet-small");
    makeFleet(small, "g1=10.0.0.10,g2=10.0.0.11,g3=10.0.0.12");
    writeFileSync(join(small, "agents", "g2", "agent.crt"), "not a certificate\n");
    const keys = ["g1", "g3"].map((h) => keyPub(join(small, "agents", h, "agent.key")));
    const r = skycert(["renew", "--fleet", small, "--within", "400d", "--rekey", "--json"]);
    const line = oneLine(r, 1);
    expect(line).toContain("1 of 4 certificates failed; g2");
    const result = JSON.parse(r.stdout);
    expect(result.counts).toMatchObject({ renewed: 3, failed: 1 });
    ["g1", "g3"].forEach((h, i) => {
      const crt = join(small, "agents", h, "agent.crt");
      expect(keyPub(join(small, "agents", h, "agent.key"))).not.toBe(keys[i]);
      expect(keyPub(join(small, "agents", h, "agent.key"))).toBe(pubkey(crt));
      expect(mode(join(small, "agents", h, "agent.key"))).toBe("400");
    });
  });
});

describe("after a run killed between the two renames of a host's swap", () => {
  // Above Linux's largest pid: never a live run's.
  const DEAD = 4194304;
  /** What renew --rekey (or init --force) leaves: the host's folder moved aside with the dead run's lock in it, the new set's staging folder beside it. */
  const killedMidSwap = (fleet: string, host: string) => {
    const agents = join(fleet, "agents");
    const aside = join(agents, `.skycert-old-${host}-${DEAD}-1796158254917`);
    renameSync(join(agents, host), aside);
    mkdirSync(join(aside, ".skycert.lock"));
    utimesSync(join(aside, ".skycert.lock"), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const stage = join(agents, `.skycert-tmp-${host}-${DEAD}-xXIlCG`);
    mkdirSync(stage);
    writeFileSync(join(stage, "agent.crt"), "half-written\n");
    expect(existsSync(join(agents, host, "agent.crt"))).toBe(false);
  };
  const clean = (fleet: string) => expect(readdirSync(join(fleet, "agents")).filter((n) => n.startsWith(".skycert"))).toEqual([]);

  it("renew --fleet puts the host's folder back before reading any certificate, then renews it with its key", () => {
    const f = join(dir, "killed-fleet");
    makeFleet(f, "g1=10.0.0.10,g2=10.0.0.11");
    const crt = join(f, "agents", "g1", "agent.crt");
    const [pub, was] = [pubkey(crt), serial(crt)];
    killedMidSwap(f, "g1");
    const r = json(["renew", "--fleet", f, "--within", "4000d"]);
    expect(r.counts).toMatchObject({ renewed: 3, failed: 0 });
    clean(f);
    expect(readdirSync(join(f, "agents", "g1")).filter((n) => n.startsWith(".skycert"))).toEqual([]);
    expect(pubkey(crt)).toBe(pub);
    expect(keyPub(join(f, "agents", "g1", "agent.key"))).toBe(pub);
    expect(serial(crt)).not.toBe(was);
  });

  it("renew CERT puts its set folder back (and a sibling's) before reading it", () => {
    const f = join(dir, "killed-one");
    makeFleet(f, "g1=10.0.0.10,g2=10.0.0.11");
    const crt = join(f, "agents", "g1", "agent.crt");
    const pub = pubkey(crt);
    killedMidSwap(f, "g1");
    killedMidSwap(f, "g2");
    const r = json(["renew", crt]);
    expect(r.fleet).toMatchObject({ entry: "g1", kind: "host" });
    clean(f);
    expect(pubkey(crt)).toBe(pub);
    expect(existsSync(join(f, "agents", "g2", "agent.crt"))).toBe(true);
  });
});

describe("hostile inputs: one stderr line, exit 2 or 1, nothing changed", () => {
  const f = join(dir, "hostile");
  const g1 = join(f, "agents", "g1");

  beforeAll(() => {
    makeFleet(f, "g1=10.0.0.10");
    // A CA whose key is encrypted, and a host under it.
    const pass = join(dir, "pass.txt");
    writeFileSync(pass, `${registerSecret("correct horse battery")}\n`);
    ok(skycert(["init", "ca", "--key-type", "ecdsa", "--out", join(f, "enc"), "--encrypt", "--passphrase-file", pass]));
    ok(skycert(["init", "agent", "--ca", join(f, "enc"), "--hosts", "e1=10.0.0.20", "--key-type", "ecdsa", "--out", join(f, "enc"), "--passphrase-file", pass]));
  });

  const cases: [string, () => string[], number, RegExp][] = [
    ["a CSR as CERT", () => ["renew", join(g1, "agent.csr")], 2, /no PEM certificate in it \(found CERTIFICATE REQUEST\)/],
    ["a key as CERT", () => ["renew", join(g1, "agent.key")], 2, /no PEM certificate in it \(found PRIVATE KEY\)/],
    ["a missing file", () => ["renew", join(g1, "missing.crt")], 2, /no such file/],
    ["a folder", () => ["renew", g1], 2, /is a directory/],
    ["an empty file", () => ["renew", "/dev/null"], 2, /empty|no PEM certificate/],
    ["an encrypted CA key, no passphrase file, no terminal", () => ["renew", join(f, "enc", "agents", "e1", "agent.crt")], 2, /encrypted, and there is no terminal.*--passphrase-file/],
    ["a wrong passphrase", () => ["renew", join(f, "enc", "agents", "e1", "agent.crt"), "--passphrase-file", join(dir, "wrong.txt")], 1, /wrong passphrase/],
    ["neither CERT nor --fleet", () => ["renew"], 2, /renew needs CERT, or --fleet DIR/],
    ["CERT and --fleet", () => ["renew", join(g1, "agent.crt"), "--fleet", f], 2, /not both/],
    ["--within without --fleet", () => ["renew", join(g1, "agent.crt"), "--within", "30d"], 2, /--within applies with --fleet/],
    ["a bad --within", () => ["renew", "--fleet", f, "--within", "soon"], 2, /--within/],
    ["--san with --fleet", () => ["renew", "--fleet", f, "--san", "10.1.1.1"], 2, /--san does not apply with --fleet/],
    ["--key-type without --rekey", () => ["renew", join(g1, "agent.crt"), "--key-type", "rsa"], 2, /--key-type applies to the new key of --rekey/],
    ["--change-ca without --ca", () => ["renew", join(g1, "agent.crt"), "--change-ca"], 2, /--change-ca needs --ca/],
    ["--ca on a self-signed certificate", () => ["renew", join(dir, "analyzer", "analyzer.domain.com.crt"), "--ca", f], 2, /self-signed/],
    ["a folder that is no fleet", () => ["renew", "--fleet", g1], 2, /no fleet record/],
    ["--san on a CA", () => ["renew", join(f, "ca", "skydive-ca.crt"), "--san", "10.1.1.1"], 2, /names no host/],
  ];

  it.each(cases)("%s", (_what, args, code, message) => {
    writeFileSync(join(dir, "wrong.txt"), "not the passphrase\n");
    const now = snapshot(f);
    const r = skycert(args(), { cwd: dir });
    const line = oneLine(r, code);
    expect(line).toMatch(message);
    expect(r.stdout).toBe("");
    noKeys(r.stderr);
    expect(snapshot(f)).toEqual(now);
  });

  it("a certificate with duplicate extensions is refused (Go rejects it), naming the extension", () => {
    const d = join(dir, "dup");
    mkdirSync(d, { recursive: true });
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const san = encodeExtensions([{ kind: "subjectAltName", critical: false, names: [{ type: "DNS", value: "dup.example" }] }], new Uint8Array())[0]!;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const der = makeCertificate({ subject: commonNameDer("dup"), subjectKey: privateKey, extensions: [], encodedExtensions: [san, san], serial: randomSerial(), notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) });
    writeFileSync(join(d, "dup.crt"), toPem("CERTIFICATE", der), { mode: 0o444 });
    writeFileSync(join(d, "dup.key"), privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o400 });
    const before = snapshot(d);
    expect(oneLine(skycert(["renew", join(d, "dup.crt")]), 1)).toContain("two subjectAltName extensions");
    expect(snapshot(d)).toEqual(before);
  });

  it("with the passphrase file, the encrypted CA renews its host; nothing shows a key or the passphrase", () => {
    const crt = join(f, "enc", "agents", "e1", "agent.crt");
    const old = serial(crt);
    const out = ok(skycert(["renew", crt, "--passphrase-file", join(dir, "pass.txt")]));
    noKeys(out.stdout + out.stderr);
    expect(out.stdout).not.toContain("correct horse");
    expect(serial(crt)).not.toBe(old);
    ok(openssl(["verify", "-CAfile", join(f, "enc", "ca", "skydive-ca.crt"), crt]));
  });

  it("at a terminal: asks the encrypted CA key's passphrase once, with the progress bar on stderr", () => {
    const r = skycertInPty(["renew", "--fleet", join(f, "enc"), "--within", "400d"], [{ expect: "Passphrase for", send: "correct horse battery\r" }], dir);
    recordStreams(["(pty) skycert renew --fleet", join(f, "enc")], r.output, "");
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("renewing [");
    expect(r.output).toMatch(/Renewed 1 of 1 certificates/);
    expect(r.output).not.toContain("correct horse");
  });

  it("--help has EXAMPLES and EXIT CODES", () => {
    const help = ok(skycert(["renew", "--help"])).stdout;
    expect(help).toContain("Examples:");
    expect(help).toContain("Exit codes:");
    expect(help).toContain("--drop-san");
    expect(help).toContain("--fleet");
  });
});
