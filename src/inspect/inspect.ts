/**
 * `skycert inspect FILE...`: what certificates, requests and keys hold, as
 * plain data (items.ts), and which of skycert's roles each certificate is
 * (roles.ts). A file may hold several PEM blocks or one DER object; a Skydive
 * config (skydive.yml) is inspected through the certificates and keys it
 * names. A key is matched to its certificate by its public key's SHA-256.
 */
import { existsSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { readInput } from "../fs/files.js";
import { parsePem } from "../pki/pem.js";
import { firstCertificate } from "../pki/read.js";
import { type Setting, type SkydiveConfig, lookup, readConfigFile, readSetting, settingPath } from "../skydive/config.js";
import { abs, findRecord } from "../skydive/record.js";
import { ANALYZERS, REQUIRE_CLIENT_CERT, type Release, fileKeys } from "../skydive/release.js";
import { type InspectItem, type KeyItem, blockItem, derItem } from "./items.js";
import { certRole } from "./roles.js";

export interface InspectedFile {
  path: string;
  items: InspectItem[];
  /** Why nothing (or not everything) could be read from it. */
  error?: string;
  /** A Skydive config: its certificate and key settings as Skydive reads them (SKYDIVE_* over the file), each with the file it names here; those files follow as their own entries. */
  config?: { schema: "legacy" | "tls.*" | "legacy and tls.*"; release?: Release; settings: (Pick<Setting, "key" | "source" | "fromEnv"> & { value: string; path: string })[] };
  namedBy?: { config: string; keys: string[] };
}

export type InspectResult = Awaited<ReturnType<typeof inspectFiles>>;

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
    input = readInput(path, "inspect", 16 * 1024 * 1024);
  } catch (err) {
    if (given) throw err;
    return { path, items: [], error: (err as Error).message.replace(/^inspect \S+: /, "") };
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
  try {
    // A YAML mapping with at least one setting Skydive knows; anything else is not a config.
    const asConfig = given ? readConfigFile(path, "inspect") : undefined;
    if (asConfig && CONFIG_MARKERS.some((k) => lookup(asConfig.data, k) !== undefined)) return { path, items, asConfig };
  } catch {
    /* not YAML */
  }
  return { path, items, error: "no PEM block, and not a DER certificate, request or key, nor a Skydive config" };
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
  const owner = candidates.find((c) => c.path !== keyPath && existsSync(c.path) && firstCertificate(c.path)?.publicKey.fingerprint === fingerprint);
  return owner && { path: owner.path, subject: firstCertificate(owner.path)!.subject, found: owner.found };
}

export async function inspectFiles(paths: string[], cwd: string) {
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
    const settings = FILE_SETTINGS.flatMap((key) => {
      const s = readSetting(config, process.env, key);
      if (typeof s?.value !== "string" || s.value.trim() === "") return [];
      return [{ key, value: s.value, source: s.source, fromEnv: s.fromEnv, path: settingPath(config, { value: s.value, fromEnv: s.fromEnv }, cwd) }];
    });
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
  const all = files.flatMap((f) => f.items.map((item, n) => ({ path: f.path, item, ref: `${f.path}#${n + 1}` })));
  const owners = new Map<string, string[]>();
  for (const { path, item, ref } of all) {
    if (item.kind === "certificate") item.role = certRole(item, path);
    if (item.kind === "certificate" || item.kind === "request") owners.set(item.publicKey.fingerprint, [...(owners.get(item.publicKey.fingerprint) ?? []), ref]);
  }
  for (const { path, item } of all) {
    if ((item.kind !== "private-key" && item.kind !== "public-key") || !item.publicKey) continue;
    item.matches = owners.get(item.publicKey.fingerprint);
    if (!item.matches && item.kind === "private-key") item.certificate = ownerOnDisk(path, item.publicKey.fingerprint);
  }
  return { ok: files.every((f) => !f.error), files };
}
