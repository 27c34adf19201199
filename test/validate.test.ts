/**
 * skycert validate on good deployments: what init makes, what the seed's recipe
 * makes, and a CA-signed tls.* deployment all pass every check, the real
 * handshake included; and the output contract (--json, --help, exit codes).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goHandshake } from "./helpers/go-peer.js";
import { BIN, ok, scratch, sh, skycert, tool } from "./helpers/run.js";
import { caDeployment, checks, failedIds, initPair, recipePair, validate } from "./helpers/validate-fixtures.js";

const recipePairWithBits = (dir: string) => recipePair(dir, { bits: 1024 });

const ALL_IDS = [
  "config",
  "file-readable",
  "pem-parse",
  "key-match",
  "key-strength",
  "signature-algorithm",
  "validity",
  "serial",
  "basic-constraints",
  "key-usage",
  "extended-key-usage",
  "san-present",
  "san-coverage",
  "trust",
  "file-mode",
  "handshake",
];

describe("validate passes good deployments", () => {
  it("in the folder where init analyzer and init agent just ran: exit 0, every check id shown and passing", () => {
    const dir = scratch();
    ok(skycert(["init", "analyzer"], { cwd: dir }));
    ok(skycert(["init", "agent", "--san", "192.168.1.1"], { cwd: dir }));

    const human = skycert(["validate"], { cwd: dir });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toBe("");
    for (const id of ALL_IDS) expect(human.stdout).toMatch(new RegExp(`^  PASS\\s+${id}\\s`, "m"));
    expect(human.stdout).not.toMatch(/^  (FAIL|WARN|skip)\s/m);
    expect(human.stdout).toMatch(/^OK: \d+ passed, 0 warnings, 0 failed, 0 skipped\. Skydive will connect\.$/m);
    expect(human.stdout).not.toMatch(/\x1b\[/); // NO_COLOR is set by the helper

    const run = validate([], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.json.ok).toBe(true);
    expect([...new Set(run.json.checks.map((c) => c.id))].sort()).toEqual([...ALL_IDS].sort());
    expect(run.json.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(checks(run, "handshake")[0]!.message).toMatch(/TLSv1\.[23]/);
    // No analyzers: entries: the default analyzer address is what is checked, and said so.
    expect(checks(run, "san-coverage")[0]).toMatchObject({ host: "127.0.0.1", status: "pass" });
  });

  it("the seed's OpenSSL recipe passes with exit 0, handshake included, and Go's TLS agrees", () => {
    const pair = recipePair(scratch());
    const run = validate(["--host", "192.168.1.1", "--host", "analyzer.domain.com"], { cwd: pair.dir });
    expect(failedIds(run)).toEqual([]);
    expect(run.json.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(checks(run, "handshake").map((c) => c.host)).toEqual(["192.168.1.1", "analyzer.domain.com"]);
    expect(checks(run, "serial").every((c) => /20 octets|1\d octets/.test(c.message))).toBe(true);
    const go = goHandshake({
      serverCert: pair.analyzer.crt,
      serverKey: pair.analyzer.key,
      clientCa: pair.agent.crt,
      clientCert: pair.agent.crt,
      clientKey: pair.agent.key,
      rootCa: pair.analyzer.crt,
      dial: "192.168.1.1",
    });
    expect(go.ok, go.error).toBe(true);
  });

  it("a CA-signed tls.* deployment passes, with relative paths resolved against the config's folder", () => {
    const ca = caDeployment(join(scratch(), "etc"));
    const elsewhere = scratch();
    const run = validate(["--config", ca.config], { cwd: elsewhere });
    expect(failedIds(run)).toEqual([]);
    expect(run.json.schema).toBe("tls");
    expect(run.json.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(checks(run, "trust").map((c) => c.message)).toEqual([
      expect.stringMatching(/server\.crt verifies against the agents' trust pool \(tls\.ca_cert = .*ca\.crt\) for serverAuth: skydive-server <- skydive-ca$/),
      expect.stringMatching(/client\.crt verifies against the analyzer's trust pool .* for clientAuth: skydive-client <- skydive-ca$/),
    ]);
    expect(checks(run, "san-coverage")).toEqual([expect.objectContaining({ status: "pass", host: "10.0.0.4" })]);
    // The CA is a trust anchor: its constraints are checked as such.
    expect(checks(run, "basic-constraints", "CA cert")[0]!.message).toMatch(/CA:TRUE, pathlen 0 \(used as a trust anchor by tls\.ca_cert\)/);
  });

  it("explicit file flags validate files that no config names yet", () => {
    const pair = initPair(scratch());
    const empty = scratch();
    const run = validate(
      ["--analyzer-cert", pair.analyzer.crt, "--analyzer-key", pair.analyzer.key, "--agent-cert", pair.agent.crt, "--agent-key", pair.agent.key, "--host", "localhost"],
      { cwd: empty },
    );
    expect(failedIds(run)).toEqual([]);
    expect(checks(run, "config")[0]).toMatchObject({ status: "pass", subject: "flags" });
    expect(checks(run, "config")[0]!.message).toContain("--analyzer-cert = ");
    expect(checks(run, "handshake")[0]).toMatchObject({ status: "pass", host: "localhost" });
  });
});

describe("validate's output contract", () => {
  it("--json prints exactly the result object; a failure adds one line on stderr and exits 1", () => {
    const pair = initPair(scratch());
    const r = skycert(["validate", "--json", "--host", "10.9.9.9"], { cwd: pair.dir });
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json).slice(0, 2)).toEqual(["ok", "checks"]);
    expect(json.ok).toBe(false);
    for (const c of json.checks) {
      expect(ALL_IDS).toContain(c.id);
      expect(["pass", "warn", "fail", "skip"]).toContain(c.status);
      expect(typeof c.subject).toBe("string");
      expect(typeof c.message).toBe("string");
      if (c.status === "fail" || c.status === "warn") expect(c.remedy).toMatch(/\S/);
    }
    const first = json.checks.find((c: { status: string }) => c.status === "fail");
    expect(first.message).toContain("10.9.9.9");
    expect(r.stderr).toBe(`skycert: error: 2 checks failed (san-coverage, handshake); first: ${first.message}\n`);
  });

  it("a large --json result reaches a slow pipe whole", () => {
    const dir = scratch();
    ok(sh(`for i in $(seq 1 120); do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=ca-$i -days 30 2>/dev/null; done > many.crt`, { cwd: dir }));
    ok(sh(`'${process.execPath}' '${BIN}' validate --json --analyzer-cert many.crt --agent-cert many.crt > direct.json || true
'${process.execPath}' '${BIN}' validate --json --analyzer-cert many.crt --agent-cert many.crt | (sleep 1; cat) > piped.json || true`, { cwd: dir }));
    const direct = readFileSync(join(dir, "direct.json"), "utf8");
    expect(direct.length).toBeGreaterThan(200_000);
    expect(readFileSync(join(dir, "piped.json"), "utf8")).toBe(direct);
    expect(JSON.parse(direct).checks.length).toBeGreaterThan(1000);
  });

  it("the human view lists each remedy under 'To fix:' and ends with the verdict", () => {
    const pair = initPair(scratch());
    const r = skycert(["validate", "--host", "10.0.0.4"], { cwd: pair.dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^  FAIL\s+san-coverage\s+analyzer cert for 10\.0\.0\.4\s+analyzer\/analyzer\.domain\.com\.crt does not cover 10\.0\.0\.4 \(--host\)/m);
    expect(r.stdout).toContain("To fix:\n  FAIL san-coverage (analyzer cert for 10.0.0.4): skycert init analyzer --san 10.0.0.4 --force\n");
    expect(r.stdout).toMatch(/NOT OK: \d+ passed, 0 warnings, 2 failed, 0 skipped\. Fix the failures before rollout\.\n$/);
  });

  it("one init command per certificate fixes all of its problems, every missing SAN included", () => {
    const dir = scratch();
    recipePairWithBits(dir);
    const r = skycert(["validate", "--host", "10.0.0.4", "--host", "10.0.0.5"], { cwd: dir });
    expect(r.code).toBe(1);
    const fixes = r.stdout.slice(r.stdout.indexOf("To fix:\n")).split("\n").slice(1).filter((l) => l.startsWith("  "));
    expect(fixes).toEqual([
      "  FAIL key-strength, san-coverage (analyzer cert, analyzer cert for 10.0.0.4, analyzer cert for 10.0.0.5): skycert init analyzer --san 10.0.0.4,10.0.0.5 --force",
      "  FAIL key-strength (agent cert): skycert init agent --force",
      "  FAIL handshake (agent -> analyzer 10.0.0.4, agent -> analyzer 10.0.0.5): fix the other failed checks; the handshake shows their effect with a real TLS stack",
    ]);
  });

  it("colours follow FORCE_COLOR and NO_COLOR", () => {
    const pair = initPair(scratch());
    const coloured = skycert(["validate"], { cwd: pair.dir, env: { NO_COLOR: "", FORCE_COLOR: "1" } });
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toMatch(/\x1b\[32mPASS/);
    const plain = skycert(["validate"], { cwd: pair.dir, env: { NO_COLOR: "1", FORCE_COLOR: "1" } });
    expect(plain.stdout).not.toMatch(/\x1b\[/);
  });

  it("--help shows the flags, examples and exit codes", () => {
    const r = skycert(["validate", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--config", "--analyzer-cert", "--analyzer-key", "--agent-cert", "--agent-key", "--ca-cert", "--host", "--role", "--warn-days", "--json", "--debug"]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain("Examples:\n  skycert validate");
    expect(r.stdout).toMatch(/Exit codes:\n  0 .*\n  1 .*check failed\n  2 .*usage/);
    expect(skycert(["--help"]).stdout).toMatch(/validate \[options\]\s+check that Skydive's analyzer and agents will\s+connect/);
  });

  it("start-up stays light: @peculiar/x509 is evaluated only when a certificate is read completely", () => {
    // reflect-metadata, which @peculiar/x509 needs first, defines Reflect.defineMetadata when it runs.
    const dir = scratch("skycert-light-");
    const probe = join(dir, "probe.cjs");
    writeFileSync(probe, 'process.on("exit", () => process.stderr.write(`parser: ${typeof Reflect.defineMetadata}\\n`));\n');
    const parserLoaded = (args: string[], cwd = dir) => {
      const r = tool(process.execPath, ["-r", probe, BIN, ...args], { cwd });
      const m = /parser: (\w+)/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      return m![1] === "function";
    };
    initPair(dir);
    expect(parserLoaded(["--version"])).toBe(false);
    expect(parserLoaded(["--help"])).toBe(false);
    ok(skycert(["init", "ca", "--out", "fleet", "--bits", "2048"], { cwd: dir }));
    writeFileSync(join(dir, "hosts.ini"), "[agents]\n10.0.0.5\n");
    ok(skycert(["init", "agent", "--ca", "fleet", "--inventory", "hosts.ini", "--out", "fleet"], { cwd: dir }));
    expect(parserLoaded(["validate", "--fleet", "fleet"])).toBe(false);
    expect(parserLoaded(["validate"])).toBe(true);
  });
});
