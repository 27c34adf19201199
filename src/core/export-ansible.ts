/**
 * `skycert export ansible`, the pure part: the playbook (ansible.builtin modules
 * only) and the group and host vars that carry the TLS keys in
 * `skydive_extra_config`, merged with what the inventory already sets.
 *
 * Why host vars at times: Ansible does not merge dicts across variable sources.
 * A playbook's group_vars/agents.yml replaces the inventory's own
 * `[agents:vars] skydive_extra_config` (so it carries the merged dict), but an
 * inventory host variable outranks playbook group vars, a host in both groups
 * gets one group's file only, and a deeper inventory group's value loses to the
 * playbook's group file. Every host whose variable the group files would not
 * give its merged value gets a playbook host_vars file (which outranks all of
 * those) with exactly that value.
 *
 * Pure: no fs, no console.
 */
import { Document } from "yaml";
import { usageError } from "./errors.js";
import { type TlsFileName, nestSettings, processSettings, shippedFiles } from "./export-layout.js";
import { type Inventory, groupHosts, hostVariables } from "./inventory.js";
import { literalEval } from "./pyliteral.js";
import type { Role, Schema, Settings } from "./stanza.js";

export const PLAYBOOK_FILE = "skydive-tls.yml";
export const FILES_DIR = "files";
export const EXTRA_CONFIG = "skydive_extra_config";
export const TLS_DIR_VAR = "skycert_tls_dir";
export const CONFIG_VAR = "skydive_config_file";
export const DEFAULT_TLS_DIR = "/etc/skydive/tls";
export const DEFAULT_CONFIG_FILE = "/etc/skydive/skydive.yml";
export const GROUPS: Record<Role, string> = { analyzer: "analyzers", agent: "agents" };

/** The TLS folder on a host, as Jinja: the inventory's value when set, else the default. */
export const TLS_DIR_EXPR = `{{ ${TLS_DIR_VAR} | default('${DEFAULT_TLS_DIR}') }}`;

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => v !== null && typeof v === "object" && !Array.isArray(v);

/** JSON with sorted keys: equality of variable values. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isDict(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

/**
 * A `skydive_extra_config` value as Ansible has it: a dict from YAML, or the
 * text of a Python literal from INI (ast.literal_eval). Absent is `{}`.
 */
export function extraConfigValue(value: unknown, where: string): Dict {
  if (value === undefined || value === null || value === "") return {};
  if (isDict(value)) return value;
  if (typeof value === "string") {
    const r = literalEval(value.trim());
    if (r.ok && isDict(r.value)) return r.value as Dict;
    const why = r.ok ? `is ${Array.isArray(r.value) ? "a list" : `a ${typeof r.value}`}` : `is not a Python literal (${r.problem})`;
    throw usageError(`${where}: ${EXTRA_CONFIG} ${why}, not a dict`, `write it as a dict, e.g. ${EXTRA_CONFIG}={'logging.level': 'DEBUG'}`);
  }
  throw usageError(`${where}: ${EXTRA_CONFIG} is ${Array.isArray(value) ? "a list" : `a ${typeof value}`}, not a dict`, `write it as a dict, e.g. ${EXTRA_CONFIG}={'logging.level': 'DEBUG'}`);
}

/** The TLS settings for `roles`, with paths under the host's `skycert_tls_dir` (as Jinja). */
export function hostTlsSettings(schema: Schema, roles: readonly Role[], dirExpr = TLS_DIR_EXPR): Settings {
  const at = (name: TlsFileName) => `${dirExpr}/${name}`;
  return Object.assign({}, ...roles.map((r) => processSettings(schema, r, at))) as Settings;
}

export interface HostPlan {
  host: string;
  roles: Role[];
  /** Where its agent pair comes from: its own fleet folder, or the shared agent pair. */
  agentPair?: "fleet" | "shared";
  /** The inventory's skydive_extra_config for the host, as Ansible resolves it. */
  inventoryExtra: Dict;
  /** inventoryExtra with the TLS keys set: what Skydive's roles get. */
  extra: Dict;
  /** True when a playbook host_vars file carries `extra`. */
  hostVars: boolean;
}

export interface AnsiblePlan {
  hosts: HostPlan[];
  documents: { name: string; text: string }[];
  /** Inventory keys the TLS keys replace, with the value they had: `host: key (was ...)`. */
  replaced: string[];
}

function yamlText(value: unknown, comment: string): string {
  const doc = new Document(value);
  doc.commentBefore = comment
    .split("\n")
    .map((l) => (l ? ` ${l}` : ""))
    .join("\n");
  return doc.toString({ lineWidth: 0 });
}

export interface AnsiblePlanInput {
  schema: Schema;
  inventory: Inventory;
  /** The config the files come from, for the comments. */
  source: string;
  /** Agents with their own pair from a fleet (`<from>/agents/<host>/`). */
  fleetHosts: readonly string[];
  /** Whether a shared agent pair is shipped (for agents without a fleet folder). */
  sharedAgentPair: boolean;
}

export function buildAnsible(input: AnsiblePlanInput): AnsiblePlan {
  const { schema, inventory: inv } = input;
  const members: Record<Role, string[]> = { analyzer: groupHosts(inv, GROUPS.analyzer), agent: groupHosts(inv, GROUPS.agent) };
  const all = [...new Set([...members.analyzer, ...members.agent])];
  const fleet = new Set(input.fleetHosts);
  const rolesOf = (h: string): Role[] => (["analyzer", "agent"] as const).filter((r) => members[r].includes(h));
  const replaced: string[] = [];

  const hosts: HostPlan[] = all.map((host) => {
    const roles = rolesOf(host);
    const inventoryExtra = extraConfigValue(hostVariables(inv, host)[EXTRA_CONFIG], `${inv.file}: host ${host}`);
    const tls = hostTlsSettings(schema, roles);
    for (const [k, v] of Object.entries(tls)) {
      if (k in inventoryExtra && stableJson(inventoryExtra[k]) !== stableJson(v)) replaced.push(`${host}: ${k} (was ${JSON.stringify(inventoryExtra[k])})`);
    }
    return {
      host,
      roles,
      ...(roles.includes("agent") ? { agentPair: fleet.has(host) ? ("fleet" as const) : ("shared" as const) } : {}),
      inventoryExtra,
      extra: { ...inventoryExtra, ...tls },
      hostVars: false,
    };
  });

  // Each group's file: the merged value most of its hosts (in that group only, with no host-level value) get.
  const hasHostValue = (h: string) => Object.prototype.hasOwnProperty.call(inv.hosts.get(h)?.vars ?? {}, EXTRA_CONFIG);
  const groupValue = {} as Record<Role, Dict>;
  for (const role of ["analyzer", "agent"] as const) {
    const counts = new Map<string, { n: number; value: Dict }>();
    for (const h of hosts) {
      if (h.roles.length !== 1 || h.roles[0] !== role || hasHostValue(h.host)) continue;
      const key = stableJson(h.extra);
      const c = counts.get(key) ?? { n: 0, value: h.extra };
      c.n++;
      counts.set(key, c);
    }
    const best = [...counts.values()].sort((a, b) => b.n - a.n)[0];
    groupValue[role] = best?.value ?? { ...extraConfigValue(inv.groups.get(GROUPS[role])?.vars[EXTRA_CONFIG], `${inv.file}: group ${GROUPS[role]}`), ...hostTlsSettings(schema, [role]) };
  }
  for (const h of hosts) {
    // What the variable would be without a host_vars file.
    const effective = h.roles.length !== 1 ? undefined : hasHostValue(h.host) ? h.inventoryExtra : groupValue[h.roles[0]!];
    h.hostVars = effective === undefined || stableJson(effective) !== stableJson(h.extra);
  }

  const varsComment = (what: string) =>
    [
      `Written by skycert export ansible from ${input.source} (${schema} schema).`,
      `${EXTRA_CONFIG} for ${what}: the TLS keys, for Skydive's own roles (skydive_analyzer,`,
      `skydive_agent), merged with the ${EXTRA_CONFIG} the inventory sets (Ansible does not merge`,
      `dicts, so this file carries both). Paths follow ${TLS_DIR_VAR} (default ${DEFAULT_TLS_DIR}).`,
    ].join("\n");
  const documents: { name: string; text: string }[] = [{ name: PLAYBOOK_FILE, text: playbookText(input, hosts) }];
  for (const role of ["analyzer", "agent"] as const) {
    documents.push({ name: `group_vars/${GROUPS[role]}.yml`, text: yamlText({ [EXTRA_CONFIG]: groupValue[role] }, varsComment(`the ${GROUPS[role]} group`)) });
  }
  for (const h of hosts) {
    if (h.hostVars) documents.push({ name: `host_vars/${h.host}.yml`, text: yamlText({ [EXTRA_CONFIG]: h.extra }, varsComment(`host ${h.host} (${h.roles.map((r) => GROUPS[r]).join(" and ")}), which the group files would not give it`)) });
  }
  return { hosts, documents, replaced };
}

function playbookText(input: AnsiblePlanInput, hosts: HostPlan[]): string {
  const { schema } = input;
  const fleetUsed = hosts.filter((h) => h.agentPair === "fleet").map((h) => h.host);
  const dirOn = "{{ _skycert_dir }}";
  const settingsOf = (role: Role) => nestSettings(hostTlsSettings(schema, [role], dirOn));
  const owner = { owner: "{{ skycert_tls_owner | default(omit) }}", group: "{{ skycert_tls_group | default(omit) }}" };
  const copyLoop = (role: Role) =>
    shippedFiles(schema, role).map((f) => ({
      name: f.name,
      src:
        role === "agent" && f.part !== "trust"
          ? `{{ _skycert_agent_pair }}/${f.name}`
          : `{{ _skycert_files }}/${role}/${f.name}`,
      mode: `0${f.mode.toString(8)}`,
    }));
  const copyTask = (role: Role) => ({
    name: `skycert: the ${role}'s certificate, key and trust certificate`,
    "ansible.builtin.copy": { src: "{{ item.src }}", dest: `${dirOn}/{{ item.name }}`, mode: "{{ item.mode }}", ...owner },
    // A key's content never reaches the output, even with --diff.
    diff: false,
    loop: copyLoop(role),
    loop_control: { label: `${dirOn}/{{ item.name }} {{ item.mode }}` },
    when: `'${GROUPS[role]}' in group_names`,
  });
  const play = {
    name: "Skydive TLS files and settings (skycert)",
    hosts: `${GROUPS.analyzer}:${GROUPS.agent}`,
    gather_facts: false,
    vars: {
      _skycert_dir: `{{ ${TLS_DIR_VAR} | default('${DEFAULT_TLS_DIR}') }}`,
      _skycert_config: `{{ ${CONFIG_VAR} | default('${DEFAULT_CONFIG_FILE}') }}`,
      _skycert_files: `{{ playbook_dir }}/${FILES_DIR}`,
      _skycert_fleet: fleetUsed,
      _skycert_agent_pair: "{{ _skycert_files }}/{{ ('agents/' ~ inventory_hostname) if inventory_hostname in _skycert_fleet else 'agent' }}",
      _skycert_analyzer_settings: settingsOf("analyzer"),
      _skycert_agent_settings: settingsOf("agent"),
      _skycert_settings: `{{ {} | combine(_skycert_analyzer_settings if '${GROUPS.analyzer}' in group_names else {}, _skycert_agent_settings if '${GROUPS.agent}' in group_names else {}, recursive=True) }}`,
    },
    tasks: [
      {
        name: "skycert: the TLS folder, 0700",
        "ansible.builtin.file": { path: dirOn, state: "directory", mode: "0700", ...owner },
      },
      copyTask("analyzer"),
      copyTask("agent"),
      {
        name: "skycert: is there a Skydive config",
        "ansible.builtin.stat": { path: "{{ _skycert_config }}" },
        register: "_skycert_config_stat",
      },
      {
        name: "skycert: read the Skydive config",
        "ansible.builtin.slurp": { src: "{{ _skycert_config }}" },
        register: "_skycert_config_read",
        when: "_skycert_config_stat.stat.exists",
      },
      {
        name: "skycert: the Skydive config as data",
        "ansible.builtin.set_fact": {
          _skycert_config_data: "{{ ((_skycert_config_read.content | b64decode | from_yaml) if _skycert_config_stat.stat.exists else {}) | default({}, true) }}",
        },
      },
      {
        name: "skycert: the Skydive config must be a mapping of keys",
        "ansible.builtin.assert": {
          that: ["_skycert_config_data is mapping"],
          fail_msg: "{{ _skycert_config }} is not a YAML mapping of keys: fix it by hand, then run again",
          quiet: true,
        },
      },
      {
        name: "skycert: the folder of the Skydive config",
        "ansible.builtin.file": { path: "{{ _skycert_config | dirname }}", state: "directory" },
        when: "not _skycert_config_stat.stat.exists",
      },
      {
        name: "skycert: the TLS keys in the Skydive config (the other keys are kept)",
        "ansible.builtin.copy": {
          content: "{{ _skycert_config_data | combine(_skycert_settings, recursive=True) | to_nice_yaml(indent=2) }}",
          dest: "{{ _skycert_config }}",
          mode: "{{ omit if _skycert_config_stat.stat.exists else '0644' }}",
          backup: true,
        },
      },
    ],
  };
  const comment = [
    `Written by skycert export ansible from ${input.source} (${schema} schema). Only ansible.builtin modules.`,
    "Puts each host's TLS files in skycert_tls_dir (folder 0700, keys 0400, certificates 0444) and",
    "sets the TLS keys in the Skydive config at skydive_config_file, keeping its other keys (the file",
    "is rewritten as YAML: comments are not kept; a backup is kept beside it when it changes).",
    "  analyzers: the analyzer's certificate and key, and its trust certificate;",
    "  agents: their certificate and key (their own from a fleet when there is one), and their trust certificate.",
    "The analyzer's key goes to analyzer hosts only. Variables, per host or group in the inventory:",
    `  ${TLS_DIR_VAR}       default ${DEFAULT_TLS_DIR}`,
    `  ${CONFIG_VAR}  default ${DEFAULT_CONFIG_FILE}`,
    "  skycert_tls_owner, skycert_tls_group   owner of the folder and files (default: the connecting user)",
    "Run: ansible-playbook -i INVENTORY skydive-tls.yml (add --become when the paths need root).",
  ].join("\n");
  return yamlText([play], comment);
}
