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
import { readCertificate } from "../pki/read.js";
import { type SkydiveConfig, lookup, readConfigFile, readSetting, settingPath } from "../skydive/config.js";
import { type FleetRecord, abs, findRecord } from "../skydive/record.js";
import { ANALYZERS, CA_KEY, REQUIRE_CLIENT_CERT, type Release, fileKeys, keysOf } from "../skydive/release.js";
import { type InspectItem, type KeyItem, blockItem, derItem } from "./items.js";
import { certRole } from "./roles.js";

export type { CertificateItem, InspectItem, KeyItem, RequestItem } from "./items.js";

export interface ConfigSetting {
  /** The setting Skydive reads (`tls.server_cert`, `analyzer.X509_cert`). */
  key: string;
  /** As written (or as the SKYDIVE_* variable holds it). */
  value: string;
  /** The key in the file, or the environment variable that overrides it. */
  source: string;
  fromEnv: boolean;
  /** The file it names, resolved as Skydive would (relative to the config's folder). */
  path: string;
}

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

/** Keys whose presence marks a YAML mapping as a Skydive config. */
const CONFIG_MARKERS = [...new Set([...fileKeys("legacy"), ...fileKeys("0.27"), REQUIRE_CLIENT_CERT, ANALYZERS, "analyzer.listen", "agent.listen"])];

/** The certificate and key settings of both schemas, in the order a host loads them. */
function fileSettings(): string[] {
  const t = keysOf("0.27");
  const l = keysOf("legacy");
  return [...new Set([t.server.cert, t.server.key, t.client.cert, t.client.key, CA_KEY, l.server.cert, l.server.key, l.client.cert, l.client.key])];
}

/** A YAML mapping with at least one setting Skydive knows; anything else is not a config. */
function asConfig(path: string): SkydiveConfig | undefined {
  try {
    const config = readConfigFile(path, "inspect");
    return CONFIG_MARKERS.some((k) => lookup(config.data, k) !== undefined) ? config : undefined;
  } catch {
    return undefined;
  }
}

function configSettings(config: SkydiveConfig, cwd: string, env: Record<string, string | undefined>): ConfigSetting[] {
  const out: ConfigSetting[] = [];
  for (const key of fileSettings()) {
    const s = readSetting(config, env, key);
    if (!s || typeof s.value !== "string" || s.value.trim() === "") continue;
    const path = settingPath(config, { value: s.value, fromEnv: s.fromEnv }, cwd);
    out.push({ key, value: s.value, source: s.source, fromEnv: s.fromEnv, path });
  }
  return out;
}

async function readItems(bytes: Buffer, text: string, now: Date): Promise<{ items: InspectItem[]; error?: string; pem: boolean }> {
  const { blocks, problem } = parsePem(text);
  const items: InspectItem[] = [];
  let error: string | undefined;
  for (const block of blocks) {
    try {
      items.push(await blockItem(block, now));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      error ??= `line ${block.line}: ${block.label} block is not valid (${why.split("\n")[0]})`;
    }
  }
  if (problem.kind !== "none") {
    const what = { truncated: "has no END line", mismatch: "ends with a different label", "bad-base64": "is not valid base64" }[problem.kind];
    error ??= `line ${problem.line}: a PEM block ${what}`;
  }
  if (blocks.length > 0 || problem.kind !== "none") return { items, ...(error ? { error } : {}), pem: true };
  if (bytes.length === 0) return { items, error: "the file is empty", pem: false };
  const item = await derItem(new Uint8Array(bytes), now);
  if (item) return { items: [item], pem: false };
  return { items, error: "no PEM block, and not a DER certificate, request or key, nor a Skydive config", pem: false };
}

/** Read a file the user named: a missing or unreadable one is a usage error (exit 2). */
async function inspectOne(path: string, now: Date): Promise<{ file: InspectedFile; config?: SkydiveConfig }> {
  const input = readInput(path, "inspect", MAX_BYTES);
  const r = await readItems(input.bytes, input.text, now);
  if (!r.pem && r.items.length === 0 && input.bytes.length > 0) {
    const config = asConfig(path);
    if (config) return { file: { path, items: [] }, config };
  }
  return { file: { path, items: r.items, ...(r.error ? { error: r.error } : {}) } };
}

/** A file a config names: that it cannot be opened is a finding about the config, not a usage error. */
async function inspectNamed(path: string, now: Date): Promise<InspectedFile> {
  try {
    const input = readInput(path, "inspect", MAX_BYTES);
    const r = await readItems(input.bytes, input.text, now);
    return { path, items: r.items, ...(r.error ? { error: r.error } : {}) };
  } catch (err) {
    if (!(err instanceof SkycertError)) throw err;
    return { path, items: [], error: err.message.replace(/^inspect \S+: /, "") };
  }
}

function schemaOf(settings: ConfigSetting[]): "legacy" | "tls.*" | "legacy and tls.*" {
  const legacy = settings.some((s) => !s.key.startsWith("tls."));
  const tls = settings.some((s) => s.key.startsWith("tls."));
  return legacy && tls ? "legacy and tls.*" : legacy ? "legacy" : "tls.*";
}

/** The first certificate of a file, parsed; undefined when there is none. */
function certificateIn(path: string): { subject: string; keyFingerprint: string } | undefined {
  try {
    const der = parsePem(readInput(path, "certificate", 1024 * 1024).text).blocks.find((b) => b.label === "CERTIFICATE")?.der;
    if (!der) return undefined;
    const info = readCertificate(der);
    return { subject: info.subject, keyFingerprint: info.publicKey.fingerprint };
  } catch {
    return undefined;
  }
}

/**
 * With no certificate given alongside: the one on disk this key belongs to,
 * from its fleet record (the host or client whose key it is), else beside it
 * under the same stem; only a certificate whose public key is this key's counts.
 */
function ownerOnDisk(keyPath: string, fingerprint: string, records: Map<string, { dir: string; record: FleetRecord } | undefined>): KeyItem["certificate"] {
  const dir = dirname(keyPath);
  let found = records.get(dir);
  if (!records.has(dir)) records.set(dir, (found = findRecord(keyPath)));
  const candidates: { path: string; found: string }[] = [];
  const host = found?.record.hosts.find((h) => abs(found!.dir, h.key) === keyPath);
  if (host && found) candidates.push({ path: abs(found.dir, host.cert), found: `the fleet record's host ${host.name}` });
  const stem = basename(keyPath, extname(keyPath));
  for (const ext of [".crt", ".pem", ".cert", ".cer"]) candidates.push({ path: join(dir, `${stem}${ext}`), found: "beside it" });
  for (const c of candidates) {
    if (c.path === keyPath || !existsSync(c.path)) continue;
    const cert = certificateIn(c.path);
    if (cert?.keyFingerprint === fingerprint) return { path: c.path, subject: cert.subject, found: c.found };
  }
  return undefined;
}

export async function inspectFiles(paths: string[], cwd: string, opts: { now?: Date; env?: Record<string, string | undefined> } = {}): Promise<InspectResult> {
  const now = opts.now ?? new Date();
  const env = opts.env ?? process.env;
  const files: InspectedFile[] = [];
  const byPath = new Map<string, InspectedFile>();
  const given = await Promise.all(paths.map((p) => inspectOne(resolve(cwd, p), now)));
  for (const { file, config } of given) {
    if (byPath.has(file.path) && !config) continue;
    files.push(file);
    byPath.set(file.path, file);
    if (!config) continue;
    const settings = configSettings(config, cwd, env);
    const found = findRecord(config.path);
    file.config = { schema: schemaOf(settings), ...(found ? { release: found.record.skydive } : {}), settings };
    if (settings.length === 0) {
      file.error = `a Skydive config, but it names no certificate or key (none of ${fileSettings().join(", ")})`;
      continue;
    }
    for (const s of settings) {
      const seen = byPath.get(s.path);
      if (seen) {
        if (seen.namedBy?.config === config.path && !seen.namedBy.keys.includes(s.key)) seen.namedBy.keys.push(s.key);
        else seen.namedBy ??= { config: config.path, keys: [s.key] };
        continue;
      }
      const named = { ...(await inspectNamed(s.path, now)), namedBy: { config: config.path, keys: [s.key] } };
      if (named.error && named.items.length === 0) named.error = `${named.error} (named by ${s.source} in ${config.path})`;
      files.push(named);
      byPath.set(s.path, named);
    }
  }

  // Roles, then which keys belong to which certificates and requests.
  const owners = new Map<string, string[]>();
  for (const f of files) {
    f.items.forEach((item, n) => {
      if (item.kind === "certificate") item.role = certRole(item, f.path);
      if (item.kind === "certificate" || item.kind === "request") {
        const ref = `${f.path}#${n + 1}`;
        owners.set(item.publicKey.fingerprint, [...(owners.get(item.publicKey.fingerprint) ?? []), ref]);
      }
    });
  }
  const records = new Map<string, { dir: string; record: FleetRecord } | undefined>();
  for (const f of files) {
    for (const item of f.items) {
      if ((item.kind !== "private-key" && item.kind !== "public-key") || !item.publicKey) continue;
      const m = owners.get(item.publicKey.fingerprint);
      if (m) item.matches = m;
      else if (item.kind === "private-key") {
        const owner = ownerOnDisk(f.path, item.publicKey.fingerprint, records);
        if (owner) item.certificate = owner;
      }
    }
  }
  return { ok: files.every((f) => !f.error), files };
}
