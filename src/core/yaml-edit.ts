/**
 * Setting keys in a YAML file by editing its text, not by re-printing it: every
 * byte outside the values skycert sets stays as the operator wrote it (comments,
 * indentation, quoting, blank lines). Keys match case-insensitively, as Skydive's
 * viper reads them.
 */
import { type Document, type Pair, type Scalar, type YAMLMap, isMap, isScalar, isSeq, parseDocument, stringify } from "yaml";
import { usageError } from "./errors.js";
import { yamlFromSettings } from "./yaml-text.js";

export type YamlScalar = string | number | boolean;

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

function scalarText(value: YamlScalar): string {
  return stringify(value).trimEnd();
}

function lineIndent(text: string, offset: number): number {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return offset - start;
}

/** `key: value` lines for `path`, nested under `indent`. */
function block(path: string[], value: YamlScalar, indent: number): string {
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
function setOne(text: string, path: string[], value: YamlScalar, file: string): string {
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
      if (node && (isMap(node) || isSeq(node))) {
        throw usageError(`${file}: ${path.join(".")} is a ${isMap(node) ? "mapping" : "list"}, not a value`, `fix ${path.join(".")} by hand`);
      }
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
function fallback(doc: Document, path: string[], value: YamlScalar): string {
  doc.setIn(path, value);
  return doc.toString({ lineWidth: 0 });
}

/**
 * Set dotted keys (`analyzer.X509_cert`) in YAML `text`. Throws a usage error
 * for malformed YAML or when a parent is a value or a list.
 */
export function setYamlKeys(text: string, settings: Record<string, YamlScalar>, file: string): string {
  let out = text;
  for (const [dotted, value] of Object.entries(settings)) out = setOne(out, dotted.split("."), value, file);
  return out;
}

/** What `settings` should do to the parsed data: the check that an edit lost nothing. */
function applyToData(data: Record<string, unknown>, settings: Record<string, YamlScalar>): Record<string, unknown> {
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
export function editYaml(text: string, settings: Record<string, YamlScalar>, file: string): string {
  if (text.trim() === "") return yamlFromSettings(settings);
  const before = (parseYamlDocument(text, file).toJS() ?? {}) as Record<string, unknown>;
  const out = setYamlKeys(text, settings, file);
  const after = parseDocument(out).toJS() ?? {};
  if (JSON.stringify(after) !== JSON.stringify(applyToData(before, settings))) {
    throw usageError(`${file}: cannot update it without changing other keys (unusual YAML layout)`, "set the keys by hand");
  }
  return out;
}
