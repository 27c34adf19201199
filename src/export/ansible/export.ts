/**
 * `skycert export ansible`: a playbook (playbook.ts) and the files it copies,
 * for the hosts of an inventory that Ansible itself reads (ansible-inventory).
 *
 * - tls.* (0.21, 0.27): each host gets its own certificate and key from the
 *   fleet (the record's host folder), used as both its server and client pair,
 *   and the CA certificate; analyzers require client certificates, agents get
 *   the record's analyzers list. A host without a certificate in the record is
 *   refused with the init command that issues it. The CA key goes nowhere.
 * - legacy (up to 0.20): every host, agents too, gets all four files, since
 *   every agent serves its API with the analyzer's pair; the output says what
 *   that costs. Agents dial the inventory's analyzers (ansible_host, else the
 *   name; port 8082).
 * The source passes skycert validate before anything is written.
 */
import { basename, dirname, join, resolve } from "node:path";
import { failure } from "../../cli/errors.js";
import { command } from "../../cli/invocation.js";
import { CERT_MODE, KEY_MODE } from "../../fs/files.js";
import { type InventoryHost, readInventory } from "../../skydive/inventory.js";
import { type RecordHost, abs } from "../../skydive/record.js";
import { RELEASE_NAMES, type Release, type Role } from "../../skydive/release.js";
import { type Settings, hostSettings } from "../../skydive/settings.js";
import { type OutDoc, type OutSet, type WrittenFile, material, writeBundle } from "../bundle.js";
import { type ExportSource, type FleetSource, LEGACY_WARNING, type LegacySource, type Validation, chooseRelease, readSource, shown, validateConfig, validateFleetSource } from "../source.js";
import { DEFAULT_CONFIG_FILE, DEFAULT_TLS_DIR, DIR_EXPR, FILES_DIR, type HostPlan, PLAYBOOK_FILE, type ShippedFile, playbookText } from "./playbook.js";
import { dialEntry } from "../../skydive/address.js";

export interface ExportAnsibleOptions {
  cwd: string;
  inventory: string;
  out: string;
  from?: string;
  config?: string;
  skydive?: Release;
  force: boolean;
}

export interface AnsibleHost {
  host: string;
  address: string;
  roles: Role[];
  /** The files it gets, in skycert_tls_dir. */
  files: { name: string; mode: string; source: string }[];
  /** Legacy: every host holds the analyzer's key. */
  holdsAnalyzerKey: boolean;
  /** The settings it gets, paths under skycert_tls_dir. */
  settings: Settings;
}

export interface ExportAnsibleResult {
  ok: true;
  kind: "ansible";
  skydive: Release;
  skydiveName: string;
  skydiveFrom: string;
  source: { kind: "legacy" | "fleet"; from: string; config?: string };
  inventory: string;
  out: string;
  playbook: string;
  /** The default of skycert_tls_dir: the fleet's deploy dir, else /etc/skydive/tls. */
  tlsDir: string;
  configFile: string;
  /** The analyzers: entries agents get. */
  dialed: string[];
  hosts: AnsibleHost[];
  validation: Validation[];
  files: WrittenFile[];
  notes: string[];
  warnings: string[];
  apply: string[];
}

const LEGACY_FILES = "legacy";
const CA_FILES = "ca";
const HOST_FILES = "hosts";

export async function exportAnsible(opts: ExportAnsibleOptions): Promise<ExportAnsibleResult> {
  const show = (p: string) => shown(opts.cwd, p);
  const inventoryPath = resolve(opts.cwd, opts.inventory);
  const inventory = readInventory(inventoryPath);
  const out = resolve(opts.cwd, opts.out);
  const src: ExportSource = readSource(opts);
  const { release, from: skydiveFrom } = chooseRelease(src, opts.skydive, opts.cwd);
  const notes: string[] = [];
  const warnings: string[] = [];
  const tlsDir = src.record?.deployDir ?? DEFAULT_TLS_DIR;

  const planned = src.kind === "legacy" ? await legacyPlan(src, inventory.hosts) : fleetPlan(src, release, inventory.hosts, inventoryPath, opts.cwd, warnings, notes);

  // skycert validate on what ships.
  const validation: Validation[] = [];
  if (src.kind === "legacy") {
    const hosts = [...new Set(inventory.hosts.filter((h) => h.roles.includes("analyzer")).map((h) => h.address))];
    validation.push(await validateConfig({ cwd: opts.cwd, config: src.config, hosts, release, what: "the certificates to export" }));
  } else {
    validation.push(await validateFleetSource({ cwd: opts.cwd, from: src.from, release, what: `the fleet ${show(src.from)}` }));
  }

  // The bundle: the files the playbook copies, then the playbook.
  const bySet = new Map<string, ShippedFile[]>();
  for (const h of planned.hosts) {
    for (const f of h.files) {
      const dir = dirname(f.src);
      const list = bySet.get(dir) ?? [];
      if (!list.some((x) => x.src === f.src)) list.push(f);
      bySet.set(dir, list);
    }
  }
  const filesDir = join(out, FILES_DIR);
  const sets: OutSet[] = [...bySet.entries()].map(([dir, files]) => ({
    dir: join(filesDir, dir),
    files: files.map((f) => ({ path: join(filesDir, f.src), data: material(f.source, f.mode === KEY_MODE ? "key" : "certificate"), mode: f.mode })),
  }));
  const playbook = join(out, PLAYBOOK_FILE);
  const docs: OutDoc[] = [{ path: playbook, data: playbookText({ release, source: src.kind === "legacy" ? show(src.config) : `the fleet ${show(src.from)}`, tlsDir, hosts: planned.hosts }) }];
  const written = await writeBundle(opts.cwd, out, sets, docs, opts.force);

  if (src.kind === "legacy") {
    const agents = planned.hosts.filter((h) => !h.roles.includes("analyzer")).map((h) => h.name);
    warnings.push(`${agents.length ? `agent hosts ${agents.join(", ")} get` : "every host gets"} the analyzer's private key (analyzer.key): ${LEGACY_WARNING}`);
  }
  return {
    ok: true,
    kind: "ansible",
    skydive: release,
    skydiveName: RELEASE_NAMES[release],
    skydiveFrom,
    source: { kind: src.kind, from: src.from, ...(src.kind === "legacy" ? { config: src.config } : {}) },
    inventory: inventoryPath,
    out,
    playbook,
    tlsDir,
    configFile: DEFAULT_CONFIG_FILE,
    dialed: planned.dialed,
    hosts: planned.hosts.map((h) => ({
      host: h.name,
      address: h.address,
      roles: h.roles,
      files: h.files.map((f) => ({ name: f.name, mode: `0${f.mode.toString(8)}`, source: f.source })),
      holdsAnalyzerKey: src.kind === "legacy",
      settings: h.settings,
    })),
    validation,
    files: written,
    notes,
    warnings,
    apply: [`ansible-playbook -i ${show(inventoryPath)} ${show(playbook)}`],
  };
}

const at = (name: string) => `${DIR_EXPR}/${name}`;

/** Legacy: the same four files on every host; agents dial the inventory's analyzers. */
async function legacyPlan(src: LegacySource, hosts: InventoryHost[]): Promise<{ hosts: HostPlan[]; dialed: string[] }> {
  const dialed = [...new Set(hosts.filter((h) => h.roles.includes("analyzer")).map((h) => dialEntry(h.address)))];
  const files: ShippedFile[] = [
    { name: "analyzer.crt", src: `${LEGACY_FILES}/analyzer.crt`, mode: CERT_MODE, source: src.analyzer.cert },
    { name: "analyzer.key", src: `${LEGACY_FILES}/analyzer.key`, mode: KEY_MODE, source: src.analyzer.key },
    { name: "agent.crt", src: `${LEGACY_FILES}/agent.crt`, mode: CERT_MODE, source: src.agent.cert },
    { name: "agent.key", src: `${LEGACY_FILES}/agent.key`, mode: KEY_MODE, source: src.agent.key },
  ];
  const pairs = { analyzer: { cert: at("analyzer.crt"), key: at("analyzer.key") }, agent: { cert: at("agent.crt"), key: at("agent.key") } };
  return {
    dialed,
    hosts: hosts.map((h) => ({ name: h.name, roles: h.roles, address: h.address, files, settings: hostSettings("legacy", h.roles, { legacy: pairs }, h.roles.includes("agent") ? dialed : []) })),
  };
}

/** tls.*: each inventory host's own pair from the fleet record, and the CA certificate. */
function fleetPlan(src: FleetSource, release: Release, hosts: InventoryHost[], inventoryPath: string, cwd: string, warnings: string[], notes: string[]): { hosts: HostPlan[]; dialed: string[] } {
  const show = (p: string) => shown(cwd, p);
  const record = src.record;
  const byName = new Map<string, RecordHost>(record.hosts.map((h) => [h.name, h]));
  const caFile: ShippedFile = { name: basename(src.ca), src: `${CA_FILES}/${basename(src.ca)}`, mode: CERT_MODE, source: src.ca };
  const issue = (roles: Role[], extra: string[] = []) => command("init", ...roles, "--ca", show(src.from), "--inventory", show(inventoryPath), "--out", show(src.from), ...extra);

  const missing = hosts.filter((h) => !byName.has(h.name));
  if (missing.length) {
    const roles = (["analyzer", "agent"] as const).filter((r) => missing.some((h) => h.roles.includes(r)));
    throw failure(
      `${missing.length === 1 ? "host" : "hosts"} ${missing.slice(0, 5).map((h) => h.name).join(", ")}${missing.length > 5 ? ", ..." : ""} of ${show(inventoryPath)} ${missing.length === 1 ? "has" : "have"} no certificate in the fleet record ${show(join(src.from, "skycert.json"))}`,
      `${issue(roles)} (hosts already issued are skipped), then run this export again`,
    );
  }
  for (const h of hosts) {
    const r = byName.get(h.name)!;
    if (h.roles.includes("analyzer") && !r.roles.includes("analyzer")) {
      throw failure(
        `${h.name} is in the inventory's analyzers, but its certificate ${show(abs(src.from, r.cert))} was issued for an agent: it does not carry the names agents dial`,
        `re-issue it as an analyzer: ${command("init", "analyzer", "--ca", show(src.from), "--hosts", `${h.name}=${h.address}`, "--out", show(src.from), "--force")}`,
      );
    }
    if (h.address !== r.address) {
      warnings.push(`${h.name} is at ${h.address} in ${show(inventoryPath)}, but its certificate was issued for ${r.address}; add the new address, keeping its key: ${command("renew", show(abs(src.from, r.cert)), "--san", h.address)}`);
    }
    if (r.roles.includes("analyzer") && !h.roles.includes("analyzer")) {
      warnings.push(`${h.name} is only an agent in ${show(inventoryPath)}, but its certificate was issued for an analyzer and carries the analyzers' names`);
    }
  }
  const unused = record.hosts.filter((r) => !hosts.some((h) => h.name === r.name)).map((r) => r.name);
  if (unused.length) notes.push(`${unused.length} host${unused.length === 1 ? "" : "s"} of the fleet ${unused.length === 1 ? "is" : "are"} not in ${show(inventoryPath)} and not exported: ${unused.slice(0, 8).join(", ")}${unused.length > 8 ? ", ..." : ""}.`);
  if (hosts.some((h) => h.roles.includes("agent")) && record.analyzers.length === 0) {
    warnings.push(`the fleet knows no analyzer, so agents get no analyzers: list; issue the analyzers: ${issue(["analyzer"])}`);
  }
  return {
    dialed: record.analyzers,
    hosts: hosts.map((h): HostPlan => {
      const r = byName.get(h.name)!;
      const cert = basename(r.cert);
      const key = basename(r.key);
      const files: ShippedFile[] = [
        { name: cert, src: `${HOST_FILES}/${r.name}/${cert}`, mode: CERT_MODE, source: abs(src.from, r.cert) },
        { name: key, src: `${HOST_FILES}/${r.name}/${key}`, mode: KEY_MODE, source: abs(src.from, r.key) },
        caFile,
      ];
      return { name: h.name, roles: r.roles, address: h.address, files, settings: hostSettings(release, r.roles, { own: { cert: at(cert), key: at(key) }, ca: at(caFile.name) }, record.analyzers) };
    }),
  };
}
