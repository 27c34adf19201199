/**
 * `skycert export ansible`: ansible-playbook runs the exported playbook for real
 * against local hosts (ansible_connection=local), each with its own
 * skycert_tls_dir and skydive_config_file in a scratch folder, imported by a
 * site playbook whose next play records the skydive_extra_config Skydive's
 * roles would get. Checked: files and modes, each host's own certificate and
 * key (and, on legacy only, the analyzer's key on agents), the config keys and
 * the keys that were already there, a second run with changed=0, no key in
 * Ansible's output (even with --diff), skycert validate on what landed, and
 * the Skydive emulator (test/helpers/emulator.ts, Go from Skydive's source) fed
 * each host's installed skydive.yml: every process starts with TLS on, every
 * agent connects to every analyzer, analyzers to each other.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type ApiServer, type DialResult, type Startup, checkStartup, dialAnalyzer, flattenSkydiveYaml, serveApi } from "./helpers/emulator.js";
import { SHARED, ok, oneLine, scratch, skycert, tool } from "./helpers/run.js";
import { snapshot } from "./helpers/tree.js";

const LONG = 900_000;
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));
const run = (args: string[], cwd: string) => skycert(args, { cwd, env: { SKYCERT_PROG: "skycert" } });
const MULTIPLE = join(SHARED, "skydive", "inventory-hosts.multiple");

function ansibleEnv(dir: string): NodeJS.ProcessEnv {
  const tmp = join(dir, ".ansible");
  mkdirSync(tmp, { recursive: true });
  return {
    ANSIBLE_LOCALHOST_WARNING: "false",
    ANSIBLE_HOST_KEY_CHECKING: "false",
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_PYTHON_INTERPRETER: "auto_silent",
    ANSIBLE_RETRY_FILES_ENABLED: "false",
    ANSIBLE_PIPELINING: "True",
    ANSIBLE_LOCAL_TEMP: join(tmp, "local"),
    ANSIBLE_REMOTE_TEMP: join(tmp, "remote"),
    ANSIBLE_HOME: tmp,
    ANSIBLE_CONFIG: join(tmp, "none.cfg"),
    LC_ALL: "C.UTF-8",
    LANG: "C.UTF-8",
  };
}

type Recap = Record<string, Record<string, number>>;

/** Runs a playbook; each host's PLAY RECAP counters and the output. */
function playbook(dir: string, inventory: string, file: string, extra: string[] = [], expectOk = true): { recap: Recap; stdout: string } {
  const r = tool("ansible-playbook", ["-i", inventory, file, ...extra], { cwd: dir, env: ansibleEnv(dir), timeout: 600_000 });
  if (expectOk) ok(r, "ansible-playbook");
  const recap: Recap = {};
  for (const m of r.stdout.matchAll(/^(\S+)\s+:\s+(ok=.*)$/gm)) recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
  return { recap, stdout: r.stdout };
}

/** A site playbook: the export, then what Skydive's roles would see of skydive_extra_config, per host. */
function site(dir: string, deploy: string): string {
  const path = join(dir, "site.yml");
  writeFileSync(
    path,
    `- import_playbook: ${deploy}/skydive-tls.yml
- name: what Skydive's roles get
  hosts: analyzers:agents
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        content: "{{ skydive_extra_config | to_json }}"
        dest: "{{ skycert_tls_dir }}/../extra.json"
`,
  );
  return path;
}

function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** The playbook's tasks use ansible.builtin modules, and nothing else. */
function checkBuiltinOnly(playbookPath: string): void {
  const plays = parseYaml(readFileSync(playbookPath, "utf8")) as Record<string, any>[];
  const keywords = new Set(["name", "register", "when", "loop", "loop_control", "diff", "no_log", "vars", "tags", "become", "changed_when", "failed_when"]);
  for (const play of plays) {
    expect(play.hosts).toBe("analyzers:agents");
    for (const task of play.tasks) {
      const modules = Object.keys(task).filter((k) => !keywords.has(k));
      expect(modules, task.name).toHaveLength(1);
      expect(modules[0], task.name).toMatch(/^ansible\.builtin\.[a-z_]+$/);
    }
  }
}

interface Machine {
  name: string;
  roles: ("analyzer" | "agent")[];
  dir: string;
  tls: string;
  config: string;
}

function machines(dir: string, spec: [string, ("analyzer" | "agent")[]][]): Machine[] {
  return spec.map(([name, roles]) => ({ name, roles, dir: join(dir, "machines", name), tls: join(dir, "machines", name, "tls"), config: join(dir, "machines", name, "etc", "skydive.yml") }));
}

const hostVars = (m: Machine, extra = "") => `${m.name} ansible_connection=local${extra} skycert_tls_dir=${m.tls} skydive_config_file=${m.config}`;

interface Emulated {
  starts: Record<string, Startup>;
  servers: Record<string, ApiServer>;
  /** "from -> entry" -> what the dial saw. */
  dials: Record<string, DialResult>;
  anonymous: DialResult;
}

/**
 * Every host's installed skydive.yml in the emulator: analyzers serve their API,
 * every agent dials each of its analyzers: entries, each analyzer the other's
 * entry. Connections go to the loopback port of the analyzer the entry names;
 * what is verified is what the release makes of the entry.
 */
async function emulate(release: string, hosts: Machine[], entryOf: Record<string, string>): Promise<Emulated> {
  const resolve = { "*": "127.0.0.1" };
  const spec = (m: Machine, role: "analyzer" | "agent") => ({ release, resolve, role, settings: flattenSkydiveYaml(readFileSync(m.config, "utf8")) });
  const out: Emulated = { starts: {}, servers: {}, dials: {}, anonymous: undefined as unknown as DialResult };
  const analyzers = hosts.filter((h) => h.roles.includes("analyzer"));
  try {
    for (const m of hosts) out.starts[m.name] = checkStartup(spec(m, m.roles.includes("agent") ? "agent" : "analyzer"));
    for (const a of analyzers) out.servers[a.name] = await serveApi(spec(a, "analyzer"));
    const target = (entry: string) => out.servers[analyzers.find((a) => entryOf[a.name] === entry)!.name]!.addr;
    for (const g of hosts.filter((h) => h.roles.includes("agent"))) {
      const entries = (parseYaml(readFileSync(g.config, "utf8")) as { analyzers: string[] }).analyzers;
      for (const entry of entries) out.dials[`${g.name} -> ${entry}`] = dialAnalyzer({ ...spec(g, "agent"), analyzer: entry, connect: target(entry) });
      out.anonymous ??= dialAnalyzer({ ...spec(g, "agent"), analyzer: entries[0]!, connect: target(entries[0]!), noClientCert: true });
    }
    for (const [i, a] of analyzers.entries()) {
      const peer = analyzers[(i + 1) % analyzers.length]!;
      if (peer === a) continue;
      out.dials[`${a.name} -> ${entryOf[peer.name]}`] = dialAnalyzer({ ...spec(a, "analyzer"), analyzer: entryOf[peer.name]!, connect: target(entryOf[peer.name]!) });
    }
  } finally {
    for (const s of Object.values(out.servers)) await s.stop();
  }
  return out;
}

/** A CA fleet of 2 analyzers and 3 agents, issued from the inventory, exported and played twice. */
function fleetScenario(release: "0.21" | "0.27", addresses: Record<string, string | undefined>) {
  const dir = scratch(`skycert-export-ansible-${release}-`);
  const hosts = machines(dir, [
    ["analyzer1", ["analyzer"]],
    ["analyzer2", ["analyzer"]],
    ["agent1", ["agent"]],
    ["agent2", ["agent"]],
    ["agent3", ["agent"]],
  ]);
  const inventory = join(dir, "inventory");
  const line = (m: Machine) => hostVars(m, addresses[m.name] ? ` ansible_host=${addresses[m.name]}` : "");
  writeFileSync(
    inventory,
    `[analyzers]
${hosts.filter((h) => h.roles.includes("analyzer")).map((m) => line(m)).join("\n")}

[agents]
${line(hosts[2]!)} skydive_extra_config="{'logging.level': 'WARNING'}"
${hosts.slice(3).map((m) => line(m)).join("\n")}

[agents:vars]
skydive_extra_config={'agent.topology.probes': ['socketinfo', 'docker'], 'logging.level': 'DEBUG'}
`,
  );
  const state = { dir, hosts, inventory, pki: join(dir, "pki"), result: undefined as any, first: undefined as unknown as { recap: Recap; stdout: string }, second: undefined as unknown as { recap: Recap; stdout: string } };
  beforeAll(() => {
    ok(run(["init", "ca", "--out", "pki", "--key-type", "ecdsa", "--skydive", release], dir), "init ca");
    ok(run(["init", "analyzer", "agent", "--ca", "pki", "--inventory", inventory, "--out", "pki", "--key-type", "ecdsa"], dir), "init the fleet");
    state.result = JSON.parse(ok(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], dir), "export ansible").stdout);
    state.first = playbook(dir, inventory, site(dir, "deploy"), ["--diff"]);
    state.second = playbook(dir, inventory, join(dir, "deploy", "skydive-tls.yml"), ["--diff"]);
  }, LONG);
  return state;
}

for (const [release, addresses] of [
  ["0.27", { analyzer1: "analyzer1.skydive.test", analyzer2: "analyzer2.skydive.test" }],
  ["0.21", { analyzer1: "127.0.0.2", analyzer2: "127.0.0.3", agent1: "127.0.0.4", agent2: "127.0.0.5", agent3: "127.0.0.6" }],
] as const) {
  describe(`${release}: a CA fleet of 2 analyzers and 3 agents`, () => {
    const s = fleetScenario(release, addresses);
    const entryOf: Record<string, string> = { analyzer1: `${addresses.analyzer1}:8082`, analyzer2: `${addresses.analyzer2}:8082` };
    const record = () => JSON.parse(readFileSync(join(s.pki, "skycert.json"), "utf8")) as { hosts: { name: string; cert: string; key: string }[] };
    const own = (name: string) => record().hosts.find((h) => h.name === name)!;

    it("records the release; every inventory host gets its own files; a playbook of ansible.builtin modules", () => {
      expect(s.result).toMatchObject({ ok: true, kind: "ansible", skydive: release, tlsDir: "/etc/skydive/tls", dialed: [entryOf.analyzer1, entryOf.analyzer2] });
      expect(s.result.skydiveFrom).toContain("skycert.json");
      expect(s.result.apply).toEqual(["ansible-playbook -i inventory deploy/skydive-tls.yml"]);
      expect(s.result.warnings).toEqual([]);
      expect(s.result.hosts.map((h: any) => [h.host, h.roles, h.holdsAnalyzerKey])).toEqual(s.hosts.map((m) => [m.name, m.roles, false]));
      checkBuiltinOnly(join(s.dir, "deploy", "skydive-tls.yml"));
    });

    it("the first run changes every host, a second run none; no key reaches Ansible's output, even with --diff", () => {
      for (const m of s.hosts) {
        expect(s.first.recap[m.name], m.name).toMatchObject({ failed: 0, unreachable: 0 });
        expect(s.first.recap[m.name]!.changed, m.name).toBeGreaterThan(0);
        expect(s.second.recap[m.name], m.name).toMatchObject({ changed: 0, failed: 0 });
      }
      for (const out of [s.first.stdout, s.second.stdout]) expect(out).not.toContain("PRIVATE KEY");
    });

    it("lands each host's own certificate and key and the CA certificate, with their modes; the CA key goes nowhere", () => {
      const caKey = readFileSync(join(s.pki, "ca", "skydive-ca.key"));
      for (const m of s.hosts) {
        const r = own(m.name);
        const stem = m.roles.includes("analyzer") ? "analyzer" : "agent";
        expect(readdirSync(m.tls).sort(), m.name).toEqual([`${stem}.crt`, `${stem}.key`, "skydive-ca.crt"]);
        expect(mode(m.tls)).toBe("700");
        expect(mode(join(m.tls, `${stem}.key`))).toBe("400");
        expect(mode(join(m.tls, `${stem}.crt`))).toBe("444");
        expect(mode(join(m.tls, "skydive-ca.crt"))).toBe("444");
        expect(same(join(m.tls, `${stem}.crt`), join(s.pki, r.cert)), m.name).toBe(true);
        expect(same(join(m.tls, `${stem}.key`), join(s.pki, r.key)), m.name).toBe(true);
        // No other host's key is on this host.
        const others = s.hosts.filter((o) => o !== m).map((o) => readFileSync(join(s.pki, own(o.name).key)));
        expect(filesUnder(m.dir).some((f) => others.some((k) => readFileSync(f).equals(k))), m.name).toBe(false);
      }
      for (const f of [...filesUnder(join(s.dir, "machines")), ...filesUnder(join(s.dir, "deploy"))]) expect(readFileSync(f).equals(caKey), f).toBe(false);
    });

    it("sets all five tls.* keys on every host; analyzers require client certificates; agents dial the fleet's analyzers", () => {
      for (const m of s.hosts) {
        const stem = m.roles.includes("analyzer") ? "analyzer" : "agent";
        const cfg = parseYaml(readFileSync(m.config, "utf8"));
        const at = (f: string) => join(m.tls, f);
        expect(cfg.tls, m.name).toEqual({
          server_cert: at(`${stem}.crt`),
          server_key: at(`${stem}.key`),
          client_cert: at(`${stem}.crt`),
          client_key: at(`${stem}.key`),
          ca_cert: at("skydive-ca.crt"),
          ...(stem === "analyzer" ? { require_client_cert: true } : {}),
        });
        // Agents dial the analyzers; analyzers of an HA fleet dial each other (Skydive replicates to its analyzers: peers).
        expect(cfg.analyzers, m.name).toEqual([entryOf.analyzer1, entryOf.analyzer2]);
      }
    });

    it("skydive_extra_config for Skydive's roles: the inventory's value, as Ansible reads it, combined with the TLS settings", () => {
      const extra = (name: string) => JSON.parse(readFileSync(join(s.dir, "machines", name, "extra.json"), "utf8"));
      const tls = (m: Machine) => parseYaml(readFileSync(m.config, "utf8")).tls;
      const agent2 = s.hosts.find((m) => m.name === "agent2")!;
      expect(extra("agent2")).toEqual({
        "agent.topology.probes": ["socketinfo", "docker"],
        "logging.level": "DEBUG",
        "tls.server_cert": tls(agent2).server_cert,
        "tls.server_key": tls(agent2).server_key,
        "tls.client_cert": tls(agent2).client_cert,
        "tls.client_key": tls(agent2).client_key,
        "tls.ca_cert": tls(agent2).ca_cert,
        analyzers: [entryOf.analyzer1, entryOf.analyzer2],
      });
      // A host-level value outranks the group's, as Ansible decides.
      expect(extra("agent1")).toMatchObject({ "logging.level": "WARNING", "tls.client_cert": join(s.dir, "machines", "agent1", "tls", "agent.crt") });
      expect(extra("agent1")["agent.topology.probes"]).toBeUndefined();
      expect(extra("analyzer1")).toMatchObject({ "tls.server_cert": join(s.dir, "machines", "analyzer1", "tls", "analyzer.crt"), "tls.require_client_cert": true });
    });

    it("skycert validate passes on what landed, on each host", () => {
      for (const m of s.hosts) {
        const args = ["validate", "--config", m.config, "--skydive", release, ...(m.roles.includes("analyzer") ? ["--host", addresses[m.name as "analyzer1"]!] : [])];
        ok(run(args, s.dir), `validate ${m.name}`);
      }
    });

    it("emulator: every host starts with TLS on; every agent connects to both analyzers, the analyzers to each other", async () => {
      const e = await emulate(release, s.hosts, entryOf);
      for (const m of s.hosts) {
        expect(e.starts[m.name], m.name).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true });
        // Up to 0.26 an analyzer loads its client pair only when it has analyzers: entries (its peers) to dial: these have.
        expect(e.starts[m.name]!.clientCert, m.name).toBe(true);
      }
      for (const a of ["analyzer1", "analyzer2"]) expect(e.servers[a]).toMatchObject({ started: true, tls: true, requireClientCert: release === "0.27" });
      expect(Object.keys(e.dials)).toHaveLength(3 * 2 + 2);
      for (const [what, d] of Object.entries(e.dials)) {
        expect(d.error, what).toBe("");
        expect(d, what).toMatchObject({ ok: true, tls: true, serverName: what.split(" -> ")[1]!.replace(/:8082$/, "") });
        expect(d.clientCertSent, what).toBe(`CN=${what.split(" -> ")[0]}`);
      }
      // Only 0.27 can refuse an agent without a certificate.
      expect(e.anonymous.ok).toBe(release !== "0.27");
    });

    it("a re-export changes nothing", () => {
      const again = JSON.parse(ok(run(["export", "ansible", "--inventory", s.inventory, "--out", "deploy", "--from", "pki", "--json"], s.dir)).stdout);
      expect(again.files.every((f: any) => f.status === "unchanged")).toBe(true);
    });
  });
}

describe("legacy (up to 0.20): one analyzer host and one agent host", () => {
  const dir = scratch("skycert-export-ansible-legacy-");
  const [A, B] = machines(dir, [
    ["analyzer1", ["analyzer"]],
    ["agent1", ["agent"]],
  ]) as [Machine, Machine];
  const pki = join(dir, "pki");
  const src = {
    analyzerCrt: join(pki, "analyzer", "analyzer.domain.com.crt"),
    analyzerKey: join(pki, "analyzer", "analyzer.domain.com.key"),
    agentCrt: join(pki, "agent", "agent.domain.com.crt"),
    agentKey: join(pki, "agent", "agent.domain.com.key"),
  };
  const inventory = join(dir, "hosts");
  let result: any;
  let view: string;
  let first: { recap: Recap; stdout: string };
  let second: { recap: Recap; stdout: string };

  beforeAll(() => {
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa"], dir), "init");
    writeFileSync(
      inventory,
      `[skydive:children]
analyzers
agents

[skydive:vars]
skydive_listen_ip=0.0.0.0

[analyzers]
${hostVars(A, " ansible_host=127.0.0.1")}

[agents]
${hostVars(B)}

[agents:vars]
skydive_extra_config={'agent.topology.probes': ['socketinfo', 'docker'], 'logging.level': 'DEBUG'}
`,
    );
    // The agent host already has a config: its keys must survive, including text that looks like a comment.
    mkdirSync(join(B.dir, "etc"), { recursive: true });
    writeFileSync(
      B.config,
      `# the operator's config
analyzers:
  - 10.9.9.9:8082
logging:
  level: INFO
motd: "a # inside a string is data"
agent:
  topology:
    probes: [ovsdb]
  X509_cert: /old/agent.crt
`,
    );
    result = JSON.parse(ok(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], dir), "export ansible").stdout);
    view = ok(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki"], dir), "export ansible (view)").stdout;
    first = playbook(dir, inventory, site(dir, "deploy"), ["--diff"]);
    second = playbook(dir, inventory, join(dir, "deploy", "skydive-tls.yml"));
  }, LONG);

  it("records the release, and says what legacy costs in the JSON and the view", () => {
    expect(result).toMatchObject({ ok: true, kind: "ansible", skydive: "legacy", dialed: ["127.0.0.1:8082"] });
    expect(result.skydiveFrom).toContain("skycert.json");
    expect(result.apply).toEqual(["ansible-playbook -i hosts deploy/skydive-tls.yml"]);
    expect(result.hosts.every((h: any) => h.holdsAnalyzerKey)).toBe(true);
    const warnings = result.warnings.join(" ");
    expect(warnings).toContain("agent hosts agent1 get the analyzer's private key");
    expect(warnings).toContain("every agent host holds the analyzer's private key and can impersonate the analyzer");
    expect(warnings).toContain("the way out: a CA");
    expect(view).toContain("(Skydive legacy)");
    expect(view).toContain("agent hosts agent1 get the analyzer's private key");
    expect(view).toContain("the way out: a CA");
    checkBuiltinOnly(join(dir, "deploy", "skydive-tls.yml"));
    expect(mode(join(dir, "deploy", "files", "legacy", "analyzer.key"))).toBe("400");
    expect(readdirSync(join(dir, "deploy", "files", "legacy")).sort()).toEqual(["agent.crt", "agent.key", "analyzer.crt", "analyzer.key"]);
  });

  it("the first run changes both hosts; a second run changes nothing; no key in Ansible's output", () => {
    for (const h of ["analyzer1", "agent1"]) {
      expect(first.recap[h], h).toMatchObject({ failed: 0, unreachable: 0 });
      expect(first.recap[h]!.changed, h).toBeGreaterThan(0);
      expect(second.recap[h], h).toMatchObject({ changed: 0, failed: 0 });
    }
    expect(first.stdout).not.toContain("PRIVATE KEY");
  });

  it("both hosts get all four files, with their modes: agents serve their API with the analyzer's pair", () => {
    for (const m of [A, B]) {
      expect(mode(m.tls)).toBe("700");
      expect(readdirSync(m.tls).sort(), m.name).toEqual(["agent.crt", "agent.key", "analyzer.crt", "analyzer.key"]);
      expect(mode(join(m.tls, "analyzer.key"))).toBe("400");
      expect(mode(join(m.tls, "agent.key"))).toBe("400");
      expect(mode(join(m.tls, "analyzer.crt"))).toBe("444");
      expect(same(join(m.tls, "analyzer.key"), src.analyzerKey)).toBe(true);
      expect(same(join(m.tls, "agent.crt"), src.agentCrt)).toBe(true);
    }
    expect(parseYaml(readFileSync(A.config, "utf8"))).toEqual({
      analyzer: { X509_cert: join(A.tls, "analyzer.crt"), X509_key: join(A.tls, "analyzer.key") },
      agent: { X509_cert: join(A.tls, "agent.crt"), X509_key: join(A.tls, "agent.key") },
    });
  });

  it("sets the legacy keys and the analyzers in the agent's config and keeps the rest, with a backup", () => {
    expect(parseYaml(readFileSync(B.config, "utf8"))).toEqual({
      analyzers: ["127.0.0.1:8082"],
      logging: { level: "INFO" },
      motd: "a # inside a string is data",
      agent: { topology: { probes: ["ovsdb"] }, X509_cert: join(B.tls, "agent.crt"), X509_key: join(B.tls, "agent.key") },
      analyzer: { X509_cert: join(B.tls, "analyzer.crt"), X509_key: join(B.tls, "analyzer.key") },
    });
    expect(readdirSync(join(B.dir, "etc")).filter((n) => n.startsWith("skydive.yml.") && n.endsWith("~"))).toHaveLength(1);
  });

  it("skydive_extra_config: the inventory's keys combined with the legacy keys", () => {
    expect(JSON.parse(readFileSync(join(B.dir, "extra.json"), "utf8"))).toEqual({
      "agent.topology.probes": ["socketinfo", "docker"],
      "logging.level": "DEBUG",
      "analyzer.X509_cert": join(B.tls, "analyzer.crt"),
      "analyzer.X509_key": join(B.tls, "analyzer.key"),
      "agent.X509_cert": join(B.tls, "agent.crt"),
      "agent.X509_key": join(B.tls, "agent.key"),
      analyzers: ["127.0.0.1:8082"],
    });
  });

  it("skycert validate passes on what landed, on each host", () => {
    ok(run(["validate", "--config", A.config, "--host", "127.0.0.1"], dir), "validate analyzer host");
    ok(run(["validate", "--config", B.config], dir), "validate agent host");
  });

  it("emulator: both hosts start with TLS on and the agent connects to the analyzer", async () => {
    const e = await emulate("legacy", [A, B], { analyzer1: "127.0.0.1:8082" });
    expect(e.starts.analyzer1).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true });
    expect(e.starts.agent1).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true });
    const d = e.dials["agent1 -> 127.0.0.1:8082"]!;
    expect(d.error).toBe("");
    expect(d).toMatchObject({ ok: true, serverName: "127.0.0.1", clientCertSent: "CN=skydive-agent" });
  });

  it("a re-export is unchanged; changed certificates need --force, then the playbook installs them", () => {
    const again = ok(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], dir));
    expect(JSON.parse(again.stdout).files.every((f: any) => f.status === "unchanged")).toBe(true);
    ok(run(["init", "agent", "--out", "pki", "--key-type", "ecdsa", "--force"], dir), "re-issue the agent pair");
    const tree = snapshot(join(dir, "deploy"));
    expect(oneLine(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki"], dir), 1)).toMatch(/exist and differ .*--force/);
    expect(snapshot(join(dir, "deploy"))).toEqual(tree);
    ok(run(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--force"], dir));
    const { recap } = playbook(dir, inventory, join(dir, "deploy", "skydive-tls.yml"));
    expect(recap.agent1!.changed).toBe(1);
    expect(recap.analyzer1!.changed).toBe(1);
    expect(same(join(B.tls, "agent.crt"), src.agentCrt)).toBe(true);
    expect(same(join(A.tls, "agent.key"), src.agentKey)).toBe(true);
  }, LONG);
});

describe("refusals and usage", () => {
  const dir = scratch("skycert-export-ansible-usage-");
  beforeAll(() => {
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa"], dir), "init");
  });

  it("legacy: refuses when the analyzer certificate lacks an analyzer host's address, with the renew command", () => {
    const r = run(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy", "--from", "pki"], dir);
    const line = oneLine(r, 1);
    expect(line).toContain("san-coverage");
    expect(line).toContain("does not cover 10.0.0.4");
    expect(line).toContain("(fix: skycert renew pki/analyzer/analyzer.domain.com.crt --san 10.0.0.4;");
    expect(existsSync(join(dir, "deploy"))).toBe(false);
    // What renew --san does (keeping the key): here the pairs are made again with the address.
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa", "--san", "10.0.0.4", "--force"], dir), "init with the address");
    const again = JSON.parse(ok(run(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy", "--from", "pki", "--json"], dir)).stdout);
    expect(again.dialed).toEqual(["10.0.0.4:8082"]);
  });

  it("CA fleet: a host without a certificate in the record is named, with the init command that issues it", () => {
    ok(run(["init", "ca", "--out", "capki", "--key-type", "ecdsa"], dir), "init ca");
    ok(run(["init", "analyzer", "--ca", "capki", "--inventory", MULTIPLE, "--out", "capki", "--key-type", "ecdsa"], dir), "init analyzer --ca");
    const line = oneLine(run(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy-ca", "--from", "capki"], dir), 1);
    expect(line).toContain("host 10.0.0.9 of");
    expect(line).toContain("has no certificate in the fleet record capki/skycert.json");
    expect(line).toContain(`(fix: skycert init agent --ca capki --inventory ${MULTIPLE} --out capki`);
    expect(existsSync(join(dir, "deploy-ca"))).toBe(false);
  });

  it("a release the source cannot serve is a usage error", () => {
    expect(oneLine(run(["export", "ansible", "--inventory", MULTIPLE, "--out", "d", "--from", "pki", "--skydive", "0.21"], dir), 2)).toContain("--skydive 0.21");
    expect(oneLine(run(["export", "ansible", "--inventory", MULTIPLE, "--out", "d", "--from", "capki", "--skydive", "legacy"], dir), 2)).toContain("--skydive legacy");
  });

  it("an inventory skydive_extra_config that is not a dict stops the play on that host, as Ansible reads it", () => {
    const m = machines(dir, [["solo", ["analyzer", "agent"]]])[0]!;
    writeFileSync(join(dir, "bad"), `[analyzers]\n${hostVars(m, " ansible_host=127.0.0.1")}\n[agents]\nsolo\n[agents:vars]\nskydive_extra_config=['docker']\n`);
    ok(run(["init", "analyzer", "agent", "--out", "solo-pki", "--key-type", "ecdsa"], dir), "init");
    ok(run(["export", "ansible", "--inventory", "bad", "--out", "deploy-bad", "--from", "solo-pki"], dir), "export");
    const { recap, stdout } = playbook(dir, join(dir, "bad"), join(dir, "deploy-bad", "skydive-tls.yml"), [], false);
    expect(recap.solo).toMatchObject({ failed: 1 });
    expect(stdout).toContain("skydive_extra_config is not a dict in the inventory");
    expect(existsSync(m.config)).toBe(false);
  }, LONG);

  it("a fleet made with --deploy-dir exports to that folder on the hosts; validate passes on what landed", () => {
    const m = machines(dir, [["dd", ["analyzer", "agent"]]])[0]!;
    // The deploy dir is where the files land, so the inventory does not set skycert_tls_dir.
    writeFileSync(join(dir, "dd-hosts"), `[analyzers]\ndd ansible_connection=local ansible_host=127.0.0.1 skydive_config_file=${m.config}\n[agents]\ndd\n`);
    ok(run(["init", "ca", "--out", "dd-pki", "--key-type", "ecdsa"], dir), "init ca");
    ok(run(["init", "analyzer", "agent", "--ca", "dd-pki", "--inventory", "dd-hosts", "--out", "dd-pki", "--deploy-dir", m.tls, "--key-type", "ecdsa"], dir), "init --deploy-dir");
    const result = JSON.parse(ok(run(["export", "ansible", "--inventory", "dd-hosts", "--out", "deploy-dd", "--from", "dd-pki", "--json"], dir), "export").stdout);
    expect(result.tlsDir).toBe(m.tls);
    const { recap } = playbook(dir, join(dir, "dd-hosts"), join(dir, "deploy-dd", "skydive-tls.yml"));
    expect(recap.dd).toMatchObject({ failed: 0 });
    expect(readdirSync(m.tls).sort()).toEqual(["analyzer.crt", "analyzer.key", "skydive-ca.crt"]);
    expect(mode(join(m.tls, "analyzer.key"))).toBe("400");
    expect(readFileSync(m.config, "utf8")).toContain(`server_cert: ${join(m.tls, "analyzer.crt")}`);
    const v = run(["validate", "--config", m.config, "--host", "127.0.0.1", "--json"], dir);
    expect(v.code, v.stdout).toBe(0);
  }, LONG);

  it("needs --inventory and --out (exit 2), names an inventory Ansible refuses, and documents itself", () => {
    expect(run(["export", "ansible", "--out", "x"], dir).code).toBe(2);
    writeFileSync(join(dir, "broken.yml"), "all:\n  children: [\n");
    expect(oneLine(run(["export", "ansible", "--inventory", "broken.yml", "--out", "x", "--from", "pki"], dir), 2)).toMatch(/--inventory \S*broken\.yml: /);
    const help = ok(run(["export", "ansible", "--help"], dir)).stdout;
    expect(help).toContain("Examples:");
    expect(help).toContain("Exit codes:");
    expect(help).toContain("skycert_tls_dir");
    expect(help).toContain("skydive_extra_config");
  });
});
