/**
 * `skycert export ansible`: ansible-playbook runs the exported playbook for real
 * against local hosts (ansible_connection=local), each with its own
 * skycert_tls_dir and skydive_config_file in a scratch folder. Checked: files
 * and modes, the config keys (and the keys that were already there), no
 * analyzer key on agent hosts, a second run with changed=0, skycert validate on
 * what landed, and skydive_extra_config as ansible-inventory itself resolves it
 * with the exported vars (merged with the inventory's). The Python-literal
 * reader behind the merge is checked against ansible-inventory too.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { literalEval } from "../src/core/pyliteral.js";
import { BIN, SHARED, ok, scratch, sh, skycert, tool } from "./helpers/run.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

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
    ANSIBLE_LOCAL_TEMP: join(tmp, "local"),
    ANSIBLE_REMOTE_TEMP: join(tmp, "remote"),
    ANSIBLE_HOME: tmp,
    ANSIBLE_CONFIG: join(tmp, "none.cfg"),
    LC_ALL: "C.UTF-8",
    LANG: "C.UTF-8",
  };
}

/** Runs the playbook; returns each host's PLAY RECAP counters. */
function playbook(dir: string, inventory: string, out: string): Record<string, Record<string, number>> {
  const r = ok(tool("ansible-playbook", ["-i", inventory, join(out, "skydive-tls.yml")], { cwd: dir, env: ansibleEnv(dir) }), "ansible-playbook");
  const recap: Record<string, Record<string, number>> = {};
  for (const m of r.stdout.matchAll(/^(\S+)\s+:\s+(.*)$/gm)) {
    recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
  }
  return recap;
}

/** What ansible-inventory gives a host (with the playbook folder's group_vars/host_vars when given). */
function inventoryHost(dir: string, inventory: string, host: string, playbookDir?: string): Record<string, any> {
  const args = ["-i", inventory, "--host", host, ...(playbookDir ? ["--playbook-dir", playbookDir] : [])];
  return JSON.parse(ok(tool("ansible-inventory", args, { cwd: dir, env: ansibleEnv(dir) }), "ansible-inventory").stdout);
}

/** Every file below `root`. */
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
    for (const task of play.tasks) {
      const modules = Object.keys(task).filter((k) => !keywords.has(k));
      expect(modules, task.name).toHaveLength(1);
      expect(modules[0], task.name).toMatch(/^ansible\.builtin\.[a-z_]+$/);
    }
  }
}

describe("legacy schema: one analyzer host and one agent host", () => {
  const dir = scratch("skycert-export-ansible-legacy-");
  const A = join(dir, "hostA");
  const B = join(dir, "hostB");
  const pki = join(dir, "pki");
  const src = {
    analyzerCrt: join(pki, "analyzer", "analyzer.domain.com.crt"),
    analyzerKey: join(pki, "analyzer", "analyzer.domain.com.key"),
    agentCrt: join(pki, "agent", "agent.domain.com.crt"),
    agentKey: join(pki, "agent", "agent.domain.com.key"),
  };
  const inventory = join(dir, "hosts");
  let result: any;
  let first: Record<string, Record<string, number>>;
  let second: Record<string, Record<string, number>>;

  beforeAll(() => {
    ok(skycert(["init", "analyzer", "agent", "--out", "pki"], { cwd: dir }), "init");
    writeFileSync(
      inventory,
      `[skydive:children]
analyzers
agents

[skydive:vars]
skydive_listen_ip=0.0.0.0

[analyzers]
analyzer1 ansible_connection=local ansible_host=127.0.0.1 skycert_tls_dir=${A}/tls skydive_config_file=${A}/etc/skydive.yml

[agents]
agent1 ansible_connection=local skycert_tls_dir=${B}/tls skydive_config_file=${B}/etc/skydive.yml

[agents:vars]
skydive_extra_config={'agent.topology.probes': ['socketinfo', 'docker'], 'logging.level': 'DEBUG'}
`,
    );
    // The agent host already has a config: its keys must survive, including text that looks like a comment.
    mkdirSync(join(B, "etc"), { recursive: true });
    writeFileSync(
      join(B, "etc", "skydive.yml"),
      `# the operator's config
analyzers:
  - 127.0.0.1:8082
logging:
  level: INFO
motd: "a # inside a string is data"
agent:
  topology:
    probes: [ovsdb]
  X509_cert: /old/agent.crt
`,
    );
    const r = ok(skycert(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], { cwd: dir }), "export ansible");
    result = JSON.parse(r.stdout);
    first = playbook(dir, inventory, join(dir, "deploy"));
    second = playbook(dir, inventory, join(dir, "deploy"));
  });

  it("writes a playbook of ansible.builtin modules, the files it copies, and group vars", () => {
    expect(result).toMatchObject({ ok: true, kind: "ansible", schema: "legacy", dialed: ["127.0.0.1"] });
    expect(result.apply).toEqual(["ansible-playbook -i hosts deploy/skydive-tls.yml"]);
    checkBuiltinOnly(join(dir, "deploy", "skydive-tls.yml"));
    expect(mode(join(dir, "deploy", "files", "analyzer", "analyzer.key"))).toBe("400");
    expect(mode(join(dir, "deploy", "files", "agent", "agent.key"))).toBe("400");
    expect(readdirSync(join(dir, "deploy", "files", "agent")).sort()).toEqual(["agent.crt", "agent.key", "analyzer.crt"]);
    expect(readdirSync(join(dir, "deploy", "group_vars")).sort()).toEqual(["agents.yml", "analyzers.yml"]);
    expect(existsSync(join(dir, "deploy", "host_vars"))).toBe(false);
  });

  it("the first run changes both hosts; a second run changes nothing", () => {
    expect(first.analyzer1).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.agent1).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.analyzer1!.changed).toBeGreaterThan(0);
    expect(first.agent1!.changed).toBeGreaterThan(0);
    expect(second.analyzer1).toMatchObject({ changed: 0, failed: 0 });
    expect(second.agent1).toMatchObject({ changed: 0, failed: 0 });
  });

  it("the analyzer host gets its pair and the agent certificate, with their modes", () => {
    expect(mode(join(A, "tls"))).toBe("700");
    expect(readdirSync(join(A, "tls")).sort()).toEqual(["agent.crt", "analyzer.crt", "analyzer.key"]);
    expect(mode(join(A, "tls", "analyzer.key"))).toBe("400");
    expect(mode(join(A, "tls", "analyzer.crt"))).toBe("444");
    expect(mode(join(A, "tls", "agent.crt"))).toBe("444");
    expect(same(join(A, "tls", "analyzer.key"), src.analyzerKey)).toBe(true);
    expect(same(join(A, "tls", "agent.crt"), src.agentCrt)).toBe(true);
    expect(parseYaml(readFileSync(join(A, "etc", "skydive.yml"), "utf8"))).toEqual({
      analyzer: { X509_cert: join(A, "tls", "analyzer.crt"), X509_key: join(A, "tls", "analyzer.key") },
      agent: { X509_cert: join(A, "tls", "agent.crt") },
    });
  });

  it("the agent host gets its pair and the analyzer certificate, never the analyzer key", () => {
    expect(readdirSync(join(B, "tls")).sort()).toEqual(["agent.crt", "agent.key", "analyzer.crt"]);
    expect(mode(join(B, "tls", "agent.key"))).toBe("400");
    expect(mode(join(B, "tls", "agent.crt"))).toBe("444");
    expect(same(join(B, "tls", "agent.key"), src.agentKey)).toBe(true);
    expect(same(join(B, "tls", "analyzer.crt"), src.analyzerCrt)).toBe(true);
    const analyzerKey = readFileSync(src.analyzerKey);
    expect(filesUnder(B).some((f) => readFileSync(f).equals(analyzerKey))).toBe(false);
  });

  it("sets the TLS keys in the agent's config and keeps the rest", () => {
    const cfg = parseYaml(readFileSync(join(B, "etc", "skydive.yml"), "utf8"));
    expect(cfg).toEqual({
      analyzers: ["127.0.0.1:8082"],
      logging: { level: "INFO" },
      motd: "a # inside a string is data",
      agent: { topology: { probes: ["ovsdb"] }, X509_cert: join(B, "tls", "agent.crt"), X509_key: join(B, "tls", "agent.key") },
      // analyzer.X509_key: the switch older agents need; the file is not on this host.
      analyzer: { X509_cert: join(B, "tls", "analyzer.crt"), X509_key: join(B, "tls", "analyzer.key") },
    });
    // The previous version is kept beside it.
    expect(readdirSync(join(B, "etc")).filter((n) => n.startsWith("skydive.yml.") && n.endsWith("~"))).toHaveLength(1);
  });

  it("skycert validate passes on what landed, on each host", () => {
    ok(skycert(["validate", "--config", join(A, "etc", "skydive.yml"), "--role", "analyzer", "--host", "127.0.0.1"], { cwd: dir }), "validate analyzer host");
    ok(skycert(["validate", "--config", join(B, "etc", "skydive.yml"), "--role", "agent"], { cwd: dir }), "validate agent host");
  });

  it("skydive_extra_config: the inventory's keys merged with the TLS keys, as ansible-inventory resolves it", () => {
    const before = inventoryHost(dir, inventory, "agent1").skydive_extra_config;
    expect(before).toEqual({ "agent.topology.probes": ["socketinfo", "docker"], "logging.level": "DEBUG" });
    const after = inventoryHost(dir, inventory, "agent1", join(dir, "deploy")).skydive_extra_config;
    const dirExpr = "{{ skycert_tls_dir | default('/etc/skydive/tls') }}";
    expect(after).toEqual({
      ...before,
      "agent.X509_cert": `${dirExpr}/agent.crt`,
      "agent.X509_key": `${dirExpr}/agent.key`,
      "analyzer.X509_cert": `${dirExpr}/analyzer.crt`,
      "analyzer.X509_key": `${dirExpr}/analyzer.key`,
    });
    expect(inventoryHost(dir, inventory, "analyzer1", join(dir, "deploy")).skydive_extra_config).toEqual({
      "analyzer.X509_cert": `${dirExpr}/analyzer.crt`,
      "analyzer.X509_key": `${dirExpr}/analyzer.key`,
      "agent.X509_cert": `${dirExpr}/agent.crt`,
    });
    expect(result.hosts.find((h: any) => h.host === "agent1").skydiveExtraConfig).toEqual(after);
  });

  it("a re-export is unchanged; changed certificates need --force", () => {
    const again = ok(skycert(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], { cwd: dir }));
    expect(JSON.parse(again.stdout).files.every((f: any) => f.status === "unchanged")).toBe(true);
    ok(skycert(["renew", src.agentCrt], { cwd: dir }), "renew");
    const refused = skycert(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exist and differ .*--force/);
    ok(skycert(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--force"], { cwd: dir }));
    const recap = playbook(dir, inventory, join(dir, "deploy"));
    expect(recap.agent1!.changed).toBe(1);
    expect(recap.analyzer1!.changed).toBe(1);
    expect(same(join(B, "tls", "agent.crt"), src.agentCrt)).toBe(true);
  });
});

describe("CA mode with a fleet: per-host pairs, a host in both groups, a host-level skydive_extra_config", () => {
  const dir = scratch("skycert-export-ansible-ca-");
  const pki = join(dir, "pki");
  const inventory = join(dir, "hosts.yml");
  const hostDir = (h: string) => join(dir, "hosts", h);
  const HOSTS = ["analyzer1", "agent1", "both1"];
  let result: any;
  let first: Record<string, Record<string, number>>;
  let second: Record<string, Record<string, number>>;

  beforeAll(() => {
    const vars = (h: string) => `ansible_connection: local\n          ansible_host: 127.0.0.1\n          skycert_tls_dir: ${hostDir(h)}/tls\n          skydive_config_file: ${hostDir(h)}/skydive.yml`;
    writeFileSync(
      inventory,
      `all:
  children:
    analyzers:
      hosts:
        analyzer1:
          ${vars("analyzer1")}
        both1:
    agents:
      vars:
        skydive_extra_config:
          agent.topology.probes: [docker]
      hosts:
        agent1:
          ${vars("agent1")}
          skydive_extra_config: {logging.level: WARNING}
        both1:
          ${vars("both1")}
`,
    );
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }), "init ca");
    ok(skycert(["init", "analyzer", "--ca", "pki", "--inventory", inventory, "--out", "pki"], { cwd: dir }), "init analyzer --ca");
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", inventory, "--out", "pki"], { cwd: dir }), "fleet");
    const r = ok(skycert(["export", "ansible", "--inventory", inventory, "--out", "deploy", "--from", "pki", "--json"], { cwd: dir }), "export ansible");
    result = JSON.parse(r.stdout);
    first = playbook(dir, inventory, join(dir, "deploy"));
    second = playbook(dir, inventory, join(dir, "deploy"));
  });

  it("uses each agent's own pair from the fleet, and ships no shared agent pair", () => {
    expect(result.schema).toBe("tls");
    expect(result.hosts.map((h: any) => [h.host, h.roles, h.agentPair ?? null])).toEqual([
      ["analyzer1", ["analyzer"], null],
      ["both1", ["analyzer", "agent"], "fleet"],
      ["agent1", ["agent"], "fleet"],
    ]);
    expect(readdirSync(join(dir, "deploy", "files", "agent"))).toEqual(["ca.crt"]);
    for (const h of ["agent1", "both1"]) {
      expect(same(join(hostDir(h), "tls", "agent.crt"), join(pki, "agents", h, "agent.domain.com.crt"))).toBe(true);
      expect(same(join(hostDir(h), "tls", "agent.key"), join(pki, "agents", h, "agent.domain.com.key"))).toBe(true);
      expect(mode(join(hostDir(h), "tls", "agent.key"))).toBe("400");
    }
    checkBuiltinOnly(join(dir, "deploy", "skydive-tls.yml"));
  });

  it("lands the right files on each host; the CA key goes nowhere", () => {
    expect(readdirSync(join(hostDir("analyzer1"), "tls")).sort()).toEqual(["analyzer.crt", "analyzer.key", "ca.crt"]);
    expect(readdirSync(join(hostDir("agent1"), "tls")).sort()).toEqual(["agent.crt", "agent.key", "ca.crt"]);
    expect(readdirSync(join(hostDir("both1"), "tls")).sort()).toEqual(["agent.crt", "agent.key", "analyzer.crt", "analyzer.key", "ca.crt"]);
    const caKey = readFileSync(join(pki, "ca", "skydive-ca.key"));
    const analyzerKey = readFileSync(join(pki, "analyzer", "analyzer.domain.com.key"));
    for (const f of [...filesUnder(join(dir, "hosts")), ...filesUnder(join(dir, "deploy"))]) expect(readFileSync(f).equals(caKey), f).toBe(false);
    expect(filesUnder(hostDir("agent1")).some((f) => readFileSync(f).equals(analyzerKey))).toBe(false);
  });

  it("the first run changes every host; a second run changes nothing", () => {
    for (const h of HOSTS) {
      expect(first[h], h).toMatchObject({ failed: 0, unreachable: 0 });
      expect(first[h]!.changed, h).toBeGreaterThan(0);
      expect(second[h], h).toMatchObject({ changed: 0, failed: 0 });
    }
  });

  it("sets the tls.* keys in each host's config", () => {
    const tls = (h: string) => parseYaml(readFileSync(join(hostDir(h), "skydive.yml"), "utf8")).tls;
    const at = (h: string, f: string) => join(hostDir(h), "tls", f);
    expect(tls("analyzer1")).toEqual({ server_cert: at("analyzer1", "analyzer.crt"), server_key: at("analyzer1", "analyzer.key"), ca_cert: at("analyzer1", "ca.crt"), require_client_cert: true });
    expect(tls("agent1")).toEqual({ client_cert: at("agent1", "agent.crt"), client_key: at("agent1", "agent.key"), ca_cert: at("agent1", "ca.crt") });
    expect(tls("both1")).toMatchObject({ server_cert: at("both1", "analyzer.crt"), client_cert: at("both1", "agent.crt"), require_client_cert: true });
  });

  it("skycert validate passes on what landed (both1 with a real handshake)", () => {
    ok(skycert(["validate", "--config", join(hostDir("analyzer1"), "skydive.yml"), "--role", "analyzer", "--host", "127.0.0.1"], { cwd: dir }), "analyzer1");
    ok(skycert(["validate", "--config", join(hostDir("agent1"), "skydive.yml"), "--role", "agent", "--host", "127.0.0.1"], { cwd: dir }), "agent1");
    const both = ok(skycert(["validate", "--config", join(hostDir("both1"), "skydive.yml"), "--host", "127.0.0.1", "--json"], { cwd: dir }), "both1");
    expect(JSON.parse(both.stdout).checks.find((c: any) => c.id === "handshake").status).toBe("pass");
  });

  it("host vars where the group files would not give a host its merged value; ansible-inventory agrees", () => {
    expect(readdirSync(join(dir, "deploy", "host_vars")).sort()).toEqual(["agent1.yml", "both1.yml"]);
    for (const h of HOSTS) {
      const resolved = inventoryHost(dir, inventory, h, join(dir, "deploy")).skydive_extra_config;
      const planned = result.hosts.find((x: any) => x.host === h).skydiveExtraConfig;
      expect(resolved, h).toEqual(planned);
    }
    const agent1 = inventoryHost(dir, inventory, "agent1", join(dir, "deploy")).skydive_extra_config;
    expect(agent1["logging.level"]).toBe("WARNING");
    expect(agent1["tls.client_cert"]).toBe("{{ skycert_tls_dir | default('/etc/skydive/tls') }}/agent.crt");
    const both1 = inventoryHost(dir, inventory, "both1", join(dir, "deploy")).skydive_extra_config;
    expect(both1).toMatchObject({ "agent.topology.probes": ["docker"], "tls.require_client_cert": true });
    expect(Object.keys(both1)).toEqual(expect.arrayContaining(["tls.server_cert", "tls.client_cert", "tls.ca_cert"]));
  });
});

describe("refusals and usage", () => {
  const dir = scratch("skycert-export-ansible-usage-");
  const MULTIPLE = join(SHARED, "skydive", "inventory-hosts.multiple");
  beforeAll(() => {
    ok(skycert(["init", "analyzer", "agent", "--out", "pki"], { cwd: dir }), "init");
  });

  it("refuses when the analyzer certificate lacks an analyzer host's address, with the exact command", () => {
    const r = skycert(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy", "--from", "pki"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("does not carry 10.0.0.4");
    const command = /run (skycert init [^\n]*?--force), then export again/.exec(r.stderr)![1]!;
    expect(command).toBe("skycert init analyzer --san 10.0.0.4 --out pki --force");
    ok(sh(`"${process.execPath}" "${BIN}" ${command.replace(/^skycert /, "")}`, { cwd: dir }), "the printed command");
    const again = ok(skycert(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy", "--from", "pki", "--json"], { cwd: dir }));
    expect(JSON.parse(again.stdout).dialed).toEqual(["10.0.0.4"]);
  });

  it("names an inventory skydive_extra_config that is not a dict (exit 2)", () => {
    writeFileSync(join(dir, "bad"), "[analyzers]\n127.0.0.1\n[agents]\n10.0.0.9\n[agents:vars]\nskydive_extra_config=['docker']\n");
    const r = skycert(["export", "ansible", "--inventory", "bad", "--out", "deploy-bad", "--from", "pki"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad: host 10\.0\.0\.9: skydive_extra_config is a list, not a dict/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses a host name that cannot name its host_vars file (exit 2), writing nothing", () => {
    writeFileSync(join(dir, "evil.yml"), 'all:\n  children:\n    analyzers:\n      hosts:\n        127.0.0.1:\n    agents:\n      hosts:\n        "../evil":\n          skydive_extra_config: {a: 1}\n');
    const r = skycert(["export", "ansible", "--inventory", "evil.yml", "--out", "deploy-evil", "--from", "pki"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('host "../evil" needs a host_vars file');
    expect(existsSync(join(dir, "deploy-evil"))).toBe(false);
  });

  it("CA mode: agents without a fleet folder or a shared pair are named, with the init command", () => {
    ok(skycert(["init", "ca", "--out", "capki", "--bits", "2048"], { cwd: dir }), "init ca");
    ok(skycert(["init", "analyzer", "--ca", "capki", "--san", "10.0.0.4", "--out", "capki"], { cwd: dir }), "init analyzer --ca");
    const r = skycert(["export", "ansible", "--inventory", MULTIPLE, "--out", "deploy-ca", "--from", "capki"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("agent 10.0.0.9");
    expect(r.stderr).toContain(`run skycert init agent --ca capki/ca --inventory ${MULTIPLE} --out capki`);
  });

  it("needs --inventory and --out (exit 2), and documents itself", () => {
    expect(skycert(["export", "ansible", "--out", "x"], { cwd: dir }).code).toBe(2);
    const help = ok(skycert(["export", "ansible", "--help"], { cwd: dir })).stdout;
    expect(help).toContain("Examples:");
    expect(help).toContain("Exit codes:");
    expect(help).toContain("skycert_tls_dir");
  });
});

describe("Python literals of INI inventories, as ansible-inventory reads them", () => {
  const dir = scratch("skycert-pyliteral-");
  const cases: [string, string][] = [
    ["skydive", "{'agent.topology.probes': ['socketinfo', 'docker'], 'logging.level': 'DEBUG'}"],
    ["trailing", "{'agent.topology.probes': ['socketinfo',]}"],
    ["nested", "{'a': [1, 2.5, -3, 1e3], \"b\": (1,), 'c': {'d': None, 'e': True, 'f': False}, 'g': ()}"],
    ["strings", "{'s': 'it\\'s', 't': \"tab\\there\", 'u': '\\u00e9\\x41', 'cat': 'ab' \"cd\", 'raw': r'\\d+', 'unknown': '\\q'}"],
    ["numbers", "{'hex': 0x1F, 'oct': 0o17, 'bin': 0b101, 'under': 1_000, 'neg': -0x10, 'f': .5}"],
    ["deep", "{'n': {'m': [[1], [2, [3, {'k': 'v'}]]]}}"],
    ["notliteral", "{'a': b}"],
    ["call", "dict(a=1)"],
    ["leading0", "{'a': 0777}"],
  ];

  it("matches ansible-inventory on each value", () => {
    const inv = join(dir, "literals");
    writeFileSync(inv, `[g]\nh1 ansible_connection=local\n\n[g:vars]\n${cases.map(([k, v]) => `${k}=${v}`).join("\n")}\n`);
    const vars = inventoryHost(dir, inv, "h1");
    for (const [k, v] of cases) {
      const mine = literalEval(v);
      if (typeof vars[k] === "string") {
        // Ansible keeps the text when literal_eval raises.
        expect(vars[k], k).toBe(v);
        expect(mine.ok, k).toBe(false);
      } else {
        expect(mine.ok, k).toBe(true);
        expect(mine.ok && mine.value, k).toEqual(vars[k]);
      }
    }
  });
});
