/**
 * `skycert validate --fleet DIR`: every host of the fleet record, each through
 * the same per-host validate as a single host (host.ts), judged against what
 * the fleet's agents really dial; then what only the whole fleet shows: one
 * CA, no serial or key twice, and real handshakes from an agent to every
 * analyzer and between analyzers.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SkycertError, usageError } from "../cli/errors.js";
import { readConfigFile } from "../skydive/config.js";
import { type GoTls, goTlsModule, loadGoTls } from "../skydive/go-tls.js";
import { type FleetRecord, RECORD_FILE, abs, readRecord } from "../skydive/record.js";
import type { Release } from "../skydive/release.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import { shower } from "./context.js";
import { type HostReport, validateHost } from "./host.js";
import { type Check, type Status, check, sortChecks, summarize, zero } from "./model.js";
import { Remedies } from "./remedy.js";

export interface FleetOptions {
  cwd: string;
  fleet: string;
  hosts: string[];
  release?: Release;
  warnDays: number;
  now?: Date;
  /** Run the fleet's sample handshakes (default true). */
  handshake?: boolean;
}

export interface FleetHostResult {
  host: string;
  roles: string[];
  dir: string;
  ok: boolean;
  summary: Record<Status, number>;
  checks: Check[];
}

export interface FleetValidateResult {
  ok: boolean;
  kind: "fleet";
  fleet: string;
  skydive: Release;
  ca: string | null;
  analyzers: string[];
  hosts: FleetHostResult[];
  fleetChecks: Check[];
  summary: Record<Status, number> & { hosts: number; hostsOk: number };
}

export async function validateFleet(opts: FleetOptions): Promise<FleetValidateResult> {
  const dir = abs(opts.cwd, opts.fleet);
  const record = readRecord(dir);
  if (!record) throw usageError(`--fleet ${opts.fleet}: no ${RECORD_FILE} in ${dir}`, "pass the --out folder of skycert init ... --ca (it keeps the fleet record), or validate one host with --config");
  if (record.hosts.length === 0) throw usageError(`--fleet ${opts.fleet}: the fleet record lists no host yet`, "issue them: skycert init analyzer agent --ca DIR --inventory FILE --out DIR");
  const go = await loadGoTls();
  const now = opts.now ?? new Date();
  const show = shower(opts.cwd);
  const remedies = new Remedies(opts.cwd, undefined, () => false);
  const fleetRecord: FleetRecord = opts.release ? { ...record, skydive: opts.release } : record;
  if (opts.hosts.length) fleetRecord.analyzers = opts.hosts;

  const judged = await judgeHosts({ cwd: opts.cwd, dir, record: fleetRecord, warnDays: opts.warnDays, now }, go);
  const results = judged.map((j) => j.result);
  const reports = judged.map((j) => j.report);

  const fleetChecks: Check[] = [...uniqueness(fleetRecord, reports, remedies, dir), ...caCheck(fleetRecord, dir, reports, show)];
  if (opts.handshake !== false) fleetChecks.push(...(await handshakes(fleetRecord, dir, reports, results, go, now)));
  const total = zero();
  for (const r of results) for (const s of Object.keys(total) as Status[]) total[s] += r.summary[s];
  for (const c of fleetChecks) total[c.status]++;
  const hostsOk = results.filter((r) => r.ok).length;
  return {
    ok: total.fail === 0,
    kind: "fleet",
    fleet: dir,
    skydive: fleetRecord.skydive,
    ca: fleetRecord.ca ? abs(dir, fleetRecord.ca) : null,
    analyzers: fleetRecord.analyzers,
    hosts: results,
    fleetChecks: sortChecks(fleetChecks),
    summary: { ...total, hosts: results.length, hostsOk },
  };
}

/** What a thread needs to judge any host of the fleet. */
export interface FleetJob {
  cwd: string;
  dir: string;
  record: FleetRecord;
  warnDays: number;
  now: Date;
}

export interface JudgedHost {
  result: FleetHostResult;
  report?: HostReport;
}

type Shared = NonNullable<Parameters<typeof validateHost>[0]["shared"]>;

/** One host of the fleet, through the single-host validate, plus what it dials. */
export async function judgeHost(job: FleetJob, i: number, go: GoTls, shared: Shared): Promise<JudgedHost> {
  const { dir, record } = job;
  const h = record.hosts[i]!;
  const hostDir = abs(dir, h.dir);
  const configPath = join(hostDir, CONFIG_FILE);
  let checks: Check[];
  let report: HostReport | undefined;
  try {
    const config = readConfigFile(configPath, "host config");
    report = await validateHost({ cwd: job.cwd, config, env: {}, flags: {}, hosts: [], warnDays: job.warnDays, now: job.now, fleet: { dir, record, host: h }, handshake: false, shared }, go);
    checks = report.checks;
    checks.push(...dialCheck(h.roles.includes("agent"), config.data, record, configPath, job.cwd));
  } catch (err) {
    if (!(err instanceof SkycertError)) throw err;
    const show = shower(job.cwd);
    checks = [check("config", "fail", show(configPath), err.message, { file: configPath, remedy: err.remedy ?? `re-issue the host: skycert init ${h.roles.join(" ")} --ca ${show(abs(dir, record.ca ?? "ca"))} --hosts ${h.name}=${h.address} --out ${show(dir)} --force` })];
  }
  const sorted = sortChecks(checks);
  const summary = summarize(sorted);
  return { result: { host: h.name, roles: h.roles, dir: hostDir, ok: summary.fail === 0, summary, checks: sorted }, ...(report ? { report } : {}) };
}

/** Hosts are handed out in batches to whichever thread is free. */
const BATCH = 20;
/** Below this many hosts a second Go instance costs more than it saves. */
const THREADED_FROM = 100;

/**
 * Every host of the fleet, in record order. Go's wasm runs on one thread, so a
 * large fleet also starts worker threads (validate/worker.ts, one Go instance
 * each) that run the same judgeHost on batches of hosts beside this thread.
 */
async function judgeHosts(job: FleetJob, go: GoTls): Promise<JudgedHost[]> {
  const n = job.record.hosts.length;
  const out: JudgedHost[] = new Array(n);
  let next = 0;
  const take = (): [number, number] | undefined => (next < n ? [next, (next = Math.min(n, next + BATCH))] : undefined);
  const workerFile = fileURLToPath(new URL("./validate-worker.js", import.meta.url));
  const threads = n >= THREADED_FROM && existsSync(workerFile) ? Math.min(availableParallelism() - 1, 3) : 0;
  let failed: unknown;
  const module = threads ? await goTlsModule() : undefined;
  const workers = Array.from({ length: threads }, () => workerRun(workerFile, { job, module }, take, out).catch((err: unknown) => void (failed ??= err)));
  const shared: Shared = { reads: new Map(), parses: new Map() };
  for (let batch = take(); batch && !failed; batch = take()) {
    for (let i = batch[0]; i < batch[1]; i++) out[i] = await judgeHost(job, i, go, shared);
    // Let the workers' messages in: they ask for their next batch.
    if (threads) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(workers);
  if (failed) throw failed;
  return out;
}

function workerRun(file: string, workerData: { job: FleetJob; module: unknown }, take: () => [number, number] | undefined, out: JudgedHost[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData });
    const give = () => {
      const batch = take();
      if (batch) worker.postMessage(batch);
      else void worker.terminate().then(() => resolve());
    };
    worker.on("message", (m: { ready: true } | { from: number; judged: JudgedHost[] } | { error: string; stack?: string }) => {
      if ("error" in m) return void worker.terminate().then(() => reject(Object.assign(new Error(m.error), { stack: m.stack })));
      if ("judged" in m) m.judged.forEach((j, k) => (out[m.from + k] = j));
      give();
    });
    worker.on("error", reject);
  });
}

/** An agent's config must dial what the fleet's analyzers serve. */
function dialCheck(isAgent: boolean, data: Record<string, unknown>, record: FleetRecord, configPath: string, cwd: string): Check[] {
  if (!isAgent) return [];
  const shown = shower(cwd)(configPath);
  const raw = Object.entries(data).find(([k]) => k.toLowerCase() === "analyzers")?.[1];
  const have = Array.isArray(raw) ? raw.map(String) : typeof raw === "string" ? raw.split(/\s+/).filter(Boolean) : [];
  const want = record.analyzers;
  if (want.length === 0) return [check("fleet-record", "warn", shown, `${shown}: the fleet knows no analyzer yet, so this agent dials none`, { remedy: "issue the analyzers: skycert init analyzer --ca DIR --inventory FILE --out DIR (the agents' configs are updated)" })];
  if (have.length === want.length && have.every((a, i) => a === want[i])) return [check("fleet-record", "pass", shown, `${shown}: dials ${want.join(", ")}, the fleet's analyzers`)];
  return [check("fleet-record", "fail", shown, `${shown}: dials ${have.join(", ") || "nothing"}, but the fleet's analyzers are ${want.join(", ")}`, { remedy: new Remedies(cwd, configPath, () => true).configSet({ analyzers: want.join(",") }) })];
}

/** One CA issued no serial twice, and no two hosts share a key. */
function uniqueness(record: FleetRecord, reports: (HostReport | undefined)[], remedies: Remedies, dir: string): Check[] {
  const serials = new Map<string, string[]>();
  const keys = new Map<string, string[]>();
  record.hosts.forEach((h, i) => {
    const leaf = reports[i]?.leaf;
    if (!leaf) return;
    const s = `${leaf.issuer}/${leaf.serialHex}`;
    serials.set(s, [...(serials.get(s) ?? []), h.name]);
    keys.set(leaf.publicKeySha256, [...(keys.get(leaf.publicKeySha256) ?? []), h.name]);
  });
  const dupSerials = [...serials.values()].filter((v) => v.length > 1);
  const dupKeys = [...keys.values()].filter((v) => v.length > 1);
  const out: Check[] = [];
  out.push(
    dupSerials.length
      ? check("fleet-serial-unique", "fail", "serials", `the CA issued the same serial to ${dupSerials.map((d) => d.join(" and ")).join("; ")}: a certificate was copied`, { remedy: remedies.renew(abs(dir, record.hosts.find((h) => h.name === dupSerials[0]![1])!.cert)) })
      : check("fleet-serial-unique", "pass", "serials", `${serials.size} hosts, every serial unique`),
    dupKeys.length
      ? check("fleet-key-unique", "fail", "keys", `${dupKeys.map((d) => d.join(" and ")).join("; ")} share a key: one host's key can act as the other`, { remedy: remedies.renew(abs(dir, record.hosts.find((h) => h.name === dupKeys[0]![1])!.cert), { rekey: true }) })
      : check("fleet-key-unique", "pass", "keys", `${keys.size} hosts, every key distinct`),
  );
  return out;
}

/** Every host trusts the fleet's CA: a host whose tls.ca_cert is another file the analyzers would not share trust with. */
function caCheck(record: FleetRecord, dir: string, reports: (HostReport | undefined)[], show: (p: string) => string): Check[] {
  if (!record.ca) return [];
  const caPath = abs(dir, record.ca);
  const ca = safeRead(caPath);
  if (ca === undefined) return [check("fleet-ca", "fail", "CA", `${show(caPath)}: the fleet's CA certificate cannot be read`, { remedy: `restore ${show(caPath)}, which every host trusts` })];
  const others = record.hosts.filter((_, i) => {
    const p = reports[i]?.trustPath;
    return p !== undefined && p !== caPath && safeRead(p) !== ca;
  });
  if (others.length) {
    return [check("fleet-ca", "fail", "CA", `${others.map((h) => h.name).join(", ")} trust${others.length === 1 ? "s" : ""} another CA file than the fleet's (${show(caPath)})`, { remedy: `set tls.ca_cert of ${others.map((h) => h.name).join(", ")} to ${caPath}` })];
  }
  return [check("fleet-ca", "pass", "CA", `every host trusts the fleet's CA, ${show(caPath)}`)];
}

/** Real handshakes with the release's settings: the first sound agent to every analyzer, and each analyzer to the next. */
async function handshakes(record: FleetRecord, dir: string, reports: (HostReport | undefined)[], results: FleetHostResult[], go: GoTls, now: Date): Promise<Check[]> {
  const files = (i: number) => {
    const h = record.hosts[i]!;
    const r = reports[i];
    if (!r?.leaf?.keyPem || !results[i]!.ok) return undefined;
    const caText = record.ca ? safeRead(abs(dir, record.ca)) : undefined;
    const certText = safeRead(abs(dir, h.cert));
    if (!caText || !certText) return undefined;
    return { name: h.name, cert: certText, key: r.leaf.keyPem, ca: caText };
  };
  const analyzers = record.hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.roles.includes("analyzer"));
  const agent = record.hosts.map((h, i) => ({ h, i })).find(({ h, i }) => !h.roles.includes("analyzer") && files(i));
  const out: Check[] = [];
  const pairs: { from: number; to: number; what: string }[] = [];
  for (const a of analyzers) if (agent) pairs.push({ from: agent.i, to: a.i, what: "agent -> analyzer" });
  analyzers.forEach((a, n) => {
    if (analyzers.length > 1) pairs.push({ from: a.i, to: analyzers[(n + 1) % analyzers.length]!.i, what: "analyzer -> analyzer" });
  });
  for (const p of pairs) {
    const client = files(p.from);
    const server = files(p.to);
    const target = record.hosts[p.to]!;
    const subject = `${p.what}: ${record.hosts[p.from]!.name} -> ${target.name}`;
    if (!client || !server) {
      out.push(check("fleet-handshake", "skip", subject, "skipped: one side failed its own checks (above)"));
      continue;
    }
    const dial = record.analyzers.find((e) => e.startsWith(`${target.address}:`) || e.startsWith(`[${target.address}]:`)) ?? target.address;
    const name = dial.replace(/^\[([^\]]+)\].*$/, "$1").replace(/:\d+$/, "");
    const r = await go.handshake({ release: record.skydive, server: { cert: server.cert, key: server.key, clientCAs: server.ca, requireClientCert: record.skydive === "0.27" }, client: { cert: client.cert, key: client.key, roots: client.ca }, serverName: name, time: now });
    out.push(
      r.ok
        ? check("fleet-handshake", "pass", subject, `dialing ${name} with Skydive ${record.skydive}'s settings: ${r.version}, ${r.cipher}${r.clientCertPresented ? ", client certificate verified" : ""}`, { host: name })
        : check("fleet-handshake", "fail", subject, `dialing ${name} with Skydive ${record.skydive}'s settings: ${r.setupError ?? [r.serverError && `server: ${r.serverError}`, r.clientError && `client: ${r.clientError}`].filter(Boolean).join("; ")}`, { host: name, go: r.setupError ?? r.clientError ?? r.serverError, remedy: "fix the failures of those two hosts above: the handshake shows their effect with Go's own TLS" }),
    );
  }
  return out;
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}
