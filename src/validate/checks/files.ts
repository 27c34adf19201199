/** file-readable and file-mode: the files a host's Skydive opens, and who else may read or replace them. */
import { octal } from "../../fs/files.js";
import type { HostContext, Material } from "../context.js";
import { type Check, check } from "../model.js";

const PROBLEM_TEXT = {
  missing: "does not exist",
  directory: "is a directory, not a file",
  "not-regular": "is not a regular file",
  empty: "is empty",
  "too-large": "is too large for a certificate or key",
  unreadable: "cannot be read",
} as const;

export const isKeyPart = (m: Material) => m.part === "server key" || m.part === "client key";

export function checkReadable(m: Material, ctx: HostContext): Check {
  const extra = { file: m.path };
  if (m.read.ok) return check("file-readable", "pass", m.part, `${m.shown}: readable, ${m.read.size} bytes`, extra);
  const what = isKeyPart(m) ? "private key" : "certificate";
  const remedy =
    m.read.problem === "missing" || m.read.problem === "directory"
      ? ctx.remedies.pointAt(m, `the ${what} file`)
      : m.read.problem === "unreadable"
        ? `run skycert validate as the user that runs Skydive (or root), or make ${m.shown} readable by that user`
        : ctx.remedies.forSetting(m, `replace ${m.shown} with the PEM ${what} it should hold`);
  return check("file-readable", "fail", m.part, `${m.shown} (${m.setting}) ${PROBLEM_TEXT[m.read.problem]}${m.read.detail ? ` (${m.read.detail})` : ""}`, { ...extra, remedy });
}

function who(mode: number, group: number, other: number): string {
  return [mode & group ? "group" : "", mode & other ? "others" : ""].filter(Boolean).join(" and ");
}

export function checkFileMode(m: Material, ctx: HostContext): Check | undefined {
  if (!m.read.ok) return undefined;
  const mode = m.read.mode & 0o777;
  const extra = { file: m.path };
  if (isKeyPart(m)) {
    const loose: string[] = [];
    if (mode & 0o044) loose.push(`readable by ${who(mode, 0o040, 0o004)}`);
    if (mode & 0o022) loose.push(`writable by ${who(mode, 0o020, 0o002)}`);
    if (loose.length) return check("file-mode", "fail", m.part, `${m.shown}: private key is mode ${octal(mode)}, ${loose.join(" and ")}`, { ...extra, remedy: ctx.remedies.chmod("400", m.path) });
    return check("file-mode", "pass", m.part, `${m.shown}: mode ${octal(mode)}, owner only`, extra);
  }
  if (mode & 0o022) {
    return check("file-mode", "warn", m.part, `${m.shown}: certificate is mode ${octal(mode)}, writable by ${who(mode, 0o020, 0o002)}: it could be replaced`, { ...extra, remedy: ctx.remedies.chmod("444", m.path) });
  }
  return check("file-mode", "pass", m.part, `${m.shown}: mode ${octal(mode)}`, extra);
}
