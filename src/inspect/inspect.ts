/**
 * `skycert inspect FILE...`: what certificates, requests and keys hold, as
 * plain data, and which of skycert's roles each certificate is. A file may
 * hold several PEM blocks or one DER object; a Skydive config (skydive.yml) is
 * inspected through the certificates and keys it names. Key material never
 * appears: keys are named by the SHA-256 of their public key, the same
 * fingerprint a certificate's key shows, so a key and its certificate can be
 * matched; an encrypted key is reported as encrypted and not opened.
 */
import { existsSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { SkycertError } from "../cli/errors.js";
import { readInput } from "../fs/files.js";
import { parsePem } from "../pki/pem.js";
import { firstCertificate } from "../pki/read.js";
import { type Setting, type SkydiveConfig, lookup, readConfigFile, readSetting, settingPath } from "../skydive/config.js";
import { abs, findRecord } from "../skydive/record.js";
import { ANALYZERS, REQUIRE_CLIENT_CERT, type Release, fileKeys } from "../skydive/release.js";
import { type InspectItem, type KeyItem, blockItem, derItem } from "./items.js";
import { certRole } from "./roles.js";

/** A certificate or key setting as Skydive reads it (the SKYDIVE_* variable over the file), and the file it names here. */
export type ConfigSetting = Pick<Setting, "key" | "source" | "fromEnv"> & { value: string; path: string };

export interface InspectedFile {
  path: string;
  items: InspectItem[];
  /** Why nothing (or not everything) could be read from it. */
  error?: string;
  /** A Skydive config: its certificate and key settings; the files they name follow as their own entries. */
  config?: { schema: "legacy" | "tls.*" | "legacy and tls.*"; release?: Release; settings: ConfigSetting[] };
  /** This file was named by a config given on the command line. */
  namedBy?: { config: string; keys: string[] };
}

export interface InspectResult {
  ok: boolean;
  files: InspectedFile[];
}

const MAX_BYTES = 16 * 1024 * 1024;
/** The certificate and key settings of both schemas, in the order a host loads them. */
const FILE_SETTINGS = [...new Set([...fileKeys("0.27"), ...fileKeys("legacy")])];
/** Keys whose presence marks a YAML mapping as a Skydive config. */
const CONFIG_MARKERS = [...FILE_SETTINGS, REQUIRE_CLIENT_CERT, ANALYZERS, "analyzer.listen", "agent.listen"];
const PEM_PROBLEMS = { truncated: "has no END line", mismatch: "ends with a different label", "bad-base64": "is not valid base64" };

/**
 * A file's items. One given on the command line that cannot be opened is a
 * usage error (exit 2), and one without PEM or DER may be a Skydive config; one
 * a config names that cannot be opened is a finding about the config.
 */
async function readFile(path: string, now: Date, given: boolean): Promise<InspectedFile & { asConfig?: SkydiveConfig }> {
  let input;
  try {
    input = readInput(path, "inspect", MAX_BYTES);
  } catch (err) {
    if (given || !(err instanceof SkycertError)) throw err;
    return { path, items: [], error: err.message.replace(/^inspect \S+: /, "") };
  }
  const { blocks, problem } = parsePem(input.text);
  const items: InspectItem[] = [];
  let error: string | undefined;
  for (const block of blocks) {
    try {
      items.push(await blockItem(block, now));
    } catch (err) {
      error ??= `line ${block.line}: ${block.label} block is not valid (${(err instanceof Error ? err.message : String(err)).split("\n")[0]})`;
    }
  }
  if (problem.kind !== "none") error ??= `line ${problem.line}: a PEM block ${PEM_PROBLEMS[problem.kind]}`;
  if (blocks.length > 0 || problem.kind !== "none") return { path, items, error };
  if (input.bytes.length === 0) return { path, items, error: "the file is empty" };
  const item = await derItem(new Uint8Array(input.bytes), now);
  if (item) return { path, items: [item] };
  const asConfig = given ? configIn(path) : undefined;
  return asConfig ? { path, items, asConfig } : { path, items, error: "no PEM block, and not a DER certificate, request or key, nor a Skydive config" };
}

/** A YAML mapping with at least one setting Skydive knows; anything else is not a config. */
function configIn(path: string): SkydiveConfig | undefined {
  try {
    const config = readConfigFile(path, "inspect");
    return CONFIG_MARKERS.some((k) => lookup(config.data, k) !== undefined) ? config : undefined;
  } catch {
    return undefined;
  }
}

function configSettings(config: SkydiveConfig, cwd: string): ConfigSetting[] {
  return FILE_SETTINGS.flatMap((key) => {
    const s = readSetting(config, process.env, key);
    if (typeof s?.value !== "string" || s.value.trim() === "") return [];
    return [{ key, value: s.value, source: s.source, fromEnv: s.fromEnv, path: settingPath(config, { value: s.value, fromEnv: s.fromEnv }, cwd) }];
  });
}

/**
 * With no certificate given alongside: the one on disk this key belongs to,
 * from its fleet record (the host or client whose key it is), else beside it
 * under the same stem; only a certificate whose public key is this key's counts.
 */
function ownerOnDisk(keyPath: string, fingerprint: string): KeyItem["certificate"] {
  const found = findRecord(keyPath);
  const host = found?.record.hosts.find((h) => abs(found.dir, h.key) === keyPath);
  const stem = join(dirname(keyPath), basename(keyPath, extname(keyPath)));
  const candidates = [
    ...(host ? [{ path: abs(found!.dir, host.cert), found: `the fleet record's host ${host.name}` }] : []),
    ...[".crt", ".pem", ".cert", ".cer"].map((ext) => ({ path: stem + ext, found: "beside it" })),
  ];
  for (const c of candidates) {
    const cert = c.path !== keyPath && existsSync(c.path) ? firstCertificate(c.path) : undefined;
    if (cert?.publicKey.fingerprint === fingerprint) return { path: c.path, subject: cert.subject, found: c.found };
  }
  return undefined;
}

export async function inspectFiles(paths: string[], cwd: string): Promise<InspectResult> {
  const now = new Date();
  const files: InspectedFile[] = [];
  const byPath = new Map<string, InspectedFile>();
  const add = (f: InspectedFile) => {
    files.push(f);
    byPath.set(f.path, f);
  };
  for (const { asConfig: config, ...file } of await Promise.all(paths.map((p) => readFile(resolve(cwd, p), now, true)))) {
    if (byPath.has(file.path) && !config) continue;
    add(file);
    if (!config) continue;
    const settings = configSettings(config, cwd);
    const tls = settings.filter((s) => s.key.startsWith("tls.")).length;
    file.config = { schema: tls === settings.length ? "tls.*" : tls ? "legacy and tls.*" : "legacy", release: findRecord(config.path)?.record.skydive, settings };
    if (settings.length === 0) file.error = `a Skydive config, but it names no certificate or key (none of ${FILE_SETTINGS.join(", ")})`;
    for (const s of settings) {
      const seen = byPath.get(s.path);
      if (seen?.namedBy?.config === config.path && !seen.namedBy.keys.includes(s.key)) seen.namedBy.keys.push(s.key);
      else if (seen) seen.namedBy ??= { config: config.path, keys: [s.key] };
      else {
        const named: InspectedFile = { ...(await readFile(s.path, now, false)), namedBy: { config: config.path, keys: [s.key] } };
        if (named.error && named.items.length === 0) named.error = `${named.error} (named by ${s.source} in ${config.path})`;
        add(named);
      }
    }
  }

  // Roles, then which keys belong to which certificates and requests.
  const owners = new Map<string, string[]>();
  for (const f of files) {
    f.items.forEach((item, n) => {
      if (item.kind === "certificate") item.role = certRole(item, f.path);
      if (item.kind === "certificate" || item.kind === "request") owners.set(item.publicKey.fingerprint, [...(owners.get(item.publicKey.fingerprint) ?? []), `${f.path}#${n + 1}`]);
    });
  }
  for (const f of files) {
    for (const item of f.items) {
      if ((item.kind !== "private-key" && item.kind !== "public-key") || !item.publicKey) continue;
      item.matches = owners.get(item.publicKey.fingerprint);
      if (!item.matches && item.kind === "private-key") item.certificate = ownerOnDisk(f.path, item.publicKey.fingerprint);
    }
  }
  return { ok: files.every((f) => !f.error), files };
}
