/**
 * Ansible inventories, read as Ansible reads them (ansible-core's `ini` and
 * `yaml` inventory plugins), for the one thing skycert needs: the hosts of a
 * group, children included, and the address each is reached at (`ansible_host`,
 * else the host name).
 *
 * INI, as Skydive ships its inventories: `[group]`, `[group:children]`,
 * `[group:vars]`, `#` and `;` comment lines, host lines split as Python's
 * shlex.split(comments=True) splits them (quotes, backslashes, `#` comments),
 * `key=value` host variables, `host:port`, and ranges such as `node[01:50]`,
 * `db-[a:f]` and `[1:10:2]`. A `[g:children]` entry may name a group declared
 * later; one never declared is an error, as in Ansible.
 *
 * YAML: top-level groups (usually `all`) with `hosts`, `vars` and `children`.
 * Where Ansible only warns and skips (a key other than hosts/vars/children, a
 * group that is not a mapping), skycert refuses, naming the line, because a
 * misspelt `host:` would otherwise drop hosts without a word.
 *
 * Pure: the caller reads the file.
 */
import { LineCounter, type Node as YamlNode, isMap, isScalar, parseDocument } from "yaml";
import { type Where, at, usageError } from "./errors.js";

export type InventoryFormat = "ini" | "yaml";

export interface InventoryHost {
  name: string;
  /** Host variables (later definitions win, as in Ansible). */
  vars: Record<string, unknown>;
  /** Where the host was first listed. */
  where: Where;
}

export interface InventoryGroup {
  name: string;
  /** Hosts listed directly in the group, in order. */
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  where: Where | undefined;
}

export interface Inventory {
  file: string;
  format: InventoryFormat;
  groups: Map<string, InventoryGroup>;
  hosts: Map<string, InventoryHost>;
}

/** At most this many hosts after range expansion: a typo such as `[1:9999999]` is an error, not an hour of keygen. */
export const MAX_HOSTS = 100_000;

/**
 * Ansible's order: the yaml plugin takes .yml, .yaml and .json files, and files
 * without an extension that parse as a YAML mapping; everything else is INI.
 */
export function inventoryFormat(file: string, text?: string): InventoryFormat {
  if (/\.(ya?ml|json)$/i.test(file)) return "yaml";
  if (/\.[^/.]+$/.test(file.split("/").pop() ?? "") || text === undefined) return "ini";
  const doc = parseDocument(text, { uniqueKeys: false });
  return doc.errors.length === 0 && isMap(doc.contents) ? "yaml" : "ini";
}

export function parseInventory(text: string, file: string, format: InventoryFormat = inventoryFormat(file, text)): Inventory {
  const inv: Inventory = { file, format, groups: new Map(), hosts: new Map() };
  group(inv, "all", undefined);
  group(inv, "ungrouped", undefined);
  if (format === "yaml") parseYaml(inv, text);
  else parseIni(inv, text);
  checkCycles(inv);
  return inv;
}

function fail(where: Where | undefined, message: string, remedy?: string): never {
  throw usageError(at(where, message), remedy);
}

function group(inv: Inventory, name: string, where: Where | undefined): InventoryGroup {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, hosts: [], children: [], vars: {}, where };
    inv.groups.set(name, g);
  } else if (!g.where && where) {
    g.where = where;
  }
  return g;
}

function addChild(inv: Inventory, parent: string, child: string): void {
  const p = group(inv, parent, undefined);
  if (!p.children.includes(child)) p.children.push(child);
}

function addHosts(inv: Inventory, groupName: string, names: string[], vars: Record<string, unknown>, where: Where): void {
  const g = group(inv, groupName, undefined);
  for (const name of names) {
    let host = inv.hosts.get(name);
    if (!host) {
      if (inv.hosts.size >= MAX_HOSTS) fail(where, `more than ${MAX_HOSTS} hosts`, "check the host ranges");
      host = { name, vars: {}, where };
      inv.hosts.set(name, host);
    }
    Object.assign(host.vars, vars);
    if (!g.hosts.includes(name)) g.hosts.push(name);
  }
}

// ---------------------------------------------------------------------------
// INI

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/u;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

function parseIni(inv: Inventory, text: string): void {
  const file = inv.file;
  // Groups named by [g:children] or [g:vars] before any [g] or [g:children] declares them.
  const pending = new Map<string, { where: Where; state: "vars" | "children"; parents: string[] }>();
  const declared = new Set<string>(["all", "ungrouped"]);
  let current = "ungrouped";
  let state: "hosts" | "vars" | "children" = "hosts";
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const where: Where = { file, line: i + 1 };
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = SECTION.exec(line);
    if (section) {
      current = section[1]!;
      const tag = section[2] ?? "hosts";
      if (tag !== "hosts" && tag !== "children" && tag !== "vars") {
        fail(where, `section [${section[1]}:${tag}] has unknown type "${tag}"`, "use [group], [group:children] or [group:vars]");
      }
      state = tag;
      if (!declared.has(current) && !inv.groups.has(current) && state === "vars" && !pending.has(current)) {
        pending.set(current, { where, state: "vars", parents: [] });
      }
      group(inv, current, where);
      if (state !== "vars") {
        declared.add(current);
        const p = pending.get(current);
        if (p) {
          for (const parent of p.parents) addChild(inv, parent, current);
          pending.delete(current);
        }
      }
      continue;
    }
    if (line.startsWith("[") && line.endsWith("]")) {
      fail(where, `invalid section header "${line}"`, "write [group], [group:children] or [group:vars], with no spaces inside the brackets");
    }
    if (state === "hosts") {
      const tokens = shlexSplit(line, where);
      if (tokens.length === 0) continue; // a line holding only a comment after blanks
      const names = expandHostPattern(tokens[0]!, where);
      const vars: Record<string, unknown> = {};
      for (const token of tokens.slice(1)) {
        const eq = token.indexOf("=");
        if (eq < 0) fail(where, `expected key=value host variable, got "${token}"`, "write host variables as name=value after the host name");
        vars[token.slice(0, eq)] = pythonLiteral(token.slice(eq + 1));
      }
      addHosts(inv, current, names, vars, where);
    } else if (state === "vars") {
      const eq = line.indexOf("=");
      if (eq < 0) fail(where, `expected key=value in [${current}:vars], got "${line}"`);
      group(inv, current, undefined).vars[line.slice(0, eq).trim()] = pythonLiteral(line.slice(eq + 1).trim());
    } else {
      const m = GROUP_NAME.exec(line);
      if (!m) fail(where, `expected a group name in [${current}:children], got "${line}"`);
      const child = m[1]!;
      if (declared.has(child)) addChild(inv, current, child);
      else {
        const p = pending.get(child);
        if (p && p.state === "children") p.parents.push(current);
        else pending.set(child, { where, state: "children", parents: [current] });
      }
    }
  }
  for (const [name, p] of pending) {
    if (p.state === "vars") {
      fail(p.where, `section [${name}:vars] is for group "${name}", which is never declared`, `declare it with [${name}] or [${name}:children]`);
    } else {
      fail(p.where, `[${p.parents[p.parents.length - 1]}:children] names group "${name}", which is never declared`, `add a [${name}] section, or remove the line`);
    }
  }
}

/**
 * Python's shlex.split(line, comments=True) in POSIX mode: blanks separate
 * words, quotes group, a backslash escapes the next character (inside double
 * quotes only `"` and `\`), `#` outside quotes ends the line.
 */
export function shlexSplit(line: string, where: Where): string[] {
  const tokens: string[] = [];
  let token = "";
  let inToken = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else token += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) token += line[++i];
      else token += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inToken) tokens.push(token);
      token = "";
      inToken = false;
    } else if (c === "#") {
      break;
    } else if (c === "\\") {
      if (i + 1 >= line.length) fail(where, `a backslash ends the line with nothing to escape`);
      token += line[++i];
      inToken = true;
    } else if (c === "'" || c === '"') {
      quote = c;
      inToken = true;
    } else {
      token += c;
      inToken = true;
    }
  }
  if (quote) fail(where, `no closing quotation (${quote}) in "${line}"`);
  if (inToken) tokens.push(token);
  return tokens;
}

/**
 * ast.literal_eval as Ansible's INI plugin applies it to values: Python string
 * literals lose their quotes, numbers and True/False/None become values;
 * anything else (lists, dicts, bare words) stays the text it is.
 */
export function pythonLiteral(v: string): unknown {
  if (/^[+-]?(0|[1-9][0-9]*)$/.test(v)) return Number(v);
  if (/^[+-]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(v)) return Number(v);
  if (v === "True") return true;
  if (v === "False") return false;
  if (v === "None") return null;
  const q = /^'((?:[^'\\\n]|\\.)*)'$|^"((?:[^"\\\n]|\\.)*)"$/s.exec(v);
  if (q) {
    return (q[1] ?? q[2])!.replace(/\\(.)/g, (_, ch: string) => ({ n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"' })[ch] ?? `\\${ch}`);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Host patterns: parse_address(allow_ranges=True) and expand_hostname_range

const RANGE_NUM = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const RANGE_HEX = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const RANGE_ALNUM = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const I4 = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${RANGE_NUM})`;
const I6 = String.raw`(?:[0-9a-f]{1,4}|${RANGE_HEX})`;
const LABEL = String.raw`(?:[\p{L}\p{N}_]|${RANGE_ALNUM})(?:[\p{L}\p{N}_-]|${RANGE_ALNUM})*(?<![_-])`;
const IPV4 = new RegExp(String.raw`^(?:${I4}\.){3}${I4}$`, "iu");
const IPV6 = new RegExp(
  "^(?:" +
    [
      String.raw`(?:${I6}:){7}${I6}`,
      String.raw`(?:${I6}:){1,6}:`,
      String.raw`(?:${I6}:)(?::${I6}){1,6}`,
      String.raw`(?:${I6}:){2}(?::${I6}){1,5}`,
      String.raw`(?:${I6}:){3}(?::${I6}){1,4}`,
      String.raw`(?:${I6}:){4}(?::${I6}){1,3}`,
      String.raw`(?:${I6}:){5}(?::${I6}){1,2}`,
      String.raw`(?:${I6}:){6}(?::${I6})`,
      String.raw`:(?::${I6}){1,6}`,
      String.raw`${I6}?::`,
      String.raw`(?:0:){6}(?:${I6}\.){3}${I6}`,
      String.raw`::(?:ffff:)?(?:${I6}\.){3}${I6}`,
      String.raw`(?:0:){5}ffff:(?:${I6}\.){3}${I6}`,
    ].join("|") +
    ")$",
  "iu",
);
const HOSTNAME = new RegExp(String.raw`^${LABEL}(?:\.${LABEL})*$`, "iu");
const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;

/** One host pattern (`node[01:50]:22`) -> the host names it stands for. The port is dropped: skycert does not need it. */
export function expandHostPattern(pattern: string, where: Where): string[] {
  let address = pattern;
  let port: string | undefined;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) [address, port] = [m[1]!, m[2]];
  }
  // parse_address: what is left must look like an address or a host name, else the whole token is the host.
  if (!IPV4.test(address) && !IPV6.test(address) && !HOSTNAME.test(address)) {
    address = pattern;
    port = undefined;
  }
  if (pattern.trim().endsWith(":") && port === undefined) {
    fail(where, `host pattern "${pattern}" ends in ":", which is reserved for a port`);
  }
  const names = address.includes("[") ? expandRange(address, where) : [address];
  if (names.some((n) => n.trim() === "---")) fail(where, `host pattern "${pattern}" is "---", a sign that this is a YAML file`, "name the file .yml or .yaml");
  return names;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** ansible.plugins.inventory.expand_hostname_range. */
export function expandRange(line: string, where: Where): string[] {
  const open = line.indexOf("[");
  const close = line.indexOf("]", open + 1);
  if (open < 0 || close < 0) fail(where, `host range in "${line}" has no closing "]"`);
  const head = line.slice(0, open);
  const body = line.slice(open + 1, close);
  const tail = line.slice(close + 1);
  const bounds = body.split(":");
  if (bounds.length !== 2 && bounds.length !== 3) fail(where, `host range [${body}] must be begin:end or begin:end:step`);
  const beg = bounds[0] || "0";
  const end = bounds[1]!;
  const stepText = bounds[2] ?? "1";
  if (!end) fail(where, `host range [${body}] has no end value`);
  if (!/^[0-9]+$/.test(stepText) || Number(stepText) < 1) fail(where, `host range [${body}] has a bad step "${stepText}"`);
  const step = Number(stepText);
  let fill = (x: string | number) => String(x);
  if (beg[0] === "0" && beg.length > 1) {
    if (beg.length !== end.length) fail(where, `host range [${body}] must give begin and end with the same number of digits`);
    fill = (x) => String(x).padStart(beg.length, "0");
  }
  let seq: (string | number)[];
  const ib = LETTERS.indexOf(beg);
  const ie = LETTERS.indexOf(end);
  if (beg.length === 1 && end.length === 1 && ib >= 0 && ie >= 0) {
    if (ib > ie) fail(where, `host range [${body}] must have begin <= end`);
    seq = [];
    for (let k = ib; k <= ie; k += step) seq.push(LETTERS[k]!);
  } else {
    if (!/^[0-9]+$/.test(beg) || !/^[0-9]+$/.test(end)) fail(where, `host range [${body}] mixes letters and digits or is not a range`);
    const b = Number(beg);
    const e = Number(end);
    if ((e - b) / step + 1 > MAX_HOSTS) fail(where, `host range [${body}] has more than ${MAX_HOSTS} hosts`);
    seq = [];
    for (let k = b; k <= e; k += step) seq.push(k);
  }
  const out: string[] = [];
  for (const x of seq) {
    const name = `${head}${fill(x)}${tail}`;
    if (name.includes("[")) out.push(...expandRange(name, where));
    else out.push(name);
    if (out.length > MAX_HOSTS) fail(where, `host pattern "${line}" has more than ${MAX_HOSTS} hosts`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// YAML

function parseYaml(inv: Inventory, text: string): void {
  const file = inv.file;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const whereOf = (node: unknown): Where | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? { file, line: lc.linePos(range[0]).line } : undefined;
  };
  const problem = doc.errors[0];
  if (problem) fail({ file, line: lc.linePos(problem.pos[0]).line }, `malformed YAML (${problem.message.split("\n")[0]})`);
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) fail({ file, line: 1 }, "the inventory is empty");
  if (!isMap(root)) fail(whereOf(root), "a YAML inventory must be a mapping of groups (usually all:)");
  const plain = (node: YamlNode | null | undefined): unknown => (node == null ? null : (node as { toJSON(): unknown }).toJSON());

  const keyText = (key: unknown, what: string): string => {
    if (isScalar(key) && (typeof key.value === "string" || typeof key.value === "number")) {
      if (typeof key.value !== "string") fail(whereOf(key), `${what} ${String(key.value)} must be a string`, "enclose numbers in quotes");
      return key.value;
    }
    fail(whereOf(key), `${what} must be a plain string`);
  };
  const isNull = (node: unknown) => node == null || (isScalar(node) && node.value === null);
  const mapping = (node: unknown, what: string): [unknown, unknown][] => {
    if (isNull(node)) return [];
    if (isScalar(node) && typeof node.value === "string") return [[node, null]];
    if (!isMap(node)) fail(whereOf(node), `${what} must be a mapping`);
    return node.items.map((p) => [p.key, p.value]);
  };

  const visit = (name: string, node: unknown, where: Where | undefined, path: string[]): void => {
    if (path.includes(name)) fail(where, `group "${name}" is its own descendant (${[...path, name].join(" > ")})`);
    group(inv, name, where);
    if (isNull(node)) return;
    if (!isMap(node)) fail(whereOf(node) ?? where, `group "${name}" must be a mapping with hosts, vars or children`);
    for (const pair of node.items) {
      const key = keyText(pair.key, "a group key");
      const kw = whereOf(pair.key);
      if (key === "hosts") {
        for (const [hk, hv] of mapping(pair.value, `hosts of group "${name}"`)) {
          const hw = whereOf(hk) ?? kw!;
          const pattern = keyText(hk, "host name");
          if (!isNull(hv) && !isMap(hv)) fail(whereOf(hv) ?? hw, `variables of host "${pattern}" must be a mapping`);
          addHosts(inv, name, expandHostPattern(pattern, hw), (plain(hv as YamlNode) ?? {}) as Record<string, unknown>, hw);
        }
      } else if (key === "vars") {
        if (!isNull(pair.value) && !isMap(pair.value)) fail(whereOf(pair.value) ?? kw, `vars of group "${name}" must be a mapping`);
        Object.assign(group(inv, name, undefined).vars, (plain(pair.value as YamlNode) ?? {}) as Record<string, unknown>);
      } else if (key === "children") {
        for (const [ck, cv] of mapping(pair.value, `children of group "${name}"`)) {
          const child = keyText(ck, "group name");
          visit(child, cv, whereOf(ck), [...path, name]);
          addChild(inv, name, child);
        }
      } else {
        fail(kw, `unexpected key "${key}" in group "${name}"`, "a group holds only hosts, vars and children");
      }
    }
  };
  for (const pair of root.items) {
    const name = keyText(pair.key, "a group name");
    if (name === "plugin") fail(whereOf(pair.key), "this is an inventory plugin configuration, not an inventory");
    visit(name, pair.value, whereOf(pair.key), []);
  }
}

// ---------------------------------------------------------------------------
// Queries

function checkCycles(inv: Inventory): void {
  const state = new Map<string, 1 | 2>();
  const walk = (name: string, path: string[]): void => {
    if (state.get(name) === 2) return;
    if (state.get(name) === 1) {
      const g = inv.groups.get(name);
      fail(g?.where, `group "${name}" is its own descendant (${[...path, name].join(" > ")})`, "remove one of the :children entries");
    }
    state.set(name, 1);
    for (const c of inv.groups.get(name)?.children ?? []) walk(c, [...path, name]);
    state.set(name, 2);
  };
  for (const name of inv.groups.keys()) walk(name, []);
}

/** Every host of `name`, its own first, then its children's, each once, in order. */
export function groupHosts(inv: Inventory, name: string): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  const walk = (g: string) => {
    if (seen.has(g)) return;
    seen.add(g);
    const grp = inv.groups.get(g);
    if (!grp) return;
    for (const h of grp.hosts) out.add(h);
    for (const c of grp.children) walk(c);
  };
  if (name === "all") return [...inv.hosts.keys()];
  walk(name);
  return [...out];
}

/** Groups (with `all`) that hold `host`, with their depth below `all`, as Ansible sorts them. */
function groupsOf(inv: Inventory, host: string): { name: string; depth: number }[] {
  const parents = new Map<string, string[]>();
  for (const g of inv.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const depthMemo = new Map<string, number>();
  const depth = (g: string): number => {
    if (g === "all") return 0;
    const memo = depthMemo.get(g);
    if (memo !== undefined) return memo;
    const d = 1 + Math.max(0, ...(parents.get(g) ?? []).filter((p) => p !== g).map(depth));
    depthMemo.set(g, d);
    return d;
  };
  const holding = new Set<string>(["all"]);
  const up = (g: string) => {
    if (holding.has(g)) return;
    holding.add(g);
    for (const p of parents.get(g) ?? []) up(p);
  };
  for (const g of inv.groups.values()) if (g.hosts.includes(host)) up(g.name);
  return [...holding].map((name) => ({ name, depth: depth(name) }));
}

/** The variables Ansible gives `host`: group vars from `all` down (deeper groups win, then by name), then host vars. */
export function hostVariables(inv: Inventory, host: string): Record<string, unknown> {
  const groups = groupsOf(inv, host).sort((a, b) => a.depth - b.depth || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const vars: Record<string, unknown> = {};
  for (const g of groups) Object.assign(vars, inv.groups.get(g.name)?.vars);
  return Object.assign(vars, inv.hosts.get(host)?.vars);
}

export interface HostAddress {
  host: string;
  address: string;
  from: "ansible_host" | "name";
  where: Where;
}

/** `ansible_host` when set, else the host name: the address agents are reached at. */
export function hostAddress(inv: Inventory, host: string): HostAddress {
  const where = inv.hosts.get(host)?.where ?? { file: inv.file, line: 1 };
  const value = hostVariables(inv, host).ansible_host;
  if (value === undefined || value === null || value === "") return { host, address: host, from: "name", where };
  return { host, address: String(value), from: "ansible_host", where };
}

/** The hosts of `groupName` with their addresses; an absent or empty group is an error naming the file. */
export function groupAddresses(inv: Inventory, groupName: string): HostAddress[] {
  if (!inv.groups.has(groupName)) {
    const names = [...inv.groups.keys()].filter((g) => g !== "all" && g !== "ungrouped");
    fail(undefined, `${inv.file}: no "${groupName}" group`, `Skydive's inventories list ${groupName} under [${groupName}] (groups here: ${names.join(", ") || "none"})`);
  }
  const hosts = groupHosts(inv, groupName);
  if (hosts.length === 0) fail(inv.groups.get(groupName)!.where, `group "${groupName}" has no hosts`, "add host lines under it or under one of its children");
  return hosts.map((h) => hostAddress(inv, h));
}
