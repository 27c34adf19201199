/**
 * Hostile files give a failing check with a clear message naming the file, never
 * a crash; an unusable command line or config file is a usage error (exit 2).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ok, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { type Pair, caDeployment, failedIds, initPair, legacyConfig, one, validate } from "./helpers/validate-fixtures.js";

let base: Pair;
beforeAll(() => {
  base = initPair(join(scratch(), "good"));
});

/** A copy of the good pair whose agent certificate (or key) is replaced by `content`. */
function withAgentFile(kind: "crt" | "key", write: (path: string) => void): { dir: string; run: ReturnType<typeof validate> } {
  const dir = scratch();
  const path = join(dir, kind === "crt" ? "agent.crt" : "agent.key");
  write(path);
  legacyConfig(join(dir, "skydive.yml"), { analyzer: base.analyzer, agent: kind === "crt" ? { crt: path, key: base.agent.key } : { crt: base.agent.crt, key: path } });
  return { dir, run: validate([], { cwd: dir }) };
}

const goodCertPem = () => readFileSync(base.agent.crt, "utf8");
const goodKeyPem = () => readFileSync(base.agent.key, "utf8");

describe("file-readable", () => {
  it.each([
    ["missing", (p: string) => void p, "agent.crt (agent.X509_cert) does not exist"],
    ["a directory", (p: string) => mkdirSync(p), "agent.crt (agent.X509_cert) is a directory, not a file"],
    ["empty", (p: string) => writeFileSync(p, ""), "agent.crt (agent.X509_cert) is empty (0 bytes)"],
    ["huge", (p: string) => writeFileSync(p, Buffer.alloc(3 * 1024 * 1024, 0x41)), "agent.crt (agent.X509_cert) is too large for a certificate or key (3145728 bytes"],
    ["a FIFO (never read)", (p: string) => execFileSync("mkfifo", [p]), "agent.crt (agent.X509_cert) is not a regular file (a device, socket or FIFO)"],
    ["a dangling symlink", (p: string) => symlinkSync("/nonexistent/agent.crt", p), "agent.crt (agent.X509_cert) does not exist"],
  ])("%s: fails with the file named", (_name, write, message) => {
    const { run } = withAgentFile("crt", write);
    const c = one(run, "file-readable", "agent cert");
    expect(c.status).toBe("fail");
    expect(c.message).toContain(message);
    expect(c.remedy).toMatch(/\S/);
    expect(run.code).toBe(1);
    // Nothing else is judged on a file that could not be read; the pair-level checks say why.
    expect(one(run, "trust", "agent cert")).toMatchObject({ status: "skip" });
    expect(one(run, "handshake", "127.0.0.1").message).toMatch(/^skipped: agent\.crt could not be read/);
  });

  it("/dev/zero as a key is refused without reading it", () => {
    const dir = scratch();
    legacyConfig(join(dir, "skydive.yml"), { analyzer: base.analyzer, agent: { crt: base.agent.crt, key: "/dev/zero" } });
    const run = validate([], { cwd: dir });
    expect(one(run, "file-readable", "agent key").message).toBe("/dev/zero (agent.X509_key) is not a regular file (a device, socket or FIFO)");
  });
});

describe("pem-parse", () => {
  it.each([
    ["garbage bytes", (p: string) => writeFileSync(p, Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251))), "no PEM certificate found (garbage or not a certificate)"],
    ["a truncated PEM", (p: string) => writeFileSync(p, goodCertPem().slice(0, 600)), '"CERTIFICATE" block has no END line (truncated)'],
    ["corrupted base64", (p: string) => writeFileSync(p, goodCertPem().replace(/\n(.{10})./, "\n$1!")), "is not valid base64 (corrupted)"],
    ["valid base64 that is not a certificate", (p: string) => writeFileSync(p, "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n"), "certificate 1 (line 1) not a valid X.509 certificate"],
    ["a private key where a certificate should be", (p: string) => writeFileSync(p, goodKeyPem()), "holds a private key where a certificate should be"],
    ["a CSR where a certificate should be", (p: string) => copyFileSync(base.agent.crt.replace(/\.crt$/, ".csr"), p), "holds a certificate request (CSR), not a certificate"],
    ["a DER certificate", (p: string) => ok(openssl(["x509", "-in", base.agent.crt, "-outform", "der", "-out", p])), "is DER (binary); Skydive reads PEM only"],
  ])("%s in the certificate file: fails with a clear message", (_name, write, message) => {
    const { run } = withAgentFile("crt", write);
    const c = one(run, "pem-parse", "agent cert");
    expect(c.status).toBe("fail");
    expect(c.message).toContain(message);
    expect(c.message.startsWith("agent.crt: ")).toBe(true);
    expect(c.remedy).toMatch(/\S/);
    expect(failedIds(run)).toContain("pem-parse");
  });

  it.each([
    ["a certificate where the key should be", (p: string) => writeFileSync(p, goodCertPem()), "holds a certificate where a private key should be", /cert and key may be swapped/],
    [
      "a PKCS#8 encrypted key",
      (p: string) => ok(openssl(["pkey", "-in", base.agent.key, "-aes256", "-passout", "pass:secret", "-out", p])),
      "private key is encrypted, and Skydive (Go's tls.LoadX509KeyPair) reads only unencrypted keys",
      /^openssl pkey -in agent\.key -out agent\.key\.plain/,
    ],
    [
      "a legacy (Proc-Type) encrypted RSA key",
      (p: string) => ok(openssl(["rsa", "-in", base.agent.key, "-traditional", "-aes256", "-passout", "pass:secret", "-out", p])),
      "private key is encrypted",
      /openssl pkey/,
    ],
    ["a key block with garbage DER", (p: string) => writeFileSync(p, "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n"), 'agent.key: line 1: "PRIVATE KEY" block is not a PKCS#1, PKCS#8 or SEC1 private key', /\S/],
    ["an Ed448 key, which Go's TLS cannot use", (p: string) => ok(openssl(["genpkey", "-algorithm", "ed448", "-out", p])), "is a ED448 key, which Go's TLS cannot use", /\S/],
  ])("%s: fails with a clear message", (_name, write, message, remedy) => {
    const { run } = withAgentFile("key", (p) => {
      write(p);
      chmodSync(p, 0o400);
    });
    const c = one(run, "pem-parse", "agent key");
    expect(c.status).toBe("fail");
    expect(c.message).toContain(message);
    expect(c.remedy).toMatch(remedy);
    expect(one(run, "handshake", "127.0.0.1").status).toBe("skip");
    // The key material never appears in the output.
    expect(run.stdout).not.toContain("PRIVATE KEY-----");
  });

  it("a certificate file that also holds the private key warns (certificates are public)", () => {
    const { run } = withAgentFile("crt", (p) => writeFileSync(p, goodCertPem() + goodKeyPem()));
    const c = one(run, "pem-parse", "agent cert");
    expect(c.status).toBe("warn");
    expect(c.message).toContain("the file also holds a private key");
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain("PRIVATE KEY-----");
  });
});

describe("hostile trust pools", () => {
  it("150 look-alike CAs: trust stops at Go's signature-check limit instead of exploding", () => {
    const ca = caDeployment(scratch(), { foreignClient: true });
    // other-ca signed the agent; the pool holds 150 other CAs with its very name, none the right key.
    const script = `for i in $(seq 1 150); do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=other-ca -days 30 2>/dev/null; done >> ca.crt`;
    chmodSync(ca.ca, 0o644);
    ok(sh(script, { cwd: ca.dir }));
    const started = Date.now();
    const run = validate(["--config", ca.config]);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(one(run, "pem-parse", "CA cert").message).toContain("151 certificates");
    expect(one(run, "trust", "agent cert").message).toContain("x509: signature check attempts limit reached while verifying certificate chain");
    expect(one(run, "trust", "analyzer cert").status).toBe("pass");
  });
});

describe("usage errors exit 2 with one line naming the input", () => {
  const cases: [string, string[], (dir: string) => void, RegExp][] = [
    ["an unknown flag", ["--frobnicate"], () => undefined, /^skycert: unknown option '--frobnicate'/],
    ["a --config that does not exist", ["--config", "nope.yml"], () => undefined, /^skycert: error: --config nope\.yml: no such file \(fix: /],
    ["a --config that is a directory", ["--config", "d"], (dir) => mkdirSync(join(dir, "d")), /^skycert: error: --config .*\/d: is a directory, not a file\n$/],
    ["malformed YAML", [], (dir) => writeFileSync(join(dir, "skydive.yml"), "analyzer:\n  X509_cert: [unclosed\n"), /^skycert: error: skydive\.yml:\d: malformed YAML \(.* \(fix: /],
    ["duplicate YAML keys", [], (dir) => writeFileSync(join(dir, "skydive.yml"), "agent: {}\nagent: {}\n"), /^skycert: error: skydive\.yml:2: malformed YAML \(Map keys must be unique\)/],
    ["a YAML list at the top", [], (dir) => writeFileSync(join(dir, "skydive.yml"), "- a\n- b\n"), /^skycert: error: skydive\.yml: the top level is not a mapping of keys/],
    ["binary garbage as the config", [], (dir) => writeFileSync(join(dir, "skydive.yml"), Buffer.from([0x61, 0x3a, 0x0a, 0, 1, 2, 0xff, 0xfe, 0x3a, 0x0a, 0x2d])), /^skycert: error: skydive\.yml:2: not a YAML text file/],
    ["no config here and no file flags", [], () => undefined, /^skycert: error: no skydive\.yml in .* \(fix: pass --config FILE, or name the files with --analyzer-cert/],
    ["a bad --role", ["--role", "collector"], () => undefined, /^skycert: option '--role <role>' argument 'collector' is invalid\. Allowed choices are analyzer, agent\./],
    ["a bad --host", ["--host", "bad host"], () => undefined, /^skycert: option '--host <address>' argument 'bad host' is invalid\. "bad host" contains whitespace\./],
    ["a bad --warn-days", ["--warn-days", "-3"], () => undefined, /^skycert: option '--warn-days <n>' argument '-3' is invalid/],
  ];
  it.each(cases)("%s", (_name, args, setup, stderr) => {
    const dir = scratch();
    setup(dir);
    const r = skycert(["validate", "--json", ...args], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(stderr);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--debug adds the stack trace, and only then", () => {
    const dir = scratch();
    writeFileSync(join(dir, "skydive.yml"), "- a\n");
    const r = skycert(["validate", "--debug"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
