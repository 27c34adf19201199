/**
 * Which hosts a fleet has: from an Ansible inventory, read by Ansible itself
 * (`ansible-inventory -i FILE --list`: INI or YAML, ranges such as web[01:20],
 * `:children`, vars), or from `--hosts name[=address],...` for fleets without
 * Ansible. Skydive's inventories list hosts in groups `analyzers` and `agents`,
 * a host line may carry `ansible_host=ADDRESS`, and `skydive_extra_config`
 * passes settings to Skydive's roles.
 */
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { failure, printable, usageError } from "../cli/errors.js";
import type { Role } from "./release.js";

export const GROUPS: Record<Role, string> = { analyzer: "analyzers", agent: "agents" };

export interface InventoryHost {
  name: string;
  /** How peers reach it: ansible_host, else the name. */
  address: string;
  addressFrom: "ansible_host" | "name" | "--hosts";
  /** The Skydive groups it is in. */
  roles: Role[];
  vars: Record<string, unknown>;
}

export interface Inventory {
  source: string;
  kind: "ansible" | "hosts";
  hosts: InventoryHost[];
}

interface ListOutput {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [group: string]: unknown;
}

/** Members of `group`, children included, in the order Ansible lists them. */
function members(list: ListOutput, group: string, seen = new Set<string>()): string[] {
  if (seen.has(group)) return [];
  seen.add(group);
  const g = list[group] as { hosts?: string[]; children?: string[] } | undefined;
  if (!g) return [];
  return [...(g.hosts ?? []), ...(g.children ?? []).flatMap((c) => members(list, c, seen))];
}

/** Ansible wraps every warning to 79 columns whatever it writes to; the real lines are joined back. */
const ANSIBLE_COLUMNS = 79;

function unwrap(lines: string[]): string {
  return lines.reduce((text, line, i) => {
    if (i === 0) return line;
    const prev = lines[i - 1]!;
    const tail = /\S*$/.exec(prev)![0];
    const head = /^\S*/.exec(line)![0];
    // textwrap breaks a word only when it is longer than a whole line, or after a hyphen inside a word.
    const brokenWord = prev.length === ANSIBLE_COLUMNS && tail.length + head.length > ANSIBLE_COLUMNS;
    const brokenHyphen = /\w-$/.test(prev) && /^\w/.test(line);
    return text + (brokenWord || brokenHyphen ? "" : " ") + line;
  }, "");
}

/** The plugin Ansible would use for a file of this name: YAML by extension, else INI (Skydive's inventories). */
const pluginFor = (file: string) => (/\.(ya?ml|json)$/i.test(file) ? "yaml" : /\.toml$/i.test(file) ? "toml" : "ini");

/**
 * Ansible's reason for refusing an inventory, on one line. Every enabled plugin tries each file and
 * complains; the complaint that matters is the one of the plugin meant for that file (the INI plugin's
 * `file:line: reason`, the YAML plugin's for a .yml file), then one naming a line, then the ERROR line.
 */
function ansibleProblem(stderr: string): string {
  const messages: string[][] = [];
  for (const line of stderr.split("\n")) {
    if (!line.trim()) continue;
    if (/^(\[WARNING\]|\[DEPRECATION WARNING\]|ERROR!)/.test(line) || messages.length === 0) messages.push([line.trim()]);
    else messages.at(-1)!.push(line.trim());
  }
  const texts = messages.map((m) => unwrap(m).replace(/^\[WARNING\]:\s*(\*\s*)?/, "").replace(/\s+/g, " "));
  const complaints = texts.filter((t) => t.startsWith("Failed to parse "));
  const meant = complaints.filter((t) => {
    const m = /^Failed to parse (.*) with (\w+) plugin:/.exec(t);
    return m !== null && pluginFor(m[1]!) === m[2];
  });
  const withLine = (list: string[]) => list.find((t) => /:\d+: /.test(t));
  const found = withLine(meant) ?? meant[0] ?? withLine(complaints) ?? complaints.at(-1) ?? texts.filter((t) => t.startsWith("ERROR")).pop() ?? texts.at(-1) ?? "no output";
  return printable(found, 1000);
}

/** Long enough for thousands of hosts; a FIFO inside an inventory folder, or a stuck plugin, ends here. */
const INVENTORY_TIMEOUT_MS = 60_000;
/** The JSON of a very large fleet is a few MiB. */
const INVENTORY_MAX_OUTPUT = 64 * 1024 * 1024;

/** A file or a folder of them, as Ansible reads; a FIFO or device would be read forever. */
function checkInventoryPath(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file or folder" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw usageError(`--inventory ${path}: ${why}`, "name an Ansible inventory file (INI or YAML) or a folder of them");
  }
  if (!st.isFile() && !st.isDirectory()) {
    throw usageError(`--inventory ${path}: a device, socket or FIFO, not an inventory file or folder`, "name an Ansible inventory file (INI or YAML) or a folder of them");
  }
}

export function readInventory(path: string): Inventory {
  checkInventoryPath(path);
  const r = spawnSync("ansible-inventory", ["-i", path, "--list"], {
    encoding: "utf8",
    timeout: INVENTORY_TIMEOUT_MS,
    killSignal: "SIGKILL",
    maxBuffer: INVENTORY_MAX_OUTPUT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      // A file Ansible cannot parse is an error, not an empty inventory with a warning.
      ANSIBLE_INVENTORY_UNPARSED_FAILED: "True",
      ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: "True",
      // Static inventories only: an executable file is never run to list hosts.
      ANSIBLE_INVENTORY_ENABLED: "ini,yaml,toml",
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_LOCALHOST_WARNING: "False",
    },
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw usageError(
        `--inventory ${path}: ansible-inventory is not installed, and skycert reads inventories with Ansible's own parser`,
        "install ansible-core (apt-get install ansible-core, or pip install ansible-core), or list the hosts with --hosts name[=address],...",
      );
    }
    if (code === "ETIMEDOUT") {
      throw usageError(`--inventory ${path}: ansible-inventory was still reading it after ${INVENTORY_TIMEOUT_MS / 1000} seconds, and was stopped`, "check that the inventory (and every file of an inventory folder) is a regular file");
    }
    if (code === "ENOBUFS") {
      throw usageError(`--inventory ${path}: ansible-inventory listed more than ${INVENTORY_MAX_OUTPUT / 1024 / 1024} MiB of hosts and variables, and was stopped`, "split the inventory, or list the hosts with --hosts name[=address],...");
    }
    throw failure(`--inventory ${path}: cannot run ansible-inventory (${r.error.message})`);
  }
  if (r.status !== 0) throw usageError(`--inventory ${path}: ${ansibleProblem(r.stderr)}`, "fix the inventory; ansible-playbook would refuse it too");
  let list: ListOutput;
  try {
    list = JSON.parse(r.stdout) as ListOutput;
  } catch {
    throw failure(`--inventory ${path}: ansible-inventory printed something that is not JSON`);
  }
  const hostvars = list._meta?.hostvars ?? {};
  const roleMembers: Record<Role, Set<string>> = { analyzer: new Set(members(list, GROUPS.analyzer)), agent: new Set(members(list, GROUPS.agent)) };
  const names = [...new Set([...roleMembers.analyzer, ...roleMembers.agent])];
  if (names.length === 0) {
    throw usageError(`--inventory ${path}: no host in groups ${GROUPS.analyzer} or ${GROUPS.agent}`, "list Skydive's hosts under [analyzers] and [agents], as Skydive's own inventories do");
  }
  const hosts = names.map((name): InventoryHost => {
    const vars = hostvars[name] ?? {};
    const ah = vars.ansible_host;
    return {
      name,
      address: typeof ah === "string" && ah !== "" ? ah : name,
      addressFrom: typeof ah === "string" && ah !== "" ? "ansible_host" : "name",
      roles: (["analyzer", "agent"] as const).filter((role) => roleMembers[role].has(name)),
      vars,
    };
  });
  return { source: path, kind: "ansible", hosts };
}

/** `--hosts a,b=10.0.0.5`: each host gets the roles being issued. */
export function hostsFromList(entries: readonly string[], roles: readonly Role[]): Inventory {
  const hosts = entries.map((entry): InventoryHost => {
    const [name, address] = entry.split("=", 2) as [string, string | undefined];
    if (!name) throw usageError(`--hosts "${entry}": a host needs a name`, "write --hosts name[=address],...");
    if (address === "") throw usageError(`--hosts "${entry}": empty address`, "write --hosts name=address, or just the name");
    return { name, address: address ?? name, addressFrom: "--hosts", roles: [...roles], vars: {} };
  });
  const dup = hosts.find((h, i) => hosts.findIndex((o) => o.name === h.name) !== i);
  if (dup) throw usageError(`--hosts lists ${dup.name} twice`);
  return { source: "--hosts", kind: "hosts", hosts };
}
