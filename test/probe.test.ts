/**
 * `skycert probe`: live probes over loopback, against real listeners only:
 * the Skydive emulator's API server (Go, Skydive's TLS code per release
 * family) serving the configs skycert wrote, `openssl s_server`, a plaintext
 * Skydive (0.21 with a tls.* key missing), a socket that never answers, and a
 * closed port. Every verdict is proved: good, expired, wrong name (Go's error
 * verbatim, as the emulator's own Go dial reports it), client certificate
 * required or not, plaintext, refused, timeout, and served != on disk.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, type Settings, dialAnalyzer, flattenSkydiveYaml, serveApi } from "./helpers/emulator.js";
import { BIN, ok, oneLine, openssl, scratch, sh, skycert, tool } from "./helpers/run.js";
import { recordStreams } from "./helpers/streams.js";

const dir = scratch("skycert-probe-");
const pki = join(dir, "pki");
const an1 = { crt: join(pki, "analyzers", "an1", "analyzer.crt"), yml: join(pki, "analyzers", "an1", "skydive.yml") };
const ag1 = { crt: join(pki, "agents", "ag1", "agent.crt"), yml: join(pki, "agents", "ag1", "skydive.yml") };
const caCrt = join(pki, "ca", "skydive-ca.crt");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const settingsOf = (yml: string): Settings => flattenSkydiveYaml(readFileSync(yml, "utf8"));
const without = (s: Settings, ...keys: string[]): Settings => Object.fromEntries(Object.entries(s).filter(([k]) => !keys.includes(k)));
const probe = (args: string[], env?: NodeJS.ProcessEnv) => skycert(["probe", ...args], { cwd: dir, ...(env ? { env } : {}) });
const probeJson = (args: string[], code: number): Json => {
  const r = probe([...args, "--json"]);
  expect(r.code, r.stderr).toBe(code);
  return JSON.parse(r.stdout);
};
const fingerprint = (crt: string) => ok(openssl(["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"])).stdout.trim().replace(/^sha256 Fingerprint=/i, "");
const portOf = (addr: string) => addr.slice(addr.lastIndexOf(":") + 1);

const servers: ApiServer[] = [];
async function serve(o: Parameters<typeof serveApi>[0]): Promise<ApiServer> {
  const api = await serveApi({ listen: "127.0.0.1:0", ...o });
  expect(api.started, api.startError).toBe(true);
  servers.push(api);
  return api;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** The emulator's connection log, once `n` connections are in it (its lines arrive while the test's event loop runs). */
async function logged(api: ApiServer, n: number) {
  for (let i = 0; i < 100 && api.connections().length < n; i++) await new Promise((r) => setTimeout(r, 20));
  return api.connections();
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(() => {
  // The brief's fleet: an ECDSA CA, an all-in-one analyzer host and an agent host, for Skydive 0.27.
  ok(skycert(["init", "ca", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
  ok(skycert(["init", "analyzer", "agent", "--ca", "pki", "--out", "pki", "--hosts", "an1=127.0.0.1", "--key-type", "ecdsa"], { cwd: dir }));
  ok(skycert(["init", "agent", "--ca", "pki", "--out", "pki", "--hosts", "ag1=127.0.0.2", "--key-type", "ecdsa"], { cwd: dir }));
});

describe("good: the analyzer host's config served by Skydive 0.27", () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await serve({ release: "0.27", role: "analyzer", settings: settingsOf(an1.yml) });
    expect(api).toMatchObject({ tls: true, requireClientCert: true });
  });

  it("--fleet: trusted by Go for the address, client certificate required, the certificate on disk; dialed with an agent's pair", async () => {
    const before = api.connections().length;
    const j = probeJson([api.addr, "--fleet", "pki"], 0);
    expect(j).toMatchObject({ ok: true, counts: { good: 1, bad: 0, unknown: 0 } });
    const p = j.probes[0];
    expect(p).toMatchObject({ address: api.addr, verdict: "good", release: "0.27", fleetHost: { name: "an1", roles: ["analyzer", "agent"] }, verifiedName: "127.0.0.1" });
    expect(p.chain.map((c: Json) => [c.subject, c.issuer])).toEqual([["CN=an1", "CN=skydive-ca"]]);
    expect(p.go).toEqual({ ok: true, chains: [["CN=an1", "CN=skydive-ca"]] });
    expect(p.daysLeft).toBe(364);
    expect(p.clientCert).toMatchObject({ path: ag1.crt, accepted: true, required: true, expected: true });
    expect(p.disk).toEqual({ path: an1.crt, fingerprint: fingerprint(an1.crt), from: "the fleet record's host an1", same: true });
    expect(p.problems).toEqual([]);
    // What the server saw: ag1's certificate, then a client without one, refused.
    const seen = (await logged(api, before + 2)).slice(before);
    expect(seen).toContainEqual({ tls: true, peer: "CN=ag1" });
    expect(seen.some((c) => c.peer === null && /didn't provide a certificate/.test(c.error ?? ""))).toBe(true);
  });

  it("--config: the host's own client pair dials, its tls.ca_cert judges, its tls.server_cert is compared", () => {
    const j = probeJson([api.addr, "--config", an1.yml], 0);
    const p = j.probes[0];
    expect(p).toMatchObject({ verdict: "good", trust: { path: caCrt }, clientCert: { path: an1.crt, accepted: true, required: true }, disk: { path: an1.crt, same: true } });
    expect(p.clientCert.from).toMatch(/^tls\.client_cert in /);
    const human = ok(probe([api.addr, "--config", an1.yml]));
    expect(human.stdout).toMatch(new RegExp(`${api.addr.replace(/\./g, "\\.")}\\s+-\\s+good\\s+CN=an1 \\(by CN=skydive-ca\\) trusted for 127\\.0\\.0\\.1`));
    expect(human.stdout).toContain("requires a client certificate");
    expect(human.stdout).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it("--cert/--key/--ca: a person's client certificate (clientAuth only) is accepted too", () => {
    ok(skycert(["init", "client", "alice", "--ca", "pki", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
    const alice = join(pki, "clients", "alice");
    const p = probeJson([api.addr, "--ca", caCrt, "--cert", join(alice, "client.crt"), "--key", join(alice, "client.key")], 0).probes[0];
    expect(p).toMatchObject({ verdict: "good", clientCert: { accepted: true, required: true } });
    expect(p.disk).toBeUndefined();
  });

  it("without any client pair: the refusal after the TLS 1.3 handshake is read as 'required'; without a trust file, not judged (exit 1)", () => {
    const j = probeJson([api.addr], 1);
    const p = j.probes[0];
    expect(p.verdict).toBe("unknown");
    expect(p.connection.tlsVersion).toBe("TLSv1.3");
    expect(p.clientCert.required).toBe(true);
    expect(p.problems.map((x: Json) => x.id).sort()).toEqual(["client-cert-required", "unjudged"]);
  });

  it("wrong name: Go's HostnameError verbatim, the one the emulator's Go dial gets; the remedy renews the certificate on disk", () => {
    const port = portOf(api.addr);
    const j = probeJson([`localhost:${port}`, "--config", an1.yml], 1);
    const p = j.probes[0];
    expect(p).toMatchObject({ verdict: "bad", verifiedName: "localhost", go: { ok: false, errorType: "HostnameError" } });
    expect(p.problems[0].id).toBe("wrong-name");
    expect(p.go.error).toBe("x509: certificate is valid for an1, not localhost");
    // Skydive 0.27's own dial of that name, through the emulator, fails with the same text.
    const d = dialAnalyzer({ release: "0.27", role: "agent", settings: { ...settingsOf(ag1.yml), analyzers: [`localhost:${port}`] }, connect: api.addr, analyzer: `localhost:${port}` });
    expect(d.ok).toBe(false);
    expect(d.error).toContain(p.go.error);
    const r = probe([`localhost:${port}`, "--config", an1.yml]);
    expect(oneLine(r, 1)).toContain("x509: certificate is valid for an1, not localhost");
    expect(r.stdout).toMatch(/To fix \(wrong-name\): \S*skycert renew pki\/analyzers\/an1\/analyzer\.crt --san localhost/);
  });

  it("--name: dial the IP, verify the name agents use (and send it as SNI)", () => {
    expect(probeJson([api.addr, "--fleet", "pki", "--name", "an1"], 0).probes[0]).toMatchObject({ verdict: "good", name: "an1", verifiedName: "an1", fleetHost: { name: "an1" } });
    const p = probeJson([api.addr, "--fleet", "pki", "--name", "ag1"], 1).probes[0];
    expect(p).toMatchObject({ verdict: "bad", fleetHost: { name: "ag1" } });
    expect(p.problems.map((x: Json) => x.id)).toEqual(expect.arrayContaining(["wrong-name", "not-on-disk"]));
  });

  it("up to Skydive 0.26 the IP a name resolves to is verified, and probe says so", async () => {
    const { address } = await lookup("localhost");
    const p = probeJson([`localhost:${portOf(api.addr)}`, "--config", an1.yml, "--skydive", "0.21"], address === "127.0.0.1" ? 0 : 1).probes[0];
    expect(p).toMatchObject({ release: "0.21", name: "localhost", verifiedName: address, resolved: { name: "localhost", ip: address } });
    expect(p.verdict).toBe(address === "127.0.0.1" ? "good" : "bad");
    expect(ok(probe([`localhost:${portOf(api.addr)}`, "--config", an1.yml, "--skydive", "0.21"])).stdout).toContain(`Skydive 0.21 verifies the IP localhost resolves to (${address})`);
  });
});

describe("client certificates required or not", () => {
  it("0.27 without tls.require_client_cert: anonymous clients accepted; the fleet's config asks for it, so probe warns (still good)", async () => {
    const api = await serve({ release: "0.27", role: "analyzer", settings: without(settingsOf(an1.yml), "tls.require_client_cert") });
    expect(api.requireClientCert).toBe(false);
    const p = probeJson([api.addr, "--fleet", "pki"], 0).probes[0];
    expect(p).toMatchObject({ verdict: "good", clientCert: { accepted: true, required: false, expected: true } });
    expect(p.clientCert.anonymous).toMatch(/^answered "HTTP\/1\.1 200 OK"/);
    expect(p.problems.map((x: Json) => [x.id, x.severity])).toEqual([["client-cert-not-required", "warn"]]);
  });

  it("0.21 ignores tls.require_client_cert: not required, and not expected", async () => {
    const api = await serve({ release: "0.21", role: "analyzer", settings: settingsOf(an1.yml) });
    expect(api.requireClientCert).toBe(false);
    const p = probeJson([api.addr, "--fleet", "pki", "--skydive", "0.21"], 0).probes[0];
    expect(p).toMatchObject({ verdict: "good", release: "0.21", clientCert: { accepted: true, required: false } });
    expect(p.clientCert.expected).toBeUndefined();
    expect(p.problems).toEqual([]);
  });

  it("legacy (the seed's self-signed pairs): the agent pair dials, analyzer.X509_cert judges; no client certificate required", async () => {
    ok(skycert(["init", "analyzer", "agent", "--out", "seed", "--san", "127.0.0.1", "--key-type", "ecdsa"], { cwd: dir }));
    const yml = join(dir, "seed", "skydive.yml");
    const api = await serve({ release: "legacy", role: "analyzer", settings: settingsOf(yml) });
    const p = probeJson([api.addr, "--config", yml], 0).probes[0];
    expect(p).toMatchObject({ verdict: "good", release: "legacy", clientCert: { accepted: true, required: false }, disk: { same: true } });
    expect(p.trust.from).toMatch(/^analyzer\.X509_cert in /);
    expect(p.clientCert.from).toMatch(/^agent\.X509_cert in /);
    expect(await logged(api, 2)).toContainEqual({ tls: true, peer: "CN=skydive-agent" });
  });
});

describe("bad verdicts", () => {
  it("expired: a fleet made 400 days ago (faketime), served as Skydive loads it; Go says so, renew is the remedy", async () => {
    const past = (args: string[]) => ok(tool("faketime", ["-f", "-400d", process.execPath, BIN, ...args], { cwd: dir }));
    past(["init", "ca", "--out", "old", "--key-type", "ecdsa"]);
    past(["init", "analyzer", "--ca", "old", "--out", "old", "--hosts", "ex=127.0.0.1", "--key-type", "ecdsa"]);
    const crt = join(dir, "old", "analyzers", "ex", "analyzer.crt");
    expect(openssl(["x509", "-in", crt, "-noout", "-checkend", "0"]).code).toBe(1);
    const api = await serve({ release: "0.27", role: "analyzer", settings: settingsOf(join(dir, "old", "analyzers", "ex", "skydive.yml")) });
    const r = probe([api.addr, "--fleet", "old"]);
    expect(oneLine(r, 1)).toContain("x509: certificate has expired or is not yet valid");
    expect(r.stdout).toMatch(/To fix \(expired\): \S*skycert renew old\/analyzers\/ex\/analyzer\.crt\n/);
    const p = probeJson([api.addr, "--fleet", "old"], 1).probes[0];
    expect(p).toMatchObject({ verdict: "bad", go: { ok: false, errorType: "CertificateInvalidError", reason: "Expired" }, disk: { same: true } });
    expect(p.problems[0].id).toBe("expired");
    expect(p.daysLeft).toBeLessThan(-30);
    // The remedy, pasted as printed; Skydive restarted with the renewed file: good.
    const remedy = /To fix \(expired\): (.+)\n/.exec(r.stdout)![1]!;
    ok(sh(remedy, { cwd: dir }), remedy);
    const again = await serve({ release: "0.27", role: "analyzer", settings: settingsOf(join(dir, "old", "analyzers", "ex", "skydive.yml")) });
    expect(probeJson([again.addr, "--fleet", "old"], 0).probes[0]).toMatchObject({ verdict: "good", disk: { same: true } });
  });

  it("plaintext: a Skydive 0.21 analyzer without tls.ca_cert silently serves plain HTTP", async () => {
    const api = await serve({ release: "0.21", role: "analyzer", settings: without(settingsOf(an1.yml), "tls.ca_cert") });
    expect(api.tls).toBe(false);
    const r = probe([api.addr, "--fleet", "pki", "--skydive", "0.21", "--json"]);
    expect(r.code).toBe(1);
    const p = JSON.parse(r.stdout).probes[0];
    expect(p).toMatchObject({ verdict: "bad", connection: { ok: false, error: { kind: "plaintext" } } });
    expect(p.problems[0]).toMatchObject({ id: "plaintext", message: 'answers without TLS: "HTTP/1.1 400 Bad Request"' });
    expect(p.problems[0].remedy).toMatch(/skycert validate --fleet pki$/);
    expect(await logged(api, 1)).toContainEqual({ tls: false, peer: null, error: "malformed HTTP request: a TLS handshake sent to a plaintext server" });
  });

  it("refused: a closed port", async () => {
    const port = await closedPort();
    const r = probe([`127.0.0.1:${port}`, "--fleet", "pki"]);
    expect(oneLine(r, 1)).toContain(`connection refused: nothing listens on 127.0.0.1:${port}`);
    const p = probeJson([`127.0.0.1:${port}`, "--fleet", "pki"], 1).probes[0];
    expect(p).toMatchObject({ verdict: "bad", connection: { ok: false, error: { kind: "refused", code: "ECONNREFUSED" } } });
    expect(p.chain).toEqual([]);
  });

  it("timeout: a socket that accepts and never answers, with a short --timeout", async () => {
    // The kernel completes the TCP handshake; nothing ever reads or writes.
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const addr = `127.0.0.1:${(silent.address() as { port: number }).port}`;
      const started = Date.now();
      const p = probeJson([addr, "--ca", caCrt, "--timeout", "0.5"], 1).probes[0];
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(p).toMatchObject({ verdict: "bad", connection: { error: { kind: "timeout", stage: "handshake" } } });
      expect(p.problems[0].message).toBe("timeout: accepted the connection but sent no TLS answer within 0.5 s");
    } finally {
      silent.close();
    }
  });

  it("served != on disk: the certificate re-issued on disk while Skydive still serves the old one", async () => {
    ok(skycert(["init", "analyzer", "--ca", "pki", "--out", "pki", "--hosts", "an2=127.0.0.3", "--key-type", "ecdsa"], { cwd: dir }));
    const crt = join(pki, "analyzers", "an2", "analyzer.crt");
    const api = await serve({ release: "0.27", role: "analyzer", settings: settingsOf(join(pki, "analyzers", "an2", "skydive.yml")), listen: "127.0.0.3:0" });
    const served = fingerprint(crt);
    expect(probeJson([api.addr, "--fleet", "pki"], 0).probes[0]).toMatchObject({ verdict: "good", fleetHost: { name: "an2" }, disk: { same: true } });
    ok(skycert(["init", "analyzer", "--ca", "pki", "--out", "pki", "--hosts", "an2=127.0.0.3", "--key-type", "ecdsa", "--force"], { cwd: dir }));
    expect(fingerprint(crt)).not.toBe(served);
    const p = probeJson([api.addr, "--fleet", "pki"], 1).probes[0];
    expect(p).toMatchObject({ verdict: "bad", go: { ok: true }, chain: [{ fingerprint: served }], disk: { path: crt, fingerprint: fingerprint(crt), same: false } });
    expect(p.problems.map((x: Json) => x.id)).toEqual(["not-on-disk"]);
    expect(p.problems[0].hint).toMatch(/install pki\/analyzers\/an2\/analyzer\.crt on 127\.0\.0\.3 and restart Skydive/);
  });

  it("untrusted: openssl s_server with a certificate another CA signed (Go's UnknownAuthorityError)", async () => {
    const other = join(dir, "other");
    ok(tool("mkdir", ["-p", other]));
    ok(openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(other, "o.key"), "-out", join(other, "o.crt"), "-subj", "/CN=other", "-days", "5", "-addext", "subjectAltName=IP:127.0.0.1"]));
    const port = await closedPort();
    const child: ChildProcess = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-www", "-cert", join(other, "o.crt"), "-key", join(other, "o.key")], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    try {
      for (let i = 0; i < 100 && !out.includes("ACCEPT"); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain("ACCEPT");
      const p = probeJson([`127.0.0.1:${port}`, "--ca", caCrt], 1).probes[0];
      expect(p).toMatchObject({ verdict: "bad", chain: [{ subject: "CN=other" }], go: { ok: false, errorType: "UnknownAuthorityError" }, clientCert: { required: false } });
      expect(p.problems.map((x: Json) => x.id)).toEqual(["untrusted"]);
      expect(p.problems[0].hint).toContain("--ca");
      expect(p.go.error).toMatch(/^x509: certificate signed by unknown authority/);
    } finally {
      child.kill();
      await new Promise((r) => child.once("close", r));
      recordStreams(["openssl", "s_server", "-accept", `127.0.0.1:${port}`, "-www"], out, err);
    }
  });
});

describe("a fleet made with --deploy-dir", () => {
  it("its configs name the paths on the hosts; probe --fleet dials with the host's pair from the fleet folder and compares what is served with it", async () => {
    ok(skycert(["init", "ca", "--out", "dep", "--key-type", "ecdsa"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "agent", "--ca", "dep", "--out", "dep", "--hosts", "dd=127.0.0.1", "--deploy-dir", "/etc/skydive/tls", "--key-type", "ecdsa"], { cwd: dir }));
    const host = join(dir, "dep", "analyzers", "dd");
    const settings = settingsOf(join(host, "skydive.yml"));
    expect(settings["tls.server_cert"]).toBe("/etc/skydive/tls/analyzer.crt");
    // Installed as the playbook installs it: each file of the host's folder, and the CA, under the deploy dir.
    const installed = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, typeof v === "string" && v.startsWith("/etc/skydive/tls/") ? (v.endsWith("skydive-ca.crt") ? join(dir, "dep", "ca", "skydive-ca.crt") : join(host, v.slice("/etc/skydive/tls/".length))) : v]));
    const api = await serve({ release: "0.27", role: "analyzer", settings: installed as Settings });
    const p = probeJson([api.addr, "--fleet", "dep"], 0).probes[0];
    expect(p).toMatchObject({ verdict: "good", fleetHost: { name: "dd" }, go: { ok: true }, clientCert: { path: join(host, "analyzer.crt"), accepted: true, required: true } });
    expect(p.disk).toMatchObject({ path: join(host, "analyzer.crt"), fingerprint: fingerprint(join(host, "analyzer.crt")), same: true });
  });
});

describe("many addresses, --fleet alone, usage", () => {
  it("several addresses at once (bounded concurrency), results in the order given", async () => {
    const api = await serve({ release: "0.27", role: "analyzer", settings: settingsOf(an1.yml) });
    const closed = await closedPort();
    const j = probeJson([`127.0.0.1:${closed}`, api.addr, `127.0.0.1:${closed}`, "--fleet", "pki", "--concurrency", "2"], 1);
    expect(j.probes.map((p: Json) => p.verdict)).toEqual(["bad", "good", "bad"]);
    expect(j.counts).toEqual({ good: 1, bad: 2, unknown: 0 });
  });

  it("--fleet alone: every host, analyzers at :8082, agents at :8081 (whatever answers there)", () => {
    const r = probe(["--fleet", "pki", "--timeout", "1", "--json"]);
    expect([0, 1]).toContain(r.code);
    const j = JSON.parse(r.stdout);
    // an2 joined the fleet in "served != on disk" above.
    expect(j.probes.map((p: Json) => [p.address, p.fleetHost.name, p.api])).toEqual([
      ["127.0.0.1:8082", "an1", "analyzer"],
      ["127.0.0.1:8081", "an1", "agent"],
      ["127.0.0.2:8081", "ag1", "agent"],
      ["127.0.0.3:8082", "an2", "analyzer"],
    ]);
  });

  it("usage errors exit 2 with one line", () => {
    expect(oneLine(probe([]), 2)).toContain("nothing to probe");
    expect(oneLine(probe(["127.0.0.1:99999"]), 2)).toContain("the port must be 1 to 65535");
    expect(oneLine(probe(["127.0.0.1", "--cert", an1.crt]), 2)).toContain("--cert needs --key");
    expect(oneLine(probe(["--fleet", "nowhere"]), 2)).toContain("no fleet record");
    expect(oneLine(probe(["127.0.0.1", "--fleet", "pki", "--config", an1.yml]), 2)).toContain("--fleet and --config");
    expect(oneLine(probe(["127.0.0.1", "--timeout", "0"]), 2)).toContain("timeout");
    expect(oneLine(probe(["127.0.0.1", "--config", join(dir, "missing.yml")]), 2)).toContain("missing.yml: no such file");
  });

  it("--help: examples and exit codes", () => {
    const h = ok(skycert(["probe", "--help"])).stdout;
    expect(h).toContain("Examples:");
    expect(h).toContain("skycert probe --fleet pki");
    expect(h).toContain("Exit codes:");
    expect(h).toMatch(/1\s+a probe is bad/);
  });
});
