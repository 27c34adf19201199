/**
 * Skydive's YAML config: read as viper reads it (nested maps, keys matched
 * case-insensitively, SKYDIVE_* environment variables first), and edited as
 * text, so every byte outside the values skycert sets stays as the operator
 * wrote it (comments, indentation, quoting, blank lines). A malformed file is
 * refused rather than overwritten; the previous version is kept as `.bak`.
 */
import { existsSync, lstatSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Document, type Pair, type Scalar, type YAMLMap, isMap, isScalar, isSeq, parseDocument, stringify } from "yaml";
import { failure, usageError } from "../cli/errors.js";
import { closest } from "../cli/suggest.js";
import { CONFIG_MODE, fsError, readInput, writeFileAtomic } from "../fs/files.js";
import { type FleetRecord, type RecordHost, abs, findRecord } from "./record.js";
import { type Release, fileKeys } from "./release.js";
import { CONFIG_FILE, type SettingValue, type Settings, envName, nestSettings } from "./settings.js";

type YamlValue = SettingValue | number;

export function parseYamlDocument(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  const problem = doc.errors[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    throw usageError(`${file}${line ? `:${line}` : ""}: malformed YAML (${problem.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")})`, "fix the file by hand; skycert does not overwrite a file it cannot read");
  }
  if (doc.contents !== null && !isMap(doc.contents)) throw usageError(`${file}: the top level is not a mapping of keys`);
  return doc;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  const lower = key.toLowerCase();
  return map.items.find((p) => {
    const k = isScalar(p.key) ? p.key.value : p.key;
    return typeof k === "string" && k.toLowerCase() === lower;
  }) as Pair | undefined;
}

/** A value as YAML on one line: lists in flow style. */
function scalarText(value: YamlValue): string {
  return Array.isArray(value) ? `[${value.map((v) => stringify(v).trimEnd()).join(", ")}]` : stringify(value).trimEnd();
}

function lineIndent(text: string, offset: number): number {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return offset - start;
}

/** `key: value` lines for `path`, nested under `indent`. */
function block(path: string[], value: YamlValue, indent: number): string {
  return path
    .map((k, i) => `${" ".repeat(indent + 2 * i)}${k}:${i === path.length - 1 ? ` ${scalarText(value)}` : ""}`)
    .join("\n");
}

/** Insert `lines` after the line holding `offset`, or at the end. */
function insertAfterLine(text: string, offset: number, lines: string): string {
  const eol = text.indexOf("\n", offset);
  if (eol < 0) return `${text}\n${lines}\n`;
  return `${text.slice(0, eol + 1)}${lines}\n${text.slice(eol + 1)}`;
}

/** Set one dotted key; returns the new text. */
function setOne(text: string, path: string[], value: YamlValue, file: string): string {
  const doc = parseYamlDocument(text, file);
  if (doc.contents === null) {
    const sep = text === "" || text.endsWith("\n") ? "" : "\n";
    return `${text}${sep}${block(path, value, 0)}\n`;
  }
  let map = doc.contents as YAMLMap;
  for (let i = 0; i < path.length; i++) {
    const pair = findPair(map, path[i]!);
    const rest = path.slice(i);
    if (!pair) {
      // Append to this block mapping, at the indentation of its keys.
      const first = map.items[0]?.key as Scalar | undefined;
      const indent = first?.range ? lineIndent(text, first.range[0]) : 0;
      const end = map.range?.[1] ?? text.length;
      if (map.flow) return fallback(doc, path, value);
      const before = text.slice(0, end);
      const sep = before === "" || before.endsWith("\n") ? "" : "\n";
      return `${before}${sep}${block(rest, value, indent)}\n${text.slice(end)}`;
    }
    const key = pair.key as Scalar;
    const node = pair.value as Scalar | YAMLMap | null;
    if (i === path.length - 1) {
      if (node && (isMap(node) || (isSeq(node) && !Array.isArray(value)))) {
        throw usageError(`${file}: ${path.join(".")} is a ${isMap(node) ? "mapping" : "list"}, not a value`, `fix ${path.join(".")} by hand`);
      }
      if (node && isSeq(node) && !node.flow) return fallback(doc, path, value);
      if (!node || !node.range) return fallback(doc, path, value);
      const [start, end] = node.range;
      if (start === end) return `${text.slice(0, start)} ${scalarText(value)}${text.slice(end)}`;
      return `${text.slice(0, start)}${scalarText(value)}${text.slice(end)}`;
    }
    if (node === null || (isScalar(node) && node.value === null)) {
      const indent = (key.range ? lineIndent(text, key.range[0]) : 0) + 2;
      return insertAfterLine(text, key.range?.[0] ?? 0, block(path.slice(i + 1), value, indent));
    }
    if (!isMap(node)) {
      const kind = isSeq(node) ? "a list" : "a value";
      throw usageError(`${file}: ${path.slice(0, i + 1).join(".")} is ${kind}, not a mapping`, `fix ${path.slice(0, i + 1).join(".")} by hand; skycert will not replace it`);
    }
    if (node.flow) return fallback(doc, path, value);
    map = node;
  }
  return text;
}

/** Flow-style mappings (`{a: 1}`) cannot be edited line by line: let the library re-print the document. */
function fallback(doc: Document, path: string[], value: YamlValue): string {
  doc.setIn(path, value);
  return doc.toString({ lineWidth: 0 });
}

/**
 * Set dotted keys (`analyzer.X509_cert`) in YAML `text`. Throws a usage error
 * for malformed YAML or when a parent is a value or a list.
 */
export function setYamlKeys(text: string, settings: Record<string, YamlValue>, file: string): string {
  let out = text;
  for (const [dotted, value] of Object.entries(settings)) out = setOne(out, dotted.split("."), value, file);
  return out;
}

/** What `settings` should do to the parsed data: the check that an edit lost nothing. */
function applyToData(data: Record<string, unknown>, settings: Record<string, YamlValue>): Record<string, unknown> {
  const root = structuredClone(data ?? {});
  for (const [dotted, value] of Object.entries(settings)) {
    let obj = root as Record<string, unknown>;
    const path = dotted.split(".");
    path.forEach((part, i) => {
      const key = Object.keys(obj).find((k) => k.toLowerCase() === part.toLowerCase()) ?? part;
      if (i === path.length - 1) obj[key] = value;
      else {
        if (obj[key] === null || obj[key] === undefined) obj[key] = {};
        obj = obj[key] as Record<string, unknown>;
      }
    });
  }
  return root;
}

/** setYamlKeys, then proof that only the settings changed. */
export function editYaml(text: string, settings: Record<string, YamlValue>, file: string): string {
  if (text.trim() === "") return yamlFromSettings(settings as Settings);
  const before = (parseYamlDocument(text, file).toJS() ?? {}) as Record<string, unknown>;
  const out = setYamlKeys(text, settings, file);
  const after = parseDocument(out).toJS() ?? {};
  if (JSON.stringify(after) !== JSON.stringify(applyToData(before, settings))) {
    throw usageError(`${file}: cannot update it without changing other keys (unusual YAML layout)`, "set the keys by hand");
  }
  return out;
}

/** A new config holding `settings`, nested as Skydive's files are. */
export function yamlFromSettings(settings: Settings): string {
  return new Document(nestSettings(settings)).toString({ lineWidth: 0, flowCollectionPadding: false });
}

// ---------------------------------------------------------------------------
// Reading, as viper does

export interface SkydiveConfig {
  path: string;
  data: Record<string, unknown>;
}

/** The config at `path`; a missing, binary or malformed file is a usage error naming file:line. */
export function readConfigFile(path: string, label = "--config", missing?: () => Error): SkydiveConfig {
  const { text } = readInput(path, label, undefined, missing);
  // Go's YAML parser refuses control characters; a binary file is not a config.
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/.exec(text);
  if (control) {
    const line = text.slice(0, control.index).split("\n").length;
    throw usageError(`${path}:${line}: not a YAML text file (control or invalid UTF-8 bytes)`, "pass the Skydive config (skydive.yml)");
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const line = text.slice(0, problem.pos[0]).split("\n").length;
    throw usageError(`${path}:${line}: malformed YAML (${problem.message.split("\n")[0]})`, "fix the YAML; Skydive refuses it too");
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw usageError(`${path}: unreadable YAML (${(err as Error).message.split("\n")[0]})`, "fix the YAML; Skydive refuses it too");
  }
  if (data !== null && data !== undefined && (typeof data !== "object" || Array.isArray(data))) {
    throw usageError(`${path}: the top level is not a mapping of keys`, "a Skydive config is a YAML mapping (analyzer:, agent:, tls:, analyzers: ...)");
  }
  return { path, data: (data ?? {}) as Record<string, unknown> };
}

/** Viper's lookup: nested maps, keys matched case-insensitively. */
export function lookup(data: unknown, dotted: string): unknown {
  let node: unknown = data;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    const map = node as Record<string, unknown>;
    const want = part.toLowerCase();
    const found = Object.hasOwn(map, part) ? part : Object.keys(map).find((k) => k.toLowerCase() === want);
    if (found === undefined) return undefined;
    node = map[found];
  }
  return node;
}

export interface Setting {
  key: string;
  value: unknown;
  /** Where it came from: the environment variable's name, or the key in the file. */
  source: string;
  fromEnv: boolean;
}

/** One setting as Skydive reads it: the SKYDIVE_* variable when set, else the file. */
export function readSetting(config: SkydiveConfig | undefined, env: Record<string, string | undefined>, key: string): Setting | undefined {
  const name = envName(key);
  const e = env[name];
  if (e !== undefined && e !== "") return { key, value: e, source: name, fromEnv: true };
  if (!config) return undefined;
  const v = lookup(config.data, key);
  if (v === undefined || v === null || v === "") return undefined;
  return { key, value: v, source: key, fromEnv: false };
}

/** Why a file setting's value is no path ("a list, not a file path"), or undefined when it is one. */
export function notAPath(s: Setting | undefined): string | undefined {
  if (!s || typeof s.value === "string") return undefined;
  return `${Array.isArray(s.value) ? "a list" : typeof s.value === "object" ? "a mapping" : `a ${typeof s.value}`}, not a file path`;
}

/** A file setting, read as Skydive reads it, for commands that cannot go on without it: a value that is no path is a usage error naming it. */
export function fileSetting(config: SkydiveConfig, env: Record<string, string | undefined>, key: string, cwd: string, shown = config.path): { path: string; source: string; fromEnv: boolean } | undefined {
  const s = readSetting(config, env, key);
  const wrong = notAPath(s);
  if (wrong) throw usageError(`${shown}: ${s!.source} is ${wrong}`, `set ${key} to the path of the file`);
  return s && { path: settingPath(config, { value: s.value as string, fromEnv: s.fromEnv }, cwd), source: s.source, fromEnv: s.fromEnv };
}

/** viper's GetString: scalars as text, anything else empty. */
export function settingText(s: Setting | undefined): string {
  if (!s) return "";
  return typeof s.value === "string" || typeof s.value === "number" || typeof s.value === "boolean" ? String(s.value) : "";
}

/** viper's GetBool (cast.ToBool): true, 1, t, T, TRUE, True. */
export function settingTrue(s: Setting | undefined): boolean {
  if (!s) return false;
  if (typeof s.value === "boolean") return s.value;
  if (typeof s.value === "number") return s.value !== 0;
  return typeof s.value === "string" && /^(1|t|T|TRUE|true|True)$/.test(s.value.trim());
}

/** Keys under the sections skycert knows that are none of `known`, each with the closest known key. */
export function unknownKeys(data: Record<string, unknown>, known: readonly string[]): { key: string; suggestion?: string }[] {
  const out: { key: string; suggestion?: string }[] = [];
  const sections = new Set(known.map((k) => k.split(".")[0]!.toLowerCase()));
  const knownLower = new Set(known.map((k) => k.toLowerCase()));
  for (const [section, value] of Object.entries(data)) {
    if (!sections.has(section.toLowerCase()) || value === null || typeof value !== "object" || Array.isArray(value)) continue;
    for (const name of Object.keys(value)) {
      const key = `${section}.${name}`;
      if (knownLower.has(key.toLowerCase())) continue;
      const inSection = known.filter((k) => k.split(".")[0]!.toLowerCase() === section.toLowerCase());
      const suggestion = closest(key, inSection);
      out.push({ key, ...(suggestion ? { suggestion } : {}) });
    }
  }
  return out;
}

/** The fleet a config belongs to (its record, and its host entry when it is one of the record's hosts). */
export function fleetOf(configPath: string): { dir: string; record: FleetRecord; host?: RecordHost } | undefined {
  const found = findRecord(configPath);
  if (!found) return undefined;
  const host = found.record.hosts.find((h) => resolve(abs(found.dir, h.dir), CONFIG_FILE) === resolve(configPath));
  return { ...found, ...(host ? { host } : {}) };
}

/**
 * Where a file a setting names is, here. Skydive opens relative paths from its
 * working folder; skycert's configs name absolute ones, and relative ones are
 * read from the config's folder (the environment's from the working folder).
 * A fleet made with --deploy-dir names the paths the files will have on the
 * hosts: here, the host's folder and the fleet's CA.
 */
export function settingPath(config: SkydiveConfig | undefined, setting: { value: string; fromEnv: boolean }, cwd: string, fleet = config ? fleetOf(config.path) : undefined): string {
  const path = resolve(setting.fromEnv || !config ? cwd : dirname(config.path), setting.value);
  const deploy = fleet?.record.deployDir;
  if (!fleet || !deploy || !path.startsWith(`${deploy.replace(/\/$/, "")}/`)) return path;
  const name = basename(path);
  if (fleet.record.ca && basename(fleet.record.ca) === name) return abs(fleet.dir, fleet.record.ca);
  return fleet.host ? join(abs(fleet.dir, fleet.host.dir), name) : path;
}

/** Which Skydive release a config is for: --skydive, else its fleet record's, else its keys (tls.* taken as the latest). */
export function releaseOf(config: SkydiveConfig | undefined, env: Record<string, string | undefined>, opts: { flag?: Release; fleet?: { dir: string; record: FleetRecord }; legacyHint?: boolean } = {}): { release: Release; from: string } {
  if (opts.flag) return { release: opts.flag, from: "--skydive" };
  const fleet = opts.fleet ?? (config ? fleetOf(config.path) : undefined);
  if (fleet) return { release: fleet.record.skydive, from: `the fleet record ${join(fleet.dir, "skycert.json")}` };
  const set = (key: string) => readSetting(config, env, key) !== undefined;
  if (!fileKeys("0.27").some(set) && (fileKeys("legacy").some(set) || opts.legacyHint)) return { release: "legacy", from: "its analyzer.X509_*/agent.X509_* keys" };
  return { release: "0.27", from: "its tls.* keys (assumed the latest Skydive; --skydive 0.21 for 0.21 to 0.26)" };
}

// ---------------------------------------------------------------------------
// Writing

export interface ConfigUpdate {
  path: string;
  text: string;
}

/** Read the file and compute its new text; nothing is written yet. Call it under the folder's lock. */
export function prepareConfigUpdate(path: string, settings: Settings, force = false): ConfigUpdate {
  assertWritable(path, force);
  const text = existsSync(path) ? readInput(path, "config").text : "";
  return { path, text: editYaml(text, settings, path) };
}

/**
 * What would make the final write fail, found before anything else is written
 * (init writes the keys first): a symlink without --force, something that is
 * not a file, a parent that is not a folder.
 */
function assertWritable(path: string, force: boolean): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isSymbolicLink() && !force) throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
  if (st && !st.isSymbolicLink() && !st.isFile()) throw failure(`cannot write ${path}: it is not a regular file`);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const parent = lstatSync(dir, { throwIfNoEntry: false });
    if (parent) {
      if (!parent.isDirectory() && !(parent.isSymbolicLink() && statSync(dir, { throwIfNoEntry: false })?.isDirectory())) {
        throw fsError(Object.assign(new Error("not a folder"), { code: "ENOTDIR" }), path, "write");
      }
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

/** Write a prepared update, keeping the previous file as `.bak`. Returns whether the file changed. */
export function commitConfigUpdate(update: ConfigUpdate, force: boolean): Promise<boolean> {
  return writeFileAtomic(update.path, update.text, { mode: CONFIG_MODE, force, backup: true });
}
