/**
 * How to spell skycert in a printed command, so that a hint or remedy works
 * when pasted: `skycert` when that name on the PATH is this very program, else
 * the path it was started by (`./bin/skycert`), relative to the working folder
 * when under it. SKYCERT_PROG overrides it (a wrapper script names itself).
 */
import { accessSync, constants, realpathSync } from "node:fs";
import { delimiter, join, relative } from "node:path";

let cached: string | undefined;

export function prog(): string {
  if (cached) return cached;
  const set = process.env.SKYCERT_PROG;
  if (set) return (cached = set);
  const script = process.argv[1];
  if (!script) return (cached = "skycert");
  const self = real(script);
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "skycert");
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    // The first skycert on the PATH is what the shell runs: it must be this one.
    return (cached = real(candidate) === self ? "skycert" : shown(script));
  }
  return (cached = shown(script));
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function shown(script: string): string {
  const rel = relative(process.cwd(), script);
  if (rel === "" || rel.startsWith("..") || rel.startsWith("/")) return script;
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** `skycert ARGS...` as the user would type it, each argument quoted for a POSIX shell when needed. */
export function command(...args: (string | undefined | false)[]): string {
  return [prog(), ...args.filter((a): a is string => typeof a === "string" && a !== "").map(shellQuote)].join(" ");
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
