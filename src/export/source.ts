/**
 * What both exports start from: the folder skycert init wrote (`--from`), and
 * the Skydive release the files are for.
 *
 * - A legacy folder: `skydive.yml` names analyzer.X509_* and agent.X509_*,
 *   the seed's self-signed pairs. Every host, agents too, gets all four files:
 *   up to 0.20 every API server serves with the analyzer's pair.
 * - A CA fleet: `skycert.json` (the fleet record) lists each host's own
 *   certificate and key, the CA certificate, what agents dial. The CA key
 *   is never exported.
 *
 * The release: `--skydive`, else the fleet record's, else legacy for a legacy
 * skydive.yml, else 0.27. Before anything is written the source passes skycert
 * validate (validate/validate.ts and validate/fleet.ts, Go's verdicts); a
 * failed check stops the export with its id and remedy.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { shownPath } from "../cli/render.js";
import { failure, usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import { lookup, readConfigFile } from "../skydive/config.js";
import type { GoTls } from "../skydive/go-tls.js";
import { type FleetRecord, type RecordHost, RECORD_FILE, abs, readRecord } from "../skydive/record.js";
import { type Release, fileKeys, keysOf } from "../skydive/release.js";
import { CONFIG_FILE, LEGACY_COST, LEGACY_WAY_OUT, type Pair } from "../skydive/settings.js";
import type { Check } from "../validate/model.js";

/** Paths under the working folder are shown relative to it. */
export const shown = (cwd: string, p: string) => shownPath(p, cwd);

export interface LegacySource {
  kind: "legacy";
  from: string;
  config: string;
  analyzer: Pair;
  agent: Pair;
  record: FleetRecord | undefined;
}

export interface FleetSource {
  kind: "fleet";
  from: string;
  record: FleetRecord;
  /** The CA certificate (never its key). */
  ca: string;
}

export type ExportSource = LegacySource | FleetSource;

/** `--from DIR` (default: the folder of --config, else .) and, for a legacy folder, `--config FILE` (default DIR/skydive.yml). */
export function readSource(opts: { cwd: string; from?: string; config?: string }): ExportSource {
  const from = resolve(opts.cwd, opts.from ?? (opts.config ? dirname(opts.config) : "."));
  const show = (p: string) => shown(opts.cwd, p);
  const record = readRecord(from);
  if (record?.ca && record.hosts.length) {
    if (opts.config) {
      throw usageError(`--config ${opts.config}: ${show(from)} is a CA fleet, read from its record (${RECORD_FILE}), not from one config`, `drop --config; pass --from ${show(from)}`);
    }
    return { kind: "fleet", from, record, ca: abs(from, record.ca) };
  }
  const config = resolve(opts.cwd, opts.config ?? join(from, CONFIG_FILE));
  if (!existsSync(config)) {
    const made = record?.ca
      ? `issue the hosts first: ${command("init", "analyzer", "agent", "--ca", show(from), "--inventory", "INVENTORY", "--out", show(from))}`
      : `make the certificates first (${command("init", "analyzer", "agent", "--out", show(from))}, or a CA fleet: ${command("init", "ca", "--out", show(from))}), or pass --from DIR`;
    throw usageError(`${opts.config ? "--config " : ""}${show(config)}: no such file, so no certificates to export`, made);
  }
  const data = readConfigFile(config, "--config").data;
  const path = (key: string) => {
    const v = lookup(data, key);
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw usageError(`${show(config)}: ${key} is not a file path`, `set ${key} to the path of the file`);
    return resolve(dirname(config), v);
  };
  const legacySet = fileKeys("legacy").filter((k) => path(k));
  if (legacySet.length === 0) {
    if (fileKeys("0.27").some((k) => path(k))) {
      throw usageError(
        `${show(config)} names tls.* files, but ${show(from)} has no fleet record (${RECORD_FILE}) saying which host each belongs to`,
        `export the folder skycert init analyzer agent --ca ... --out DIR wrote, with --from DIR`,
      );
    }
    throw usageError(`${show(config)}: names no certificates (neither analyzer.X509_* / agent.X509_* nor a CA fleet)`, `run ${command("init", "analyzer", "agent", "--out", show(from))} first`);
  }
  const k = keysOf("legacy");
  const need = (key: string) => {
    const p = path(key);
    if (!p) {
      throw usageError(
        `${show(config)}: ${key} is not set; Skydive up to 0.20 loads both pairs on every host, agents too`,
        `run ${command("init", "analyzer", "agent", "--out", show(dirname(config)))} (or the missing role alone)`,
      );
    }
    return p;
  };
  return {
    kind: "legacy",
    from,
    config,
    analyzer: { cert: need(k.server.cert), key: need(k.server.key) },
    agent: { cert: need(k.client.cert), key: need(k.client.key) },
    record,
  };
}

/** `--skydive`, else the record's, else legacy for a legacy folder, else 0.27; a release the source cannot serve is refused. */
export function chooseRelease(src: ExportSource, flag: Release | undefined, cwd: string): { release: Release; from: string } {
  const chosen: { release: Release; from: string } = flag
    ? { release: flag, from: "--skydive" }
    : src.record
      ? { release: src.record.skydive, from: `the fleet record ${shown(cwd, join(src.from, RECORD_FILE))}` }
      : src.kind === "legacy"
        ? { release: "legacy", from: `the legacy keys of ${shown(cwd, src.config)}` }
        : { release: "0.27", from: "the default" };
  if (src.kind === "legacy" && chosen.release !== "legacy") {
    throw usageError(
      `--skydive ${chosen.release}: ${shown(cwd, src.config)} holds the seed's self-signed pairs (legacy analyzer.X509_*/agent.X509_*), which Skydive ${chosen.release} does not read`,
      `make a CA fleet for it: ${command("init", "ca", "--out", "pki")}, then ${command("init", "analyzer", "agent", "--ca", "pki", "--inventory", "INVENTORY", "--out", "pki")}`,
    );
  }
  if (src.kind === "fleet" && chosen.release === "legacy") {
    throw usageError(
      `--skydive legacy: ${shown(cwd, src.from)} is a CA fleet (tls.* schema, one certificate per host), which Skydive up to 0.20 does not read`,
      "upgrade Skydive to 0.21 or later (the way out of legacy), or export the seed's self-signed pairs made without --ca",
    );
  }
  return chosen;
}

/** The release family in prose (RELEASE_NAMES adds the schema). */
export const RELEASE_SHORT: Record<Release, string> = { legacy: "Skydive up to 0.20", "0.21": "Skydive 0.21 to 0.26", "0.27": "Skydive 0.27 and later" };

/** What every command that ships legacy files must say. */
export const LEGACY_WARNING = `${LEGACY_COST}; ${LEGACY_WAY_OUT}`;

export function analyzerHosts(record: FleetRecord): RecordHost[] {
  return record.hosts.filter((h) => h.roles.includes("analyzer"));
}

/** The DNS and IP SANs of a certificate, as Go parsed them, `DNS:x`/`IP:y`. */
export function sansOf(go: GoTls, pem: string): string[] {
  const first = go.parse(pem).certificates[0];
  if (!first?.ok) return [];
  return [...first.dnsNames.map((n) => `DNS:${n}`), ...first.ipAddresses.map((ip) => `IP:${ip}`)];
}

// ---------------------------------------------------------------------------
// skycert validate, before anything is written

export interface Validation {
  what: string;
  /** The command that shows every check. */
  command: string;
  pass: number;
  warn: number;
  /** Warnings, one line each, with their ids. */
  warnings: string[];
}

function stopOnFailure(checks: readonly Check[], what: string, rerun: string): void {
  const failed = checks.filter((c) => c.status === "fail");
  if (!failed.length) return;
  const first = failed[0]!;
  const ids = [...new Set(failed.map((c) => c.id))].join(", ");
  throw failure(`skycert validate fails on ${what} (${ids}): ${first.message}`, `${first.remedy ? `${first.remedy}; ` : ""}${rerun} lists every problem`);
}

const summarizeChecks = (what: string, rerun: string, checks: readonly Check[]): Validation => ({
  what,
  command: rerun,
  pass: checks.filter((c) => c.status === "pass").length,
  warn: checks.filter((c) => c.status === "warn").length,
  warnings: checks.filter((c) => c.status === "warn").map((c) => `${c.id}: ${c.message}`),
});

/** skycert validate --config CONFIG [--host ...] [--role ...] --skydive R, environment ignored. */
export async function validateConfig(opts: { cwd: string; config: string; hosts: string[]; release: Release; role?: "analyzer" | "agent"; what: string }): Promise<Validation> {
  const { validate } = await import("../validate/validate.js");
  const r = await validate({ cwd: opts.cwd, config: opts.config, flags: {}, hosts: opts.hosts, role: opts.role, release: opts.release, warnDays: 30, env: {} });
  const rerun = command("validate", "--config", shown(opts.cwd, opts.config), ...opts.hosts.flatMap((h) => ["--host", h]), ...(opts.role ? ["--role", opts.role] : []), "--skydive", opts.release);
  stopOnFailure(r.checks, `${opts.what}, ${shown(opts.cwd, opts.config)}`, rerun);
  return summarizeChecks(opts.what, rerun, r.checks);
}

/** skycert validate --fleet DIR --skydive R: every host, then one CA, unique serials and keys, handshakes. */
export async function validateFleetSource(opts: { cwd: string; from: string; release: Release; what: string }): Promise<Validation> {
  const { validateFleet } = await import("../validate/fleet.js");
  const r = await validateFleet({ cwd: opts.cwd, fleet: opts.from, hosts: [], release: opts.release, warnDays: 30 });
  const rerun = command("validate", "--fleet", shown(opts.cwd, opts.from), "--skydive", opts.release);
  const checks = [...r.hosts.flatMap((h) => h.checks.map((c) => ({ ...c, message: c.message.startsWith(h.host) ? c.message : `${h.host}: ${c.message}` }))), ...r.fleetChecks];
  stopOnFailure(checks, `the fleet ${shown(opts.cwd, opts.from)}`, rerun);
  return summarizeChecks(opts.what, rerun, checks);
}
