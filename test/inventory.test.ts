/**
 * The inventory reader against Ansible itself: for Skydive's own inventories,
 * the YAML fixture and inventories that use every INI rule, the hosts of the
 * agents group and their addresses must be what `ansible-inventory --list`
 * says. Bad lines are one error naming file:line, as Ansible names them.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SkycertError } from "../src/core/errors.js";
import { groupAddresses, groupHosts, hostAddress, inventoryFormat, parseInventory, shlexSplit } from "../src/core/inventory.js";
import { ROOT, SHARED, ok, scratch, skycert } from "./helpers/run.js";

const dir = scratch("skycert-inv-");

/** What Ansible says: host -> address (ansible_host, else the name), for the hosts of `group` and its children. */
function ansible(file: string, group = "agents"): Record<string, string> {
  const r = spawnSync("ansible-inventory", ["-i", file, "--list"], { encoding: "utf8", env: { ...process.env, ANSIBLE_NOCOLOR: "1" } });
  if (r.status !== 0) throw new Error(`ansible-inventory failed: ${r.stderr}`);
  const data = JSON.parse(r.stdout) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
  const hosts = (g: string): string[] => [...(data[g]?.hosts ?? []), ...(data[g]?.children ?? []).flatMap(hosts)];
  const out: Record<string, string> = {};
  for (const h of hosts(group)) out[h] = String(data._meta.hostvars[h]?.ansible_host ?? h);
  return out;
}

function ours(file: string, group = "agents"): Record<string, string> {
  const inv = parseInventory(readFileSync(file, "utf8"), file);
  return Object.fromEntries(groupHosts(inv, group).map((h) => [h, hostAddress(inv, h).address]));
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const TRICKY = `# every INI rule Skydive's inventories could meet
; semicolon comment
ungrouped-host ansible_host=192.0.2.7
[web]
node[01:03] ansible_host=10.1.0.1  # trailing comment
db-[a:c]:2222
h#comment-glued-to-the-name
"quoted host" x='a b'
[1:5:2].example.com
esc\\ aped ansible_host="10.9.9.9"
[web:vars]
http_port = 8080
[agents:children]
web
sub
[sub]
[fe80::1]:22
2001:db8::5 ansible_host="2001:db8::6"
[all:vars]
ansible_host='fallback.example'
[agents]
direct ansible_host=h.example
[sub:vars]
ansible_host = "sub.example"
`;

describe("agents and their addresses, as ansible-inventory reads them", () => {
  const files = {
    "hosts.multiple.container": join(SHARED, "skydive", "inventory-hosts.multiple.container"),
    "hosts.multiple": join(SHARED, "skydive", "inventory-hosts.multiple"),
    "hosts.localhost.extra": join(SHARED, "skydive", "inventory-hosts.localhost.extra"),
    "fixtures/inventory-multiple.yml": join(ROOT, "fixtures", "inventory-multiple.yml"),
    "every INI rule": write("tricky", TRICKY),
    "YAML with ranges, string hosts and group vars": write(
      "ranges.yaml",
      `all:
  vars:
    ansible_host: fallback.example
  children:
    agents:
      hosts:
        rack[1:2]-node[a:b]:
        solo: { ansible_host: 10.2.0.1 }
      children:
        edge:
          hosts: edge01
          vars: { ansible_host: edge.example }
`,
    ),
    "extensionless YAML": write("yamlnoext", "agents:\n  hosts:\n    a1:\n      ansible_host: 10.3.0.1\n    a2:\n"),
  };
  for (const [name, file] of Object.entries(files)) {
    it(name, () => {
      const expected = ansible(file);
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      expect(ours(file)).toEqual(expected);
      // Ansible's order, too: a fleet is issued and listed in inventory order.
      expect(Object.keys(ours(file))).toEqual(Object.keys(expected));
    });
  }

  it("reads Skydive's container inventory: 10.0.0.9 and 10.0.0.4 through [skydive:children]", () => {
    const file = files["hosts.multiple.container"];
    const inv = parseInventory(readFileSync(file, "utf8"), file);
    expect(inv.format).toBe("ini");
    expect(groupAddresses(inv, "agents").map((h) => [h.host, h.address, h.from, h.where.line])).toEqual([
      ["10.0.0.9", "10.0.0.9", "name", 13],
      ["10.0.0.4", "10.0.0.4", "name", 10], // first listed under [analyzers]
    ]);
    expect(groupHosts(inv, "skydive")).toEqual(["10.0.0.4", "10.0.0.9"]);
    expect(inv.groups.get("agents")!.vars.skydive_extra_config).toBe("{'agent.topology.probes': ['docker']}");
  });

  it("chooses the format as Ansible does: .yml/.yaml/.json and extensionless YAML mappings are YAML, the rest INI", () => {
    expect(inventoryFormat("hosts.yml")).toBe("yaml");
    expect(inventoryFormat("hosts.multiple.container", "[agents]\nh\n")).toBe("ini");
    expect(inventoryFormat("hosts", "[agents]\nh\n")).toBe("ini");
    expect(inventoryFormat("hosts", "all:\n  hosts:\n    h:\n")).toBe("yaml");
    expect(inventoryFormat("hosts", "10.0.0.1\n10.0.0.2\n")).toBe("ini");
  });

  it("splits host lines as Python's shlex.split(comments=True)", () => {
    const at = { file: "f", line: 1 };
    expect(shlexSplit(`h a='x y' b="q\\"z" c=d\\ e # tail`, at)).toEqual(["h", "a=x y", 'b=q"z', "c=d e"]);
    expect(shlexSplit("h#x", at)).toEqual(["h"]);
    expect(shlexSplit("  # only a comment", at)).toEqual([]);
  });
});

describe("bad inventories: one error naming file:line", () => {
  const cases: [string, string, RegExp][] = [
    ["unknown section type", "[agents:hosts2]\nh\n", /:1: section \[agents:hosts2\] has unknown type/],
    ["spaces in a section header", "[ agents ]\nh\n", /:1: invalid section header/],
    ["host variable without =", "[agents]\nh ansible_host\n", /:2: expected key=value host variable, got "ansible_host"/],
    ["unclosed quote", "[agents]\nh x='abc\n", /:2: no closing quotation/],
    ["[g:children] naming an undeclared group", "[skydive:children]\nagents\nfoo\n[agents]\nh\n", /:3: \[skydive:children\] names group "foo", which is never declared/],
    ["[g:vars] for an undeclared group", "[x:vars]\na=1\n[agents]\nh\n", /:1: section \[x:vars\] is for group "x"/],
    ["vars line without =", "[agents]\nh\n[agents:vars]\njust-a-word\n", /:4: expected key=value in \[agents:vars\]/],
    ["range with unequal widths", "[agents]\nnode[01:100]\n", /:2: host range \[01:100\] must give begin and end with the same number of digits/],
    ["range with begin > end", "[agents]\nn[z:a]\n", /:2: host range \[z:a\] must have begin <= end/],
    ["port-less colon", "[agents]\nnode:\n", /:2: host pattern "node:" ends in ":"/],
    ["cycle of children", "[a:children]\nb\n[b:children]\na\n[agents]\nh\n", /group "[ab]" is its own descendant/],
  ];
  for (const [name, text, message] of cases) {
    it(name, () => {
      const file = write(name.replace(/\W+/g, "-"), text);
      let err: unknown;
      try {
        parseInventory(text, file);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SkycertError);
      expect((err as SkycertError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message.startsWith(file)).toBe(true);
      // Ansible refuses these too (it falls back to "no inventory parsed").
      const r = spawnSync("ansible-inventory", ["-i", file, "--list"], { encoding: "utf8" });
      expect(`${r.stdout}${r.stderr}`).toMatch(/Failed to parse|Unable to parse|ERROR|recursive/i);
    });
  }

  const yamlCases: [string, string, RegExp][] = [
    ["a misspelt key", "all:\n  children:\n    agents:\n      host:\n        a1:\n", /:4: unexpected key "host" in group "agents"/],
    ["an integer host name", "agents:\n  hosts:\n    1:\n", /:3: host name 1 must be a string/],
    ["host variables that are a list", "agents:\n  hosts:\n    a1: [x]\n", /:3: variables of host "a1" must be a mapping/],
    ["malformed YAML", "agents:\n  hosts:\n    a1: {\n", /malformed YAML/],
  ];
  for (const [name, text, message] of yamlCases) {
    it(`YAML: ${name}`, () => {
      const file = write(`${name.replace(/\W+/g, "-")}.yml`, text);
      expect(() => parseInventory(text, file)).toThrow(message);
    });
  }

  it("an inventory without an agents group, or with an empty one, is an error naming the file", () => {
    const inv = parseInventory("[analyzers]\n10.0.0.4\n", "inv");
    expect(() => groupAddresses(inv, "agents")).toThrow(/^inv: no "agents" group$/);
    try {
      groupAddresses(inv, "agents");
    } catch (err) {
      expect((err as SkycertError).remedy).toContain("groups here: analyzers");
    }
    const empty = parseInventory("[agents]\n", "inv2");
    expect(() => groupAddresses(empty, "agents")).toThrow(/inv2:1: group "agents" has no hosts/);
  });

  it("the CLI prints one line naming file:line and exits 2, before any key or file is made", () => {
    const bad = write("bad-cli", "[agents]\n10.0.0.9 ansible_host\n");
    const out = join(dir, "cli-out");
    const r = skycert(["init", "agent", "--ca", join(dir, "no-ca"), "--inventory", bad, "--out", out]);
    // The CA is checked after the inventory: the inventory's line is the error.
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${bad}:2: expected key=value host variable`);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    const missing = skycert(["init", "agent", "--ca", join(dir, "no-ca"), "--inventory", join(dir, "nope"), "--out", out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("--inventory");
    ok(skycert(["--version"]));
  });
});
