/**
 * `skycert validate --fleet DIR`: the three-command flow passes; a host with an
 * expired certificate, one from a foreign CA, one trusting a foreign CA, and
 * copied certificates/keys are each caught, with exit 1 and one line.
 * The broken hosts are made with the openssl CLI and faketime.
 */
import { chmodSync, copyFileSync, cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, SHARED, ok, scratch, sh, skycert } from "./helpers/run.js";

const dir = scratch("skycert-fleetv-");
const YAML_INV = join(ROOT, "fixtures", "inventory-multiple.yml");
const CONTAINER = join(SHARED, "skydive", "inventory-hosts.multiple.container");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function fleetCopy(name: string): string {
  const out = join(dir, name);
  cpSync(join(dir, "pki"), out, { recursive: true });
  // The copy's stanzas still name the original's files: point them at the copy.
  for (const host of ["10.0.0.9", "10.0.0.4", "node-a", "node-b.example.com"]) {
    const cfg = join(out, "agents", host, "skydive.yml");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replaceAll(join(dir, "pki"), out));
  }
  const top = join(out, "skydive.yml");
  writeFileSync(top, readFileSync(top, "utf8").replaceAll(join(dir, "pki"), out));
  return out;
}

function validateFleet(out: string): { code: number; json: Json; stderr: string } {
  const r = skycert(["validate", "--fleet", out, "--host", "10.0.0.4", "--json"], { cwd: dir });
  return { code: r.code, json: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Replace a 0444 file inside a 0700 host folder (as an operator's mistake would). */
function replace(path: string, from: string): void {
  rmSync(path, { force: true });
  copyFileSync(from, path);
  chmodSync(path, path.endsWith(".key") ? 0o400 : 0o444);
}

const failedIds = (host: Json) => [...new Set(host.checks.filter((c: Json) => c.status === "fail").map((c: Json) => c.id))];

beforeAll(() => {
  ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
  ok(skycert(["init", "analyzer", "--ca", "pki", "--inventory", CONTAINER, "--out", "pki"], { cwd: dir }));
  ok(skycert(["init", "agent", "--ca", "pki", "--inventory", YAML_INV, "--out", "pki"], { cwd: dir }));
  ok(skycert(["init", "ca", "--out", "foreign", "--bits", "2048", "--cn", "foreign-ca"], { cwd: dir }));
  ok(skycert(["init", "agent", "--ca", "foreign", "--inventory", YAML_INV, "--out", "foreign"], { cwd: dir }));
});

describe("validate --fleet", () => {
  it("passes after init ca, init analyzer --ca, init agent --ca --inventory (the three commands)", () => {
    const r = skycert(["validate", "--fleet", "pki", "--host", "10.0.0.4"], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("OK: 4 of 4 hosts OK");
    const { json } = validateFleet(join(dir, "pki"));
    expect(json.ok).toBe(true);
    expect(json.hosts.map((h: Json) => [h.host, h.ok])).toEqual([
      ["10.0.0.4", true],
      ["10.0.0.9", true],
      ["node-a", true],
      ["node-b.example.com", true],
    ]);
    expect(json.fleetChecks.map((c: Json) => [c.id, c.status])).toEqual([
      ["fleet-ca", "pass"],
      ["fleet-serial-unique", "pass"],
      ["fleet-key-unique", "pass"],
      ["fleet-handshake", "pass"],
    ]);
    expect(json.analyzer.ok).toBe(true);
    // By default every host gets its pair, trust and expiry checked (plus config and modes)...
    const ids = [...new Set(json.hosts[0].checks.map((c: Json) => c.id))].sort();
    expect(ids).toEqual(["config", "file-mode", "file-readable", "key-match", "pem-parse", "trust", "validity"]);
    expect(json.hosts[0].checks.every((c: Json) => c.status === "pass")).toBe(true);
    // ...and with --deep, validate's every per-pair check, as an agent host.
    const deep = JSON.parse(skycert(["validate", "--fleet", "pki", "--host", "10.0.0.4", "--deep", "--json"], { cwd: dir }).stdout);
    expect(deep.ok).toBe(true);
    const deepIds = new Set(deep.hosts[0].checks.map((c: Json) => c.id));
    for (const id of ["config", "file-readable", "pem-parse", "key-match", "key-strength", "validity", "serial", "extended-key-usage", "trust", "file-mode"]) expect(deepIds).toContain(id);
  });

  it("catches a host whose certificate has expired (issued by the right CA, in the past, with faketime)", () => {
    const out = fleetCopy("expired");
    const host = join(out, "agents", "node-a");
    const ext = join(dir, "leaf.ext");
    writeFileSync(ext, "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = IP:10.0.1.21\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
    const old = join(dir, "expired.crt");
    ok(
      sh(
        `faketime -f '-400d' openssl x509 -req -in ${join(host, "agent.domain.com.csr")} -CA ${join(out, "ca", "skydive-ca.crt")} -CAkey ${join(out, "ca", "skydive-ca.key")} -CAcreateserial -CAserial ${join(dir, "serial")} -days 30 -extfile ${ext} -out ${old} 2>/dev/null`,
      ),
    );
    replace(join(host, "agent.domain.com.crt"), old);
    const r = validateFleet(out);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("1 of 4 hosts failed (node-a)");
    const bad = r.json.hosts.find((h: Json) => h.host === "node-a");
    expect(bad.ok).toBe(false);
    expect(failedIds(bad)).toContain("validity");
    expect(bad.checks.find((c: Json) => c.id === "validity" && c.status === "fail").message).toMatch(/expired/);
    expect(r.json.hosts.filter((h: Json) => !h.ok).map((h: Json) => h.host)).toEqual(["node-a"]);
  });

  it("catches a host whose certificate comes from a foreign CA", () => {
    const out = fleetCopy("foreign-cert");
    const host = join(out, "agents", "10.0.0.9");
    replace(join(host, "agent.domain.com.crt"), join(dir, "foreign", "agents", "10.0.0.9", "agent.domain.com.crt"));
    replace(join(host, "agent.domain.com.key"), join(dir, "foreign", "agents", "10.0.0.9", "agent.domain.com.key"));
    const r = validateFleet(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("10.0.0.9");
    const bad = r.json.hosts.find((h: Json) => h.host === "10.0.0.9");
    expect(failedIds(bad)).toEqual(["trust"]);
    expect(bad.checks.find((c: Json) => c.id === "trust").message).toMatch(/unknown authority|foreign-ca|was not issued by/);
  });

  it("catches keys swapped between two hosts, and a key left readable by others", () => {
    const out = fleetCopy("swapped");
    const a = join(out, "agents", "10.0.0.9", "agent.domain.com.key");
    const b = join(out, "agents", "node-a", "agent.domain.com.key");
    const keyA = readFileSync(a);
    replace(a, b);
    rmSync(b, { force: true });
    writeFileSync(b, keyA, { mode: 0o644 });
    const r = validateFleet(out);
    expect(r.code).toBe(1);
    const hostA = r.json.hosts.find((h: Json) => h.host === "10.0.0.9");
    const hostB = r.json.hosts.find((h: Json) => h.host === "node-a");
    expect(failedIds(hostA)).toEqual(["key-match"]);
    expect(failedIds(hostB).sort()).toEqual(["file-mode", "key-match"]);
    expect(hostB.checks.find((c: Json) => c.id === "key-match").message).toMatch(/does not match/);
    expect(hostB.checks.find((c: Json) => c.id === "file-mode" && c.status === "fail").remedy).toMatch(/^chmod 400 /);
  });

  it("catches a host that trusts a foreign CA, even when its certificate matches it", () => {
    const out = fleetCopy("foreign-trust");
    const host = join(out, "agents", "node-b.example.com");
    const f = join(dir, "foreign", "agents", "node-b.example.com");
    replace(join(host, "agent.domain.com.crt"), join(f, "agent.domain.com.crt"));
    replace(join(host, "agent.domain.com.key"), join(f, "agent.domain.com.key"));
    const cfg = join(host, "skydive.yml");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace(/ca_cert: .*/, `ca_cert: ${join(dir, "foreign", "ca", "foreign-ca.crt")}`));
    const r = validateFleet(out);
    expect(r.code).toBe(1);
    // The host is consistent on its own...
    expect(r.json.hosts.find((h: Json) => h.host === "node-b.example.com").ok).toBe(true);
    // ...but not with the fleet.
    const fc = r.json.fleetChecks.find((c: Json) => c.id === "fleet-ca");
    expect(fc.status).toBe("fail");
    expect(fc.hosts).toEqual(["node-b.example.com"]);
    expect(r.stderr).toContain("fleet-ca");
  });

  it("catches a certificate and key copied from one host to another: repeated serial and key", () => {
    const out = fleetCopy("copied");
    const from = join(out, "agents", "10.0.0.4");
    const to = join(out, "agents", "10.0.0.9");
    replace(join(to, "agent.domain.com.crt"), join(from, "agent.domain.com.crt"));
    replace(join(to, "agent.domain.com.key"), join(from, "agent.domain.com.key"));
    const r = validateFleet(out);
    expect(r.code).toBe(1);
    const byId = Object.fromEntries(r.json.fleetChecks.map((c: Json) => [c.id, c]));
    expect(byId["fleet-serial-unique"].status).toBe("fail");
    expect(byId["fleet-serial-unique"].hosts.sort()).toEqual(["10.0.0.4", "10.0.0.9"]);
    expect(byId["fleet-key-unique"].status).toBe("fail");
    expect(byId["fleet-key-unique"].hosts.sort()).toEqual(["10.0.0.4", "10.0.0.9"]);
  });

  it("a fleet without a ca/ folder takes the CA every host names; --ca-cert names it explicitly", () => {
    // As a fleet issued with --out elsewhere than the CA (skycert init agent --ca ca --out out).
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER, "--out", "bare"], { cwd: dir }));
    const r = validateFleet(join(dir, "bare"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.fleetChecks[0].message).toContain("named by every host's tls.ca_cert");
    expect(r.json.fleetChecks.find((c: Json) => c.id === "fleet-handshake").status).toBe("skip");
    const wrong = skycert(["validate", "--fleet", "bare", "--ca-cert", join(dir, "foreign", "ca", "foreign-ca.crt"), "--json"], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).fleetChecks[0]).toMatchObject({ id: "fleet-ca", status: "fail" });
  });

  it("usage errors: not a fleet folder, flags that do not apply", () => {
    const a = skycert(["validate", "--fleet", "nowhere"], { cwd: dir });
    expect(a.code).toBe(2);
    expect(a.stderr.trim().split("\n")).toHaveLength(1);
    const b = skycert(["validate", "--fleet", "foreign/ca"], { cwd: dir });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("no agents/ folder");
    const c = skycert(["validate", "--fleet", "pki", "--role", "agent"], { cwd: dir });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("--role does not apply with --fleet");
  });
});
