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
import { shownPath } from "../../cli/render.js";
import { CERT_MODE, KEY_MODE, octal } from "../../fs/files.js";
import { dialEntry } from "../../skydive/address.js";
import { type InventoryHost, readInventory } from "../../skydive/inventory.js";
import { RECORD_FILE, abs } from "../../skydive/record.js";
import { RELEASE_NAMES, ROLES, type Release } from "../../skydive/release.js";
import { LEGACY_COST, LEGACY_WAY_OUT, hostSettings } from "../../skydive/settings.js";
import { type OutSet, material, writeBundle } from "../bundle.js";
import { type ExportSource, chooseRelease, readSource, validateConfig, validateFleetSource } from "../source.js";
import { DEFAULT_CONFIG_FILE, DEFAULT_TLS_DIR, DIR_EXPR, FILES_DIR, type HostPlan, PLAYBOOK_FILE, type ShippedFile, playbookText } from "./playbook.js";

export interface ExportAnsibleOptions {
  cwd: string;
  inventory: string;
  out: string;
  from?: string;
  config?: string;
  skydive?: Release;
  force: boolean;
}

export type ExportAnsibleResult = Awaited<ReturnType<typeof exportAnsible>>;

export async function exportAnsible(opts: ExportAnsibleOptions) {
  const show = (p: string) => shownPath(p, opts.cwd);
  const inventoryPath = resolve(opts.cwd, opts.inventory);
  const inventory = readInventory(inventoryPath);
  const out = resolve(opts.cwd, opts.out);
  const src = readSource(opts);
  const { release, from: skydiveFrom } = chooseRelease(src, opts.skydive, opts.cwd);
  const notes: string[] = [];
  const warnings: string[] = [];
  // The default of skycert_tls_dir: the fleet's deploy dir, else /etc/skydive/tls.
  const tlsDir = src.record?.deployDir ?? DEFAULT_TLS_DIR;
  const planned = src.kind === "legacy" ? legacyPlan(src, inventory.hosts) : fleetPlan(src, release, inventory.hosts, inventoryPath, opts.cwd, warnings, notes);

  const validation = [
    src.kind === "legacy"
      ? await validateConfig({ cwd: opts.cwd, config: src.config, hosts: [...new Set(inventory.hosts.filter((h) => h.roles.includes("analyzer")).map((h) => h.address))], release, what: "the certificates to export" })
      : await validateFleetSource({ cwd: opts.cwd, from: src.from, release, what: `the fleet ${show(src.from)}` }),
  ];

  // The bundle: the files the playbook copies, a set per folder, then the playbook.
  const shippedFiles = [...new Map(planned.hosts.flatMap((h) => h.files).map((f) => [f.src, f])).values()];
  const sets: OutSet[] = [...new Set(shippedFiles.map((f) => dirname(f.src)))].map((dir) => ({
    dir: join(out, FILES_DIR, dir),
    files: shippedFiles.filter((f) => dirname(f.src) === dir).map((f) => ({ path: join(out, FILES_DIR, f.src), data: material(f.source, f.mode === KEY_MODE ? "key" : "certificate"), mode: f.mode })),
  }));
  const playbook = join(out, PLAYBOOK_FILE);
  const source = src.kind === "legacy" ? show(src.config) : `the fleet ${show(src.from)}`;
  const written = await writeBundle(opts.cwd, out, sets, [{ path: playbook, data: playbookText({ release, source, tlsDir, hosts: planned.hosts }) }], opts.force);

  if (src.kind === "legacy") {
    const agents = planned.hosts.filter((h) => !h.roles.includes("analyzer")).map((h) => h.name);
    warnings.push(`${agents.length ? `agent hosts ${agents.join(", ")} get` : "every host gets"} the analyzer's private key (analyzer.key): ${LEGACY_COST}; ${LEGACY_WAY_OUT}`);
  }
  return {
    ok: true,
    kind: "ansible",
    skydive: release,
    skydiveName: RELEASE_NAMES[release],
    skydiveFrom,
    source: { kind: src.kind, from: src.from, config: src.kind === "legacy" ? src.config : undefined },
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
      files: h.files.map((f) => ({ name: f.name, mode: octal(f.mode), source: f.source })),
      // Legacy: every host holds the analyzer's key.
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
const shipped = (name: string, src: string, mode: number, source: string): ShippedFile => ({ name, src, mode, source });

/** Legacy: the same four files on every host; agents dial the inventory's analyzers. */
function legacyPlan(src: Extract<ExportSource, { kind: "legacy" }>, hosts: InventoryHost[]): { hosts: HostPlan[]; dialed: string[] } {
  const dialed = [...new Set(hosts.filter((h) => h.roles.includes("analyzer")).map((h) => dialEntry(h.address)))];
  const files = ROLES.flatMap((r) => [shipped(`${r}.crt`, `legacy/${r}.crt`, CERT_MODE, src[r].cert), shipped(`${r}.key`, `legacy/${r}.key`, KEY_MODE, src[r].key)]);
  const pairs = { analyzer: { cert: at("analyzer.crt"), key: at("analyzer.key") }, agent: { cert: at("agent.crt"), key: at("agent.key") } };
  return { dialed, hosts: hosts.map((h) => ({ name: h.name, roles: h.roles, address: h.address, files, settings: hostSettings("legacy", h.roles, { legacy: pairs }, h.roles.includes("agent") ? dialed : []) })) };
}

/** tls.*: each inventory host's own pair from the fleet record, and the CA certificate. */
function fleetPlan(src: Extract<ExportSource, { kind: "fleet" }>, release: Release, hosts: InventoryHost[], inventoryPath: string, cwd: string, warnings: string[], notes: string[]): { hosts: HostPlan[]; dialed: string[] } {
  const show = (p: string) => shownPath(p, cwd);
  const record = src.record;
  const byName = new Map(record.hosts.map((h) => [h.name, h]));
  const caFile = shipped(basename(src.ca), `ca/${basename(src.ca)}`, CERT_MODE, src.ca);
  const issue = (roles: string[]) => command("init", ...roles, "--ca", show(src.from), "--inventory", show(inventoryPath), "--out", show(src.from));

  const missing = hosts.filter((h) => !byName.has(h.name));
  if (missing.length) {
    const roles = ROLES.filter((r) => missing.some((h) => h.roles.includes(r)));
    const one = missing.length === 1;
    throw failure(
      `${one ? "host" : "hosts"} ${missing.slice(0, 5).map((h) => h.name).join(", ")}${missing.length > 5 ? ", ..." : ""} of ${show(inventoryPath)} ${one ? "has" : "have"} no certificate in the fleet record ${show(join(src.from, RECORD_FILE))}`,
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
    hosts: hosts.map((h) => {
      const r = byName.get(h.name)!;
      const [cert, key] = [basename(r.cert), basename(r.key)];
      const files = [shipped(cert, `hosts/${r.name}/${cert}`, CERT_MODE, abs(src.from, r.cert)), shipped(key, `hosts/${r.name}/${key}`, KEY_MODE, abs(src.from, r.key)), caFile];
      return { name: h.name, roles: r.roles, address: h.address, files, settings: hostSettings(release, r.roles, { own: { cert: at(cert), key: at(key) }, ca: at(caFile.name) }, record.analyzers) };
    }),
  };
}
