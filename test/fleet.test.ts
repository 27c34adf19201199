/**
 * `skycert init agent --ca DIR --inventory FILE`: one key, CSR and certificate
 * per agent of Skydive's own inventory and of a YAML inventory, each with its
 * address as a SAN, each key and serial distinct, every certificate verified by
 * openssl against the CA and by a Go peer configured as Skydive. One host's
 * failure leaves the others done; existing hosts are skipped unless --force.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { skydiveHandshake } from "../src/io/handshake.js";
import { goHandshake } from "./helpers/go-peer.js";
import { skycertInPty } from "./helpers/pty.js";
import { ROOT, SHARED, ok, openssl, scratch, skycert } from "./helpers/run.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const read = (p: string) => readFileSync(p, "utf8");
const CONTAINER = join(SHARED, "skydive", "inventory-hosts.multiple.container");
const YAML_INV = join(ROOT, "fixtures", "inventory-multiple.yml");

interface Host {
  host: string;
  address: string;
  status: string;
  reason?: string;
  dir: string;
  serial?: string;
  keyFingerprint?: string;
  sans?: string[];
}

const dir = scratch("skycert-fleet-");
const caCrt = join(dir, "pki", "ca", "skydive-ca.crt");
const files = (out: string, host: string) => ({
  key: join(dir, out, "agents", host, "agent.domain.com.key"),
  csr: join(dir, out, "agents", host, "agent.domain.com.csr"),
  crt: join(dir, out, "agents", host, "agent.domain.com.crt"),
  config: join(dir, out, "agents", host, "skydive.yml"),
});

beforeAll(() => {
  ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }), "init ca");
  ok(skycert(["init", "analyzer", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki"], { cwd: dir }), "init analyzer --inventory");
});

/** Each host's certificate, checked with the openssl CLI. */
function checkHost(out: string, h: { host: string; address: string }) {
  const f = files(out, h.host);
  expect(mode(f.key)).toBe("400");
  expect(mode(f.csr)).toBe("444");
  expect(mode(f.crt)).toBe("444");
  expect(readdirSync(join(dir, out, "agents", h.host)).sort()).toEqual(["agent.domain.com.crt", "agent.domain.com.csr", "agent.domain.com.key", "skydive.yml"]);
  expect(ok(openssl(["verify", "-CAfile", caCrt, f.crt])).stdout).toBe(`${f.crt}: OK\n`);
  const sans = ok(openssl(["x509", "-in", f.crt, "-noout", "-ext", "subjectAltName"])).stdout;
  expect(sans).toContain(/^[0-9.]+$/.test(h.address) ? `IP Address:${h.address}` : `DNS:${h.address}`);
  expect(ok(openssl(["x509", "-in", f.crt, "-noout", "-subject"])).stdout).toBe(`subject=CN = ${h.host}\n`);
  const req = ok(openssl(["req", "-in", f.csr, "-verify", "-noout"]));
  expect(req.stdout + req.stderr).toMatch(/verify OK/);
  // The key is the certificate's (openssl's own comparison of the public keys).
  expect(ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout).toBe(ok(openssl(["x509", "-in", f.crt, "-noout", "-pubkey"])).stdout);
  const cfg = parseYaml(read(f.config));
  expect(cfg).toEqual({ tls: { client_cert: f.crt, client_key: f.key, ca_cert: caCrt } });
  return { serial: ok(openssl(["x509", "-in", f.crt, "-noout", "-serial"])).stdout.trim(), pubkey: ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout };
}

describe("Skydive's hosts.multiple.container inventory", () => {
  let result: { ok: boolean; hosts: Host[]; parallelism: number; counts: Record<string, number> };
  let run: ReturnType<typeof skycert>;

  beforeAll(() => {
    run = ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki", "--json"], { cwd: dir }), "fleet");
    result = JSON.parse(run.stdout);
  });

  it("issues one certificate per agent (10.0.0.9 and 10.0.0.4, through [skydive:children])", () => {
    expect(result.ok).toBe(true);
    expect(result.hosts.map((h) => [h.host, h.address, h.status])).toEqual([
      ["10.0.0.9", "10.0.0.9", "issued"],
      ["10.0.0.4", "10.0.0.4", "issued"],
    ]);
    expect(result.counts).toMatchObject({ issued: 2, skipped: 0, failed: 0 });
    expect(result.parallelism).toBe(availableParallelism());
  });

  it("each host: 0400 key, 0444 CSR and certificate, its address as an IP SAN, verified by the CA, its own stanza", () => {
    const seen = result.hosts.map((h) => checkHost("pki", h));
    expect(new Set(seen.map((s) => s.serial)).size).toBe(2);
    expect(new Set(seen.map((s) => s.pubkey)).size).toBe(2);
  });

  it("prints JSON and nothing else; no progress bar when stderr is not a terminal", () => {
    expect(run.stderr).toBe("");
  });

  it("the analyzer took the analyzers group's address (10.0.0.4) from the inventory", () => {
    const sans = ok(openssl(["x509", "-in", join(dir, "pki", "analyzer", "analyzer.domain.com.crt"), "-noout", "-ext", "subjectAltName"])).stdout;
    expect(sans).toContain("IP Address:10.0.0.4");
  });

  it("every agent completes mutual TLS with the analyzer in CA mode (Go crypto/tls as Skydive, and Node), dialing 10.0.0.4", async () => {
    const an = { crt: join(dir, "pki", "analyzer", "analyzer.domain.com.crt"), key: join(dir, "pki", "analyzer", "analyzer.domain.com.key") };
    for (const h of result.hosts) {
      const f = files("pki", h.host);
      const go = goHandshake({ serverCert: an.crt, serverKey: an.key, clientCa: caCrt, clientCert: f.crt, clientKey: f.key, rootCa: caCrt, dial: "10.0.0.4" });
      expect(go, JSON.stringify(go)).toMatchObject({ ok: true });
      const node = await skydiveHandshake(
        { cert: read(an.crt), key: read(an.key), trust: [read(caCrt)] },
        { cert: read(f.crt), key: read(f.key), trust: [read(caCrt)] },
        "10.0.0.4",
      );
      expect(node, JSON.stringify(node)).toMatchObject({ ok: true });
    }
  });

  it("a second run skips every existing host, changes nothing, and says so", () => {
    const before = result.hosts.map((h) => read(files("pki", h.host).crt));
    const again = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki", "--json"], { cwd: dir })).stdout);
    expect(again.hosts.map((h: Host) => h.status)).toEqual(["skipped", "skipped"]);
    expect(again.hosts[0].reason).toMatch(/already issued .*--force re-issues/);
    expect(result.hosts.map((h) => read(files("pki", h.host).crt))).toEqual(before);
    const human = ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki"], { cwd: dir })).stdout;
    expect(human).toMatch(/10\.0\.0\.9\s+10\.0\.0\.9\s+skipped/);
    expect(human).toContain("0 issued, 2 skipped, 0 failed");
  });

  it("--force re-issues: new keys and serials", () => {
    const forced = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki", "--json", "--force"], { cwd: dir })).stdout);
    expect(forced.hosts.map((h: Host) => h.status)).toEqual(["issued", "issued"]);
    for (const [i, h] of forced.hosts.entries()) {
      expect(h.serial).not.toBe(result.hosts[i]!.serial);
      expect(h.keyFingerprint).not.toBe(result.hosts[i]!.keyFingerprint);
      checkHost("pki", h);
    }
  });
});

describe("a YAML inventory (ansible_host, a DNS host)", () => {
  let result: { hosts: Host[] };
  beforeAll(() => {
    result = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "yaml", "--json"], { cwd: dir }), "yaml fleet").stdout);
  });

  it("issues 10.0.0.9, 10.0.0.4, node-a (as 10.0.1.21) and node-b.example.com (a DNS SAN)", () => {
    expect(result.hosts.map((h) => [h.host, h.address, h.status])).toEqual([
      ["10.0.0.9", "10.0.0.9", "issued"],
      ["10.0.0.4", "10.0.0.4", "issued"],
      ["node-a", "10.0.1.21", "issued"],
      ["node-b.example.com", "node-b.example.com", "issued"],
    ]);
    const seen = result.hosts.map((h) => checkHost("yaml", h));
    expect(new Set(seen.map((s) => s.serial)).size).toBe(4);
    expect(new Set(seen.map((s) => s.pubkey)).size).toBe(4);
    expect(new X509Certificate(read(files("yaml", "node-a").crt)).checkIP("10.0.1.21")).toBe("10.0.1.21");
    expect(new X509Certificate(read(files("yaml", "node-b.example.com").crt)).checkHost("node-b.example.com", { subject: "never" })).toBe("node-b.example.com");
  });

  it("--deploy-dir writes the paths the files will have on the hosts", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "deploy", "--deploy-dir", "/etc/skydive/tls", "--json"], { cwd: dir })).stdout);
    expect(r.hosts[2].config).toEqual({
      "tls.client_cert": "/etc/skydive/tls/agent.domain.com.crt",
      "tls.client_key": "/etc/skydive/tls/agent.domain.com.key",
      "tls.ca_cert": "/etc/skydive/tls/skydive-ca.crt",
    });
    expect(parseYaml(read(files("deploy", "node-a").config)).tls.client_key).toBe("/etc/skydive/tls/agent.domain.com.key");
  });
});

describe("failures, dry runs and the terminal", () => {
  it("one bad host fails alone: the others are issued, the run names it and why, exit 1", () => {
    const inv = join(dir, "one-bad.ini");
    writeFileSync(inv, "[agents]\n10.0.2.1\nbad ansible_host=not_an_address!\n10.0.2.3\n");
    const r = skycert(["init", "agent", "--ca", "pki", "--inventory", inv, "--out", "bad", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/1 of 3 hosts of .*one-bad\.ini failed; bad: ansible_host "not_an_address!" .*inventory line 3/);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.hosts.map((h: Host) => h.status)).toEqual(["issued", "failed", "issued"]);
    checkHost("bad", { host: "10.0.2.1", address: "10.0.2.1" });
    checkHost("bad", { host: "10.0.2.3", address: "10.0.2.3" });
    expect(existsSync(join(dir, "bad", "agents", "bad"))).toBe(false);
    expect(readdirSync(join(dir, "bad", "agents")).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("a host whose folder cannot be written fails alone, the others are done", () => {
    const inv = join(dir, "blocked.ini");
    writeFileSync(inv, "[agents]\n10.0.3.1\n10.0.3.2\n");
    mkdirSync(join(dir, "blocked", "agents"), { recursive: true });
    writeFileSync(join(dir, "blocked", "agents", "10.0.3.2"), "a file where the host's folder should be\n");
    const r = skycert(["init", "agent", "--ca", "pki", "--inventory", inv, "--out", "blocked", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("10.0.3.2");
    expect(JSON.parse(r.stdout).hosts.map((h: Host) => h.status)).toEqual(["issued", "failed"]);
    checkHost("blocked", { host: "10.0.3.1", address: "10.0.3.1" });
  });

  it("--dry-run plans every host and writes nothing", () => {
    const r = JSON.parse(ok(skycert(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "dry", "--dry-run", "--json"], { cwd: dir })).stdout);
    expect(r.hosts.map((h: Host) => h.status)).toEqual(["planned", "planned", "planned", "planned"]);
    expect(r.hosts[2].sans).toContain("IP:10.0.1.21");
    expect(existsSync(join(dir, "dry"))).toBe(false);
  });

  it("--inventory needs --ca, and one role", () => {
    const a = skycert(["init", "agent", "--inventory", CONTAINER], { cwd: dir });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--inventory needs --ca");
    const b = skycert(["init", "analyzer", "agent", "--ca", "pki", "--inventory", CONTAINER], { cwd: dir });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("one role at a time");
  });

  it("on a terminal, a progress bar on stderr, then the summary table", () => {
    const r = skycertInPty(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "tty"], [], dir);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/issuing \[[#-]+\] \d\/4/);
    expect(r.output).toContain("4 issued, 0 skipped, 0 failed");
  });
});
