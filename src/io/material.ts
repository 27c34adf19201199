/**
 * Reading what validate judges, without trusting it: the Skydive config (as
 * data, relative paths against its folder) and each named file (no folders,
 * devices, FIFOs or huge files). Shared by validate and validate --fleet, and
 * light on purpose: no certificate parser is loaded here.
 */
import { existsSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { ConfigFile, FileFlags, FileRead } from "../core/checks.js";
import { usageError } from "../core/errors.js";
import { readSimpleYaml } from "../core/yaml-text.js";
import { readInput, readRegularFile } from "./files.js";

export const MAX_PEM_BYTES = 1024 * 1024;

export function shower(cwd: string): (p: string) => string {
  const inside = cwd.endsWith("/") ? cwd : `${cwd}/`;
  // Others are remembered: a fleet's hosts all show the same CA path, often outside cwd.
  const others = new Map<string, string>();
  return (p) => {
    // Paths under cwd (a fleet's hundreds) without path.relative's normalising.
    if (p.startsWith(inside) && !/(^|\/)\.\.?(\/|$)/.test(p.slice(inside.length)) && !p.includes("//")) return p.slice(inside.length) || ".";
    let shown = others.get(p);
    if (shown === undefined) {
      const rel = relative(cwd, p);
      others.set(p, (shown = rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? p : rel));
    }
    return shown;
  };
}

/** ENOENT, as opposed to another reason the path cannot be reached (which readInput reports). */
function isMissing(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** The config file, or undefined when none is given, ./skydive.yml is absent and file flags name the files. */
export async function readConfig(opts: { cwd: string; config?: string; files: FileFlags }, show: (p: string) => string): Promise<ConfigFile | undefined> {
  const path = resolve(opts.cwd, opts.config ?? "skydive.yml");
  // Without --config, a missing ./skydive.yml may be fine; existsSync first: one access(2), no Stats object.
  if (opts.config === undefined && !existsSync(path) && isMissing(path)) {
    if (Object.values(opts.files).some(Boolean)) return undefined;
    throw usageError(
      `no skydive.yml in ${opts.cwd}`,
      "pass --config FILE, or name the files with --analyzer-cert, --analyzer-key, --agent-cert, --agent-key (and --ca-cert)",
    );
  }
  const { text } = readInput(path, "--config", undefined, () => usageError(`--config ${opts.config}: no such file`, "pass the path of the Skydive config (skydive.yml)"));
  // Go's YAML parser refuses control characters; a binary file is not a config.
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/.exec(text);
  if (control) {
    const line = text.slice(0, control.index).split("\n").length;
    throw usageError(`${show(path)}:${line}: not a YAML text file (control or invalid UTF-8 bytes)`, "pass the Skydive config (skydive.yml) with --config");
  }
  // Configs in the plain shape skycert writes (a fleet's stanzas) need no YAML library, nor its load time.
  const simple = readSimpleYaml(text);
  if (simple) return { path, shown: show(path), data: simple };
  // A CommonJS package: its exports are the default export, in Node and in the bundle alike.
  const { parseDocument } = (await import("yaml")).default;
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const line = text.slice(0, problem.pos[0]).split("\n").length;
    throw usageError(`${show(path)}:${line}: malformed YAML (${problem.message.split("\n")[0]})`, "fix the YAML; Skydive refuses it too");
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw usageError(`${show(path)}: unreadable YAML (${(err as Error).message.split("\n")[0]})`, "fix the YAML; Skydive refuses it too");
  }
  if (data !== null && data !== undefined && (typeof data !== "object" || Array.isArray(data))) {
    throw usageError(`${show(path)}: the top level is not a mapping of keys`, "a Skydive config is a YAML mapping (analyzer:, agent:, tls:, analyzers: ...)");
  }
  return { path, shown: show(path), data: data ?? {} };
}

/** Read one named file without trusting it: no directories, devices or FIFOs, nothing huge. */
export function readMaterial(path: string): FileRead {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, problem: "missing", detail: "" };
    if (code === "ENOTDIR") return { ok: false, problem: "missing", detail: "a parent of the path is a file, not a folder" };
    if (code === "EACCES") return { ok: false, problem: "unreadable", detail: "permission denied on a parent folder" };
    if (code === "ELOOP") return { ok: false, problem: "unreadable", detail: "symlink loop" };
    return { ok: false, problem: "unreadable", detail: (err as Error).message.split("\n")[0]! };
  }
  if (st.isDirectory()) return { ok: false, problem: "directory", detail: "", mode: st.mode };
  if (!st.isFile()) return { ok: false, problem: "not-regular", detail: "a device, socket or FIFO", mode: st.mode };
  if (st.size === 0) return { ok: false, problem: "empty", detail: "0 bytes", mode: st.mode };
  if (st.size > MAX_PEM_BYTES) return { ok: false, problem: "too-large", detail: `${st.size} bytes; a certificate or key is a few KB, limit ${MAX_PEM_BYTES}`, mode: st.mode };
  try {
    const read = readRegularFile(path, MAX_PEM_BYTES);
    if (read.kind === "not-regular") return { ok: false, problem: "not-regular", detail: "a device, socket or FIFO", mode: st.mode };
    if (read.kind === "too-large") return { ok: false, problem: "too-large", detail: `over ${MAX_PEM_BYTES} bytes`, mode: st.mode };
    const bytes = read.bytes;
    if (bytes.length === 0) return { ok: false, problem: "empty", detail: "0 bytes", mode: st.mode };
    return { ok: true, bytes, mode: st.mode, size: bytes.length };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: "unreadable", detail: code === "EACCES" ? "permission denied" : (err as Error).message.split("\n")[0]!, mode: st.mode };
  }
}
