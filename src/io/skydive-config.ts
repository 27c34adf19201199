/**
 * Skydive's YAML configuration on disk: the keys skycert owns are set by a text
 * edit (core/yaml-edit), a malformed file is refused rather than overwritten,
 * and the previous version is kept as `<file>.bak`.
 */
import { existsSync } from "node:fs";
import { yamlFromSettings } from "../core/yaml-text.js";
import type { Settings } from "../core/stanza.js";
import { readInput, writeFileAtomic } from "./files.js";

export interface ConfigUpdate {
  path: string;
  text: string;
}

/** Read the file and compute its new text; nothing is written yet. Call it under the output folder's lock. */
export async function prepareConfigUpdate(path: string, settings: Settings): Promise<ConfigUpdate> {
  const text = existsSync(path) ? readInput(path, "config").text : "";
  if (text.trim() === "") return { path, text: yamlFromSettings(settings) };
  // The YAML library is loaded only when there is a file to edit.
  const { editYaml } = await import("../core/yaml-edit.js");
  return { path, text: editYaml(text, settings, path) };
}

/** Write a prepared update. Returns whether the file changed. */
export function commitConfigUpdate(update: ConfigUpdate, force: boolean): Promise<boolean> {
  return writeFileAtomic(update.path, update.text, { mode: 0o644, force, backup: true });
}

/** Apply `settings` to the file at `path` (creating it). Returns whether the file changed. */
export async function updateConfigFile(path: string, settings: Settings, force: boolean): Promise<boolean> {
  return commitConfigUpdate(await prepareConfigUpdate(path, settings), force);
}
