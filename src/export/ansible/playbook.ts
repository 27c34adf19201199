/**
 * `skycert export ansible`, the pure part: the playbook (ansible.builtin
 * modules only). Per host it knows the files that host gets and the settings
 * its Skydive release loads; Ansible does the rest on the host: the folder
 * `skycert_tls_dir`, the files, the Skydive config at `skydive_config_file`
 * (slurp, from_yaml, combine, to_nice_yaml), and `skydive_extra_config`
 * combined with the TLS settings for Skydive's own roles (set_fact), so
 * Ansible's own variable precedence and its own reading of the inventory's
 * values decide what the roles get. No fs, no console.
 */
import { octal } from "../../fs/files.js";
import type { Release, Role } from "../../skydive/release.js";
import { type Settings, nestSettings } from "../../skydive/settings.js";
import { yamlText } from "../bundle.js";
import { releaseShort } from "../source.js";

export const PLAYBOOK_FILE = "skydive-tls.yml";
export const FILES_DIR = "files";
export const DEFAULT_TLS_DIR = "/etc/skydive/tls";
export const DEFAULT_CONFIG_FILE = "/etc/skydive/skydive.yml";
/** How the playbook names a file on the host: under the host's TLS folder. */
export const DIR_EXPR = "{{ _skycert_dir }}";
const EXTRA_CONFIG = "skydive_extra_config";

/** A file a host gets: its `name` in the host's TLS folder, its path `src` under the bundle's files/ folder, and the `source` of its bytes. */
export type ShippedFile = { name: string; src: string; mode: number; source: string };
/** `settings`: dotted keys, paths as DIR_EXPR/<name>. */
export type HostPlan = { name: string; roles: Role[]; address: string; files: ShippedFile[]; settings: Settings };

const assert = (name: string, that: string, fail_msg: string) => ({ name, "ansible.builtin.assert": { that: [that], fail_msg, quiet: true } });

/** `source` is for the comments; `tlsDir` the default of skycert_tls_dir. */
export function playbookText(input: { release: Release; source: string; tlsDir: string; hosts: HostPlan[] }): string {
  const owner = { owner: "{{ skycert_tls_owner | default(omit) }}", group: "{{ skycert_tls_group | default(omit) }}" };
  const hosts = Object.fromEntries(input.hosts.map((h) => [h.name, { files: h.files.map((f) => ({ name: f.name, src: f.src, mode: octal(f.mode) })), settings: h.settings, config: nestSettings(h.settings) }]));
  const play = {
    name: `Skydive TLS files and settings (skycert, ${releaseShort(input.release)})`,
    hosts: "analyzers:agents",
    gather_facts: false,
    vars: {
      _skycert_dir: `{{ skycert_tls_dir | default('${input.tlsDir}') }}`,
      _skycert_config: `{{ skydive_config_file | default('${DEFAULT_CONFIG_FILE}') }}`,
      _skycert_files: `{{ playbook_dir }}/${FILES_DIR}`,
      _skycert_host: "{{ _skycert_hosts[inventory_hostname] }}",
      _skycert_hosts: hosts,
    },
    tasks: [
      assert("skycert: this host is in the export", "inventory_hostname in _skycert_hosts", "{{ inventory_hostname }} is not in this export: run skycert export ansible again with the current inventory"),
      { name: "skycert: the TLS folder, 0700", "ansible.builtin.file": { path: DIR_EXPR, state: "directory", mode: "0700", ...owner } },
      {
        name: "skycert: this host's certificate, key and trust certificate (keys 0400, certificates 0444)",
        "ansible.builtin.copy": { src: "{{ _skycert_files }}/{{ item.src }}", dest: `${DIR_EXPR}/{{ item.name }}`, mode: "{{ item.mode }}", ...owner },
        // No key content reaches Ansible's output, even with --diff.
        diff: false,
        loop: "{{ _skycert_host.files }}",
        loop_control: { label: `${DIR_EXPR}/{{ item.name }} {{ item.mode }}` },
      },
      assert(
        `skycert: ${EXTRA_CONFIG} from the inventory is a mapping`,
        `${EXTRA_CONFIG} is not defined or ${EXTRA_CONFIG} is mapping`,
        `${EXTRA_CONFIG} is not a dict in the inventory: write it as one, e.g. ${EXTRA_CONFIG}={'logging.level': 'DEBUG'}`,
      ),
      {
        name: `skycert: ${EXTRA_CONFIG} with the TLS settings, for Skydive's roles (skydive_analyzer, skydive_agent)`,
        "ansible.builtin.set_fact": { [EXTRA_CONFIG]: `{{ (${EXTRA_CONFIG} | default({})) | combine(_skycert_host.settings) }}` },
      },
      { name: "skycert: is there a Skydive config", "ansible.builtin.stat": { path: "{{ _skycert_config }}" }, register: "_skycert_config_stat" },
      { name: "skycert: read the Skydive config", "ansible.builtin.slurp": { src: "{{ _skycert_config }}" }, register: "_skycert_config_read", when: "_skycert_config_stat.stat.exists" },
      {
        name: "skycert: the Skydive config as data",
        "ansible.builtin.set_fact": { _skycert_config_data: "{{ ((_skycert_config_read.content | b64decode | from_yaml) if _skycert_config_stat.stat.exists else {}) | default({}, true) }}" },
      },
      assert("skycert: the Skydive config is a mapping of keys", "_skycert_config_data is mapping", "{{ _skycert_config }} is not a YAML mapping of keys: fix it by hand, then run again"),
      { name: "skycert: the folder of the Skydive config", "ansible.builtin.file": { path: "{{ _skycert_config | dirname }}", state: "directory" }, when: "not _skycert_config_stat.stat.exists" },
      {
        name: "skycert: the TLS settings in the Skydive config (its other keys are kept)",
        "ansible.builtin.copy": {
          content: "{{ _skycert_config_data | combine(_skycert_host.config, recursive=True) | to_nice_yaml(indent=2) }}",
          dest: "{{ _skycert_config }}",
          mode: "{{ omit if _skycert_config_stat.stat.exists else '0644' }}",
          backup: true,
        },
      },
    ],
  };
  const comment = [
    `Written by skycert export ansible from ${input.source}, for ${releaseShort(input.release)}.`,
    "Only ansible.builtin modules. Per host, in skycert_tls_dir (folder 0700, keys 0400, certificates 0444):",
    input.release === "legacy"
      ? "  every host, agents too: analyzer.crt, analyzer.key, agent.crt, agent.key (Skydive up to 0.20 serves every\n  agent's API with the analyzer's own pair, so agent hosts hold the analyzer's private key)"
      : "  its own certificate and key (both its server and client pair) and the CA certificate; never the CA key",
    "and the TLS settings in the Skydive config at skydive_config_file, keeping its other keys (the file is",
    "rewritten as YAML: comments are not kept; a backup is kept beside it when it changes). skydive_extra_config",
    "is set to the inventory's value combined with the same settings, for Skydive's roles skydive_analyzer and",
    "skydive_agent: import this playbook before Skydive's own, in the same ansible-playbook run.",
    "Variables, per host or group in the inventory:",
    `  skycert_tls_dir       default ${input.tlsDir}`,
    `  skydive_config_file  default ${DEFAULT_CONFIG_FILE}`,
    "  skycert_tls_owner, skycert_tls_group   owner of the folder and files (default: the connecting user)",
    "Run: ansible-playbook -i INVENTORY skydive-tls.yml (add --become when the paths need root).",
  ].join("\n");
  return yamlText([play], comment);
}
