/**
 * Which hosts a fleet has: from an Ansible inventory, read by Ansible itself
 * (`ansible-inventory -i FILE --list`: INI or YAML, ranges such as web[01:20],
 * `:children`, vars), or from `--hosts name[=address],...` for fleets without
 * Ansible. Skydive's inventories list hosts in groups `analyzers` and `agents`,
 * a host line may carry `ansible_host=ADDRESS`, and `skydive_extra_config`
 * passes settings to Skydive's roles.
 */
import { spawnSync } from "node:child_process";
import { failure, usageError } from "../cli/errors.js";
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

/** The first line of Ansible's complaint that names a file position, else its last ERROR line. */
function ansibleProblem(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.replace(/^\[WARNING\]:\s*(\*\s*)?/, "").trim()).filter(Boolean);
  return lines.find((l) => /:\d+:/.test(l)) ?? lines.filter((l) => l.startsWith("ERROR")).pop() ?? lines.pop() ?? "no output";
}

export function readInventory(path: string): Inventory {
  const r = spawnSync("ansible-inventory", ["-i", path, "--list"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
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
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw usageError(
        `--inventory ${path}: ansible-inventory is not installed, and skycert reads inventories with Ansible's own parser`,
        "install ansible-core (apt-get install ansible-core, or pip install ansible-core), or list the hosts with --hosts name[=address],...",
      );
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
