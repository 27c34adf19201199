/**
 * Skydive's YAML configuration on disk: the keys skycert owns are set by a text
 * edit (core/yaml-edit), a malformed file is refused rather than overwritten,
 * and the previous version is kept as `<file>.bak`.
 */
import { existsSync, lstatSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { failure } from "../core/errors.js";
import { yamlFromSettings } from "../core/yaml-text.js";
import type { Settings } from "../core/stanza.js";
import { fsError, readInput, writeFileAtomic } from "./files.js";

export interface ConfigUpdate {
  path: string;
  text: string;
}

/** Read the file and compute its new text; nothing is written yet. Call it under the output folder's lock. */
export async function prepareConfigUpdate(path: string, settings: Settings, force = false): Promise<ConfigUpdate> {
  assertWritable(path, force);
  const text = existsSync(path) ? readInput(path, "config").text : "";
  if (text.trim() === "") return { path, text: yamlFromSettings(settings) };
  // The YAML library is loaded only when there is a file to edit.
  const { editYaml } = await import("../core/yaml-edit.js");
  return { path, text: editYaml(text, settings, path) };
}

/**
 * What would make the final write fail, found before anything else is written
 * (init writes the keys first): a symlink without --force, something that is not
 * a file, a parent that is not a folder.
 */
function assertWritable(path: string, force: boolean): void {
  const st = lstatOrUndefined(path);
  if (st?.isSymbolicLink() && !force) throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
  if (st && !st.isSymbolicLink() && !st.isFile()) throw failure(`cannot write ${path}: it is not a regular file`);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const parent = lstatOrUndefined(dir);
    if (parent) {
      if (!parent.isDirectory() && !(parent.isSymbolicLink() && statOrUndefined(dir)?.isDirectory())) {
        throw fsError(Object.assign(new Error("not a folder"), { code: "ENOTDIR" }), path, "write");
      }
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

const lstatOrUndefined = (p: string) => {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
};
const statOrUndefined = (p: string) => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

/** Write a prepared update. Returns whether the file changed. */
export function commitConfigUpdate(update: ConfigUpdate, force: boolean): Promise<boolean> {
  return writeFileAtomic(update.path, update.text, { mode: 0o644, force, backup: true });
}

/** Apply `settings` to the file at `path` (creating it). Returns whether the file changed. */
export async function updateConfigFile(path: string, settings: Settings, force: boolean): Promise<boolean> {
  return commitConfigUpdate(await prepareConfigUpdate(path, settings, force), force);
}
