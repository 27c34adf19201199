/** What both export views share: the files written, validation, notes, warnings, the commands that apply the output. */
import { type Block, type Cell, shownPath } from "../cli/render.js";
import type { WrittenFile } from "./bundle.js";
import type { Validation } from "./source.js";

export const here = (p: string) => shownPath(p);

const STATUS_TONE = { written: "ok", replaced: "warn", unchanged: "dim" } as const;

export function filesTable(files: WrittenFile[]): Block {
  return {
    kind: "table",
    head: ["file", "mode", "status"],
    rows: files.map((f): Cell[] => [here(f.path), { text: f.mode, tone: f.kind === "key" ? "strong" : undefined }, { text: f.status, tone: STATUS_TONE[f.status] }]),
  };
}

export function validationBlocks(validation: Validation[]): Block[] {
  const blocks: Block[] = [];
  for (const v of validation) {
    blocks.push({ kind: "line", text: `validated ${v.what}: ${v.pass} checks passed, ${v.warn} warning${v.warn === 1 ? "" : "s"}`, tone: v.warn ? "warn" : "ok" });
    for (const w of v.warnings) blocks.push({ kind: "line", text: `  warn ${w}`, tone: "dim" });
  }
  if (validation.length) blocks.push({ kind: "command", label: "Every check:", text: validation.map((v) => v.command).join("; ") });
  return blocks;
}

export function tail(r: { notes: string[]; warnings: string[]; apply: string[] }, intro: string): Block[] {
  const blocks: Block[] = [];
  for (const n of r.notes) blocks.push({ kind: "line", text: `note: ${n}`, tone: "dim" });
  for (const w of r.warnings) blocks.push({ kind: "line", text: `warning: ${w}`, tone: "warn" });
  blocks.push({ kind: "blank" }, { kind: "heading", text: intro });
  for (const cmd of r.apply) blocks.push({ kind: "command", label: " ", text: cmd });
  return blocks;
}
