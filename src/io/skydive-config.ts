/**
 * Skydive's YAML configuration on disk: the keys skycert owns are set by a text
 * edit (core/yaml-edit), a malformed file is refused rather than overwritten,
 * and the previous version is kept as `<file>.bak`.
 */
import { existsSync } from "node:fs";
import { editYaml } from "../core/yaml-edit.js";
import type { Settings } from "../core/stanza.js";
import { readInput, writeFileAtomic } from "./files.js";

/** Apply `settings` to the file at `path` (creating it). Returns whether the file changed. */
export async function updateConfigFile(path: string, settings: Settings, force: boolean): Promise<boolean> {
  const text = existsSync(path) ? readInput(path, "config").text : "";
  return writeFileAtomic(path, editYaml(text, settings, path), { mode: 0o644, force, backup: true });
}
