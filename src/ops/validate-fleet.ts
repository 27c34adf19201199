/**
 * `skycert validate --fleet DIR`: the layout `init ca`, `init analyzer --ca`
 * and `init agent --ca --inventory` leave in DIR, judged as a whole.
 *
 * - Every host folder `DIR/agents/<host>/` is validated from its own
 *   skydive.yml as an agent host (ops/fleet-hosts.ts): config, files, modes,
 *   PEM, key match, validity and Go's trust against its tls.ca_cert; with
 *   --deep, validate's every per-pair check (`--role agent`).
 * - The analyzer, from `DIR/skydive.yml` when present, as an analyzer host.
 * - Fleet-level checks: every host trusts the fleet's CA (`DIR/ca/`), no serial
 *   is issued twice by one CA, no key is used twice (agents, analyzer, CA), and
 *   one real mutual-TLS handshake with Skydive's settings between the analyzer
 *   and the first host that passed its checks (every host's chain is already
 *   verified by Go's rules in its trust check; a handshake per host would only
 *   repeat that, at a few milliseconds each).
 */
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Plan, type Status, planDeployment } from "../core/checks.js";
import { SkycertError, usageError } from "../core/errors.js";
import { sha256Fingerprint } from "../core/keys.js";
import { certIdentity, walkCertificate } from "../core/x509-raw.js";
import { AGENTS_FOLDER, STANZA_FILE } from "../core/stanza.js";
import { findCaCert } from "../io/ca-files.js";
import { readConfig, readMaterial, shower } from "../io/material.js";
import { type FleetHostResult, checkHosts, firstCertDer, zero } from "./fleet-hosts.js";
// The full per-pair checks (and their certificate parser) load only for --deep and the analyzer.
import type { ValidateResult } from "./validate.js";

export type { FleetHostResult };

export const FLEET_CHECK_IDS = ["fleet-ca", "fleet-serial-unique", "fleet-key-unique", "fleet-handshake"] as const;
export type FleetCheckId = (typeof FLEET_CHECK_IDS)[number];

export interface FleetCheck {
  id: FleetCheckId;
  status: Status;
  subject: string;
  message: string;
  remedy?: string;
  hosts?: string[];
}


export interface FleetValidateResult {
  ok: boolean;
  fleet: string;
  ca: { cert: string; subject: string; fingerprint: string } | null;
  analyzer: ValidateResult | null;
  hosts: FleetHostResult[];
  fleetChecks: FleetCheck[];
  summary: { hosts: number; hostsOk: number; hostsFailed: number } & Record<Status, number>;
}

export interface FleetValidateOptions {
  cwd: string;
  fleet: string;
  /** Addresses agents dial (--host): the analyzer's SANs are checked against them. */
  hosts: string[];
  /** --ca-cert: the fleet's CA, when it is not in DIR/ca/. */
  caCert?: string;
  warnDays: number;
  /** Every per-pair check on every host (validate's full set), not only pair, trust and expiry. */
  deep?: boolean;
  now?: Date;
}

const subjectOf = (der: Uint8Array) => {
  try {
    return walkCertificate(der).subject;
  } catch {
    return "";
  }
};

/**
 * Host names in natural order, numbers as numbers (10.0.0.9 before 10.0.0.10).
 * Not Intl.Collator: creating one loads ICU's collation data, ~7 ms of a run.
 */
export function sortByName(names: string[]): string[] {
  const runs = (name: string) => (name.match(/\d+|\D+/g) ?? []).map((r) => (/^\d/.test(r) ? Number(r) : r));
  const compare = (x: (string | number)[], y: (string | number)[]) => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const p = x[i]!;
      const q = y[i]!;
      if (p === q) continue;
      if (typeof p === "number" && typeof q === "number") return p - q;
      return String(p) < String(q) ? -1 : 1;
    }
    return x.length - y.length;
  };
  return names
    .map((name) => ({ name, key: runs(name) }))
    .sort((a, b) => compare(a.key, b.key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => e.name);
}

function hostFolders(agentsDir: string): string[] {
  return sortByName(
    readdirSync(agentsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name),
  );
}

export async function validateFleet(opts: FleetValidateOptions): Promise<FleetValidateResult> {
  const fleet = resolve(opts.cwd, opts.fleet);
  const agentsDir = join(fleet, AGENTS_FOLDER);
  try {
    if (!statSync(fleet).isDirectory()) throw usageError(`--fleet ${opts.fleet}: not a folder`);
  } catch (err) {
    if (err instanceof SkycertError) throw err;
    throw usageError(`--fleet ${opts.fleet}: no such folder`, "pass the --out folder of skycert init agent --ca --inventory");
  }
  try {
    statSync(agentsDir);
  } catch {
    throw usageError(`--fleet ${opts.fleet}: no ${AGENTS_FOLDER}/ folder in it`, "skycert init agent --ca DIR --inventory FILE --out DIR makes DIR/agents/<host>/");
  }
  const now = opts.now ?? new Date();
  const show = shower(opts.cwd);
  const fleetChecks: FleetCheck[] = [];

  // The fleet's CA: --ca-cert, else DIR/ca/, else the one every host names (checked below).
  let ca: FleetValidateResult["ca"] = null;
  let caDer: Uint8Array | undefined;
  let caSource: "--ca-cert" | "ca/" | "hosts" = "hosts";
  const explicitCa = opts.caCert ? resolve(opts.cwd, opts.caCert) : undefined;
  let caPath: string | undefined = explicitCa;
  if (explicitCa) caSource = "--ca-cert";
  else {
    try {
      caPath = findCaCert(join(fleet, "ca"), opts.cwd, "--fleet");
      caSource = "ca/";
    } catch {
      caPath = undefined;
    }
  }
  if (caPath) {
    const read = readMaterial(caPath);
    caDer = read.ok ? firstCertDer(read.bytes) : undefined;
    if (!caDer) throw usageError(`${explicitCa ? "--ca-cert" : "--fleet"} ${show(caPath)}: not a readable PEM certificate`);
    ca = { cert: caPath, subject: subjectOf(caDer), fingerprint: sha256Fingerprint(caDer) };
  }

  // The analyzer, when the fleet holds its config.
  let analyzer: ValidateResult | null = null;
  const analyzerConfig = join(fleet, STANZA_FILE);
  if (readMaterial(analyzerConfig).ok) {
    const { validate } = await import("./validate.js");
    analyzer = await validate({ cwd: opts.cwd, config: analyzerConfig, files: {}, hosts: opts.hosts, role: "analyzer", warnDays: opts.warnDays, env: {}, now });
  }

  // Every host, as an agent host.
  const outcomes = await checkHosts({ cwd: opts.cwd, fleet, agentsDir, names: hostFolders(agentsDir), warnDays: opts.warnDays, now, deep: opts.deep ?? false });
  const hosts = outcomes.map((o) => o.result);
  const identities = outcomes.flatMap((o) => (o.identity ? [{ host: o.result.host, ...o.identity }] : []));
  const hostCas = outcomes.map((o) => ({ host: o.result.host, fingerprint: o.ca?.fingerprint, path: o.ca?.path, der: o.ca?.der }));
  const agentFiles = new Map(outcomes.flatMap((o) => (o.files ? [[o.result.host, o.files] as const] : [])));
  if (hosts.length === 0) {
    fleetChecks.push({ id: "fleet-ca", status: "fail", subject: "hosts", message: `${show(agentsDir)} holds no host folders`, remedy: "issue the fleet with skycert init agent --ca DIR --inventory FILE" });
  }

  // fleet-ca: everyone trusts the fleet's CA (a host's trust check then proves its certificate comes from it).
  if (!ca && hostCas.length) {
    // No ca/ folder and no --ca-cert: the CA the hosts name, if they agree.
    const named = new Map<string, (typeof hostCas)[number]>();
    for (const h of hostCas) if (h.fingerprint && !named.has(h.fingerprint)) named.set(h.fingerprint, h);
    if (named.size === 1) {
      const only = [...named.values()][0]!;
      ca = { cert: only.path!, subject: only.der ? subjectOf(only.der) : "", fingerprint: only.fingerprint! };
      caDer = only.der;
    } else if (named.size > 1) {
      const groups = [...named.keys()].map((fp) => `${show(named.get(fp)!.path!)} (${hostCas.filter((h) => h.fingerprint === fp).map((h) => h.host).join(", ")})`);
      fleetChecks.push({
        id: "fleet-ca",
        status: "fail",
        subject: "CA",
        message: `the hosts trust different CAs, and the fleet has no ca/ folder to tell which is right: ${groups.join("; ")}`,
        remedy: "pass the fleet's CA with --ca-cert FILE, then re-issue the hosts that trust another one",
        hosts: hostCas.map((h) => h.host),
      });
    }
  }
  if (ca) {
    const caPathShown = show(ca.cert);
    const foreign = hostCas.filter((h) => h.fingerprint !== ca!.fingerprint).map((h) => h.host);
    const from = caSource === "--ca-cert" ? "given with --ca-cert" : caSource === "ca/" ? "in the fleet's ca/ folder" : "named by every host's tls.ca_cert";
    fleetChecks.push(
      foreign.length
        ? {
            id: "fleet-ca",
            status: "fail",
            subject: "CA",
            message: `${foreign.length} host${foreign.length === 1 ? "" : "s"} do${foreign.length === 1 ? "es" : ""} not trust the fleet CA ${caPathShown} (${from}); tls.ca_cert names another certificate or none: ${foreign.join(", ")}`,
            remedy: `re-issue ${foreign.length === 1 ? "it" : "them"} from the fleet CA: skycert init agent --ca ${caPathShown} --inventory FILE --out ${show(fleet)} --force`,
            hosts: foreign,
          }
        : { id: "fleet-ca", status: "pass", subject: "CA", message: `all ${hostCas.length} hosts trust the fleet CA ${caPathShown} (${from})` },
    );
  } else if (!fleetChecks.some((c) => c.id === "fleet-ca")) {
    fleetChecks.push({ id: "fleet-ca", status: "fail", subject: "CA", message: "no fleet CA: no ca/ folder, no --ca-cert, and no host names a readable tls.ca_cert", remedy: `pass the CA with --ca-cert FILE, or make one with skycert init ca --out ${show(fleet)}` });
  }

  // fleet-serial-unique: RFC 5280 wants issuer + serial unique; a repeat means a copied certificate.
  const bySerial = new Map<string, string[]>();
  for (const id of identities) bySerial.set(`${id.issuer}/${id.serial}`, [...(bySerial.get(`${id.issuer}/${id.serial}`) ?? []), id.host]);
  const repeatedSerials = [...bySerial.entries()].filter(([, h]) => h.length > 1);
  fleetChecks.push(
    repeatedSerials.length
      ? {
          id: "fleet-serial-unique",
          status: "fail",
          subject: "serials",
          message: `the same serial is issued twice by one CA: ${repeatedSerials.map(([k, h]) => `${k.split("/")[1]} on ${h.join(" and ")}`).join("; ")}`,
          remedy: "a certificate was copied between hosts: re-issue those hosts with --force",
          hosts: repeatedSerials.flatMap(([, h]) => h),
        }
      : { id: "fleet-serial-unique", status: "pass", subject: "serials", message: `${identities.length} certificates, ${identities.length} distinct serials` },
  );

  // fleet-key-unique: one key per host, and none shared with the analyzer or the CA.
  const byKey = new Map<string, string[]>();
  const addKey = (key: string, who: string) => byKey.set(key, [...(byKey.get(key) ?? []), who]);
  for (const id of identities) addKey(id.key, id.host);
  if (caDer) addKey(Buffer.from(certIdentity(caDer).spki).toString("base64"), "the CA");
  const analyzerItems = analyzer ? await analyzerFiles(analyzerConfig) : undefined;
  const analyzerCert = analyzerItems?.analyzerCert?.path;
  if (analyzerCert) {
    const read = readMaterial(analyzerCert);
    const der = read.ok ? firstCertDer(read.bytes) : undefined;
    if (der) {
      try {
        addKey(Buffer.from(certIdentity(der).spki).toString("base64"), "the analyzer");
      } catch {
        /* the analyzer's own pem-parse reports it */
      }
    }
  }
  const shared = [...byKey.values()].filter((w) => w.length > 1);
  fleetChecks.push(
    shared.length
      ? {
          id: "fleet-key-unique",
          status: "fail",
          subject: "keys",
          message: `one private key serves several certificates: ${shared.map((w) => w.join(" and ")).join("; ")}`,
          remedy: "a key was copied: re-issue those hosts with --force so each gets its own key",
          hosts: shared.flat().filter((w) => !w.startsWith("the ")),
        }
      : { id: "fleet-key-unique", status: "pass", subject: "keys", message: `${identities.length} host keys, all distinct${analyzerCert ? ", none shared with the analyzer or the CA" : ", none shared with the CA"}` },
  );

  // fleet-handshake: Skydive's analyzer settings against one host that passed.
  fleetChecks.push(await sampleHandshake(analyzer, analyzerItems, hosts, agentFiles, opts.hosts[0] ?? analyzer?.hosts[0]?.name));

  const summary = { hosts: hosts.length, hostsOk: hosts.filter((h) => h.ok).length, hostsFailed: hosts.filter((h) => !h.ok).length, ...zero() };
  for (const h of hosts) for (const s of Object.keys(h.summary) as Status[]) summary[s] += h.summary[s];
  for (const c of fleetChecks) summary[c.status]++;
  if (analyzer) for (const s of Object.keys(analyzer.summary) as Status[]) summary[s] += analyzer.summary[s];
  const ok = summary.hostsFailed === 0 && fleetChecks.every((c) => c.status !== "fail") && (analyzer?.ok ?? true);
  return { ok, fleet, ca, analyzer, hosts, fleetChecks, summary };
}

/** The analyzer's files as its config names them; undefined when the config cannot be read (the analyzer's own checks say why). */
async function analyzerFiles(configPath: string): Promise<Plan["items"] | undefined> {
  try {
    const config = await readConfig({ cwd: "/", config: configPath, files: {} }, (p) => p);
    return planDeployment({ config, env: {}, flags: {}, hosts: [], role: "analyzer", cwd: "/" }).items;
  } catch {
    return undefined;
  }
}

async function sampleHandshake(
  analyzer: ValidateResult | null,
  a: Plan["items"] | undefined,
  hosts: FleetHostResult[],
  files: Map<string, { cert: string; key: string; ca: string }>,
  dial: string | undefined,
): Promise<FleetCheck> {
  const subject = "agent -> analyzer";
  if (!analyzer) return { id: "fleet-handshake", status: "skip", subject, message: `skipped: no analyzer config (${STANZA_FILE}) in the fleet folder` };
  const sample = hosts.find((h) => h.ok && files.has(h.host));
  if (!sample) return { id: "fleet-handshake", status: "skip", subject, message: "skipped: no host passed its checks" };
  if (!a) return { id: "fleet-handshake", status: "skip", subject, message: "skipped: the analyzer config could not be read (see the analyzer's checks)" };
  const reads = [a.analyzerCert?.path, a.analyzerKey?.path, a.ca?.path].map((p) => (p ? readMaterial(p) : undefined));
  if (reads.some((r) => !r?.ok)) return { id: "fleet-handshake", status: "skip", subject, message: "skipped: the analyzer's files could not be read (see the analyzer's checks)" };
  const text = (r: (typeof reads)[number]) => (r && r.ok ? Buffer.from(r.bytes).toString("utf8") : "");
  const h = files.get(sample.host)!;
  const agentReads = [h.cert, h.key, h.ca].map((p) => readMaterial(p));
  const name = dial ?? "127.0.0.1";
  const { skydiveHandshake } = await import("../io/handshake.js");
  let r: Awaited<ReturnType<typeof skydiveHandshake>>;
  try {
    r = await skydiveHandshake(
      { cert: text(reads[0]), key: text(reads[1]), trust: [text(reads[2])] },
      { cert: text(agentReads[0]), key: text(agentReads[1]), trust: [text(agentReads[2])] },
      name,
    );
  } catch (err) {
    r = { ok: false, side: "analyzer", error: (err as Error).message.split("\n")[0]! };
  }
  return r.ok
    ? { id: "fleet-handshake", status: "pass", subject, message: `mutual TLS with Skydive's settings between the analyzer and ${sample.host}, dialing ${name}: ${r.protocol}, ${r.cipher}`, hosts: [sample.host] }
    : {
        id: "fleet-handshake",
        status: "fail",
        subject,
        message: `mutual TLS with Skydive's settings between the analyzer and ${sample.host}, dialing ${name}, failed: ${r.error}`,
        remedy: "see the analyzer's checks (san-coverage for the address agents dial, trust) and that host's",
        hosts: [sample.host],
      };
}
