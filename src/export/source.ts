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
 * Before anything is written the source passes skycert validate (Go's
 * verdicts); a failed check stops the export with its id and remedy.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import { shownPath } from "../cli/render.js";
import { fileSetting, readConfigFile, releaseOf } from "../skydive/config.js";
import { type FleetRecord, RECORD_FILE, abs, readRecord } from "../skydive/record.js";
import { RELEASE_NAMES, type Release, fileKeys, keysOf } from "../skydive/release.js";
import { CONFIG_FILE, type Pair } from "../skydive/settings.js";
import type { Check } from "../validate/model.js";

/** A fleet's `ca` is the CA certificate (never its key). */
export type ExportSource =
  | { kind: "legacy"; from: string; config: string; analyzer: Pair; agent: Pair; record: FleetRecord | undefined }
  | { kind: "fleet"; from: string; record: FleetRecord; ca: string };

/** The release family in prose: "Skydive 0.21 to 0.26". */
export const releaseShort = (release: Release) => RELEASE_NAMES[release].replace(/ \(.*/, "");

/** `--from DIR` (default: the folder of --config, else .) and, for a legacy folder, `--config FILE` (default DIR/skydive.yml). */
export function readSource(opts: { cwd: string; from?: string; config?: string }): ExportSource {
  const from = resolve(opts.cwd, opts.from ?? (opts.config ? dirname(opts.config) : "."));
  const show = (p: string) => shownPath(p, opts.cwd);
  const record = readRecord(from);
  if (record?.ca && record.hosts.length) {
    if (opts.config) throw usageError(`--config ${opts.config}: ${show(from)} is a CA fleet, read from its record (${RECORD_FILE}), not from one config`, `drop --config; pass --from ${show(from)}`);
    return { kind: "fleet", from, record, ca: abs(from, record.ca) };
  }
  const configPath = resolve(opts.cwd, opts.config ?? join(from, CONFIG_FILE));
  if (!existsSync(configPath)) {
    const made = record?.ca
      ? `issue the hosts first: ${command("init", "analyzer", "agent", "--ca", show(from), "--inventory", "INVENTORY", "--out", show(from))}`
      : `make the certificates first (${command("init", "analyzer", "agent", "--out", show(from))}, or a CA fleet: ${command("init", "ca", "--out", show(from))}), or pass --from DIR`;
    throw usageError(`${opts.config ? "--config " : ""}${show(configPath)}: no such file, so no certificates to export`, made);
  }
  const config = readConfigFile(configPath, "--config");
  const path = (key: string) => fileSetting(config, {}, key, opts.cwd, show(configPath))?.path;
  if (fileKeys("legacy").filter(path).length === 0) {
    if (fileKeys("0.27").some(path)) {
      throw usageError(`${show(configPath)} names tls.* files, but ${show(from)} has no fleet record (${RECORD_FILE}) saying which host each belongs to`, "export the folder skycert init analyzer agent --ca ... --out DIR wrote, with --from DIR");
    }
    throw usageError(`${show(configPath)}: names no certificates (neither analyzer.X509_* / agent.X509_* nor a CA fleet)`, `run ${command("init", "analyzer", "agent", "--out", show(from))} first`);
  }
  const need = (key: string) => {
    const p = path(key);
    if (!p) throw usageError(`${show(configPath)}: ${key} is not set; Skydive up to 0.20 loads both pairs on every host, agents too`, `run ${command("init", "analyzer", "agent", "--out", show(dirname(configPath)))} (or the missing role alone)`);
    return p;
  };
  const k = keysOf("legacy");
  return { kind: "legacy", from, config: configPath, analyzer: { cert: need(k.server.cert), key: need(k.server.key) }, agent: { cert: need(k.client.cert), key: need(k.client.key) }, record };
}

/** `--skydive`, else the record's, else legacy for a legacy folder; a release the source cannot serve is refused. */
export function chooseRelease(src: ExportSource, flag: Release | undefined, cwd: string): { release: Release; from: string } {
  const chosen = releaseOf(undefined, {}, { flag, fleet: src.record && { dir: src.from, record: src.record }, legacyHint: src.kind === "legacy" });
  if (src.kind === "legacy" && chosen.release !== "legacy") {
    throw usageError(
      `--skydive ${chosen.release}: ${shownPath(src.config, cwd)} holds the seed's self-signed pairs (legacy analyzer.X509_*/agent.X509_*), which Skydive ${chosen.release} does not read`,
      `make a CA fleet for it: ${command("init", "ca", "--out", "pki")}, then ${command("init", "analyzer", "agent", "--ca", "pki", "--inventory", "INVENTORY", "--out", "pki")}`,
    );
  }
  if (src.kind === "fleet" && chosen.release === "legacy") {
    throw usageError(
      `--skydive legacy: ${shownPath(src.from, cwd)} is a CA fleet (tls.* schema, one certificate per host), which Skydive up to 0.20 does not read`,
      "upgrade Skydive to 0.21 or later (the way out of legacy), or export the seed's self-signed pairs made without --ca",
    );
  }
  return chosen;
}

/** What skycert validate said of what ships; `command` shows every check. */
export interface Validation {
  what: string;
  command: string;
  pass: number;
  warn: number;
  /** One line each, with their ids. */
  warnings: string[];
}

function validation(checks: readonly Check[], what: string, where: string, rerun: string): Validation {
  const failed = checks.filter((c) => c.status === "fail");
  const first = failed[0];
  if (first) {
    const ids = [...new Set(failed.map((c) => c.id))].join(", ");
    throw failure(`skycert validate fails on ${where} (${ids}): ${first.message}`, `${first.remedy ? `${first.remedy}; ` : ""}${rerun} lists every problem`);
  }
  const warned = checks.filter((c) => c.status === "warn");
  return { what, command: rerun, pass: checks.filter((c) => c.status === "pass").length, warn: warned.length, warnings: warned.map((c) => `${c.id}: ${c.message}`) };
}

/** skycert validate --config CONFIG [--host ...] [--role ...] --skydive R, environment ignored. */
export async function validateConfig(opts: { cwd: string; config: string; hosts: string[]; release: Release; role?: "analyzer" | "agent"; what: string }): Promise<Validation> {
  const { validate } = await import("../validate/validate.js");
  const r = await validate({ cwd: opts.cwd, config: opts.config, flags: {}, hosts: opts.hosts, role: opts.role, release: opts.release, warnDays: 30, env: {} });
  const rerun = command("validate", "--config", shownPath(opts.config, opts.cwd), ...opts.hosts.flatMap((h) => ["--host", h]), ...(opts.role ? ["--role", opts.role] : []), "--skydive", opts.release);
  return validation(r.checks, opts.what, `${opts.what}, ${shownPath(opts.config, opts.cwd)}`, rerun);
}

/** skycert validate --fleet DIR --skydive R: every host, then one CA, unique serials and keys, handshakes. */
export async function validateFleetSource(opts: { cwd: string; from: string; release: Release; what: string }): Promise<Validation> {
  const { validateFleet } = await import("../validate/fleet.js");
  const r = await validateFleet({ cwd: opts.cwd, fleet: opts.from, hosts: [], release: opts.release, warnDays: 30 });
  const checks = [...r.hosts.flatMap((h) => h.checks.map((c) => ({ ...c, message: c.message.startsWith(h.host) ? c.message : `${h.host}: ${c.message}` }))), ...r.fleetChecks];
  return validation(checks, opts.what, `the fleet ${shownPath(opts.from, opts.cwd)}`, command("validate", "--fleet", shownPath(opts.from, opts.cwd), "--skydive", opts.release));
}
