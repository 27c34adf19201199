/**
 * `skycert init analyzer|agent --ca DIR [--inventory FILE | --hosts LIST]`:
 * one key, request and CA-signed certificate per host, each carrying only that
 * host's names, and each host's skydive.yml with what its Skydive release
 * really loads (all five tls.* keys, its analyzers to dial, client certificates
 * required on analyzers). The fleet record (`<out>/skycert.json`) keeps the
 * hosts, what agents dial and the release, so later runs, validate, renew,
 * export and probe agree without being told again.
 *
 * A host's certificate serves its API and dials with the same key: serverAuth
 * and clientAuth. An analyzer's also carries every address agents dial (the
 * IPs those names resolve to, up to Skydive 0.26, which verifies the IP). An
 * agent's never carries an analyzer's name or address, so it cannot serve as
 * the analyzer; a host that is both says so.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { basename, join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { CERT_MODE, CONFIG_MODE, KEY_MODE, type FileSpec, ensureDir, existing, octal, readInput, recover, tidy, withLock, writeFileAtomic, writeSet } from "../fs/files.js";
import { type CaSummary, type LoadedCa, caSummary, loadCa } from "../pki/ca.js";
import { chooseCnf, loadCnf } from "../pki/cnf.js";
import { makeCertificate, makeRequest, randomSerial, validity } from "../pki/issue.js";
import { HOSTS_IN_FLIGHT, generateKey, privateKeyPem, publicKeyFingerprint, sha256Fingerprint } from "../pki/keys.js";
import { toPem } from "../pki/pem.js";
import { type Plan, planHostLeaf, validateStem } from "../pki/profile.js";
import { type San, formatSan, mergeSans, sanFromAddress } from "../pki/san.js";
import { editYaml } from "../skydive/config.js";
import { type Inventory, hostsFromList, readInventory } from "../skydive/inventory.js";
import { type FleetRecord, type InventoryChange, type RecordHost, abs, emptyRecord, inventoryChange, readRecord, rel, writeRecord } from "../skydive/record.js";
import { dialEntry, hostPart } from "../skydive/address.js";
import { type Release, type Role, dialsResolvedIp } from "../skydive/release.js";
import { CONFIG_FILE, type Settings, tlsHostSettings } from "../skydive/settings.js";
import type { CnfChoice, FileResult, IssueOptions } from "./result.js";

export interface HostsOptions extends IssueOptions {
  ca: string;
  skydive?: Release;
  inventory?: string;
  hosts?: string[];
  /** `--analyzers`: what agents dial, when not every analyzer host's address. */
  analyzers?: string[];
  cnfSans: boolean;
  deployDir?: string;
  passphrase?: PassphraseSource;
  onProgress?: (done: number, total: number, host: string) => void;
}

export type HostStatus = "issued" | "skipped" | "failed" | "planned";

export interface HostResult {
  name: string;
  roles: Role[];
  address: string;
  status: HostStatus;
  reason?: string;
  dir: string;
  sans: string[];
  serial?: string;
  notAfter?: string;
  fingerprint?: string;
  /** SHA-256 of the public key, to tell keys apart without showing them. */
  keyFingerprint?: string;
  files?: FileResult[];
  config?: Settings;
}

export interface HostsResult {
  ok: boolean;
  kind: "hosts";
  dryRun: boolean;
  skydive: Release;
  out: string;
  record: string;
  ca: CaSummary;
  cnf: CnfChoice;
  source: { kind: "ansible" | "hosts" | "--san"; path?: string };
  analyzers: string[];
  deployDir?: string;
  hosts: HostResult[];
  counts: Record<HostStatus, number>;
  changes?: InventoryChange;
  /** Configs of hosts not issued in this run that were updated (their analyzers: list, or paths). */
  configsUpdated: string[];
  parallelism: number;
  elapsedMs: number;
  warnings: string[];
}

/** A host name is a folder name: no separators, no dot names, no blanks or control characters. */
export function hostFolderProblem(host: string): string | undefined {
  if (host === "." || host === ".." || host.startsWith(".")) return "starts with a dot";
  if (host.length > 255) return "is longer than 255 characters";
  if (/[/\\\0]/.test(host)) return "contains a path separator";
  if (/[\s\x00-\x1f\x7f]/.test(host)) return "contains blanks or control characters";
  return undefined;
}

export const hostFolder = (roles: readonly Role[]) => (roles.includes("analyzer") ? "analyzers" : "agents");

interface Pending {
  result: HostResult;
  plan: Plan;
  paths: { key: string; csr: string; crt: string; config: string };
  stanza: string;
}

export async function initHosts(opts: HostsOptions): Promise<HostsResult> {
  const started = Date.now();
  const out = resolve(opts.cwd, opts.out);
  const record = readRecord(out);
  const skydive: Release = opts.skydive ?? record?.skydive ?? "0.27";
  if (skydive === "legacy") {
    throw usageError("--skydive legacy has no CA: every legacy host serves with the analyzer's own pair", "make the seed's self-signed pairs without --ca, or use --skydive 0.21 or 0.27 with a CA");
  }
  if (record && record.hosts.length && opts.skydive && record.skydive !== opts.skydive) {
    throw failure(`${join(out, "skycert.json")}: this fleet is for Skydive ${record.skydive}, not ${opts.skydive}`, `pass --skydive ${record.skydive}, or choose another --out`);
  }
  const cnfChoice = chooseCnf(opts.cwd, opts.cnf);
  const cnf = loadCnf(cnfChoice.path, opts.cnf ? "--cnf" : "cnf");
  if (opts.stem) validateStem(opts.stem);
  if (opts.stem === "skydive") throw usageError("--stem skydive: the host files would collide with skydive.yml", "choose another --stem");

  const inventory: Inventory = opts.inventory
    ? readInventory(resolve(opts.cwd, opts.inventory))
    : opts.hosts?.length
      ? hostsFromList(opts.hosts, opts.roles)
      : singleHost(opts);
  const selected = inventory.hosts.filter((h) => h.roles.some((r) => opts.roles.includes(r)));
  if (selected.length === 0) {
    throw usageError(`--inventory ${inventory.source}: no host in ${opts.roles.map((r) => (r === "analyzer" ? "analyzers" : "agents")).join(" or ")}`, "list the hosts under [analyzers] or [agents]");
  }
  const ca: LoadedCa = await loadCa(opts.ca, opts.cwd, { needKey: !opts.dryRun, passphrase: opts.passphrase });
  const base = record ?? emptyRecord(skydive);
  const changes = opts.inventory && base.hosts.length ? inventoryChange(base.hosts, inventory.hosts) : undefined;
  const warnings: string[] = [];

  // What agents dial: --analyzers, else every analyzer host the record or this inventory knows.
  const knownAnalyzers = [
    ...base.hosts.filter((h) => h.roles.includes("analyzer") && !changes?.removed.includes(h.name)).map((h) => inventory.hosts.find((i) => i.name === h.name)?.address ?? h.address),
    ...inventory.hosts.filter((h) => h.roles.includes("analyzer")).map((h) => h.address),
  ];
  const analyzers = opts.analyzers?.length ? [...new Set(opts.analyzers.map((a) => dialEntry(a)))] : [...new Set(knownAnalyzers.map((a) => dialEntry(a)))];
  const analyzerHosts = new Set(analyzers.map((a) => hostPart(a).toLowerCase()));
  if (opts.roles.includes("agent") && analyzers.length === 0) {
    warnings.push("no analyzer is known yet, so the agents' skydive.yml has no analyzers: list; issue the analyzers (init analyzer --ca ... --inventory) or pass --analyzers HOST:PORT, and the agents' configs are updated");
  }
  // Up to Skydive 0.26 agents verify the IP a name resolves to: analyzers carry those IPs too.
  const resolved = dialsResolvedIp(skydive) && selected.some((h) => h.roles.includes("analyzer")) ? await resolveNames([...analyzerHosts], warnings, skydive) : [];

  const caDir = ca.certPath;
  const there = (p: string) => (opts.deployDir ? join(opts.deployDir, basename(p)) : p);
  const results: HostResult[] = [];
  const pending: Pending[] = [];
  const skipped: string[] = [];
  for (const h of selected) {
    const dir = join(out, hostFolder(h.roles), h.name);
    const result: HostResult = { name: h.name, roles: h.roles, address: h.address, status: "planned", dir, sans: [] };
    results.push(result);
    const fail = (reason: string) => Object.assign(result, { status: "failed" as const, reason });
    const folderProblem = hostFolderProblem(h.name);
    if (folderProblem) {
      fail(`host name ${folderProblem}, so it cannot name a folder`);
      continue;
    }
    const addressSan = sanFromAddress(h.address);
    if (!addressSan.san) {
      fail(`${h.addressFrom === "ansible_host" ? "ansible_host" : "address"} "${h.address}" ${addressSan.problem}`);
      continue;
    }
    const own: San[] = [sanFromAddress(h.name).san, addressSan.san].filter((s): s is San => s !== undefined);
    const analyzerNames = h.roles.includes("analyzer")
      ? [...[...analyzerHosts].map((a) => sanFromAddress(a).san).filter((s): s is San => s !== undefined), ...resolved]
      : [];
    const sans = mergeSans(own, opts.sans, analyzerNames);
    if (!h.roles.includes("analyzer")) {
      const clash = sans.find((s) => analyzerHosts.has(s.value.toLowerCase()));
      if (clash) {
        fail(`its certificate would carry ${clash.value}, an address agents dial for the analyzer, so it could impersonate the analyzer; drop it from --san, or list this host under [analyzers] if it is one`);
        continue;
      }
    } else if (h.roles.includes("agent")) {
      warnings.push(`${h.name} is both analyzer and agent: its one certificate carries the analyzer's names and serves both APIs, as an all-in-one host must`);
    }
    const stem = opts.stem ?? (h.roles.includes("analyzer") ? "analyzer" : "agent");
    let plan: Plan;
    try {
      plan = planHostLeaf(cnf, { cn: opts.cn ?? h.name, sans, cnfSans: opts.cnfSans, extensionsSection: opts.extensions, stem, keyType: opts.key.type });
    } catch (err) {
      // A cnf problem is the same for every host: it stops the run before anything is written.
      if ((err as { exitCode?: number }).exitCode === 2 && !/common name/.test((err as Error).message)) throw err;
      fail((err as Error).message);
      continue;
    }
    result.sans = plan.sans.map(formatSan);
    const paths = { key: join(dir, `${stem}.key`), csr: join(dir, `${stem}.csr`), crt: join(dir, `${stem}.crt`), config: join(dir, CONFIG_FILE) };
    const settings = tlsHostSettings(h.roles, { cert: there(paths.crt), key: there(paths.key) }, there(caDir), analyzers);
    Object.assign(result, {
      config: settings,
      files: [
        { path: paths.key, kind: "key", mode: octal(KEY_MODE) },
        { path: paths.csr, kind: "csr", mode: octal(CERT_MODE) },
        { path: paths.crt, kind: "crt", mode: octal(CERT_MODE) },
        { path: paths.config, kind: "config", mode: octal(CONFIG_MODE) },
      ],
    });
    if (!opts.force) {
      const clash = existing([paths.key, paths.csr, paths.crt]);
      if (clash.length) {
        Object.assign(result, { status: "skipped" as const, reason: `already issued (${clash.map((c) => basename(c)).join(", ")}); --force re-issues it with a new key` });
        skipped.push(dir);
        continue;
      }
    }
    let stanza: string;
    try {
      stanza = editYaml(existing([paths.config]).length ? readInput(paths.config, "config").text : "", settings, paths.config);
    } catch (err) {
      fail((err as Error).message);
      continue;
    }
    pending.push({ result, plan, paths, stanza });
  }
  if (ca.info.notAfter && Date.now() + opts.days * 86_400_000 > ca.info.notAfter.getTime()) {
    warnings.push(`the certificates outlive their CA, which expires on ${ca.info.notAfter.toISOString()}: Go rejects them from then on (renew the CA first: skycert renew ${ca.certPath})`);
  }
  if (changes) {
    for (const r of changes.readdressed) {
      const h = base.hosts.find((x) => x.name === r.name);
      warnings.push(`${r.name} moved from ${r.from} to ${r.to}: its certificate names the old address; add the new one, keeping its key: skycert renew ${h ? abs(out, h.cert) : r.name} --san ${r.to}`);
    }
    for (const name of changes.removed) {
      warnings.push(`${name} is no longer in ${inventory.source}: it leaves the fleet record; its certificate stays valid under the CA until it expires (its folder is kept)`);
    }
  }

  const parallelism = HOSTS_IN_FLIGHT;
  const counts = () => {
    const c: Record<HostStatus, number> = { issued: 0, skipped: 0, failed: 0, planned: 0 };
    for (const r of results) c[r.status]++;
    return c;
  };
  const summary: Omit<HostsResult, "ok" | "dryRun" | "counts" | "elapsedMs" | "configsUpdated"> = {
    kind: "hosts",
    skydive,
    out,
    record: join(out, "skycert.json"),
    ca: caSummary(ca),
    cnf: cnfChoice,
    source: opts.inventory ? { kind: "ansible", path: inventory.source } : { kind: opts.hosts?.length ? "hosts" : "--san" },
    analyzers,
    ...(opts.deployDir ? { deployDir: opts.deployDir } : {}),
    hosts: results,
    ...(changes ? { changes } : {}),
    parallelism,
    warnings,
  };
  if (opts.dryRun) {
    const c = counts();
    return { ...summary, ok: c.failed === 0, dryRun: true, counts: c, configsUpdated: [], elapsedMs: Date.now() - started };
  }

  // Every host was refused before a key was made: nothing is written, not even --out or the record.
  if (pending.length === 0 && skipped.length === 0) {
    const c = counts();
    return { ...summary, ok: c.failed === 0, dryRun: false, counts: c, configsUpdated: [], elapsedMs: Date.now() - started };
  }

  for (const dir of skipped) await tidy(dir);
  await ensureDir(out);
  const configsUpdated = await withLock(out, async () => {
    recover(out);
    recover(join(out, "analyzers"));
    recover(join(out, "agents"));
    await issueAll(pending, ca, opts, results.length, results.length - pending.length);
    // A run that issued nothing and failed leaves the record as it was (a clean re-run still reconciles it).
    if (!results.some((r) => r.status === "issued") && results.some((r) => r.status === "failed")) return [];
    // The record, then every other host's config that the run changed (what agents dial, the paths).
    const next = mergeRecord(base, out, skydive, results, analyzers, inventory, changes, opts, ca);
    await writeRecord(out, next);
    return updateOtherConfigs(next, out, results, there, caDir);
  });
  const c = counts();
  return { ...summary, ok: c.failed === 0, dryRun: false, counts: c, configsUpdated, elapsedMs: Date.now() - started };
}

/** Without --inventory or --hosts: one host, named by --cn or the first --san. */
function singleHost(opts: HostsOptions): Inventory {
  const first = opts.sans.find((s) => s.type === "DNS" || s.type === "IP");
  if (!first) {
    throw usageError(
      "which hosts? a CA-signed certificate belongs to one host and names it",
      "pass --inventory FILE (Ansible), --hosts name[=address],..., or --san ADDRESS for a single host",
    );
  }
  const name = opts.cn ?? first.value;
  return { source: "--san", kind: "hosts", hosts: [{ name, address: first.value, addressFrom: "--hosts", roles: [...opts.roles], vars: {} }] };
}

/** The IPs names resolve to here, which agents up to 0.26 verify; a name that does not resolve is a warning. */
async function resolveNames(hosts: string[], warnings: string[], skydive: Release): Promise<San[]> {
  const out: San[] = [];
  for (const host of hosts) {
    if (sanFromAddress(host).san?.type !== "DNS") continue;
    try {
      const { address } = await dnsLookup(host);
      const san = sanFromAddress(address).san;
      if (san) out.push(san);
    } catch {
      warnings.push(`${host} does not resolve here: Skydive ${skydive} agents verify the IP it resolves to, which the analyzer's certificate must carry; add it with --san`);
    }
  }
  return out;
}

/** Keys are made in the thread pool, `parallelism` at a time, while finished hosts are signed and written. */
async function issueAll(pending: Pending[], ca: LoadedCa, opts: HostsOptions, total: number, doneBefore: number): Promise<void> {
  const issuer = { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! };
  let done = doneBefore;
  let next = 0;
  opts.onProgress?.(done, total, "");
  const worker = async () => {
    while (next < pending.length) {
      const p = pending[next++]!;
      const r = p.result;
      try {
        const key = await generateKey(opts.key);
        const { notBefore, notAfter } = validity(opts.days);
        const serial = randomSerial();
        const csr = makeRequest({ subject: p.plan.subject, privateKey: key, extensions: p.plan.requestExtensions });
        const crt = makeCertificate({ subject: p.plan.subject, subjectKey: key, extensions: p.plan.certificateExtensions, serial, notBefore, notAfter, issuer });
        const files: FileSpec[] = [
          { path: p.paths.key, data: privateKeyPem(key), mode: KEY_MODE },
          { path: p.paths.csr, data: toPem("CERTIFICATE REQUEST", csr), mode: CERT_MODE },
          { path: p.paths.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
          { path: p.paths.config, data: p.stanza, mode: CONFIG_MODE },
        ];
        await writeSet(r.dir, files, { force: opts.force });
        Object.assign(r, {
          status: "issued" as const,
          serial: Buffer.from(serial).toString("hex").toUpperCase(),
          notAfter: notAfter.toISOString(),
          fingerprint: sha256Fingerprint(crt),
          keyFingerprint: publicKeyFingerprint(key),
        });
      } catch (err) {
        Object.assign(r, { status: "failed" as const, reason: err instanceof Error ? err.message : String(err) });
      }
      opts.onProgress?.(++done, total, r.name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(pending.length, HOSTS_IN_FLIGHT) }, worker));
}

function mergeRecord(base: FleetRecord, out: string, skydive: Release, results: HostResult[], analyzers: string[], inventory: Inventory, changes: InventoryChange | undefined, opts: HostsOptions, ca: LoadedCa): FleetRecord {
  const byName = new Map(base.hosts.filter((h) => !changes?.removed.includes(h.name)).map((h) => [h.name, h]));
  for (const r of results) {
    if (r.status !== "issued" && r.status !== "skipped") continue;
    const crt = r.files?.find((f) => f.kind === "crt")?.path;
    const key = r.files?.find((f) => f.kind === "key")?.path;
    if (!crt || !key) continue;
    const kept = byName.get(r.name);
    const host: RecordHost = { name: r.name, roles: r.roles, address: r.address, dir: rel(out, r.dir), cert: rel(out, crt), key: rel(out, key), sans: r.status === "issued" ? r.sans : (kept?.sans ?? r.sans) };
    byName.set(r.name, host);
  }
  // Addresses the inventory moved are recorded as they are now; their certificates are renewed separately.
  for (const h of inventory.hosts) {
    const kept = byName.get(h.name);
    if (kept && kept.address !== h.address) byName.set(h.name, { ...kept, address: h.address });
  }
  return {
    ...base,
    skydive,
    ca: rel(out, ca.certPath),
    ...(opts.inventory ? { inventory: { source: resolve(opts.cwd, opts.inventory), kind: "ansible" as const } } : base.inventory ? {} : { inventory: { source: inventory.source, kind: "hosts" as const } }),
    ...(opts.deployDir ? { deployDir: opts.deployDir } : {}),
    analyzers,
    hosts: [...byName.values()],
  };
}

/** Rewrite the skydive.yml of recorded hosts this run did not issue, where their settings changed. */
async function updateOtherConfigs(record: FleetRecord, out: string, results: HostResult[], there: (p: string) => string, caPath: string): Promise<string[]> {
  const issued = new Set(results.filter((r) => r.status === "issued").map((r) => r.name));
  const updated: string[] = [];
  for (const h of record.hosts) {
    if (issued.has(h.name)) continue;
    const dir = abs(out, h.dir);
    const path = join(dir, CONFIG_FILE);
    const settings = tlsHostSettings(h.roles, { cert: there(abs(out, h.cert)), key: there(abs(out, h.key)) }, there(caPath), record.analyzers);
    let text = "";
    try {
      text = existing([path]).length ? readInput(path, "config").text : "";
      const next = editYaml(text, settings, path);
      if (next === text) continue;
      const changed = await withLock(dir, () => writeFileAtomic(path, next, { mode: CONFIG_MODE, force: false, backup: true }));
      if (changed) updated.push(path);
    } catch {
      /* a host config skycert cannot edit is reported by validate --fleet */
    }
  }
  return updated;
}
