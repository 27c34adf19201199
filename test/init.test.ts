/**
 * `skycert init` end to end: the files it writes, read back by the openssl CLI
 * and compared with what the seed's OpenSSL recipe makes.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { recipe } from "./helpers/recipe.js";
import { SEED_CNF, ok, openssl, scratch, sh, skycert } from "./helpers/run.js";

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
    { name: "unknown role", args: ["init", "router"], code: 2, line: /'router' is invalid for argument 'role'\. Allowed choices are analyzer, agent/ },
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
