/**
 * `skycert inspect`: every field, compared with what the openssl CLI says of
 * the same files; keys described without their material; the role of each
 * certificate skycert issues; a Skydive config inspected through the files it
 * names. (The assertions of the old suite, carried over to the new layout.)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ok, oneLine, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { registerSecret } from "./helpers/streams.js";

const dir = scratch("skycert-inspect-");
const ca = join(dir, "pki", "ca", "skydive-ca.crt");
const caKey = join(dir, "pki", "ca", "skydive-ca.key");
const hostDir = join(dir, "pki", "agents", "node7.example");
const agent = { crt: join(hostDir, "agent.crt"), csr: join(hostDir, "agent.csr"), key: join(hostDir, "agent.key"), yml: join(hostDir, "skydive.yml") };
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
    expect(c.subject).toBe("CN=node7.example");
    expect(c.issuer).toBe("CN=skydive-ca");
    expect(c.selfSigned).toBe(false);
    expect(c.serial).toBe(colon(x509(agent.crt, "-serial").trim().replace("serial=", "")));
    expect(c.serialEncoding).toEqual({ octets: 20, negative: false, minimal: true });
    const [nb, na] = x509(agent.crt, "-dates").trim().split("\n").map((l) => new Date(l.split("=")[1]!).toISOString());
    expect([c.notBefore, c.notAfter]).toEqual([nb, na]);
    expect(c.daysLeft).toBe(364);
    expect(c.status).toBe("valid");
    expect(c.signatureAlgorithm).toBe("sha256WithRSAEncryption");
  });

  it("key type and size, SANs, key usage, EKU, basic constraints, SKID/AKID, SHA-256 fingerprint", () => {
    expect(c.publicKey).toMatchObject({ type: "RSA", bits: 2048 });
    expect(c.subjectAltNames).toEqual(["DNS:node7.example"]);
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
    expect(d).toMatchObject({ kind: "certificate", line: 0, subject: "CN=node7.example", fingerprint: c.fingerprint });
    const chain = join(dir, "chain.pem");
    writeFileSync(chain, readFileSync(agent.crt, "utf8") + readFileSync(ca, "utf8"));
    const items = inspect(chain).files[0].items;
    expect(items.map((i: Json) => [i.subject, i.line])).toEqual([["CN=node7.example", 1], ["CN=skydive-ca", 1 + readFileSync(agent.crt, "utf8").split("\n").length - 1]]);
  });

  it("a negative serial is shown as encoded (Go refuses it), read without a hand-written DER reader", () => {
    const neg = join(dir, "neg.crt");
    ok(openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "neg.key"), "-subj", "/CN=neg", "-days", "5", "-set_serial", "-5", "-out", neg]));
    const r = inspect(neg).files[0].items[0];
    expect(r.serialEncoding).toMatchObject({ negative: true, octets: 1 });
    expect(ok(skycert(["inspect", neg])).stdout).toContain("negative: Go refuses it");
  });
});

describe("a request", () => {
  it("the same fields, with its requested extensions and a checked signature", () => {
    const r = inspect(agent.csr).files[0].items[0];
    expect(r.kind).toBe("request");
    expect(r.subject).toBe("CN=node7.example");
    expect(r.signatureValid).toBe(true);
    expect(r.publicKey).toMatchObject({ type: "RSA", bits: 2048 });
    expect(r.requestedExtensions.basicConstraints).toEqual({ ca: false, pathlen: null, critical: false });
    expect(r.requestedExtensions.subjectAltNames).toContain("DNS:node7.example");
    expect(r.requestedExtensions.extendedKeyUsage.usages).toEqual(["serverAuth", "clientAuth"]);
    expect(r.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it("a request whose signature was altered is INVALID", () => {
    const raw = join(dir, "bad.der");
    ok(openssl(["req", "-in", agent.csr, "-outform", "DER", "-out", raw]));
    const bytes = readFileSync(raw);
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(raw, bytes);
    const r = inspect(raw).files[0].items[0];
    expect(r).toMatchObject({ kind: "request", signatureValid: false });
    expect(ok(skycert(["inspect", raw])).stdout).toContain("INVALID");
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

  it("a key alone: the certificate it belongs to, found through the fleet record (and its public key checked)", () => {
    const key = inspect(agent.key).files[0].items[0];
    expect(key.matches).toBeUndefined();
    expect(key.certificate).toEqual({ path: agent.crt, subject: "CN=node7.example", found: "the fleet record's host node7.example" });
    // A key beside a certificate of another key belongs to nothing.
    const lone = join(dir, "lone");
    ok(sh(`mkdir -p ${lone} && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${lone}/x.key 2>/dev/null && cp ${agent.crt} ${lone}/x.crt`));
    expect(inspect(join(lone, "x.key")).files[0].items[0].certificate).toBeUndefined();
    expect(ok(skycert(["inspect", join(lone, "x.key")])).stdout).toContain("no certificate given alongside or found beside it");
  });

  it("an encrypted key is reported as encrypted, without being opened", () => {
    const pass = join(dir, "pass");
    writeFileSync(pass, `${registerSecret("inspect-secret")}\n`);
    ok(skycert(["init", "ca", "--out", "enc", "--bits", "2048", "--encrypt", "--passphrase-file", pass], { cwd: dir }));
    const out = ok(skycert(["inspect", join(dir, "enc", "ca", "skydive-ca.key"), "--json"], { cwd: dir })).stdout;
    const k = JSON.parse(out).files[0].items[0];
    expect(k).toEqual({ kind: "private-key", line: 1, format: "PKCS#8", encrypted: true, encryption: "PBES2 (aes-256-cbc)" });
    expect(out).not.toContain("inspect-secret");
    // The legacy PEM encryption too (Proc-Type/DEK-Info), by its cipher.
    const legacy = join(dir, "legacy-enc.key");
    ok(openssl(["genrsa", "-traditional", "-aes128", "-passout", "pass:inspect-secret", "-out", legacy, "2048"]));
    expect(inspect(legacy).files[0].items[0]).toMatchObject({ kind: "private-key", format: "PKCS#1 (legacy PEM encryption)", encrypted: true, encryption: "aes-128-cbc" });
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

describe("roles: which certificate skycert issues it is", () => {
  it("a fleet host certificate, with its host and roles from the fleet record; the CA; a client certificate", () => {
    ok(skycert(["init", "analyzer", "--ca", "pki", "--out", "pki", "--hosts", "an1=10.0.0.4"], { cwd: dir }));
    ok(skycert(["init", "client", "alice", "--ca", "pki", "--out", "pki"], { cwd: dir }));
    const r = inspect(join(dir, "pki", "analyzers", "an1", "analyzer.crt"), ca, join(dir, "pki", "clients", "alice", "client.crt"), agent.crt);
    const roles = r.files.map((f: Json) => f.items[0].role);
    expect(roles[0]).toMatchObject({ kind: "host", host: { name: "an1", roles: ["analyzer"], address: "10.0.0.4", fleet: join(dir, "pki") } });
    expect(roles[1]).toMatchObject({ kind: "ca" });
    expect(roles[2]).toMatchObject({ kind: "client", client: { name: "alice" } });
    expect(roles[3]).toMatchObject({ kind: "host", host: { name: "node7.example", roles: ["agent"] } });
    const human = ok(skycert(["inspect", join(dir, "pki", "analyzers", "an1", "analyzer.crt")], { cwd: dir })).stdout;
    expect(human).toMatch(/role\s+a fleet host certificate .* of an1, analyzer, at 10\.0\.0\.4/);
    // Outside the fleet folder the record is not found: still a host certificate, by its usages, without a host.
    const copy = join(dir, "copy.crt");
    writeFileSync(copy, readFileSync(agent.crt));
    const outside = inspect(copy).files[0].items[0].role;
    expect(outside.kind).toBe("host");
    expect(outside.host).toBeUndefined();
  });

  it("the seed's legacy pairs, named analyzer or agent by the skydive.yml beside them", () => {
    ok(skycert(["init", "analyzer", "agent", "--out", "seed", "--san", "10.0.0.4"], { cwd: dir }));
    const r = inspect(join(dir, "seed", "analyzer", "analyzer.domain.com.crt"), join(dir, "seed", "agent", "agent.domain.com.crt"));
    const [a, g] = r.files.map((f: Json) => f.items[0]);
    expect(a.selfSigned).toBe(true);
    expect(a.role).toMatchObject({ kind: "legacy-pair", legacyRole: "analyzer" });
    expect(g.role).toMatchObject({ kind: "legacy-pair", legacyRole: "agent" });
  });

  it("a server-only certificate is none of skycert's roles", () => {
    const cnf = join(dir, "server-only.cnf");
    writeFileSync(cnf, "[v]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:web\n");
    ok(openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "web.key"), "-subj", "/CN=web", "-out", join(dir, "web.csr")]));
    ok(openssl(["x509", "-req", "-in", join(dir, "web.csr"), "-CA", ca, "-CAkey", caKey, "-days", "5", "-extfile", cnf, "-extensions", "v", "-out", join(dir, "web.crt")]));
    expect(inspect(join(dir, "web.crt")).files[0].items[0].role.kind).toBe("server-only");
  });
});

describe("a Skydive config: the certificates and keys it names", () => {
  it("skycert inspect skydive.yml (the old help's example, which exited 1) shows the seed's files", () => {
    const r = skycert(["inspect", "skydive.yml", "--json"], { cwd: join(dir, "seed") });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.files[0]).toMatchObject({ path: join(dir, "seed", "skydive.yml"), items: [], config: { schema: "legacy" } });
    expect(j.files[0].config.settings.map((s: Json) => s.key)).toEqual(["analyzer.X509_cert", "analyzer.X509_key", "agent.X509_cert", "agent.X509_key"]);
    const named = j.files.slice(1);
    expect(named.map((f: Json) => [f.namedBy.keys, f.items[0].kind])).toEqual([
      [["analyzer.X509_cert"], "certificate"],
      [["analyzer.X509_key"], "private-key"],
      [["agent.X509_cert"], "certificate"],
      [["agent.X509_key"], "private-key"],
    ]);
    expect(named[0].items[0].role).toMatchObject({ kind: "legacy-pair", legacyRole: "analyzer" });
    expect(named[1].items[0].matches).toEqual([`${named[0].path}#1`]);
    const human = ok(skycert(["inspect", "skydive.yml"], { cwd: join(dir, "seed") })).stdout;
    expect(human).toContain("a Skydive config (legacy schema");
    expect(human).not.toMatch(/BEGIN|MII/);
  });

  it("a fleet host's tls.* config: one entry per file, the pair named by both server and client keys", () => {
    const j = inspect(agent.yml);
    expect(j.files[0].config).toMatchObject({ schema: "tls.*", release: "0.27" });
    expect(j.files.slice(1).map((f: Json) => [f.path, f.namedBy.keys])).toEqual([
      [agent.crt, ["tls.server_cert", "tls.client_cert"]],
      [agent.key, ["tls.server_key", "tls.client_key"]],
      [ca, ["tls.ca_cert"]],
    ]);
    expect(j.files[1].items[0].role).toMatchObject({ kind: "host", host: { name: "node7.example" } });
  });

  it("relative paths are read from the config's folder; SKYDIVE_* variables override the file, as Skydive reads them", () => {
    const cfgDir = join(dir, "rel");
    ok(sh(`mkdir -p ${cfgDir}/tls && cp ${agent.crt} ${cfgDir}/tls/me.crt`));
    writeFileSync(join(cfgDir, "skydive.yml"), "tls:\n  server_cert: tls/me.crt\n");
    const r = JSON.parse(ok(skycert(["inspect", join(cfgDir, "skydive.yml"), "--json"], { cwd: dir, env: { SKYDIVE_TLS_CA_CERT: ca } })).stdout);
    expect(r.files[0].config.settings).toEqual([
      { key: "tls.server_cert", value: "tls/me.crt", source: "tls.server_cert", fromEnv: false, path: join(cfgDir, "tls", "me.crt") },
      { key: "tls.ca_cert", value: ca, source: "SKYDIVE_TLS_CA_CERT", fromEnv: true, path: ca },
    ]);
    expect(r.files.map((f: Json) => f.items[0]?.subject)).toEqual([undefined, "CN=node7.example", "CN=skydive-ca"]);
  });

  it("a fleet made with --deploy-dir: the paths its config names on the host are read from the fleet folder", () => {
    ok(skycert(["init", "analyzer", "--ca", "pki", "--out", "pki", "--hosts", "dd=10.0.0.8", "--deploy-dir", "/etc/skydive/tls"], { cwd: dir }));
    const yml = join(dir, "pki", "analyzers", "dd", "skydive.yml");
    expect(readFileSync(yml, "utf8")).toContain("/etc/skydive/tls/analyzer.crt");
    const j = inspect(yml);
    expect(j.ok).toBe(true);
    expect(j.files.slice(1).map((f: Json) => f.path)).toEqual([join(dir, "pki", "analyzers", "dd", "analyzer.crt"), join(dir, "pki", "analyzers", "dd", "analyzer.key"), ca]);
    expect(j.files[1].items[0].role).toMatchObject({ kind: "host", host: { name: "dd" } });
    expect(ok(skycert(["inspect", yml], { cwd: dir })).stdout).toContain("pki/analyzers/dd/analyzer.crt (/etc/skydive/tls/analyzer.crt on the host)");
  });

  it("a config naming a missing file: exit 1, the other files still shown", () => {
    const cfg = join(dir, "missing.yml");
    writeFileSync(cfg, `tls:\n  ca_cert: ${ca}\n  server_cert: ${join(dir, "gone.crt")}\n`);
    const r = skycert(["inspect", cfg, "--json"], { cwd: dir });
    expect(oneLine(r, 1)).toContain("gone.crt");
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.files[1]).toMatchObject({ path: join(dir, "gone.crt"), items: [] });
    expect(j.files[1].error).toMatch(/no such file \(named by tls\.server_cert in /);
    expect(j.files[2].items[0].subject).toBe("CN=skydive-ca");
  });

  it("YAML without any Skydive key is not a config: exit 1", () => {
    const other = join(dir, "other.yml");
    writeFileSync(other, "name: value\nlist: [1, 2]\n");
    const r = skycert(["inspect", other], { cwd: dir });
    expect(oneLine(r, 1)).toMatch(/other\.yml: no PEM block, and not a DER certificate, request or key, nor a Skydive config/);
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
    expect(oneLine(r, 2)).toContain("nope.crt: no such file");
  });

  it("--help shows examples (the config one first) and exit codes", () => {
    const h = ok(skycert(["inspect", "--help"])).stdout;
    expect(h).toContain("Examples:");
    expect(h).toContain("skycert inspect skydive.yml");
    expect(h).toContain("Exit codes:");
  });
});
