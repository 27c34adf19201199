/**
 * CA mode: `init ca`, then `init analyzer|agent --ca`, checked by the openssl
 * CLI (x509 -text, verify -CAfile, req -verify, pkey) and by mutual TLS in CA
 * mode with Skydive's settings, in Node and in Go. The CA key's protections:
 * 0400 from creation, encryption at rest, a passphrase that is never echoed or
 * printed, and refusal of a key others can read.
 */
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { skydiveHandshake } from "../src/io/handshake.js";
import { goHandshake } from "./helpers/go-peer.js";
import { skycertInPty } from "./helpers/pty.js";
import { ok, oneLine, openssl, scratch, skycert } from "./helpers/run.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const x509 = (p: string, ...args: string[]) => ok(openssl(["x509", "-in", p, "-noout", ...args]), `openssl x509 ${args.join(" ")}`).stdout;
const read = (p: string) => readFileSync(p, "utf8");

/** The error contract: one line on stderr, no stack trace. */
const dir = scratch("skycert-ca-");
const ca = { crt: join(dir, "pki", "ca", "skydive-ca.crt"), key: join(dir, "pki", "ca", "skydive-ca.key") };
const analyzer = { crt: join(dir, "pki", "analyzer", "analyzer.domain.com.crt"), key: join(dir, "pki", "analyzer", "analyzer.domain.com.key"), csr: join(dir, "pki", "analyzer", "analyzer.domain.com.csr") };
const agent = { crt: join(dir, "pki", "agent", "agent.domain.com.crt"), key: join(dir, "pki", "agent", "agent.domain.com.key"), csr: join(dir, "pki", "agent", "agent.domain.com.csr") };
let caJson: { ca: { keyIdentifier: string; keyBits: number; encrypted: boolean }; files: { path: string; mode: string }[] };

beforeAll(() => {
  caJson = JSON.parse(ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048", "--json"], { cwd: dir }), "init ca").stdout);
  ok(skycert(["init", "analyzer", "--ca", "pki", "--san", "10.0.0.4", "--out", "pki"], { cwd: dir }), "init analyzer --ca");
  ok(skycert(["init", "agent", "--ca", "pki/ca", "--out", "pki"], { cwd: dir }), "init agent --ca");
});

describe("init ca", () => {
  it("writes <out>/ca/skydive-ca.key 0400 and .crt 0444, nothing else", () => {
    expect(mode(ca.key)).toBe("400");
    expect(mode(ca.crt)).toBe("444");
    expect(readdirSync(join(dir, "pki", "ca")).sort()).toEqual(["skydive-ca.crt", "skydive-ca.key"]);
    expect(read(ca.key)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(caJson.files.map((f) => f.mode)).toEqual(["0400", "0444"]);
  });

  it("is CA:TRUE pathlen 0, keyCertSign+cRLSign critical, with a SKID, CN=skydive-ca, ten years, sha256, positive 20-octet serial", () => {
    const text = x509(ca.crt, "-text");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    expect(text).not.toMatch(/Authority Key Identifier/);
    expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(x509(ca.crt, "-subject", "-issuer")).toBe("subject=CN = skydive-ca\nissuer=CN = skydive-ca\n");
    const serial = x509(ca.crt, "-serial").trim().replace("serial=", "");
    expect(serial).toMatch(/^[0-7][0-9A-F]{39}$/);
    expect(ok(openssl(["x509", "-in", ca.crt, "-noout", "-checkend", String(3649 * 86400)])).code).toBe(0);
    expect(openssl(["x509", "-in", ca.crt, "-noout", "-checkend", String(3651 * 86400)]).code).toBe(1);
    expect(ok(openssl(["verify", "-CAfile", ca.crt, ca.crt])).stdout).toContain("OK");
    expect(x509(ca.crt, "-ext", "subjectKeyIdentifier").replace(/[:\s]/g, "")).toContain(caJson.ca.keyIdentifier);
  });

  it("defaults to RSA 4096, 3650 days and CN=skydive-ca (dry run: no key searched for)", () => {
    const r = JSON.parse(ok(skycert(["init", "ca", "--dry-run", "--json", "--out", "dry"], { cwd: dir })).stdout);
    expect(r.ca.keyBits).toBe(4096);
    expect(r.days).toBe(3650);
    expect(r.ca.subject).toBe("CN=skydive-ca");
    expect(existsSync(join(dir, "dry"))).toBe(false);
  });

  it("never replaces a CA without --force", () => {
    const before = read(ca.crt);
    const line = oneLine(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }), 1);
    expect(line).toContain("skydive-ca.key");
    expect(line).toContain("--force");
    expect(read(ca.crt)).toBe(before);
  });

  it("refuses flags that do not apply to it, naming them (exit 2)", () => {
    expect(oneLine(skycert(["init", "ca", "--san", "10.0.0.1"], { cwd: dir }), 2)).toContain("--san does not apply to init ca");
    expect(oneLine(skycert(["init", "ca", "agent"], { cwd: dir }), 2)).toContain("init ca makes the CA alone");
    expect(oneLine(skycert(["init", "ca", "--passphrase-file", "x"], { cwd: dir }), 2)).toContain("needs --encrypt");
    expect(oneLine(skycert(["init", "agent", "--encrypt"], { cwd: dir }), 2)).toContain("--encrypt applies to init ca only");
  });
});

describe("roles signed by the CA", () => {
  it("verify against the CA with openssl verify -CAfile", () => {
    expect(ok(openssl(["verify", "-CAfile", ca.crt, analyzer.crt, agent.crt])).stdout).toBe(`${analyzer.crt}: OK\n${agent.crt}: OK\n`);
    // ...and not against themselves: they are leaves now.
    expect(openssl(["verify", "-CAfile", agent.crt, agent.crt]).code).not.toBe(0);
  });

  it("are leaves: CA:FALSE, digitalSignature+keyEncipherment, the cnf's EKU, AKID = the CA's SKID, issuer CN=skydive-ca", () => {
    const caSkid = x509(ca.crt, "-ext", "subjectKeyIdentifier").split("\n")[1]!.trim();
    for (const c of [analyzer.crt, agent.crt]) {
      const text = x509(c, "-text");
      expect(text).toMatch(/X509v3 Basic Constraints: \n\s+CA:FALSE\n/);
      expect(text).toMatch(/X509v3 Key Usage: \n\s+Digital Signature, Key Encipherment\n/);
      expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
      expect(text).toMatch(/Issuer: CN = skydive-ca\n/);
      expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
      const akid = x509(c, "-ext", "authorityKeyIdentifier").split("\n")[1]!.trim();
      expect(akid).toBe(caSkid);
      expect(text.match(/X509v3 [A-Za-z ]+:/g)!.length).toBe(new Set(text.match(/X509v3 [A-Za-z ]+:/g)).size); // no duplicate extension
    }
    expect(x509(analyzer.crt, "-ext", "subjectAltName")).toContain("IP Address:10.0.0.4");
    expect(x509(agent.crt, "-subject")).toBe("subject=CN = skydive-agent\n");
  });

  it("come with CSRs that verify and request the leaf profile", () => {
    const r = ok(openssl(["req", "-in", agent.csr, "-verify", "-noout", "-text"]));
    expect(r.stderr + r.stdout).toMatch(/verify OK/);
    expect(r.stdout).toMatch(/Requested Extensions:[\s\S]*CA:FALSE/);
    expect(r.stdout).not.toMatch(/Certificate Sign/);
  });

  it("set the modern tls.* keys, with require_client_cert for the analyzer", () => {
    const cfg = parseYaml(read(join(dir, "pki", "skydive.yml")));
    expect(cfg.tls).toEqual({
      server_cert: analyzer.crt,
      server_key: analyzer.key,
      ca_cert: ca.crt,
      require_client_cert: true,
      client_cert: agent.crt,
      client_key: agent.key,
    });
    expect(cfg.analyzer).toBeUndefined();
    expect(cfg.agent).toBeUndefined();
  });

  it("complete mutual TLS in CA mode with Skydive's settings: Node", async () => {
    const caPem = read(ca.crt);
    for (const dial of ["10.0.0.4", "127.0.0.1", "analyzer.domain.com"]) {
      // Node dials loopback; the name check is Go's, against `dial`.
      const r = await skydiveHandshake(
        { cert: read(analyzer.crt), key: read(analyzer.key), trust: [caPem] },
        { cert: read(agent.crt), key: read(agent.key), trust: [caPem] },
        dial,
      );
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    }
  });

  it("complete mutual TLS in CA mode with Skydive's settings: Go crypto/tls", () => {
    const r = goHandshake({ serverCert: analyzer.crt, serverKey: analyzer.key, clientCa: ca.crt, clientCert: agent.crt, clientKey: agent.key, rootCa: ca.crt, dial: "127.0.0.1" });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    // The same peer refuses an agent from another CA: the test can fail.
    const other = join(dir, "other");
    ok(skycert(["init", "ca", "--out", other, "--bits", "2048"]));
    ok(skycert(["init", "agent", "--ca", other, "--out", other]));
    const foreign = goHandshake({ serverCert: analyzer.crt, serverKey: analyzer.key, clientCa: ca.crt, clientCert: join(other, "agent", "agent.domain.com.crt"), clientKey: join(other, "agent", "agent.domain.com.key"), rootCa: ca.crt, dial: "127.0.0.1" });
    expect(foreign.ok).toBe(false);
  });

  it("--ca takes the ca/ folder, the folder holding it, or the CA certificate itself", () => {
    for (const [i, spec] of ["pki", "pki/ca", "pki/ca/skydive-ca.crt"].entries()) {
      const out = `forms${i}`;
      ok(skycert(["init", "agent", "--ca", spec, "--out", out, "--bits", "2048"], { cwd: dir }));
      ok(openssl(["verify", "-CAfile", ca.crt, join(dir, out, "agent", "agent.domain.com.crt")]));
    }
  });

  it("--schema legacy keeps the legacy keys under a CA; --schema tls without --ca is refused", () => {
    ok(skycert(["init", "agent", "--ca", "pki", "--schema", "legacy", "--out", "legacy"], { cwd: dir }));
    const cfg = parseYaml(read(join(dir, "legacy", "skydive.yml")));
    expect(Object.keys(cfg.agent)).toEqual(["X509_cert", "X509_key"]);
    expect(cfg.tls).toBeUndefined();
    expect(oneLine(skycert(["init", "agent", "--schema", "tls", "--out", "x"], { cwd: dir }), 2)).toContain("--schema tls needs --ca");
  });

  it("a missing CA is one line naming --ca (exit 2), and nothing is written", () => {
    const line = oneLine(skycert(["init", "agent", "--ca", "nowhere", "--out", "missing"], { cwd: dir }), 2);
    expect(line).toContain("--ca nowhere");
    expect(existsSync(join(dir, "missing"))).toBe(false);
    // A folder with certificates but no CA among them.
    const notCa = oneLine(skycert(["init", "agent", "--ca", "pki/agent", "--out", "missing"], { cwd: dir }), 2);
    expect(notCa).toContain("no CA certificate");
  });
});

describe("the CA key's protections", () => {
  it("refuses a CA key that group or others can read, with the remedy, and writes nothing", () => {
    const loose = join(dir, "loose");
    cpSync(join(dir, "pki", "ca"), join(loose, "ca"), { recursive: true });
    chmodSync(join(loose, "ca", "skydive-ca.key"), 0o440);
    const line = oneLine(skycert(["init", "agent", "--ca", loose, "--out", join(loose, "out")]), 1);
    expect(line).toContain("readable by group or others (mode 0440)");
    expect(line).toContain(`chmod 400 ${join(loose, "ca", "skydive-ca.key")}`);
    expect(existsSync(join(loose, "out", "agent"))).toBe(false);
  });

  describe("encrypted at rest", () => {
    const enc = join(dir, "enc");
    const pass = join(dir, "pass.txt");
    const secret = "correct horse battery staple";
    let json: string;

    beforeAll(() => {
      writeFileSync(pass, `${secret}\n`);
      json = ok(skycert(["init", "ca", "--out", enc, "--bits", "2048", "--encrypt", "--passphrase-file", pass, "--json"]), "init ca --encrypt").stdout;
    });

    it("writes an encrypted PKCS#8 key (0400) that openssl opens with the passphrase and no other", () => {
      const key = join(enc, "ca", "skydive-ca.key");
      expect(mode(key)).toBe("400");
      expect(read(key)).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      ok(openssl(["pkey", "-in", key, "-passin", `file:${pass}`, "-noout"]), "openssl pkey with the passphrase");
      expect(openssl(["pkey", "-in", key, "-passin", "pass:wrong", "-noout"]).code).not.toBe(0);
      const parsed = JSON.parse(json);
      expect(parsed.ca.encrypted).toBe(true);
      expect(json).not.toContain(secret);
      expect(json).not.toContain("PRIVATE KEY");
    });

    it("signs with the passphrase from --passphrase-file (round trip)", () => {
      const out = join(dir, "enc-out");
      const r = ok(skycert(["init", "agent", "--ca", enc, "--passphrase-file", pass, "--out", out, "--json"]));
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(JSON.parse(r.stdout).ca.encrypted).toBe(true);
      ok(openssl(["verify", "-CAfile", join(enc, "ca", "skydive-ca.crt"), join(out, "agent", "agent.domain.com.crt")]));
    });

    it("a wrong passphrase is one line (exit 1) that never shows what was tried, and nothing is written", () => {
      const wrong = join(dir, "wrong.txt");
      writeFileSync(wrong, "hunter2-wrong\n");
      const out = join(dir, "enc-wrong");
      const line = oneLine(skycert(["init", "agent", "--ca", enc, "--passphrase-file", wrong, "--out", out]), 1);
      expect(line).toContain("wrong passphrase");
      expect(line).not.toContain("hunter2");
      expect(existsSync(join(out, "agent"))).toBe(false);
    });

    it("without a passphrase file and without a terminal, it asks for --passphrase-file (exit 2)", () => {
      const line = oneLine(skycert(["init", "agent", "--ca", enc, "--out", join(dir, "enc-none")]), 2);
      expect(line).toContain("--passphrase-file");
      expect(oneLine(skycert(["init", "ca", "--encrypt", "--out", join(dir, "enc-none2"), "--bits", "2048"]), 2)).toContain("--passphrase-file");
    });

    it("on a terminal it prompts twice with echo off, and the key opens with what was typed", () => {
      const tty = join(dir, "tty");
      const typed = "typed-on-a-tty-42";
      const r = skycertInPty(
        ["init", "ca", "--out", tty, "--bits", "2048", "--encrypt"],
        [
          { expect: "Passphrase for", send: `${typed}\r` },
          { expect: "Repeat the passphrase", send: `${typed}\r` },
        ],
        dir,
      );
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain("Made the CA");
      expect(r.output).not.toContain(typed);
      const key = join(tty, "ca", "skydive-ca.key");
      ok(openssl(["pkey", "-in", key, "-passin", `pass:${typed}`, "-noout"]));
      // ...and signing with it prompts once, again without echo.
      const s = skycertInPty(["init", "agent", "--ca", tty, "--out", join(tty, "out")], [{ expect: "Passphrase for CA key", send: `${typed}\r` }], dir);
      expect(s.code, s.output).toBe(0);
      expect(s.output).not.toContain(typed);
      ok(openssl(["verify", "-CAfile", join(tty, "ca", "skydive-ca.crt"), join(tty, "out", "agent", "agent.domain.com.crt")]));
    });

    it("on a terminal, two different passphrases are refused and no CA is written", () => {
      const tty = join(dir, "tty-differ");
      const r = skycertInPty(
        ["init", "ca", "--out", tty, "--bits", "2048", "--encrypt"],
        [
          { expect: "Passphrase for", send: "first-one\r" },
          { expect: "Repeat the passphrase", send: "second-one\r" },
        ],
        dir,
      );
      expect(r.code).toBe(2);
      expect(r.output).toContain("the two passphrases differ");
      expect(existsSync(join(tty, "ca"))).toBe(false);
    });
  });
});
