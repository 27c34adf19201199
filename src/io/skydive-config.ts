/**
 * Skydive's YAML configuration, edited in place: the keys skycert owns are set,
 * every other key and comment is kept, a malformed file is refused rather than
 * overwritten, and the previous version is kept as `<file>.bak`.
 */
import { existsSync } from "node:fs";
import { Document, isMap, isScalar, isSeq, parseDocument, type YAMLMap } from "yaml";
import { usageError } from "../core/errors.js";
import type { Settings } from "../core/stanza.js";
import { readInput, writeFileAtomic } from "./files.js";

export function loadConfigDocument(path: string): Document {
  if (!existsSync(path)) return new Document({});
  const { text } = readInput(path, "config");
  const doc = parseDocument(text, { prettyErrors: false });
  const problem = doc.errors[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    throw usageError(`${path}${line ? `:${line}` : ""}: malformed YAML (${problem.message.split("\n")[0]})`, "fix the file by hand; skycert does not overwrite a config it cannot read");
  }
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) throw usageError(`${path}: the top level is not a mapping of keys`, "a Skydive config is a YAML mapping");
  return doc;
}

/** Viper matches keys case-insensitively, so an existing `x509_cert` is the key to update. */
function findKey(map: YAMLMap, key: string): unknown {
  const lower = key.toLowerCase();
  const pair = map.items.find((p) => {
    const k = isScalar(p.key) ? p.key.value : p.key;
    return typeof k === "string" && k.toLowerCase() === lower;
  });
  return pair?.key;
}

/** Set dotted keys (`analyzer.X509_cert`) in `doc`; `path` is for messages. */
export function applySettings(doc: Document, settings: Settings, path: string): void {
  for (const [dotted, value] of Object.entries(settings)) {
    const parts = dotted.split(".");
    let map = doc.contents as YAMLMap;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const key = findKey(map, part) ?? part;
      if (i === parts.length - 1) {
        map.set(key, value);
        break;
      }
      const next = map.get(key, true);
      if (next === undefined || next === null || (isScalar(next) && next.value === null)) {
        const created = doc.createNode({}) as YAMLMap;
        map.set(key, created);
        map = created;
      } else if (isMap(next)) {
        map = next;
      } else {
        const kind = isSeq(next) ? "a list" : "a scalar";
        throw usageError(`${path}: ${parts.slice(0, i + 1).join(".")} is ${kind}, not a mapping`, `fix ${parts.slice(0, i + 1).join(".")} by hand; skycert will not replace it`);
      }
    }
  }
}

/** Apply `settings` to the file at `path` (creating it). Returns whether the file changed. */
export async function updateConfigFile(path: string, settings: Settings, force: boolean): Promise<boolean> {
  const doc = loadConfigDocument(path);
  applySettings(doc, settings, path);
  return writeFileAtomic(path, doc.toString({ lineWidth: 0 }), { mode: 0o644, force, backup: true });
}
