/**
 * The `config` check and how validate reads a Skydive config as viper does: both
 * schemas, case-insensitive keys, SKYDIVE_* environment variables, relative paths
 * against the config's folder, --role; plus Go's name matching rules.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { type CertInfo, readCertificate } from "../src/core/certinfo.js";
import { goMatches, hostPart, lookup } from "../src/core/checks.js";
import { parsePem } from "../src/core/pem.js";
import { ok, openssl, scratch } from "./helpers/run.js";
import { caDeployment, checks, failedIds, initPair, one, validate } from "./helpers/validate-fixtures.js";

describe("reading the config as Skydive (viper) does", () => {
  it("keys are case-insensitive and relative paths resolve against the config's folder", () => {
    const pair = initPair(scratch());
    mkdirSync(join(pair.dir, "etc"));
    const rel = (p: string) => relative(join(pair.dir, "etc"), p);
    writeFileSync(
      join(pair.dir, "etc", "skydive.yml"),
      `ANALYZER:\n  x509_CERT: ${rel(pair.analyzer.crt)}\n  X509_Key: ${rel(pair.analyzer.key)}\nAgent:\n  X509_cert: ${rel(pair.agent.crt)}\n  x509_key: ${rel(pair.agent.key)}\n`,
    );
    const run = validate(["--config", join(pair.dir, "etc", "skydive.yml")], { cwd: scratch() });
    expect(failedIds(run)).toEqual([]);
    expect(one(run, "file-readable", "agent key").file).toBe(pair.agent.key);
  });

  it("SKYDIVE_* environment variables override the file, and are named in the messages", () => {
    const pair = initPair(scratch());
    writeFileSync(pair.config, `analyzer:\n  X509_cert: ${pair.analyzer.crt}\n  X509_key: ${pair.analyzer.key}\nagent:\n  X509_cert: ${pair.agent.crt}\n  X509_key: /nowhere/agent.key\n`);
    expect(validate([], { cwd: pair.dir }).code).toBe(1);
    const run = validate([], { cwd: pair.dir, env: { SKYDIVE_AGENT_X509_KEY: pair.agent.key, SKYDIVE_ANALYZERS: "localhost:8082 192.168.1.1:8082" } });
    expect(failedIds(run)).toEqual([]);
    expect(checks(run, "config")[0]!.message).toContain("SKYDIVE_AGENT_X509_KEY = agent/agent.domain.com.key");
    expect(run.json.hosts.map((h) => h.name)).toEqual(["localhost", "192.168.1.1"]);
  });

  it("missing settings fail the config check with the command that makes them", () => {
    const pair = initPair(scratch());
    writeFileSync(pair.config, `analyzer:\n  X509_cert: ${pair.analyzer.crt}\n  X509_key: ${pair.analyzer.key}\n`);
    const run = validate([], { cwd: pair.dir });
    const c = one(run, "config", "skydive.yml");
    expect(c.message).toBe("skydive.yml: agent.X509_cert (or --agent-cert), agent.X509_key (or --agent-key) are not set");
    expect(c.remedy).toBe("run skycert init agent, or set them to the files");
    expect(one(run, "handshake", "127.0.0.1").message).toBe("skipped: agent cert is not configured; agent key is not configured");
    expect(failedIds(run)).toEqual(["config"]);
  });

  it("a setting of the wrong type, swapped cert and key settings, and a file that is not there fail the config check", () => {
    const pair = initPair(scratch());
    writeFileSync(
      pair.config,
      `analyzer:\n  X509_cert: ${pair.analyzer.key}\n  X509_key: ${pair.analyzer.crt}\nagent:\n  X509_cert: 42\n  X509_key: ${join(pair.dir, "gone.key")}\nanalyzers: 7\n`,
    );
    const run = validate([], { cwd: pair.dir });
    const messages = checks(run, "config").map((c) => c.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        "skydive.yml: agent.X509_cert is a number, not a file path",
        "skydive.yml: analyzers is a number, not a list of host:port entries",
        "analyzer.X509_cert names analyzer/analyzer.domain.com.key, a private key, where the analyzer cert belongs",
        "analyzer.X509_key names analyzer/analyzer.domain.com.crt, a certificate, where the analyzer key belongs",
        "agent.X509_key names gone.key, which does not exist",
      ]),
    );
    expect(one(run, "pem-parse", "analyzer cert").message).toContain("holds a private key where a certificate should be");
    expect(failedIds(run)).toEqual(expect.arrayContaining(["config", "file-readable", "pem-parse"]));
  });

  it("warns on agent.X509_insecure and on a config that sets both schemas", () => {
    const pair = initPair(scratch());
    const ca = caDeployment(scratch());
    writeFileSync(pair.config, `analyzer:\n  X509_cert: ${pair.analyzer.crt}\n  X509_key: ${pair.analyzer.key}\nagent:\n  X509_cert: ${pair.agent.crt}\n  X509_key: ${pair.agent.key}\n  X509_insecure: true\n`);
    const insecure = validate([], { cwd: pair.dir });
    expect(insecure.code).toBe(0);
    expect(one(insecure, "config", "agent.X509_insecure")).toMatchObject({ status: "warn", remedy: "remove agent.X509_insecure from skydive.yml" });
    writeFileSync(ca.config, `analyzer:\n  X509_cert: ${pair.analyzer.crt}\n  X509_key: ${pair.analyzer.key}\nanalyzers: [10.0.0.4:8082]\ntls:\n  server_cert: server.crt\n  server_key: server.key\n  client_cert: client.crt\n  client_key: client.key\n  ca_cert: ca.crt\n  require_client_cert: "true"\n`);
    const both = validate(["--config", ca.config]);
    expect(both.code).toBe(0);
    expect(both.json.schema).toBe("tls");
    expect(checks(both, "config").find((c) => c.status === "warn")!.message).toContain("sets both legacy analyzer.X509_*/agent.X509_* and modern tls.* keys; validating the tls.* ones");
    expect(one(both, "config", "tls.require_client_cert").status).toBe("pass");
  });
});

describe("the tls.* schema", () => {
  it("warns when tls.require_client_cert is missing: agents may connect unauthenticated", () => {
    const ca = caDeployment(scratch(), { requireClientCert: false });
    const run = validate(["--config", ca.config]);
    expect(run.code).toBe(0);
    const c = one(run, "config", "tls.require_client_cert");
    expect(c.status).toBe("warn");
    expect(c.message).toContain("tls.require_client_cert is not set (default false): the analyzer accepts agents that present no certificate at all");
    expect(c.remedy).toBe(`set tls.require_client_cert: true in ${ca.config}`);
  });

  it("fails without tls.ca_cert, and --ca-cert supplies it", () => {
    const ca = caDeployment(scratch());
    writeFileSync(ca.config, "analyzers: [10.0.0.4:8082]\ntls:\n  server_cert: server.crt\n  server_key: server.key\n  client_cert: client.crt\n  client_key: client.key\n  require_client_cert: true\n");
    const run = validate(["--config", ca.config]);
    expect(one(run, "config", ".yml").message).toContain("tls.ca_cert (or --ca-cert) is not set");
    expect(one(run, "trust", "agent cert")).toMatchObject({ status: "skip" });
    const fixed = validate(["--config", ca.config, "--ca-cert", ca.ca]);
    expect(failedIds(fixed)).toEqual([]);
  });

  it("--role analyzer needs no agent files; --role agent needs no analyzer files", () => {
    const ca = caDeployment(scratch());
    renameSync(ca.client.key, join(ca.dir, "moved.key"));
    renameSync(ca.client.crt, join(ca.dir, "moved.crt"));
    const analyzer = validate(["--config", ca.config, "--role", "analyzer"]);
    expect(analyzer.code).toBe(0);
    expect(one(analyzer, "file-readable", "agent cert").status).toBe("skip");
    expect(one(analyzer, "handshake", "10.0.0.4").message).toMatch(/^skipped: /);
    renameSync(join(ca.dir, "moved.key"), ca.client.key);
    renameSync(join(ca.dir, "moved.crt"), ca.client.crt);
    renameSync(ca.server.key, join(ca.dir, "moved.key"));
    renameSync(ca.server.crt, join(ca.dir, "moved.crt"));
    const agent = validate(["--config", ca.config, "--role", "agent"]);
    expect(agent.code).toBe(0);
    expect(checks(agent, "file-readable").map((c) => [c.subject, c.status])).toEqual([
      ["analyzer cert", "skip"],
      ["agent cert", "pass"],
      ["agent key", "pass"],
      ["CA cert", "pass"],
    ]);
    expect(checks(agent, "config").map((c) => c.subject)).not.toContain("tls.require_client_cert");
    // Without both sides the full check fails.
    expect(validate(["--config", ca.config]).code).toBe(1);
  });

  it("a legacy agent host without analyzer.X509_key warns: old agents switch TLS on only with both keys", () => {
    const pair = initPair(scratch());
    writeFileSync(pair.config, `analyzer:\n  X509_cert: ${pair.analyzer.crt}\nagent:\n  X509_cert: ${pair.agent.crt}\n  X509_key: ${pair.agent.key}\n`);
    const run = validate(["--role", "agent"], { cwd: pair.dir });
    expect(run.code).toBe(0);
    expect(checks(run, "config").find((c) => c.status === "warn")!.message).toContain("analyzer.X509_key is not set; older Skydive agents switch TLS on only when");
  });
});

describe("Go's name matching, as san-coverage applies it", () => {
  const dir = scratch();
  const cert = (sans: string): CertInfo => {
    const out = join(dir, `${sans.replace(/[^a-z0-9]/gi, "_")}.crt`);
    ok(openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${out}.key`, "-subj", "/CN=cn.example.com", "-addext", `subjectAltName=${sans}`, "-out", out]));
    const pem = ok(openssl(["x509", "-in", out])).stdout;
    return readCertificate(parsePem(pem).blocks[0]!.der);
  };

  it("wildcards cover exactly one leftmost label; case and a trailing dot do not matter; never the CN", () => {
    const c = cert("DNS:*.skydive.example,DNS:Analyzer.Example.com,IP:10.0.0.4,IP:fd00::4");
    expect(goMatches(c, "a1.skydive.example")).toBe(true);
    expect(goMatches(c, "A1.SKYDIVE.example.")).toBe(true);
    expect(goMatches(c, "skydive.example")).toBe(false);
    expect(goMatches(c, "a.b.skydive.example")).toBe(false);
    expect(goMatches(c, "analyzer.example.com")).toBe(true);
    expect(goMatches(c, "cn.example.com")).toBe(false);
    expect(goMatches(c, "10.0.0.4")).toBe(true);
    expect(goMatches(c, "::ffff:10.0.0.4")).toBe(true);
    expect(goMatches(c, "[fd00:0::4]")).toBe(true);
    expect(goMatches(c, "10.0.0.5")).toBe(false);
  });

  it("host parts of analyzers: entries", () => {
    expect(["10.0.0.4:8082", "[fd00::4]:8082", "fd00::4", "analyzer:8082", "analyzer"].map(hostPart)).toEqual(["10.0.0.4", "fd00::4", "fd00::4", "analyzer", "analyzer"]);
    expect(lookup({ Analyzer: { x509_CERT: "a" } }, "analyzer.X509_cert")).toBe("a");
    expect(lookup({ analyzer: "scalar" }, "analyzer.X509_cert")).toBeUndefined();
  });
});
