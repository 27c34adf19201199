/**
 * `skycert export ansible`: a playbook (ansible.builtin modules only), the files
 * it copies, and group/host vars carrying the TLS keys in skydive_extra_config
 * (core/export-ansible builds the documents).
 *
 * Analyzers get the analyzer pair and its trust certificate; agents get their
 * own pair (a fleet's per-host pair when `<from>/agents/<host>/` exists, else
 * the shared one) and their trust certificate. The analyzer key is bundled for
 * analyzer hosts only, and the CA key never. Everything shipped is checked with
 * skycert validate first, and the analyzer certificate must carry the address
 * of every analyzer host (what agents dial), or `--host`.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { failure, usageError } from "../core/errors.js";
import { FILES_DIR, GROUPS, PLAYBOOK_FILE, buildAnsible } from "../core/export-ansible.js";
import { shippedFiles } from "../core/export-layout.js";
import { type HostAddress, groupAddresses, hostAddress, parseInventory } from "../core/inventory.js";
import type { Role, Schema } from "../core/stanza.js";
import { readInput } from "../io/files.js";
import { hostFolderProblem } from "./fleet.js";
import { type ExportSource, type FleetPair, type OutDoc, type OutSet, type WrittenFile, material, readAnalyzerCert, readSource, requireCoverage, shown, sourceOf, validateSource, writeBundle } from "./export-source.js";

export interface ExportAnsibleOptions {
  cwd: string;
  inventory: string;
  out: string;
  from?: string;
  config?: string;
  /** Addresses agents dial (default: every analyzer host's address). */
  hosts: string[];
  force: boolean;
}

export interface AnsibleHost {
  host: string;
  address: string;
  roles: Role[];
  /** Where its agent files come from. */
  agentPair?: "fleet" | "shared";
  files: string[];
  /** The playbook host_vars file that carries its skydive_extra_config, when the group files would not. */
  hostVars?: string;
  skydiveExtraConfig: Record<string, unknown>;
}

export interface ExportAnsibleResult {
  ok: true;
  kind: "ansible";
  schema: Schema;
  source: { from: string; config: string };
  inventory: { path: string; format: string };
  out: string;
  playbook: string;
  dialed: string[];
  hosts: AnsibleHost[];
  files: WrittenFile[];
  notes: string[];
  warnings: string[];
  apply: string[];
}

export async function exportAnsible(opts: ExportAnsibleOptions): Promise<ExportAnsibleResult> {
  const show = (p: string) => shown(opts.cwd, p);
  const inventoryPath = resolve(opts.cwd, opts.inventory);
  const inv = parseInventory(readInput(inventoryPath, "--inventory").text, inventoryPath);
  const analyzers: HostAddress[] = groupAddresses(inv, GROUPS.analyzer);
  const agents: HostAddress[] = groupAddresses(inv, GROUPS.agent);
  const out = resolve(opts.cwd, opts.out);
  const src: ExportSource = readSource(opts);
  const warnings = [...src.warnings];
  const notes: string[] = [];

  // Which pair each agent gets.
  const fleetByHost = new Map<string, FleetPair>(src.fleet.map((f) => [f.host, f]));
  const fleetHosts = agents.filter((a) => fleetByHost.has(a.host)).map((a) => a.host);
  const withoutPair = agents.filter((a) => !fleetByHost.has(a.host) && !src.agent).map((a) => a.host);
  if (withoutPair.length) {
    throw failure(
      `${withoutPair.length === 1 ? "agent" : "agents"} ${withoutPair.slice(0, 5).join(", ")}${withoutPair.length > 5 ? ", ..." : ""} of ${show(inventoryPath)} ${withoutPair.length === 1 ? "has" : "have"} no certificate: no ${show(join(src.from, "agents"))}/<host>/ folder, and ${show(src.config)} names no shared agent pair`,
      `run skycert init agent --ca ${src.ca ? show(dirname(src.ca)) : "DIR"} --inventory ${show(inventoryPath)} --out ${show(src.from)} (hosts already issued are skipped)`,
    );
  }
  const sharedUsed = agents.some((a) => !fleetByHost.has(a.host));
  const caBytes = src.ca ? material(src.ca, "CA certificate") : undefined;
  for (const host of fleetHosts) {
    const f = fleetByHost.get(host)!;
    if (!f.ca || !caBytes || !Buffer.from(material(f.ca, "CA certificate")).equals(Buffer.from(caBytes))) {
      throw failure(
        `${show(f.config)}: its tls.ca_cert (${f.ca ? show(f.ca) : "not set"}) is not the CA of ${show(src.config)} (${src.ca ? show(src.ca) : "legacy schema, no CA"}), so the analyzer would not trust ${host}`,
        `re-issue the fleet with the analyzer's CA: skycert init agent --ca ${src.ca ? show(dirname(src.ca)) : "DIR"} --inventory ${show(inventoryPath)} --out ${show(src.from)} --force`,
      );
    }
  }

  // What agents dial must be in the analyzer certificate.
  const dialed = opts.hosts.length
    ? opts.hosts.map((h) => ({ name: h, why: "--host" }))
    : analyzers.map((a) => ({ name: a.address, why: `analyzer ${a.host}${a.from === "ansible_host" ? "'s ansible_host" : ""} in ${show(inventoryPath)}` }));
  const uniqueDialed = dialed.filter((d, i) => dialed.findIndex((e) => e.name === d.name) === i);
  requireCoverage(src, opts.cwd, readAnalyzerCert(src), uniqueDialed);

  // skycert validate on everything that ships.
  const names = uniqueDialed.map((d) => d.name);
  warnings.push(...(await validateSource({ cwd: opts.cwd, config: src.config, role: sharedUsed ? undefined : "analyzer", hosts: names, what: "the certificates to export" })));
  for (const host of fleetHosts) {
    warnings.push(...(await validateSource({ cwd: opts.cwd, config: fleetByHost.get(host)!.config, role: "agent", hosts: names, what: `agent ${host}'s certificate` })));
  }

  const plan = buildAnsible({ schema: src.schema, inventory: inv, source: show(src.config), fleetHosts, sharedAgentPair: sharedUsed });
  for (const r of plan.replaced) warnings.push(`the inventory's skydive_extra_config sets ${r}; the exported value replaces it`);
  for (const folder of ["group_vars", "host_vars"]) {
    if (existsSync(join(dirname(inventoryPath), folder))) {
      warnings.push(`${show(join(dirname(inventoryPath), folder))} exists and is not read: a skydive_extra_config set there is not in the merged values (copy it into the exported vars files if needed)`);
    }
  }

  // The files the playbook copies.
  const filesDir = join(out, FILES_DIR);
  const setOf = (dir: string, entries: { name: string; source: string; mode: number; label: string }[]): OutSet => ({
    dir,
    files: entries.map((e) => ({ path: join(dir, e.name), data: material(e.source, e.label), mode: e.mode })),
  });
  const sets: OutSet[] = [
    setOf(
      join(filesDir, "analyzer"),
      shippedFiles(src.schema, "analyzer").map((f) => ({ name: f.name, source: sourceOf(src, f.name), mode: f.mode, label: f.kind === "key" ? "analyzer key" : "certificate" })),
    ),
    setOf(
      join(filesDir, "agent"),
      shippedFiles(src.schema, "agent")
        .filter((f) => sharedUsed || f.part === "trust")
        .map((f) => ({ name: f.name, source: sourceOf(src, f.name), mode: f.mode, label: f.kind === "key" ? "agent key" : "certificate" })),
    ),
    ...fleetHosts.map((host) =>
      setOf(
        join(filesDir, "agents", host),
        shippedFiles(src.schema, "agent")
          .filter((f) => f.part !== "trust")
          .map((f) => ({ name: f.name, source: sourceOf(src, f.name, fleetByHost.get(host)), mode: f.mode, label: f.kind === "key" ? `agent ${host} key` : "certificate" })),
      ),
    ),
  ];
  // host_vars/<host>.yml is named after the inventory: a host name must be usable as a file name.
  for (const h of plan.hosts) {
    const problem = h.hostVars ? hostFolderProblem(h.host) : undefined;
    if (problem) {
      throw usageError(`${show(inventoryPath)}:${hostAddress(inv, h.host).where.line}: host "${h.host}" needs a host_vars file, but its name ${problem}`, "rename the host in the inventory (its address can go in ansible_host)");
    }
  }
  // The playbook, which names everything else, is written last: a run killed before it leaves no playbook to run.
  const docs: OutDoc[] = plan.documents.map((d) => ({ path: join(out, d.name), data: d.text })).sort((a, b) => Number(a.path === join(out, PLAYBOOK_FILE)) - Number(b.path === join(out, PLAYBOOK_FILE)));
  for (const d of docs) if (!d.path.startsWith(`${out}/`)) throw new Error(`exportAnsible: ${d.path} is outside ${out}`);
  const files = await writeBundle(opts.cwd, out, sets, docs, opts.force);

  if (src.fleet.length && src.fleet.length !== fleetHosts.length) {
    const unused = src.fleet.filter((f) => !fleetHosts.includes(f.host)).map((f) => f.host);
    notes.push(`${unused.length} fleet folder${unused.length === 1 ? "" : "s"} of ${show(join(src.from, "agents"))} name${unused.length === 1 ? "s" : ""} no agent of the inventory (${unused.slice(0, 5).join(", ")}${unused.length > 5 ? ", ..." : ""}): not exported.`);
  }
  if (src.schema === "legacy") {
    notes.push(`Legacy cross validation: analyzers trust the agent certificate, agents the analyzer certificate. An agent's analyzer.X509_key names the analyzer key path in skycert_tls_dir because older agents switch TLS on only when it is set; the file is copied to analyzer hosts only.`);
  }
  const hostPlans = new Map(plan.hosts.map((h) => [h.host, h]));
  const hosts: AnsibleHost[] = plan.hosts.map((h) => ({
    host: h.host,
    address: hostAddress(inv, h.host).address,
    roles: h.roles,
    ...(h.agentPair ? { agentPair: h.agentPair } : {}),
    files: [...new Set(h.roles.flatMap((r) => shippedFiles(src.schema, r).map((f) => f.name)))],
    ...(h.hostVars ? { hostVars: join(out, "host_vars", `${h.host}.yml`) } : {}),
    skydiveExtraConfig: hostPlans.get(h.host)!.extra,
  }));
  const playbook = join(out, PLAYBOOK_FILE);
  return {
    ok: true,
    kind: "ansible",
    schema: src.schema,
    source: { from: src.from, config: src.config },
    inventory: { path: inventoryPath, format: inv.format },
    out,
    playbook,
    dialed: names,
    hosts,
    files,
    notes,
    warnings,
    apply: [`ansible-playbook -i ${show(inventoryPath)} ${show(playbook)}`],
  };
}
