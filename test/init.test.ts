/**
 * `skycert init` end to end: the seed's self-signed pairs (read back by the
 * openssl CLI and compared with what the seed's OpenSSL recipe makes), the CA,
 * a CA fleet's host certificates and configs (loaded by the Skydive emulator,
 * release family by release family), and client certificates.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { recipe } from "./helpers/recipe.js";
import { checkStartup, flattenSkydiveYaml, pairHandshake, serveApi } from "./helpers/emulator.js";
import { skycertInPty } from "./helpers/pty.js";
import { ROOT, SEED_CNF, SHARED, ok, oneLine, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { registerSecret } from "./helpers/streams.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const text = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args])).stdout;

/** `openssl x509 -text` without what differs per key and per run. */
function comparable(certPath: string): string {
  return text(certPath, "-text")
    .replace(/Serial Number:\n.*\n/, "Serial Number: <serial>\n")
    .replace(/Not (Before|After) ?: .*/g, "Not $1: <date>")
    .replace(/(Modulus:\n)(\s+[0-9a-f:]+\n)+/, "$1<modulus>\n")
    .replace(/(Subject Key Identifier: *\n)\s+.*\n/, "$1<skid>\n")
    .replace(/(Signature Value:\n)(\s+[0-9a-f:]+\n)+/, "$1<signature>\n");
}

describe("init analyzer and agent with the bundled template", () => {
  const dir = scratch();
  const ref = scratch("skycert-recipe-");
  let analyzer: { key: string; csr: string; crt: string };
  let agent: typeof analyzer;
  let first: ReturnType<typeof skycert>;

  beforeAll(() => {
    first = ok(skycert(["init", "analyzer"], { cwd: dir }), "init analyzer");
    ok(skycert(["init", "agent", "--san", "192.168.1.1"], { cwd: dir }), "init agent");
    const files = (role: string) => ({
      key: join(dir, role, `${role}.domain.com.key`),
      csr: join(dir, role, `${role}.domain.com.csr`),
      crt: join(dir, role, `${role}.domain.com.crt`),
    });
    analyzer = files("analyzer");
    agent = files("agent");
    recipe(ref, "analyzer");
    recipe(ref, "agent");
  });

  it("writes the seed's file names with 0400 keys, 0444 CSRs and certificates, in 0700 folders", () => {
    for (const f of [analyzer, agent]) {
      expect(mode(f.key)).toBe("400");
      expect(mode(f.csr)).toBe("444");
      expect(mode(f.crt)).toBe("444");
    }
    expect(mode(join(dir, "analyzer"))).toBe("700");
    expect(readdirSync(join(dir, "analyzer")).sort()).toEqual(["analyzer.domain.com.crt", "analyzer.domain.com.csr", "analyzer.domain.com.key"]);
    expect(readdirSync(dir).filter((n) => n.startsWith(".skycert"))).toEqual([]);
  });

  it("makes exactly what the recipe makes, field by field (openssl x509 -text)", () => {
    expect(comparable(analyzer.crt)).toBe(comparable(join(ref, "analyzer", "analyzer.domain.com.crt")));
    expect(comparable(agent.crt)).toBe(comparable(join(ref, "agent", "agent.domain.com.crt")));
    const t = text(analyzer.crt, "-text");
    expect(t).toContain("Version: 3 (0x2)");
    expect(t).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(t).toContain("Issuer: CN = skydive-analyzer");
    expect(t).toContain("Subject: CN = skydive-analyzer");
    expect(t).toContain("Public-Key: (2048 bit)");
    expect(t).toContain("DNS:agent.domain.com, DNS:analyzer.domain.com, DNS:localhost, IP Address:192.168.1.1, IP Address:192.168.69.14, IP Address:127.0.0.1");
  });

  it("uses a positive, minimally encoded 20-octet serial and 365 days", () => {
    for (const f of [analyzer, agent]) {
      const asn = ok(openssl(["asn1parse", "-in", f.crt])).stdout.split("\n")[4]!;
      expect(asn).toMatch(/l= *20 prim: INTEGER +:[0-7][0-9A-F]{39}$/);
      const x = new X509Certificate(readFileSync(f.crt));
      expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(365 * 86_400_000);
    }
  });

  it("writes a CSR that verifies and requests the cnf's v3_req extensions", () => {
    const r = ok(openssl(["req", "-in", analyzer.csr, "-noout", "-verify", "-text"]));
    expect(r.stderr + r.stdout).toMatch(/verify OK/);
    expect(r.stdout).toContain("Subject: CN = skydive-analyzer");
    expect(r.stdout).toContain("Signature Algorithm: sha256WithRSAEncryption");
    const requested = r.stdout.slice(r.stdout.indexOf("Requested Extensions:"));
    for (const e of ["CA:TRUE", "Digital Signature, Key Encipherment, Certificate Sign", "TLS Web Server Authentication, TLS Web Client Authentication", "IP Address:127.0.0.1"]) {
      expect(requested).toContain(e);
    }
  });

  it("each self-signed certificate verifies against itself, as Skydive's cross validation uses it", () => {
    for (const f of [analyzer, agent]) expect(ok(openssl(["verify", "-CAfile", f.crt, f.crt])).stdout).toContain(": OK");
    expect(openssl(["verify", "-CAfile", analyzer.crt, agent.crt]).code).not.toBe(0);
  });

  it("key, CSR and certificate hold the same public key", () => {
    for (const f of [analyzer, agent]) {
      const fromKey = ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout;
      expect(ok(openssl(["x509", "-in", f.crt, "-noout", "-pubkey"])).stdout).toBe(fromKey);
      expect(ok(openssl(["req", "-in", f.csr, "-noout", "-pubkey"])).stdout).toBe(fromKey);
      expect(readFileSync(f.key, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(readFileSync(f.crt, "utf8")).not.toContain("\r");
    }
    expect(ok(openssl(["pkey", "-in", analyzer.key, "-pubout"])).stdout).not.toBe(ok(openssl(["pkey", "-in", agent.key, "-pubout"])).stdout);
  });

  it("says what legacy costs and the way out, and records the release", () => {
    expect(first.stdout).toMatch(/every agent host holds the analyzer's private key/);
    expect(first.stdout).toMatch(/on Skydive 0\.21 or later/);
    expect(JSON.parse(readFileSync(join(dir, "skycert.json"), "utf8"))).toMatchObject({ schema: 1, skydive: "legacy" });
  });

  it("writes both roles' stanzas into skydive.yml, naming the files", () => {
    const yml = parseYaml(readFileSync(join(dir, "skydive.yml"), "utf8"));
    expect(yml).toEqual({
      analyzer: { X509_cert: analyzer.crt, X509_key: analyzer.key },
      agent: { X509_cert: agent.crt, X509_key: agent.key },
    });
  });

  it("prints files with modes, SANs, expiry and the SHA-256 fingerprint", () => {
    const fp = new X509Certificate(readFileSync(analyzer.crt)).fingerprint256;
    expect(first.stdout).toContain("analyzer/analyzer.domain.com.key  0400");
    expect(first.stdout).toContain("IP:127.0.0.1");
    expect(first.stdout).toMatch(/expires +20\d\d-/);
    expect(first.stdout).toContain(fp);
    expect(first.stderr).toBe("");
  });

  it("refuses to replace existing files without --force, and replaces them with it", () => {
    const before = readFileSync(analyzer.crt, "utf8");
    const r = skycert(["init", "analyzer"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/already exist.*--force/);
    expect(readFileSync(analyzer.crt, "utf8")).toBe(before);

    writeFileSync(join(dir, "analyzer", "notes.txt"), "operator notes\n");
    ok(skycert(["init", "analyzer", "--force"], { cwd: dir }));
    expect(readFileSync(analyzer.crt, "utf8")).not.toBe(before);
    expect(mode(analyzer.key)).toBe("400");
    expect(readFileSync(join(dir, "analyzer", "notes.txt"), "utf8")).toBe("operator notes\n");
    expect(ok(openssl(["x509", "-in", analyzer.crt, "-noout", "-pubkey"])).stdout).toBe(ok(openssl(["pkey", "-in", analyzer.key, "-pubout"])).stdout);
  });
});

describe("init options", () => {
  it("adds --san entries without duplicates, and validates them", () => {
    const dir = scratch();
    const r = ok(skycert(["init", "agent", "--san", "192.168.1.1", "--san", "node7.example,10.9.8.7", "--san", "2001:DB8::7", "--san", "LOCALHOST", "--json"], { cwd: dir }));
    const out = JSON.parse(r.stdout);
    expect(out.roles[0].sans).toEqual([
      "DNS:agent.domain.com", "DNS:analyzer.domain.com", "DNS:localhost", "IP:192.168.1.1", "IP:192.168.69.14", "IP:127.0.0.1",
      "DNS:node7.example", "IP:10.9.8.7", "IP:2001:db8::7",
    ]);
    expect(text(join(dir, "agent", "agent.domain.com.crt"), "-ext", "subjectAltName")).toContain("DNS:node7.example, IP Address:10.9.8.7, IP Address:2001:DB8:0:0:0:0:0:7");
  });

  it("takes ./skydive-openssl.cnf before the bundled template, and --cnf before both", () => {
    const dir = scratch();
    writeFileSync(join(dir, "skydive-openssl.cnf"), readFileSync(SEED_CNF, "utf8").replace("DNS.3 = localhost", "DNS.3 = local-cnf.example"));
    writeFileSync(join(dir, "other.cnf"), "[v3_req]\nbasicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyCertSign\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:analyzer.other.example\n");
    const a = JSON.parse(ok(skycert(["init", "analyzer", "--json", "--out", "a"], { cwd: dir })).stdout);
    expect(a.cnf).toEqual({ path: join(dir, "skydive-openssl.cnf"), source: "working directory" });
    expect(a.roles[0].sans).toContain("DNS:local-cnf.example");
    const b = JSON.parse(ok(skycert(["init", "analyzer", "--json", "--out", "b", "--cnf", "other.cnf"], { cwd: dir })).stdout);
    expect(b.cnf.source).toBe("flag");
    expect(b.roles[0].sans).toEqual(["DNS:analyzer.other.example"]);
    expect(existsSync(join(dir, "b", "analyzer", "analyzer.other.example.crt"))).toBe(true);
  });

  it("honours --cn, --days, --bits, --extensions, --stem, --out and --config", () => {
    const dir = scratch();
    writeFileSync(join(dir, "c.cnf"), `${readFileSync(SEED_CNF, "utf8")}\n[ server_only ]\nbasicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyCertSign\nextendedKeyUsage = serverAuth\nsubjectAltName = @alt_names\n`);
    ok(skycert(["init", "analyzer", "--cnf", "c.cnf", "--cn", "an1", "--days", "90", "--bits", "3072", "--extensions", "server_only", "--stem", "an1", "--out", "tls", "--config", "conf/sky.yml"], { cwd: dir }));
    const crt = join(dir, "tls", "analyzer", "an1.crt");
    const t = text(crt, "-text");
    expect(t).toContain("Subject: CN = an1");
    expect(t).toContain("Public-Key: (3072 bit)");
    expect(t).toMatch(/Extended Key Usage: *\n\s+TLS Web Server Authentication\n/);
    const x = new X509Certificate(readFileSync(crt));
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(90 * 86_400_000);
    expect(parseYaml(readFileSync(join(dir, "conf", "sky.yml"), "utf8")).analyzer.X509_cert).toBe(crt);
  });

  it("makes both roles in one run", () => {
    const dir = scratch();
    const out = JSON.parse(ok(skycert(["init", "analyzer", "agent", "--json"], { cwd: dir })).stdout);
    expect(out.roles.map((r: { role: string }) => r.role)).toEqual(["analyzer", "agent"]);
    expect(Object.keys(out.config.settings)).toEqual(["analyzer.X509_cert", "analyzer.X509_key", "agent.X509_cert", "agent.X509_key"]);
    expect(out.roles[0].fingerprint).not.toBe(out.roles[1].fingerprint);
  });

  it("--dry-run writes nothing and says what it would write", () => {
    const dir = scratch();
    const r = ok(skycert(["init", "analyzer", "--dry-run"], { cwd: dir }));
    expect(r.stdout).toContain("Would make the analyzer certificate");
    expect(r.stdout).toContain("analyzer.X509_cert");
    expect(readdirSync(dir)).toEqual([]);
    const j = JSON.parse(ok(skycert(["init", "agent", "--dry-run", "--json"], { cwd: dir })).stdout);
    expect(j).toMatchObject({ ok: true, dryRun: true, roles: [{ role: "agent", files: [{ kind: "key", mode: "0400" }, { kind: "csr" }, { kind: "crt" }] }] });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("keeps every other key and comment of an existing skydive.yml, with a .bak of the previous version", () => {
    const dir = scratch();
    const original = readFileSync(join(import.meta.dirname, "..", "..", "shared", "skydive", "skydive.yml.default"), "utf8");
    writeFileSync(join(dir, "skydive.yml"), original);
    ok(skycert(["init", "agent"], { cwd: dir }));
    const updated = readFileSync(join(dir, "skydive.yml"), "utf8");
    expect(readFileSync(join(dir, "skydive.yml.bak"), "utf8")).toBe(original);
    const comments = (s: string) => s.split("\n").filter((l) => l.trim().startsWith("#"));
    expect(comments(updated)).toEqual(comments(original));
    const before = parseYaml(original);
    const after = parseYaml(updated);
    expect(after.agent.X509_cert).toBe(join(dir, "agent", "agent.domain.com.crt"));
    expect({ ...after, agent: { ...after.agent, X509_cert: undefined, X509_key: undefined } }).toEqual({ ...before, agent: { ...before.agent, X509_cert: undefined, X509_key: undefined } });
  });

  it("updates an existing key whatever its case, as Skydive's viper reads keys", () => {
    const dir = scratch();
    writeFileSync(join(dir, "skydive.yml"), "analyzer:\n  x509_cert: /old.crt # old\n  listen: 0.0.0.0:8082\n");
    ok(skycert(["init", "analyzer"], { cwd: dir }));
    const yml = readFileSync(join(dir, "skydive.yml"), "utf8");
    expect(yml).not.toContain("/old.crt");
    expect(yml).toContain("listen: 0.0.0.0:8082");
    expect(parseYaml(yml).analyzer).toEqual({ x509_cert: join(dir, "analyzer", "analyzer.domain.com.crt"), listen: "0.0.0.0:8082", X509_key: join(dir, "analyzer", "analyzer.domain.com.key") });
  });

  it("keeps modes whatever the umask", () => {
    const dir = scratch();
    ok(sh(`umask 0377 && ${process.execPath} ${join(import.meta.dirname, "..", "bin", "skycert")} init analyzer`, { cwd: dir }));
    expect(mode(join(dir, "analyzer", "analyzer.domain.com.key"))).toBe("400");
    expect(mode(join(dir, "analyzer", "analyzer.domain.com.crt"))).toBe("444");
  });

  it("never writes through a symlink; --force replaces the link itself", () => {
    const dir = scratch();
    mkdirSync(join(dir, "analyzer"));
    writeFileSync(join(dir, "elsewhere.txt"), "precious\n");
    symlinkSync(join(dir, "elsewhere.txt"), join(dir, "analyzer", "analyzer.domain.com.key"));
    const r = skycert(["init", "analyzer"], { cwd: dir });
    expect(r.code).toBe(1);
    ok(skycert(["init", "analyzer", "--force"], { cwd: dir }));
    expect(readFileSync(join(dir, "elsewhere.txt"), "utf8")).toBe("precious\n");
    expect(lstatSync(join(dir, "analyzer", "analyzer.domain.com.key")).isSymbolicLink()).toBe(false);
  });
});

describe("bad input: one line on stderr, a non-zero exit, nothing written", () => {
  const cases: { name: string; args: string[]; cnf?: string; code: number; line: RegExp }[] = [
    { name: "cnf syntax error", args: ["init", "analyzer"], cnf: "[req]\nreq_extensions = v3_req\n[ v3_req\n", code: 2, line: /skydive-openssl\.cnf:3: missing close square bracket/ },
    { name: "undefined variable", args: ["init", "analyzer"], cnf: "[v3_req]\nsubjectAltName = DNS:$host\n", code: 2, line: /skydive-openssl\.cnf:2: variable has no value: \$host/ },
    { name: "missing extensions section", args: ["init", "analyzer", "--extensions", "v3_nope"], code: 2, line: /--extensions v3_nope: .* has no section \[v3_nope\]/ },
    { name: "missing @alt_names", args: ["init", "agent"], cnf: "[req]\nreq_extensions = v3_req\n[v3_req]\nsubjectAltName = @alt\n", code: 2, line: /skydive-openssl\.cnf:4: subjectAltName refers to section \[alt\]/ },
    { name: "bad IP in alt_names", args: ["init", "agent"], cnf: "[v3_req]\nsubjectAltName = @alt\n[alt]\nIP.1 = 192.168.1.300\n", code: 2, line: /skydive-openssl\.cnf:4: subjectAltName: IP "192\.168\.1\.300"/ },
    { name: "no SAN at all", args: ["init", "agent"], cnf: "[v3_req]\nbasicConstraints = CA:TRUE\n", code: 2, line: /no subjectAltName .* --san/ },
    { name: "--days 0", args: ["init", "analyzer", "--days", "0"], code: 2, line: /--days.*at least 1/ },
    { name: "--days -5", args: ["init", "analyzer", "--days", "-5"], code: 2, line: /--days/ },
    { name: "--days abc", args: ["init", "analyzer", "--days", "abc"], code: 2, line: /whole number/ },
    { name: "--bits 1024", args: ["init", "analyzer", "--bits", "1024"], code: 2, line: /below 2048 bits/ },
    { name: "--san with a space", args: ["init", "agent", "--san", "a b.example"], code: 2, line: /contains whitespace/ },
    { name: "--san empty", args: ["init", "agent", "--san", ""], code: 2, line: /is empty/ },
    { name: "--san with a line break stays one line", args: ["init", "agent", "--san", "a\nforged: line"], code: 2, line: /"a\\nforged: line" contains whitespace/ },
    { name: "--san double wildcard", args: ["init", "agent", "--san", "*.*.example.com"], code: 2, line: /more than one wildcard/ },
    { name: "--san over-long label", args: ["init", "agent", "--san", `${"x".repeat(64)}.example`], code: 2, line: /label of 64 characters/ },
    { name: "unknown target", args: ["init", "anlyzer"], code: 2, line: /unknown init target "anlyzer" \(did you mean analyzer\?\)/ },
    { name: "--skydive 0.27 without --ca", args: ["init", "analyzer", "--skydive", "0.27"], code: 2, line: /--skydive 0\.27 needs --ca DIR/ },
    { name: "--inventory without --ca", args: ["init", "agent", "--inventory", "hosts"], code: 2, line: /--inventory does not apply to init without --ca/ },
    { name: "unknown flag", args: ["init", "analyzer", "--frobnicate"], code: 2, line: /unknown option '--frobnicate'/ },
    { name: "out under a regular file", args: ["init", "analyzer", "--out", "afile/sub"], code: 1, line: /afile.*(regular file|not a folder)/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const dir = scratch();
      if (c.cnf) writeFileSync(join(dir, "skydive-openssl.cnf"), c.cnf);
      writeFileSync(join(dir, "afile"), "x");
      const before = readdirSync(dir).sort();
      const r = skycert(c.args, { cwd: dir });
      expect(r.code).toBe(c.code);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines[0]).toMatch(c.line);
      expect(lines.filter((l) => !/^\(Did you mean/.test(l))).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(dir).sort()).toEqual(before);
    });
  }

  it("--debug adds the stack trace", () => {
    const dir = scratch();
    writeFileSync(join(dir, "skydive-openssl.cnf"), "[ v3_req\n");
    const r = skycert(["init", "analyzer", "--debug"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

// ---------------------------------------------------------------------------
// CA mode

const mode2 = (p: string) => (statSync(p).mode & 0o777).toString(8);
const x509 = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args]), `openssl x509 ${args.join(" ")}`).stdout;
const read = (p: string) => readFileSync(p, "utf8");
const sansOf = (p: string) => x509(p, "-ext", "subjectAltName").split("\n").slice(1).join(" ").trim();

describe("init ca", () => {
  const dir = scratch("skycert-ca-");
  const ca = { crt: join(dir, "pki", "ca", "skydive-ca.crt"), key: join(dir, "pki", "ca", "skydive-ca.key") };
  let caJson: { ca: { keyIdentifier: string; keyBits: number }; files: { mode: string }[]; skydive: string };
  beforeAll(() => {
    caJson = JSON.parse(ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048", "--json"], { cwd: dir }), "init ca").stdout);
  });

  it("writes <out>/ca/skydive-ca.key 0400 and .crt 0444, and the fleet record for Skydive 0.27", () => {
    expect(mode2(ca.key)).toBe("400");
    expect(mode2(ca.crt)).toBe("444");
    expect(readdirSync(join(dir, "pki", "ca")).sort()).toEqual(["skydive-ca.crt", "skydive-ca.key"]);
    expect(read(ca.key)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(caJson.files.map((f) => f.mode)).toEqual(["0400", "0444"]);
    expect(caJson.skydive).toBe("0.27");
    expect(JSON.parse(read(join(dir, "pki", "skycert.json")))).toMatchObject({ schema: 1, skydive: "0.27", ca: "ca/skydive-ca.crt", hosts: [] });
  });

  it("is CA:TRUE pathlen 0, keyCertSign+cRLSign critical, with a SKID, CN=skydive-ca, ten years, sha256, positive 20-octet serial", () => {
    const text = x509(ca.crt, "-text");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    expect(text).not.toMatch(/Authority Key Identifier/);
    expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(x509(ca.crt, "-subject", "-issuer")).toBe("subject=CN = skydive-ca\nissuer=CN = skydive-ca\n");
    expect(x509(ca.crt, "-serial").trim().replace("serial=", "")).toMatch(/^[0-7][0-9A-F]{39}$/);
    expect(ok(openssl(["x509", "-in", ca.crt, "-noout", "-checkend", String(3649 * 86400)])).code).toBe(0);
    expect(openssl(["x509", "-in", ca.crt, "-noout", "-checkend", String(3651 * 86400)]).code).toBe(1);
    expect(ok(openssl(["verify", "-CAfile", ca.crt, ca.crt])).stdout).toContain("OK");
    expect(x509(ca.crt, "-ext", "subjectKeyIdentifier")).toContain(caJson.ca.keyIdentifier);
  });

  it("defaults to RSA 4096, 3650 days, CN=skydive-ca; --key-type ecdsa makes a P-256 CA", () => {
    const r = JSON.parse(ok(skycert(["init", "ca", "--dry-run", "--json", "--out", "dry"], { cwd: dir })).stdout);
    expect(r).toMatchObject({ days: 3650, ca: { keyBits: 4096, subject: "CN=skydive-ca" } });
    expect(existsSync(join(dir, "dry"))).toBe(false);
    ok(skycert(["init", "ca", "--key-type", "ecdsa", "--out", "ec"], { cwd: dir }));
    expect(x509(join(dir, "ec", "ca", "skydive-ca.crt"), "-text")).toMatch(/ASN1 OID: prime256v1[\s\S]*Signature Algorithm: ecdsa-with-SHA256/);
  });

  it("never replaces a CA without --force, and refuses flags that do not apply (exit 2)", () => {
    const before = read(ca.crt);
    expect(oneLine(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }), 1)).toMatch(/skydive-ca\.key.*--force/);
    expect(read(ca.crt)).toBe(before);
    expect(oneLine(skycert(["init", "ca", "--san", "10.0.0.1"], { cwd: dir }), 2)).toContain("--san does not apply to init ca");
    expect(oneLine(skycert(["init", "ca", "agent"], { cwd: dir }), 2)).toContain("init ca makes the CA alone");
    expect(oneLine(skycert(["init", "ca", "--passphrase-file", "x"], { cwd: dir }), 2)).toContain("needs --encrypt");
    expect(oneLine(skycert(["init", "ca", "--skydive", "legacy"], { cwd: dir }), 2)).toContain("--skydive legacy has no CA");
  });

  it("refuses a CA key that group or others can read, with the chmod 400 remedy, and writes nothing", () => {
    const copy = join(dir, "loose");
    ok(sh(`cp -r pki loose && chmod 640 loose/ca/skydive-ca.key`, { cwd: dir }));
    const line = oneLine(skycert(["init", "agent", "--ca", "loose", "--san", "10.0.0.9", "--out", "loose"], { cwd: dir }), 1);
    expect(line).toMatch(/skydive-ca\.key is readable by group or others .*fix: chmod 400/);
    expect(existsSync(join(copy, "agents"))).toBe(false);
  });

  describe("encrypted at rest", () => {
    const pass = join(dir, "pass.txt");
    beforeAll(() => {
      writeFileSync(pass, `${registerSecret("correct horse battery")}\n`);
      ok(skycert(["init", "ca", "--out", "enc", "--bits", "2048", "--encrypt", "--passphrase-file", pass], { cwd: dir }), "init ca --encrypt");
    });

    it("writes an encrypted PKCS#8 key (0400) that openssl opens with the passphrase and no other", () => {
      const key = join(dir, "enc", "ca", "skydive-ca.key");
      expect(mode2(key)).toBe("400");
      expect(read(key)).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect(ok(openssl(["pkey", "-in", key, "-passin", `file:${pass}`, "-noout"])).code).toBe(0);
      writeFileSync(join(dir, "wrong.txt"), "not it\n");
      expect(openssl(["pkey", "-in", key, "-passin", `file:${join(dir, "wrong.txt")}`, "-noout"]).code).not.toBe(0);
    });

    it("signs with the passphrase from --passphrase-file; a wrong one is one line that never shows what was tried", () => {
      ok(skycert(["init", "agent", "--ca", "enc", "--san", "10.0.0.9", "--out", "enc", "--passphrase-file", pass], { cwd: dir }));
      ok(openssl(["verify", "-CAfile", join(dir, "enc", "ca", "skydive-ca.crt"), join(dir, "enc", "agents", "10.0.0.9", "agent.crt")]));
      const line = oneLine(skycert(["init", "agent", "--ca", "enc", "--san", "10.0.0.8", "--out", "enc", "--passphrase-file", join(dir, "wrong.txt")], { cwd: dir }), 1);
      expect(line).toMatch(/wrong passphrase/);
      expect(line).not.toContain("not it");
      expect(existsSync(join(dir, "enc", "agents", "10.0.0.8"))).toBe(false);
    });

    it("without a passphrase file and without a terminal, it asks for --passphrase-file (exit 2)", () => {
      expect(oneLine(skycert(["init", "agent", "--ca", "enc", "--san", "10.0.0.7", "--out", "enc"], { cwd: dir }), 2)).toMatch(/encrypted.*--passphrase-file/);
    });

    it("on a terminal it prompts twice with echo off, and the key opens with what was typed", () => {
      const secret = registerSecret("typed at the prompt");
      const r = skycertInPty(["init", "ca", "--out", "tty", "--bits", "2048", "--encrypt"], [{ expect: "Passphrase for", send: `${secret}\r` }, { expect: "Repeat", send: `${secret}\r` }], dir);
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toContain(secret);
      writeFileSync(join(dir, "typed.txt"), `${secret}\n`);
      ok(openssl(["pkey", "-in", join(dir, "tty", "ca", "skydive-ca.key"), "-passin", `file:${join(dir, "typed.txt")}`, "-noout"]));
    });
  });
});

/** Skydive's own inventories, and one with two analyzers and three agents. */
const MULTIPLE = join(SHARED, "skydive", "inventory-hosts.multiple");
const CONTAINER = join(SHARED, "skydive", "inventory-hosts.multiple.container");
const YAML_INV = join(ROOT, "fixtures", "inventory-multiple.yml");

interface Host {
  name: string;
  roles: string[];
  address: string;
  status: string;
  reason?: string;
  dir: string;
  sans: string[];
  serial?: string;
  keyFingerprint?: string;
  config?: Record<string, unknown>;
}

function hostFiles(dir: string, h: { name: string; roles: string[] }) {
  const role = h.roles.includes("analyzer") ? "analyzer" : "agent";
  const base = join(dir, `${role}s`, h.name);
  return { key: join(base, `${role}.key`), csr: join(base, `${role}.csr`), crt: join(base, `${role}.crt`), config: join(base, "skydive.yml"), dir: base };
}

describe("a CA fleet from an inventory: one certificate per host, carrying only that host's names", () => {
  const dir = scratch("skycert-fleet-");
  const inv = join(dir, "hosts.ini");
  let hosts: Host[];
  let analyzerRun: { hosts: Host[]; warnings: string[] };
  const caCrt = join(dir, "pki", "ca", "skydive-ca.crt");

  beforeAll(() => {
    writeFileSync(inv, "[analyzers]\nan1 ansible_host=10.0.0.4\nan2 ansible_host=10.0.0.5\n\n[agents]\nag[1:3] \n\n[agents:vars]\nskydive_extra_config={'agent.topology.probes': ['docker']}\n");
    writeFileSync(join(dir, "hosts.yml"), "all:\n  children:\n    agents:\n      hosts:\n        ag1: {ansible_host: 10.0.1.1}\n        ag2: {ansible_host: 10.0.1.2}\n        ag3: {ansible_host: 10.0.1.3}\n    analyzers:\n      hosts:\n        an1: {ansible_host: 10.0.0.4}\n        an2: {ansible_host: 10.0.0.5}\n");
    ok(skycert(["init", "ca", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }), "init ca");
    analyzerRun = JSON.parse(ok(skycert(["init", "analyzer", "--ca", "pki", "--inventory", "hosts.yml", "--out", "pki", "--json"], { cwd: dir }), "analyzers").stdout);
    const agents = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.yml", "--out", "pki", "--json", "--key-type", "ecdsa"], { cwd: dir }), "agents").stdout);
    hosts = [...analyzerRun.hosts, ...agents.hosts];
  });

  it("issues every host of the analyzers and agents groups, in their own folders, with 0400 keys and 0444 certificates", () => {
    expect(hosts.map((h) => [h.name, h.roles.join("+"), h.status])).toEqual([
      ["an1", "analyzer", "issued"], ["an2", "analyzer", "issued"],
      ["ag1", "agent", "issued"], ["ag2", "agent", "issued"], ["ag3", "agent", "issued"],
    ]);
    for (const h of hosts) {
      const f = hostFiles(join(dir, "pki"), h);
      expect(mode2(f.key)).toBe("400");
      expect(mode2(f.crt)).toBe("444");
      expect(ok(openssl(["verify", "-CAfile", caCrt, f.crt])).stdout).toContain(": OK");
      expect(ok(openssl(["x509", "-in", f.crt, "-noout", "-pubkey"])).stdout).toBe(ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout);
    }
  });

  it("every certificate serves and dials (serverAuth + clientAuth) and is a leaf", () => {
    for (const h of hosts) {
      const t = x509(hostFiles(join(dir, "pki"), h).crt, "-text");
      expect(t).toMatch(/Extended Key Usage: *\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(t).toMatch(/CA:FALSE/);
      expect(t).toContain(`Subject: CN = ${h.name}`);
    }
  });

  it("an agent's certificate names that agent only: never an analyzer's name or address", () => {
    for (const h of hosts.filter((x) => !x.roles.includes("analyzer"))) {
      const sans = sansOf(hostFiles(join(dir, "pki"), h).crt);
      expect(sans).toBe(`DNS:${h.name}, IP Address:${h.address}`);
      expect(sans).not.toMatch(/10\.0\.0\.4|10\.0\.0\.5|analyzer|localhost|127\.0\.0\.1/);
    }
  });

  it("an analyzer's certificate carries every address agents dial", () => {
    for (const h of hosts.filter((x) => x.roles.includes("analyzer"))) expect(sansOf(hostFiles(join(dir, "pki"), h).crt)).toMatch(/IP Address:10\.0\.0\.4.*IP Address:10\.0\.0\.5|IP Address:10\.0\.0\.5.*IP Address:10\.0\.0\.4/);
  });

  it("each host's skydive.yml has all five tls.* keys; analyzers require client certificates; agents list their analyzers", () => {
    for (const h of hosts) {
      const f = hostFiles(join(dir, "pki"), h);
      const y = parseYaml(read(f.config));
      expect(y.tls).toMatchObject({ server_cert: f.crt, server_key: f.key, client_cert: f.crt, client_key: f.key, ca_cert: caCrt });
      if (h.roles.includes("analyzer")) expect(y.tls.require_client_cert).toBe(true);
      else expect(y.analyzers).toEqual(["10.0.0.4:8082", "10.0.0.5:8082"]);
    }
  });

  it("keeps the fleet record: release, CA, hosts with roles, addresses and SANs, what agents dial", () => {
    const rec = JSON.parse(read(join(dir, "pki", "skycert.json")));
    expect(rec).toMatchObject({ schema: 1, skydive: "0.27", ca: "ca/skydive-ca.crt", analyzers: ["10.0.0.4:8082", "10.0.0.5:8082"], inventory: { kind: "ansible" } });
    expect(rec.hosts.map((h: Host) => [h.name, h.roles, h.address])).toEqual([
      ["an1", ["analyzer"], "10.0.0.4"], ["an2", ["analyzer"], "10.0.0.5"],
      ["ag1", ["agent"], "10.0.1.1"], ["ag2", ["agent"], "10.0.1.2"], ["ag3", ["agent"], "10.0.1.3"],
    ]);
  });

  for (const release of ["0.27", "0.21"] as const) {
    it(`Skydive ${release} (the emulator): every host starts with TLS on; agent -> analyzer and analyzer -> analyzer connect`, () => {
      const fleet = join(dir, `fleet-${release}`);
      ok(sh(`mkdir -p ${fleet} && cp -r pki/ca ${fleet}/`, { cwd: dir }));
      writeFileSync(join(fleet, "skycert.json"), JSON.stringify({ schema: 1, skydive: release, ca: "ca/skydive-ca.crt", analyzers: [], hosts: [] }));
      ok(skycert(["init", "analyzer", "agent", "--ca", fleet, "--inventory", "hosts.yml", "--out", fleet, "--key-type", "ecdsa"], { cwd: dir }), `fleet ${release}`);
      const settings = (h: { name: string; roles: string[] }) => flattenSkydiveYaml(read(hostFiles(fleet, h).config));
      for (const h of hosts) {
        const s = checkStartup({ release, role: h.roles.includes("analyzer") ? "analyzer" : "agent", settings: settings(h) });
        // Every host dials with its certificate: agents their analyzers, analyzers their HA peers.
        expect(s, JSON.stringify(s)).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true });
        expect(s.clientError).toBe("");
      }
      const an1 = { name: "an1", roles: ["analyzer"] };
      const an2 = { name: "an2", roles: ["analyzer"] };
      for (const ag of hosts.filter((h) => !h.roles.includes("analyzer"))) {
        const p = pairHandshake({ release, server: { role: "analyzer", settings: settings(an1) }, client: { role: "agent", settings: settings(ag) }, analyzer: "10.0.0.4:8082" });
        expect(p, JSON.stringify(p)).toMatchObject({ ok: true, dial: { tls: true, serverName: "10.0.0.4", clientCertSent: `CN=${ag.name}` } });
      }
      const ha = pairHandshake({ release, server: { role: "analyzer", settings: settings(an2) }, client: { role: "analyzer", settings: settings(an1) }, analyzer: "10.0.0.5:8082" });
      expect(ha, JSON.stringify(ha)).toMatchObject({ ok: true, dial: { tls: true } });
      // An agent's certificate served as the analyzer is refused by every agent.
      const fake = pairHandshake({ release, server: { role: "analyzer", settings: settings(hosts[2]!) }, client: { role: "agent", settings: settings(hosts[3]!) }, analyzer: "10.0.0.4:8082" });
      expect(fake.ok).toBe(false);
      expect(fake.dial.error).toMatch(/certificate is valid for .*not 10\.0\.0\.4|doesn't contain|not valid for/);
      // A client without a certificate: refused on 0.27 (require_client_cert), accepted on 0.21, which cannot require one.
      const anon = pairHandshake({ release, server: { role: "analyzer", settings: settings(an1) }, client: { role: "agent", settings: settings(hosts[2]!) }, analyzer: "10.0.0.4:8082", noClientCert: true });
      expect(anon.ok).toBe(release !== "0.27");
    });
  }

  it("Skydive's hosts.multiple.container: 10.0.0.4 is analyzer and agent, one certificate, and the run says so", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "container", "--json"], { cwd: dir })).stdout);
    expect(r.hosts.map((h: Host) => [h.name, h.roles.join("+"), h.status])).toEqual([["10.0.0.4", "analyzer+agent", "issued"], ["10.0.0.9", "agent", "issued"]]);
    expect(r.warnings.join("\n")).toMatch(/10\.0\.0\.4 is both analyzer and agent/);
    const y = parseYaml(read(join(dir, "container", "analyzers", "10.0.0.4", "skydive.yml")));
    expect(y.tls.require_client_cert).toBe(true);
    expect(y.analyzers).toEqual(["10.0.0.4:8082"]);
    expect(sansOf(join(dir, "container", "agents", "10.0.0.9", "agent.crt"))).toBe("IP Address:10.0.0.9");
  });

  it("Skydive's hosts.multiple (INI read by ansible-inventory) and --hosts without Ansible", () => {
    const r = JSON.parse(ok(skycert(["init", "analyzer", "agent", "--ca", "pki", "--inventory", MULTIPLE, "--out", "multiple", "--json"], { cwd: dir })).stdout);
    expect(r.hosts.map((h: Host) => h.name)).toEqual(["10.0.0.4", "10.0.0.9"]);
    const h = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "node-a=10.0.1.21,node-b.example.com", "--analyzers", "10.0.0.4", "--out", "byhand", "--json"], { cwd: dir })).stdout);
    expect(h.hosts.map((x: Host) => [x.name, x.address])).toEqual([["node-a", "10.0.1.21"], ["node-b.example.com", "node-b.example.com"]]);
    expect(sansOf(join(dir, "byhand", "agents", "node-a", "agent.crt"))).toBe("DNS:node-a, IP Address:10.0.1.21");
    expect(parseYaml(read(join(dir, "byhand", "agents", "node-b.example.com", "skydive.yml"))).analyzers).toEqual(["10.0.0.4:8082"]);
  });

  it("a YAML inventory: ansible_host (node-a as 10.0.1.21) and a DNS host (node-b.example.com), through :children", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "yaml", "--json", "--key-type", "ecdsa"], { cwd: dir })).stdout);
    expect(r.hosts.map((h: Host) => [h.name, h.address])).toEqual([["10.0.0.4", "10.0.0.4"], ["10.0.0.9", "10.0.0.9"], ["node-a", "10.0.1.21"], ["node-b.example.com", "node-b.example.com"]]);
    expect(sansOf(join(dir, "yaml", "agents", "node-a", "agent.crt"))).toBe("DNS:node-a, IP Address:10.0.1.21");
    expect(sansOf(join(dir, "yaml", "agents", "node-b.example.com", "agent.crt"))).toBe("DNS:node-b.example.com");
    expect(r.hosts[0].roles).toEqual(["analyzer", "agent"]);
  });

  it("a second run skips existing hosts and keeps their keys; --force re-issues with new keys", () => {
    const before = hosts.map((h) => read(hostFiles(join(dir, "pki"), h).crt));
    const again = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.yml", "--out", "pki", "--json"], { cwd: dir })).stdout);
    expect(again.hosts.map((h: Host) => h.status)).toEqual(["skipped", "skipped", "skipped"]);
    expect(again.hosts[0].reason).toMatch(/already issued .*--force/);
    expect(hosts.map((h) => read(hostFiles(join(dir, "pki"), h).crt))).toEqual(before);
    const forced = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "ag1=10.0.1.1", "--out", "pki", "--json", "--force"], { cwd: dir })).stdout);
    expect(forced.hosts[0].status).toBe("issued");
    expect(forced.hosts[0].keyFingerprint).not.toBe(hosts[2]!.keyFingerprint);
  });

  it("a changed inventory: says what was added, removed and re-addressed, and updates every agent's analyzers list", () => {
    ok(sh("cp -r pki changed", { cwd: dir }));
    writeFileSync(join(dir, "changed.yml"), read(join(dir, "hosts.yml")).replace("ag3: {ansible_host: 10.0.1.3}", "ag4: {ansible_host: 10.0.1.4}").replace("an2: {ansible_host: 10.0.0.5}", "an2: {ansible_host: 10.0.0.6}"));
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "changed", "--inventory", "changed.yml", "--out", "changed", "--json"], { cwd: dir })).stdout);
    expect(r.changes).toEqual({ added: ["ag4"], removed: ["ag3"], readdressed: [{ name: "an2", from: "10.0.0.5", to: "10.0.0.6" }] });
    expect(r.warnings.join("\n")).toMatch(/an2 moved from 10\.0\.0\.5 to 10\.0\.0\.6.*renew .*--san 10\.0\.0\.6/);
    expect(parseYaml(read(join(dir, "changed", "agents", "ag1", "skydive.yml"))).analyzers).toEqual(["10.0.0.4:8082", "10.0.0.6:8082"]);
    expect(existsSync(join(dir, "changed", "agents", "ag3"))).toBe(true);
  });

  it("--deploy-dir writes the paths the files will have on the hosts", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "ag9=10.0.1.9", "--analyzers", "10.0.0.4", "--out", "deploy", "--deploy-dir", "/etc/skydive/tls", "--json"], { cwd: dir })).stdout);
    expect(r.hosts[0].config).toMatchObject({
      "tls.server_cert": "/etc/skydive/tls/agent.crt", "tls.server_key": "/etc/skydive/tls/agent.key",
      "tls.client_cert": "/etc/skydive/tls/agent.crt", "tls.client_key": "/etc/skydive/tls/agent.key",
      "tls.ca_cert": "/etc/skydive/tls/skydive-ca.crt",
    });
    expect(JSON.parse(read(join(dir, "deploy", "skycert.json"))).deployDir).toBe("/etc/skydive/tls");
  });

  it("one bad host fails alone: the others are issued, the run names it and why, exit 1", () => {
    writeFileSync(join(dir, "one-bad.ini"), "[agents]\n10.0.2.1\nbad ansible_host=not_an_address!\n10.0.2.3\n");
    const r = skycert(["init", "agent", "--ca", "pki", "--inventory", "one-bad.ini", "--analyzers", "10.0.0.4", "--out", "bad", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(oneLine(r, 1)).toMatch(/1 of 3 hosts failed; bad: ansible_host "not_an_address!"/);
    expect(JSON.parse(r.stdout).hosts.map((h: Host) => h.status)).toEqual(["issued", "failed", "issued"]);
    expect(existsSync(join(dir, "bad", "agents", "bad"))).toBe(false);
  });

  it("an agent certificate is never given an analyzer's address, even by --san", () => {
    const r = skycert(["init", "agent", "--ca", "pki", "--hosts", "ag7=10.0.1.7", "--san", "10.0.0.4", "--out", "pki", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).hosts[0].reason).toMatch(/10\.0\.0\.4, an address agents dial for the analyzer/);
  });

  it("--dry-run plans every host and writes nothing; a broken inventory is one line naming it (exit 2)", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.yml", "--out", "dry", "--dry-run", "--json"], { cwd: dir })).stdout);
    expect(r.hosts.map((h: Host) => h.status)).toEqual(["planned", "planned", "planned"]);
    expect(existsSync(join(dir, "dry"))).toBe(false);
    writeFileSync(join(dir, "broken.ini"), "[agents\nx\n");
    expect(oneLine(skycert(["init", "agent", "--ca", "pki", "--inventory", "broken.ini", "--out", "b2"], { cwd: dir }), 2)).toMatch(/--inventory .*broken\.ini/);
    expect(existsSync(join(dir, "b2"))).toBe(false);
  });

  it("on a terminal, a progress bar on stderr, then the summary table", () => {
    const r = skycertInPty(["init", "agent", "--ca", "pki", "--inventory", "hosts.yml", "--out", "tty", "--key-type", "ecdsa"], [], dir);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/issuing \[[#-]+\] \d\/3/);
    expect(r.output).toContain("3 issued, 0 skipped, 0 failed");
  });
});

describe("legacy on one host, in the emulator", () => {
  it("init analyzer agent: the one skydive.yml starts an analyzer and an agent with TLS on, and they connect", () => {
    const dir = scratch();
    ok(skycert(["init", "analyzer", "agent", "--key-type", "ecdsa"], { cwd: dir }));
    const settings = flattenSkydiveYaml(read(join(dir, "skydive.yml")));
    for (const role of ["analyzer", "agent"] as const) expect(checkStartup({ release: "legacy", role, settings: { ...settings, analyzers: ["127.0.0.1:8082"] } })).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientError: "" });
    const p = pairHandshake({ release: "legacy", server: { role: "analyzer", settings }, client: { role: "agent", settings }, analyzer: "127.0.0.1:8082" });
    expect(p, JSON.stringify(p)).toMatchObject({ ok: true, dial: { tls: true, clientCertSent: "CN=skydive-agent" } });
  });
});

describe("init client", () => {
  it("a clientAuth-only certificate, a PKCS#12 bundle that openssl opens, and it authenticates to a 0.27 analyzer", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "p12.txt"), `${registerSecret("bundle secret 42")}\n`);
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "--ca", "pki", "--san", "10.0.0.4", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
    const r = ok(skycert(["init", "client", "alice", "--out", "pki", "--p12", "--p12-passphrase-file", "p12.txt"], { cwd: dir }));
    expect(r.stdout).toContain("skydive client --cert");
    const crt = join(dir, "pki", "clients", "alice", "client.crt");
    const t = x509(crt, "-text");
    expect(t).toMatch(/Extended Key Usage: *\n\s+TLS Web Client Authentication\n/);
    expect(t).not.toMatch(/Subject Alternative Name/);
    expect(mode2(join(dir, "pki", "clients", "alice", "client.p12"))).toBe("400");
    const info = ok(openssl(["pkcs12", "-info", "-in", join(dir, "pki", "clients", "alice", "client.p12"), "-passin", `file:${join(dir, "p12.txt")}`, "-nokeys"]));
    expect(info.stdout).toContain("subject=CN = alice");
    expect(info.stdout).toContain("subject=CN = skydive-ca");
    const analyzer = flattenSkydiveYaml(read(join(dir, "pki", "analyzers", "10.0.0.4", "skydive.yml")));
    const api = await serveApi({ release: "0.27", role: "analyzer", settings: analyzer });
    try {
      const key = join(dir, "pki", "clients", "alice", "client.key");
      const ca = join(dir, "pki", "ca", "skydive-ca.crt");
      const hello = "GET / HTTP/1.0\r\n\r\n";
      const asAlice = openssl(["s_client", "-connect", api.addr, "-cert", crt, "-key", key, "-CAfile", ca, "-verify_ip", "10.0.0.4", "-verify_return_error", "-quiet"], { input: hello });
      const anonymous = openssl(["s_client", "-connect", api.addr, "-CAfile", ca, "-quiet"], { input: hello });
      expect(asAlice.stdout).toContain("skydive-emulator");
      expect(anonymous.stdout).not.toContain("skydive-emulator");
    } finally {
      const log = await api.stop();
      expect(log.some((c) => c.peer === "CN=alice"), JSON.stringify(log)).toBe(true);
    }
    // It can never serve as the analyzer: no serverAuth.
    expect(openssl(["verify", "-CAfile", join(dir, "pki", "ca", "skydive-ca.crt"), "-purpose", "sslserver", crt]).code).not.toBe(0);
  });
});
