/**
 * `skycert validate`: Skydive's release rules (does TLS come on, does every
 * process start), Go's verdicts (parse, key pairs, trust, names, handshakes),
 * skycert's policy, the fleet, and remedies that fix what they name when
 * pasted, without losing a SAN or a key.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { recipe } from "./helpers/recipe.js";
import { ROOT, SEED_CNF, ok, oneLine, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { snapshot } from "./helpers/tree.js";

interface CheckJson {
  id: string;
  status: "pass" | "warn" | "fail" | "skip";
  subject: string;
  message: string;
  remedy?: string;
  file?: string;
  host?: string;
  go?: string;
}
interface Result {
  ok: boolean;
  checks: CheckJson[];
  skydive: string;
  roles: string[];
  summary: Record<string, number>;
  hosts?: { name: string }[];
}

const read = (p: string) => readFileSync(p, "utf8");
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function validate(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { code: number; json: Result; stdout: string; stderr: string } {
  const r = skycert(["validate", "--json", ...args], { cwd, env });
  let json: Result;
  try {
    json = JSON.parse(r.stdout) as Result;
  } catch {
    throw new Error(`validate printed no JSON (exit ${r.code}): ${r.stderr}`);
  }
  return { ...r, json };
}

const failed = (r: Result) => [...new Set(r.checks.filter((c) => c.status === "fail").map((c) => c.id))].sort();
const warned = (r: Result) => [...new Set(r.checks.filter((c) => c.status === "warn").map((c) => c.id))].sort();
const find = (r: Result, id: string, status?: string) => r.checks.find((c) => c.id === id && (!status || c.status === status));

/** The seed's recipe for both roles, and a legacy skydive.yml naming them. */
function recipePair(dir: string, opts: Parameters<typeof recipe>[2] = {}) {
  const analyzer = recipe(dir, "analyzer", opts);
  const agent = recipe(dir, "agent", opts);
  writeFileSync(join(dir, "skydive.yml"), `analyzer:\n  X509_cert: ${analyzer.crt}\n  X509_key: ${analyzer.key}\nagent:\n  X509_cert: ${agent.crt}\n  X509_key: ${agent.key}\n`);
  return { analyzer, agent, config: join(dir, "skydive.yml") };
}

function pubkey(crt: string): string {
  return ok(openssl(["x509", "-in", crt, "-noout", "-pubkey"])).stdout;
}
function sans(crt: string): string[] {
  const out = openssl(["x509", "-in", crt, "-noout", "-ext", "subjectAltName"]).stdout.split("\n").slice(1).join(" ");
  return out.split(",").map((s) => s.trim().replace(/^IP Address:/, "IP:")).filter(Boolean).sort();
}

/** Re-sign a self-signed certificate in place (openssl x509 -signkey), with the clock shifted by faketime. */
function resign(crt: string, key: string, opts: { days?: number; shift?: string; flags?: string[] } = {}): void {
  chmodSync(crt, 0o644);
  const time = opts.shift ? `faketime -f ${q(opts.shift)} ` : "";
  ok(sh(`${time}openssl x509 -in ${q(crt)} -signkey ${q(key)} -days ${opts.days ?? 365} -copy_extensions copyall ${(opts.flags ?? []).join(" ")} -out ${q(crt)}.new && mv ${q(crt)}.new ${q(crt)}`), "openssl x509 -signkey");
  chmodSync(crt, 0o444);
}

describe("legacy (Skydive up to 0.20): the seed's recipe", () => {
  const dir = scratch();
  let good: ReturnType<typeof validate>;
  beforeAll(() => {
    recipePair(dir);
    good = validate([], dir);
  });

  it("passes with exit 0, judged as legacy from its keys, for every host (analyzer and agent)", () => {
    expect(good.code, good.stderr).toBe(0);
    expect(good.json).toMatchObject({ ok: true, skydive: "legacy", roles: ["analyzer", "agent"] });
    expect(failed(good.json)).toEqual([]);
    for (const id of ["config", "tls-enabled", "file-readable", "file-mode", "pem-parse", "key-match", "trust", "san-coverage", "handshake", "impersonation"]) expect(find(good.json, id, "pass"), id).toBeDefined();
  });

  it("takes Go's verdicts: the handshake ran crypto/tls with legacy settings, dialing Skydive's default 127.0.0.1", () => {
    expect(find(good.json, "handshake", "pass")?.message).toMatch(/Go's crypto\/tls with Skydive legacy's settings, dialing 127\.0\.0\.1: TLS1\.[23]/);
    expect(find(good.json, "trust", "pass")?.message).toMatch(/verifies under .* for serverAuth/);
  });

  it("says what legacy costs, with the way out, as warnings (exit 0)", () => {
    expect(warned(good.json)).toEqual(["require-client-cert", "server-pair"]);
    expect(find(good.json, "server-pair")?.message).toMatch(/serves its API with the analyzer's own pair .*can impersonate the analyzer/);
    expect(find(good.json, "server-pair")?.message).toMatch(/the way out: a CA .* on Skydive 0\.21 or later/);
    expect(find(good.json, "server-pair")?.remedy).toMatch(/skycert init ca --out pki$/);
  });

  it("shows failures and warnings, a one-line summary of the passes; --all shows every row", () => {
    const human = ok(skycert(["validate"], { cwd: dir })).stdout;
    expect(human).toMatch(/\d+ checks passed: config, tls-enabled/);
    expect(human).not.toMatch(/^\s+PASS\s+file-readable/m);
    expect(human).toMatch(/OK: \d+ passed, 2 warnings, 0 failed/);
    expect(ok(skycert(["validate", "--all"], { cwd: dir })).stdout).toMatch(/^\s+PASS\s+file-readable/m);
  });

  it("wraps to the terminal's width, and never breaks a command to paste", () => {
    const r = skycert(["validate"], { cwd: dir, env: { COLUMNS: "60" } });
    for (const line of r.stdout.split("\n")) if (!/^\s+(\S*skycert|chmod|unset)\b/.test(line)) expect(line.length, line).toBeLessThanOrEqual(60);
    expect(r.stdout).toMatch(/^ +\S*skycert init ca --out pki$/m);
  });

  it("hints print skycert as it was invoked", () => {
    const rel = join(dir, "from-root");
    mkdirSync(rel, { recursive: true });
    const r = skycert(["validate", "--config", join(dir, "skydive.yml")], { cwd: ROOT });
    expect(r.stdout).toMatch(/\.\/bin\/skycert init ca/);
  });
});

describe("legacy variants: the check that fails, Go's words, and a remedy", () => {
  const cases: { name: string; make: (dir: string) => string[]; fails: string[]; phrase: RegExp; remedy?: RegExp; code?: number }[] = [
    {
      name: "a dialed address the analyzer certificate lacks",
      make: (dir) => (recipePair(dir), ["--host", "10.0.0.99"]),
      fails: ["handshake", "san-coverage"],
      phrase: /x509: certificate is valid for .*not 10\.0\.0\.99/,
      remedy: /renew analyzer\/analyzer\.domain\.com\.crt --san 10\.0\.0\.99$/,
    },
    {
      name: "an expired analyzer certificate",
      make: (dir) => {
        const p = recipePair(dir);
        resign(p.analyzer.crt, p.analyzer.key, { days: 30, shift: "-400d" });
        return [];
      },
      fails: ["handshake", "trust", "validity"],
      phrase: /x509: certificate has expired or is not yet valid/,
      remedy: /renew analyzer\/analyzer\.domain\.com\.crt$/,
    },
    {
      name: "a private key others can read",
      make: (dir) => {
        const p = recipePair(dir);
        chmodSync(p.agent.key, 0o644);
        return [];
      },
      fails: ["file-mode"],
      phrase: /private key is mode 0644, readable by group and others/,
      remedy: /^chmod 400 agent\/agent\.domain\.com\.key$/,
    },
    {
      name: "the two certificates swapped in skydive.yml",
      make: (dir) => {
        const p = recipePair(dir);
        writeFileSync(p.config, `analyzer:\n  X509_cert: ${p.agent.crt}\n  X509_key: ${p.analyzer.key}\nagent:\n  X509_cert: ${p.analyzer.crt}\n  X509_key: ${p.agent.key}\n`);
        return [];
      },
      fails: ["key-match"],
      phrase: /tls: private key does not match public key/,
      remedy: /config set skydive\.yml analyzer\.X509_cert=.*analyzer\.domain\.com\.crt agent\.X509_cert=.*agent\.domain\.com\.crt$/,
    },
    {
      name: "a misspelt key (agent.X509_crt)",
      make: (dir) => {
        const p = recipePair(dir);
        writeFileSync(p.config, read(p.config).replace("  X509_cert: " + p.agent.crt, "  X509_crt: " + p.agent.crt));
        return [];
      },
      fails: ["tls-enabled"],
      phrase: /agent\.X509_crt is set: did you mean agent\.X509_cert\?/,
      remedy: /config set skydive\.yml agent\.X509_cert=.*agent\.domain\.com\.crt$/,
    },
    {
      name: "an agent host without the analyzer's key (Skydive up to 0.20 serves the agent's API with it)",
      make: (dir) => {
        const p = recipePair(dir);
        writeFileSync(p.config, `analyzer:\n  X509_cert: ${p.analyzer.crt}\nagent:\n  X509_cert: ${p.agent.crt}\n  X509_key: ${p.agent.key}\n`);
        return ["--role", "agent"];
      },
      fails: ["server-pair", "tls-enabled"],
      phrase: /analyzer\.X509_key not set: Skydive up to 0\.20 serves the agent's API with the analyzer's pair, key included/,
    },
    {
      name: "a 1024-bit key",
      make: (dir) => (recipePair(dir, { bits: 1024 }), []),
      fails: ["key-strength"],
      phrase: /RSA 1024-bit key; at least 2048 bits are required/,
      remedy: /renew .* --rekey$/,
    },
    {
      name: "a CSR where the certificate belongs",
      make: (dir) => {
        const p = recipePair(dir);
        writeFileSync(p.config, read(p.config).replace(p.agent.crt, p.agent.csr));
        return [];
      },
      fails: ["pem-parse"],
      phrase: /holds a certificate request \(CSR\), not a certificate/,
    },
    {
      name: "an encrypted private key",
      make: (dir) => {
        const p = recipePair(dir);
        chmodSync(p.agent.key, 0o600);
        ok(sh(`openssl pkey -in ${q(p.agent.key)} -aes256 -passout pass:secret1 -out ${q(p.agent.key)}.enc && mv ${q(p.agent.key)}.enc ${q(p.agent.key)} && chmod 400 ${q(p.agent.key)}`));
        return [];
      },
      fails: ["pem-parse"],
      phrase: /private key is encrypted, and Skydive \(Go's tls\.LoadX509KeyPair\) reads only unencrypted keys/,
    },
    {
      name: "an agent certificate without clientAuth",
      make: (dir) => {
        const p = recipePair(dir);
        const cnf = join(dir, "server-only.cnf");
        writeFileSync(cnf, `${read(SEED_CNF)}\n[server_only]\nbasicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyEncipherment, keyCertSign\nextendedKeyUsage = serverAuth\nsubjectAltName = @alt_names\n`);
        resign(p.agent.crt, p.agent.key, { flags: ["-clrext", "-extfile", cnf, "-extensions", "server_only"] });
        return [];
      },
      fails: ["extended-key-usage", "handshake", "trust"],
      phrase: /x509: certificate specifies an incompatible key usage/,
      remedy: /renew agent\/agent\.domain\.com\.crt --profile$/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const dir = scratch();
      const args = c.make(dir);
      const before = snapshot(dir);
      const r = validate(args, dir);
      expect(r.code, r.stderr).toBe(c.code ?? 1);
      expect(failed(r.json)).toEqual(c.fails);
      const fails = r.json.checks.filter((x) => x.status === "fail");
      expect(fails.map((x) => `${x.message} ${x.go ?? ""}`).join("\n")).toMatch(c.phrase);
      for (const f of fails) expect(f.remedy, `${f.id} has a remedy`).toBeTruthy();
      if (c.remedy) expect(fails.map((f) => f.remedy).join("\n")).toMatch(new RegExp(c.remedy.source, "m"));
      // One stderr line: the failed ids and the first failure.
      expect(oneLine(r, c.code ?? 1)).toMatch(/check(s)? failed \(/);
      expect(snapshot(dir)).toEqual(before);
    });
  }

  it("SHA-1 on a legacy self-signed certificate warns: Go accepts its own anchor, skycert's policy does not", () => {
    const dir = scratch();
    recipePair(dir, { x509Flags: ["-sha1"] });
    const r = validate([], dir);
    expect(r.code).toBe(0);
    expect(find(r.json, "signature-algorithm", "warn")?.message).toMatch(/SHA1-RSA: Go accepts it only because legacy cross validation makes it its own trust anchor/);
  });

  it("one pair for both roles: a warning that every agent is the analyzer", () => {
    const dir = scratch();
    const p = recipePair(dir);
    writeFileSync(p.config, `analyzer:\n  X509_cert: ${p.analyzer.crt}\n  X509_key: ${p.analyzer.key}\nagent:\n  X509_cert: ${p.analyzer.crt}\n  X509_key: ${p.analyzer.key}\n`);
    const r = validate([], dir);
    expect(find(r.json, "impersonation", "warn")?.message).toMatch(/the agents present the analyzer's own certificate and key/);
  });

  it("the environment overrides the file, as viper does; the remedy is to unset the variable", () => {
    const dir = scratch();
    recipePair(dir);
    const other = scratch();
    recipePair(other);
    const r = validate([], dir, { SKYDIVE_AGENT_X509_CERT: join(other, "agent", "agent.domain.com.crt") });
    expect(failed(r.json)).toContain("key-match");
    expect(r.json.checks.find((c) => c.id === "config")?.message).toMatch(/from the environment: SKYDIVE_AGENT_X509_CERT/);
    expect(find(r.json, "key-match", "fail")?.remedy).toBe("unset SKYDIVE_AGENT_X509_CERT");
  });
});

describe("tls.* hosts of a CA fleet, release by release", () => {
  const dir = scratch();
  const cfg = (host: string, role = "agents") => join(dir, "pki", role, host, "skydive.yml");
  beforeAll(() => {
    writeFileSync(join(dir, "hosts"), "[analyzers]\nlocalhost\n[agents]\n10.0.0.9\n");
    ok(skycert(["init", "ca", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "agent", "--ca", "pki", "--inventory", "hosts", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
  });

  it("every host of the fleet passes, judged for the fleet's release (its record)", () => {
    for (const [config, role] of [[cfg("localhost", "analyzers"), "analyzer"], [cfg("10.0.0.9"), "agent"]] as const) {
      const r = validate(["--config", config], dir);
      expect(r.code, JSON.stringify(r.json.checks.filter((c) => c.status === "fail"))).toBe(0);
      expect(r.json).toMatchObject({ skydive: "0.27", roles: [role] });
    }
  });

  it("0.27: an agent config without its server pair would not start", () => {
    const y = parseYaml(read(cfg("10.0.0.9")));
    delete y.tls.server_cert;
    delete y.tls.server_key;
    const broken = join(dir, "no-server.yml");
    writeFileSync(broken, JSON.stringify(y));
    const r = validate(["--config", broken, "--role", "agent"], dir);
    expect(failed(r.json)).toEqual(["server-pair", "tls-enabled"]);
    expect(find(r.json, "tls-enabled", "fail")?.message).toContain("Can't read X509 key pair set in config : cert '' key ''");
    expect(find(r.json, "tls-enabled", "fail")?.remedy).toMatch(/config set no-server\.yml tls\.server_cert=.*agent\.crt tls\.server_key=.*agent\.key$/);
  });

  it("0.21: the same config has TLS silently off; an analyzer without its client pair too", () => {
    const y = parseYaml(read(cfg("10.0.0.9")));
    delete y.tls.server_cert;
    const broken = join(dir, "no-server-021.yml");
    writeFileSync(broken, JSON.stringify(y));
    const r = validate(["--config", broken, "--role", "agent", "--skydive", "0.21"], dir);
    expect(find(r.json, "tls-enabled", "fail")?.message).toMatch(/TLS is silently off: .* tls\.server_cert is not set/);
    const a = parseYaml(read(cfg("localhost", "analyzers")));
    delete a.tls.client_cert;
    delete a.tls.client_key;
    const noClient = join(dir, "no-client.yml");
    writeFileSync(noClient, JSON.stringify(a));
    expect(failed(validate(["--config", noClient, "--role", "analyzer", "--skydive", "0.21"], dir).json)).toContain("tls-enabled");
    expect(warned(validate(["--config", noClient, "--role", "analyzer", "--skydive", "0.27"], dir).json)).toContain("tls-enabled");
  });

  it("0.27: an analyzer that does not require client certificates fails require-client-cert; on 0.21 it is a warning", () => {
    const a = parseYaml(read(cfg("localhost", "analyzers")));
    delete a.tls.require_client_cert;
    const open = join(dir, "pki", "analyzers", "localhost", "open.yml");
    writeFileSync(open, JSON.stringify(a));
    const r = validate(["--config", open, "--role", "analyzer"], dir);
    expect(failed(r.json)).toEqual(["require-client-cert"]);
    expect(find(r.json, "require-client-cert")?.remedy).toMatch(/config set pki\/analyzers\/localhost\/open\.yml tls\.require_client_cert=true$/);
    expect(find(validate(["--config", open, "--role", "analyzer", "--skydive", "0.21"], dir).json, "require-client-cert", "warn")?.message).toMatch(/does not exist on Skydive 0\.21 to 0\.26/);
  });

  it("up to 0.26 agents verify the IP a name resolves to: a DNS-only analyzer certificate fails, on 0.27 it passes", () => {
    const config = cfg("localhost", "analyzers");
    const r021 = validate(["--config", config, "--skydive", "0.21", "--host", "localhost"], dir);
    expect(failed(r021.json)).toContain("san-coverage");
    expect(find(r021.json, "san-coverage", "fail")?.message).toMatch(/127\.0\.0\.1 .*localhost resolves to 127\.0\.0\.1 here, and Skydive 0\.21 verifies that IP/);
    expect(find(r021.json, "san-coverage", "fail")?.remedy).toMatch(/renew .*analyzer\.crt --san 127\.0\.0\.1$/);
    expect(failed(validate(["--config", config, "--host", "localhost"], dir).json)).toEqual([]);
  });

  it("impersonation: an agent certificate that carries an analyzer's name fails, on the agent and as --analyzer-cert", () => {
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "evil=10.0.0.66", "--analyzers", "analyzer.domain.com", "--cnf-sans", "--out", "pki2", "--key-type", "ecdsa"], { cwd: dir }));
    const evil = join(dir, "pki2", "agents", "evil");
    const r = validate(["--config", join(evil, "skydive.yml")], dir);
    expect(failed(r.json)).toContain("impersonation");
    expect(find(r.json, "impersonation", "fail")?.message).toMatch(/verifies under .* for serverAuth as analyzer\.domain\.com/);
    expect(find(r.json, "impersonation", "fail")?.remedy).toMatch(/renew .*agent\.crt --drop-san analyzer\.domain\.com/);
    const fleetAgent = join(dir, "pki", "agents", "10.0.0.9");
    const as = validate(["--analyzer-cert", join(fleetAgent, "agent.crt"), "--analyzer-key", join(fleetAgent, "agent.key"), "--agent-cert", join(fleetAgent, "agent.crt"), "--agent-key", join(fleetAgent, "agent.key"), "--ca-cert", join(dir, "pki", "ca", "skydive-ca.crt"), "--host", "10.0.0.9", "--role", "analyzer"], dir);
    expect(failed(as.json)).toContain("impersonation");
    expect(find(as.json, "impersonation", "fail")?.message).toMatch(/agent 10\.0\.0\.9's certificate/);
  });
});

describe("validate --fleet", () => {
  const dir = scratch();
  beforeAll(() => {
    writeFileSync(join(dir, "hosts"), "[analyzers]\nan1 ansible_host=10.0.0.4\n[agents]\nag1 ansible_host=10.0.1.1\nag2 ansible_host=10.0.1.2\n");
    ok(skycert(["init", "ca", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "agent", "--ca", "pki", "--inventory", "hosts", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
  });

  it("every host through the same per-host checks, then one CA, unique serials and keys, real handshakes", () => {
    const r = skycert(["validate", "--fleet", "pki", "--json"], { cwd: dir });
    expect(r.code, r.stdout.slice(0, 2000)).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.hosts.map((h: { host: string; ok: boolean }) => [h.host, h.ok])).toEqual([["an1", true], ["ag1", true], ["ag2", true]]);
    expect(j.fleetChecks.map((c: CheckJson) => `${c.id}:${c.status}`)).toEqual(["fleet-ca:pass", "fleet-serial-unique:pass", "fleet-key-unique:pass", "fleet-handshake:pass"]);
    expect(j.hosts[1].checks.some((c: CheckJson) => c.id === "impersonation" && c.status === "pass")).toBe(true);
    expect(ok(skycert(["validate", "--fleet", "pki"], { cwd: dir })).stdout).toMatch(/OK: 3 of 3 hosts OK/);
    // In the fleet's folder, plain validate checks the fleet.
    expect(ok(skycert(["validate"], { cwd: join(dir, "pki") })).stdout).toMatch(/3 of 3 hosts OK/);
  });

  it("a fleet of 120 hosts, judged on every core: each host in record order, each damaged host for its own fault", () => {
    const hosts = Array.from({ length: 120 }, (_, i) => `ag${String(i).padStart(3, "0")}=10.2.${i >> 8}.${(i & 255) + 1}`);
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", hosts.join(","), "--out", "big", "--key-type", "ecdsa"], { cwd: dir }));
    const at = (h: string, f: string) => join(dir, "big", "agents", h, f);
    chmodSync(at("ag005", "agent.key"), 0o644);
    ok(sh(`cp ${q(at("ag061", "agent.crt"))} big/ag060.crt && chmod 644 ${q(at("ag060", "agent.crt"))} && cp big/ag060.crt ${q(at("ag060", "agent.crt"))}`, { cwd: dir }));
    writeFileSync(at("ag115", "skydive.yml"), read(at("ag115", "skydive.yml")).replace(/ca_cert: .*/, "ca_cert: /nonexistent/ca.crt"));
    const r = skycert(["validate", "--fleet", "big", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.hosts.map((h: { host: string }) => h.host)).toEqual(hosts.map((h) => h.split("=")[0]));
    const failing = j.hosts.filter((h: { ok: boolean }) => !h.ok).map((h: { host: string; checks: CheckJson[] }) => [h.host, [...new Set(h.checks.filter((c) => c.status === "fail").map((c) => c.id))].join(",")]);
    expect(failing).toEqual([["ag005", "file-mode"], ["ag060", "key-match"], ["ag115", "file-readable"]]);
    expect(j.summary).toMatchObject({ hosts: 120, hostsOk: 117 });
  });

  it("an analyzer made without the address agents dial is not ready: Go's own error names it", () => {
    ok(sh("cp -r pki missing", { cwd: dir }));
    ok(skycert(["init", "analyzer", "--ca", "missing", "--hosts", "an1=10.0.0.4", "--san", "10.0.0.4", "--out", "missing", "--force", "--key-type", "ecdsa"], { cwd: dir }));
    const rec = JSON.parse(read(join(dir, "missing", "skycert.json")));
    rec.analyzers = ["10.0.0.4:8082", "10.0.0.40:8082"];
    writeFileSync(join(dir, "missing", "skycert.json"), JSON.stringify(rec));
    const r = skycert(["validate", "--fleet", "missing", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const an1 = JSON.parse(r.stdout).hosts[0];
    const cov = an1.checks.find((c: CheckJson) => c.id === "san-coverage" && c.status === "fail");
    expect(cov.go).toMatch(/x509: certificate is valid for .*not 10\.0\.0\.40/);
    expect(cov.remedy).toMatch(/renew missing\/analyzers\/an1\/analyzer\.crt --san 10\.0\.0\.40$/);
  });

  it("a fleet made with --deploy-dir validates: its deploy paths map to the fleet's folders", () => {
    ok(skycert(["init", "ca", "--out", "dep", "--key-type", "ecdsa"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "agent", "--ca", "dep", "--inventory", "hosts", "--out", "dep", "--deploy-dir", "/etc/skydive/tls", "--key-type", "ecdsa"], { cwd: dir }));
    expect(read(join(dir, "dep", "agents", "ag1", "skydive.yml"))).toContain("/etc/skydive/tls/agent.crt");
    const r = skycert(["validate", "--fleet", "dep"], { cwd: dir });
    expect(r.code, r.stdout).toBe(0);
  });

  it("a fleet record that is not one is a usage error naming it (exit 2)", () => {
    mkdirSync(join(dir, "bogus"), { recursive: true });
    writeFileSync(join(dir, "bogus", "skycert.json"), "{ not json");
    expect(oneLine(skycert(["validate", "--fleet", "bogus"], { cwd: dir }), 2)).toMatch(/bogus\/skycert\.json: not JSON/);
    expect(oneLine(skycert(["validate", "--fleet", "nowhere"], { cwd: dir }), 2)).toMatch(/--fleet nowhere: no skycert\.json/);
  });
});

describe("remedies work when pasted, and lose no SAN and no key", () => {
  /** Run every distinct remedy of validate's failures and warnings in bash, in order, then validate again. */
  function replay(dir: string, args: string[], env: Record<string, string> = {}, allowWarn: RegExp = /require-client-cert|server-pair|impersonation/): Result {
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`).join("\n");
    const first = validate(args, dir, env);
    expect(first.code, JSON.stringify(first.json.checks.filter((c) => c.status !== "pass"))).not.toBe(0);
    // Remedies that are commands; the rest is advice in words (the handshake's "fix the other failed checks").
    const remedies = [...new Set(first.json.checks.filter((c) => (c.status === "fail" || c.status === "warn") && c.remedy && !allowWarn.test(c.id)).map((c) => c.remedy!))].filter((r) => /^(\S*skycert|chmod|unset) /.test(r));
    expect(remedies.length).toBeGreaterThan(0);
    const script = `${exports}\nexport PATH=${q(join(ROOT, "bin"))}:$PATH\n${remedies.join("\n")}\nskycert validate --json ${args.map(q).join(" ")}`;
    const r = sh(script, { cwd: dir });
    const after = JSON.parse(r.stdout.slice(r.stdout.indexOf("{\n"))) as Result;
    expect(failed(after), JSON.stringify(after.checks.filter((c) => c.status === "fail"))).toEqual([]);
    return after;
  }

  it("missing SAN: renew --san adds it, keeping the key and every other SAN", () => {
    const dir = scratch();
    const p = recipePair(dir);
    const [key, names] = [pubkey(p.analyzer.crt), sans(p.analyzer.crt)];
    replay(dir, ["--host", "10.0.0.99", "--host", "::1"]);
    expect(pubkey(p.analyzer.crt)).toBe(key);
    expect(sans(p.analyzer.crt)).toEqual([...names, "IP:0:0:0:0:0:0:0:1", "IP:10.0.0.99"].sort());
  });

  it("expired and expiring: renew keeps the key and the SANs", () => {
    const dir = scratch();
    const p = recipePair(dir);
    const [key, names] = [pubkey(p.analyzer.crt), sans(p.analyzer.crt)];
    resign(p.analyzer.crt, p.analyzer.key, { days: 30, shift: "-400d" });
    resign(p.agent.crt, p.agent.key, { days: 10 });
    replay(dir, []);
    expect(pubkey(p.analyzer.crt)).toBe(key);
    expect(sans(p.analyzer.crt)).toEqual(names);
    expect(warned(validate([], dir).json)).not.toContain("validity");
  });

  it("wrong mode: chmod 400", () => {
    const dir = scratch();
    const p = recipePair(dir);
    chmodSync(p.analyzer.key, 0o644);
    replay(dir, []);
  });

  it("swapped certificates: config set swaps them back", () => {
    const dir = scratch();
    const p = recipePair(dir);
    writeFileSync(p.config, `analyzer:\n  X509_cert: ${p.agent.crt}\n  X509_key: ${p.analyzer.key}\nagent:\n  X509_cert: ${p.analyzer.crt}\n  X509_key: ${p.agent.key}\n`);
    replay(dir, []);
    expect(parseYaml(read(p.config)).analyzer.X509_cert).toBe(p.analyzer.crt);
  });

  it("an environment override: unset the variable", () => {
    const dir = scratch();
    recipePair(dir);
    const other = scratch();
    recipePair(other);
    replay(dir, [], { SKYDIVE_AGENT_X509_CERT: join(other, "agent", "agent.domain.com.crt") });
  });

  it("a fleet host missing an address agents dial, and an expired fleet", () => {
    const dir = scratch();
    writeFileSync(join(dir, "hosts"), "[analyzers]\nan1 ansible_host=10.0.0.4\n[agents]\nag1 ansible_host=10.0.1.1\n");
    ok(skycert(["init", "ca", "--out", "pki", "--key-type", "ecdsa"], { cwd: dir }));
    ok(skycert(["init", "analyzer", "agent", "--ca", "pki", "--inventory", "hosts", "--out", "pki", "--key-type", "ecdsa", "--days", "10"], { cwd: dir }));
    const crt = join(dir, "pki", "analyzers", "an1", "analyzer.crt");
    const [key, names] = [pubkey(crt), sans(crt)];
    const rec = JSON.parse(read(join(dir, "pki", "skycert.json")));
    rec.analyzers.push("10.0.0.44:8082");
    writeFileSync(join(dir, "pki", "skycert.json"), JSON.stringify(rec));
    ok(sh("for f in pki/agents/*/skydive.yml; do chmod 644 $f; done", { cwd: dir }));
    ok(skycert(["config", "set", "pki/agents/ag1/skydive.yml", "analyzers=10.0.0.4:8082,10.0.0.44:8082"], { cwd: dir }));
    const r = skycert(["validate", "--fleet", "pki", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    const remedies = ([...new Set(j.hosts.flatMap((h: { checks: CheckJson[] }) => h.checks).filter((c: CheckJson) => c.status !== "pass" && c.remedy).map((c: CheckJson) => c.remedy))] as string[]).filter((x) => /^(\S*skycert|chmod|unset) /.test(x));
    expect(remedies.join("\n")).toMatch(/renew pki\/analyzers\/an1\/analyzer\.crt --san 10\.0\.0\.44/);
    expect(remedies.join("\n")).toMatch(/renew --fleet pki|renew pki\/agents\/ag1\/agent\.crt/);
    ok(sh(`export PATH=${q(join(ROOT, "bin"))}:$PATH\n${remedies.join("\n")}`, { cwd: dir }));
    expect(skycert(["validate", "--fleet", "pki"], { cwd: dir }).code).toBe(0);
    expect(pubkey(crt)).toBe(key);
    expect(sans(crt)).toEqual([...names, "IP:10.0.0.44"].sort());
  });
});

describe("bad input: one stderr line naming it, a non-zero exit", () => {
  it("no config and no flags, a missing --config, malformed YAML with its line, a binary config (exit 2)", () => {
    const dir = scratch();
    expect(oneLine(skycert(["validate"], { cwd: dir }), 2)).toMatch(/no skydive\.yml in .*fix: pass --config FILE, --fleet DIR/);
    expect(oneLine(skycert(["validate", "--config", "nope.yml"], { cwd: dir }), 2)).toMatch(/--config nope\.yml: no such file/);
    writeFileSync(join(dir, "bad.yml"), "analyzer:\n  X509_cert: a\n   X509_key: b\n");
    expect(oneLine(skycert(["validate", "--config", "bad.yml"], { cwd: dir }), 2)).toMatch(/bad\.yml:\d+: malformed YAML/);
    writeFileSync(join(dir, "bin.yml"), Buffer.from([0x00, 0x01, 0x02, 0xff]));
    expect(oneLine(skycert(["validate", "--config", "bin.yml"], { cwd: dir }), 2)).toMatch(/bin\.yml:1: not a YAML text file/);
    expect(oneLine(skycert(["validate", "--warn-days", "x"], { cwd: dir }), 2)).toMatch(/--warn-days/);
    expect(oneLine(skycert(["validate", "--fleet", "x", "--config", "y"], { cwd: dir }), 2)).toMatch(/--config does not apply with --fleet/);
  });

  it("a FIFO, a folder and /dev/zero as certificates are checks that fail, never a hang", () => {
    const dir = scratch();
    const p = recipePair(dir);
    ok(sh("mkfifo fifo", { cwd: dir }));
    mkdirSync(join(dir, "folder"));
    writeFileSync(p.config, `analyzer:\n  X509_cert: ${join(dir, "fifo")}\n  X509_key: ${p.analyzer.key}\nagent:\n  X509_cert: ${join(dir, "folder")}\n  X509_key: /dev/zero\n`);
    const r = validate([], dir);
    expect(r.code).toBe(1);
    expect(r.json.checks.filter((c) => c.id === "file-readable" && c.status === "fail").map((c) => c.message).join("\n")).toMatch(/fifo .*not a regular file[\s\S]*folder .*is a directory[\s\S]*\/dev\/zero .*not a regular file/);
  });
});
