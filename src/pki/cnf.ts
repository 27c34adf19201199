/**
 * OpenSSL configuration files (config(5)), parsed by the rules of OpenSSL's own
 * reader (crypto/conf/conf_def.c, default method): `#` comments outside quotes
 * and escapes, `\` continuation, `'` `"` and backquote quoting, `\n \r \t \b`
 * escapes, `$var ${var} $(var) $section::var $ENV::NAME` expansion, `.include`,
 * `.pragma`, the `default` section, `section::name = value`, and "last duplicate
 * wins" (the survivor moves to the end of its section, as in _CONF_add_string).
 *
 * parseCnf is pure (files reached through `.include` come from its IncludeHost);
 * loadCnf reads from disk.
 */
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SkycertError, type Where, printable } from "../cli/errors.js";
import { readInput } from "../fs/files.js";
import { BUNDLED_CNF } from "../fs/paths.js";

export { printable };

export interface CnfEntry {
  readonly name: string;
  readonly value: string;
  readonly where: Where;
}

export interface CnfSection {
  readonly name: string;
  readonly where: Where;
  /** In file order; a redefined name keeps only its last definition. */
  readonly entries: CnfEntry[];
}

export interface Cnf {
  readonly file: string;
  /** In order of first appearance; `default` is always first. */
  readonly sections: Map<string, CnfSection>;
}

export type IncludeTarget =
  | { kind: "file"; path: string; text: string }
  | { kind: "dir"; path: string; files: { path: string; text: string }[] }
  | { kind: "missing" };

export interface IncludeHost {
  /** Resolve and read an `.include` target; relative paths are relative to the working directory, as in OpenSSL. */
  include(path: string, from: Where): IncludeTarget;
  env(name: string): string | undefined;
}

export class CnfError extends SkycertError {
  readonly where: Where;
  constructor(where: Where, message: string, remedy?: string) {
    // Messages quote the file's own text (values, names, paths): one line, whatever it holds.
    super(`${printable(where.file, 4096)}:${where.line}: ${printable(message, 1000)}`, { exitCode: 2, remedy: remedy === undefined ? undefined : printable(remedy, 1000) });
    this.name = "CnfError";
    this.where = where;
  }
}

export const DEFAULT_SECTION = "default";
export const MAX_CNF_BYTES = 1024 * 1024;
const MAX_VALUE_LENGTH = 65536; // MAX_CONF_VALUE_LENGTH
const MAX_INCLUDES = 64;

// Character classes of CONF_type_default (conf_def.h).
const WS = new Set([" ", "\t", "\r", "\n"]);
const QUOTES = new Set(['"', "'", "`"]);
const PUNCT = new Set([..."!%&*+,-./;?@^|~"]);
const isWs = (c: string | undefined) => c !== undefined && WS.has(c);
const isAlnum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);
const isAlnumPunct = (c: string | undefined) => isAlnum(c) || (c !== undefined && PUNCT.has(c));

interface Flags {
  dollarid: boolean;
  abspath: boolean;
  includedir: string | undefined;
}

/** Parse `text` (the contents of `file`) into sections. Throws CnfError only. */
export function parseCnf(text: string, file: string, host: IncludeHost = noIncludes): Cnf {
  const parser = new Parser(file, host);
  parser.parseFile(text, file, []);
  return { file, sections: parser.sections };
}

const noIncludes: IncludeHost = {
  include: (_path, from) => {
    throw new CnfError(from, ".include is not available here");
  },
  env: () => undefined,
};

class Parser {
  readonly sections = new Map<string, CnfSection>();
  private readonly index = new Map<string, Map<string, CnfEntry>>();
  private section = DEFAULT_SECTION;
  private flags: Flags = { dollarid: false, abspath: false, includedir: undefined };
  private includes = 0;
  private inDirectory = false;

  constructor(
    rootFile: string,
    private readonly host: IncludeHost,
  ) {
    this.ensureSection(DEFAULT_SECTION, { file: rootFile, line: 1 });
  }

  parseFile(text: string, file: string, stack: string[]): void {
    const first: Where = { file, line: 1 };
    if (text.length > MAX_CNF_BYTES) {
      throw new CnfError(first, `file is too large (${text.length} bytes; an OpenSSL config is at most ${MAX_CNF_BYTES})`);
    }
    const nul = text.indexOf("\0");
    if (nul >= 0) {
      const line = text.slice(0, nul).split("\n").length;
      throw new CnfError({ file, line }, "binary data (NUL byte): this is not an OpenSSL config file");
    }
    if (text.startsWith("\uFEFF")) text = text.slice(1);
    const lines = text.split("\n");
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

    let buf = "";
    let startLine = 0;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      while (line.endsWith("\r") || line.endsWith("\n")) line = line.slice(0, -1);
      if (buf === "") startLine = i + 1;
      buf += line;
      // A trailing backslash continues the line unless it is itself escaped (conf_def.c's test).
      if (buf.length >= 1 && buf[buf.length - 1] === "\\" && (buf.length <= 1 || buf[buf.length - 2] !== "\\")) {
        buf = buf.slice(0, -1);
        if (i < lines.length - 1) continue;
      }
      const where = { file, line: startLine };
      const logical = buf;
      buf = "";
      this.parseLine(logical, where, stack.concat(file));
    }
  }

  private parseLine(raw: string, where: Where, stack: string[]): void {
    const buf = clearComments(raw);
    let s = eatWs(buf, 0);
    if (s >= buf.length) return;

    if (buf[s] === "[") {
      const start = eatWs(buf, s + 1);
      let ss = start;
      let end: number;
      for (;;) {
        end = this.eatAlphaNumeric(buf, ss);
        const p = eatWs(buf, end);
        if (buf[p] === "]") break;
        if (p < buf.length && ss !== p) {
          ss = p;
          continue;
        }
        throw new CnfError(where, "missing close square bracket in section header", "write the header as [ name ]");
      }
      this.section = this.strCopy(buf.slice(start, end), null, where);
      this.ensureSection(this.section, where);
      return;
    }

    let pnameAt = s;
    let end = this.eatAlphaNumeric(buf, s);
    let psection = this.section;
    if (buf[end] === ":" && buf[end + 1] === ":") {
      psection = buf.slice(pnameAt, end);
      pnameAt = end + 2;
      end = this.eatAlphaNumeric(buf, pnameAt);
    }
    let p = eatWs(buf, end);

    for (const directive of [".pragma", ".include"] as const) {
      if (buf.startsWith(directive, pnameAt) && (p !== pnameAt + directive.length || buf[p] === "=")) {
        if (buf[p] === "=") p = eatWs(buf, p + 1);
        const arg = trimWs(buf.slice(p));
        if (directive === ".pragma") this.pragma(arg, where);
        else this.include(this.strCopy(arg, psection, where), where, stack);
        return;
      }
    }
    if (buf[p] !== "=") {
      throw new CnfError(where, `missing equal sign near "${buf.slice(p, p + 40)}"`, "lines are name = value, [ section ] or # comment");
    }
    const name = buf.slice(pnameAt, end);
    const value = this.strCopy(trimWs(buf.slice(eatWs(buf, p + 1))), psection, where);
    // OpenSSL bounds only expanded values (MAX_CONF_VALUE_LENGTH); skycert bounds every value the same way.
    if (value.length > MAX_VALUE_LENGTH) throw new CnfError(where, `the value of ${name} is ${value.length} characters long (at most ${MAX_VALUE_LENGTH})`);
    this.add(psection, { name, value, where });
  }

  private pragma(arg: string, where: Where): void {
    const colon = arg.indexOf(":");
    if (colon <= 0 || colon === arg.length - 1) {
      throw new CnfError(where, `invalid pragma "${arg}"`, "write .pragma keyword:value");
    }
    const key = trimWs(arg.slice(0, colon));
    const val = arg.slice(eatWs(arg, colon + 1));
    const bool = () => {
      const v = val.toLowerCase();
      if (v === "on" || v === "true") return true;
      if (v === "off" || v === "false") return false;
      throw new CnfError(where, `invalid pragma value "${val}" for ${key}`, "use on, true, off or false");
    };
    if (key === "dollarid") this.flags.dollarid = bool();
    else if (key === "abspath") this.flags.abspath = bool();
    else if (key === "includedir") this.flags.includedir = val;
    // OpenSSL ignores unknown pragmas.
  }

  private include(target: string, where: Where, stack: string[]): void {
    const dir = this.host.env("OPENSSL_CONF_INCLUDE") ?? this.flags.includedir;
    let path = target;
    if (dir !== undefined && !path.startsWith("/")) path = dir.endsWith("/") ? dir + path : `${dir}/${path}`;
    if (this.flags.abspath && !path.startsWith("/")) {
      throw new CnfError(where, `.include path "${path}" is relative but .pragma abspath is on`);
    }
    if (++this.includes > MAX_INCLUDES) {
      throw new CnfError(where, `too many .include directives (more than ${MAX_INCLUDES})`);
    }
    const resolved = this.host.include(path, where);
    if (resolved.kind === "missing") {
      // OpenSSL skips a missing include silently; a certificate tool must not guess.
      throw new CnfError(where, `.include "${path}": no such file or directory`, "fix the path (relative paths are relative to the working directory, as in OpenSSL)");
    }
    if (resolved.kind === "dir") {
      if (this.inDirectory) throw new CnfError(where, `recursive directory include "${path}"`);
      this.inDirectory = true;
      for (const f of resolved.files) this.includeFile(f.path, f.text, where, stack);
      this.inDirectory = false;
      return;
    }
    this.includeFile(resolved.path, resolved.text, where, stack);
  }

  private includeFile(path: string, text: string, where: Where, stack: string[]): void {
    if (stack.includes(path)) {
      throw new CnfError(where, `.include loop: ${[...stack.slice(stack.indexOf(path)), path].join(" -> ")}`);
    }
    this.parseFile(text, path, stack);
  }

  private ensureSection(name: string, where: Where): void {
    if (!this.sections.has(name)) {
      this.sections.set(name, { name, where, entries: [] });
      this.index.set(name, new Map());
    }
  }

  private add(section: string, entry: CnfEntry): void {
    this.ensureSection(section, entry.where);
    const sect = this.sections.get(section)!;
    const idx = this.index.get(section)!;
    const old = idx.get(entry.name);
    if (old) sect.entries.splice(sect.entries.indexOf(old), 1);
    sect.entries.push(entry);
    idx.set(entry.name, entry);
  }

  /** _CONF_get_string: the section, then the environment for ENV, then `default`. */
  private lookup(section: string | null, name: string): string | undefined {
    if (section !== null) {
      const v = this.index.get(section)?.get(name);
      if (v) return v.value;
      if (section === "ENV") {
        const e = this.host.env(name);
        if (e !== undefined) return e;
      }
    }
    return this.index.get(DEFAULT_SECTION)?.get(name)?.value;
  }

  private eatAlphaNumeric(s: string, p: number): number {
    for (;;) {
      if (s[p] === "\\") {
        p = p + 1 >= s.length ? p + 1 : p + 2;
        continue;
      }
      if (!(isAlnumPunct(s[p]) || (this.flags.dollarid && s[p] === "$"))) return p;
      p++;
    }
  }

  /** str_copy: quotes, escapes and variable expansion of one value. */
  private strCopy(from: string, section: string | null, where: Where): string {
    let out = "";
    let i = 0;
    const nameChar = (c: string | undefined) => isAlnum(c) || (this.flags.dollarid && c === "$");
    while (i < from.length) {
      const c = from[i]!;
      if (QUOTES.has(c)) {
        i++;
        while (i < from.length && from[i] !== c) {
          if (from[i] === "\\") {
            i++;
            if (i >= from.length) break;
          }
          out += from[i++];
        }
        if (from[i] === c) i++;
      } else if (c === "\\") {
        i++;
        if (i >= from.length) break;
        const v = from[i++]!;
        out += v === "r" ? "\r" : v === "n" ? "\n" : v === "b" ? "\b" : v === "t" ? "\t" : v;
      } else if (c === "$" && (!this.flags.dollarid || from[i + 1] === "{" || from[i + 1] === "(")) {
        let s = i + 1;
        const close = from[s] === "{" ? "}" : from[s] === "(" ? ")" : "";
        if (close) s++;
        let sect = section;
        let e = s;
        while (nameChar(from[e])) e++;
        let name = from.slice(s, e);
        if (from[e] === ":" && from[e + 1] === ":") {
          sect = name;
          e += 2;
          const n = e;
          while (nameChar(from[e])) e++;
          name = from.slice(n, e);
        }
        if (close) {
          if (from[e] !== close) throw new CnfError(where, `no close brace in variable reference "${from.slice(i, e + 1)}"`);
          e++;
        }
        const value = this.lookup(sect, name);
        if (value === undefined) {
          const ref = sect !== null && sect !== section ? `${sect}::${name}` : name;
          throw new CnfError(where, `variable has no value: $${ref}`, `define ${ref.includes("::") ? ref.replace("::", " in [") + "]" : `${name} earlier in this section or in the default section`}, or escape the dollar as \\$`);
        }
        if (out.length + value.length + (from.length - e) > MAX_VALUE_LENGTH) {
          throw new CnfError(where, `variable expansion too long (over ${MAX_VALUE_LENGTH} characters)`);
        }
        out += value;
        i = e;
      } else {
        out += c;
        i++;
      }
    }
    return out;
  }
}

function eatWs(s: string, p: number): number {
  while (p < s.length && isWs(s[p])) p++;
  return p;
}

function trimWs(s: string): string {
  let e = s.length;
  while (e > 0 && isWs(s[e - 1])) e--;
  return s.slice(0, e);
}

/** clear_comments: cut at the first `#` that is outside quotes and not escaped. */
function clearComments(s: string): string {
  let p = 0;
  while (p < s.length) {
    const c = s[p]!;
    if (c === "#") return s.slice(0, p);
    if (QUOTES.has(c)) {
      p++;
      while (p < s.length && s[p] !== c) {
        if (s[p] === "\\") {
          p++;
          if (p >= s.length) return s;
        }
        p++;
      }
      if (s[p] === c) p++;
    } else if (c === "\\") {
      p = p + 1 >= s.length ? p + 1 : p + 2;
    } else {
      p++;
    }
  }
  return s;
}

// ---------------------------------------------------------------------------
// Lookups used by the extension model

export function getSection(cnf: Cnf, name: string): CnfSection | undefined {
  return cnf.sections.get(name);
}

/** NCONF_get_string: the section, falling back to `default`. */
export function getEntry(cnf: Cnf, section: string, name: string): CnfEntry | undefined {
  const find = (s: string) => {
    const entries = cnf.sections.get(s)?.entries;
    if (!entries) return undefined;
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.name === name) return entries[i];
    return undefined;
  };
  return find(section) ?? find(DEFAULT_SECTION);
}

// ---------------------------------------------------------------------------
// Printing: parseCnf(printCnf(c)) has the same sections and entries as c.

export function printCnf(cnf: Cnf): string {
  const out: string[] = [];
  // Names are kept as written, and `$` is a name character only under dollarid
  // (values and section names escape their dollars, which reads the same either way).
  if ([...cnf.sections.values()].some((s) => s.entries.some((e) => e.name.includes("$")))) out.push(".pragma dollarid:on");
  for (const section of cnf.sections.values()) {
    if (section.name !== DEFAULT_SECTION) out.push(`[${printSectionName(section.name)}]`);
    for (const e of section.entries) out.push(`${e.name} = ${printValue(e.value)}`);
  }
  return out.join("\n") + "\n";
}

const ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b" };

function printSectionName(name: string): string {
  let out = "";
  // By UTF-16 unit, as the reader skips a backslash and one unit: `\😀` would leave half a character unescaped.
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    out += isAlnumPunct(c) ? c : (ESCAPES[c] ?? `\\${c}`);
  }
  return out;
}

function printValue(value: string): string {
  let first = 0;
  while (first < value.length && (value[first] === " " || value[first] === "\t")) first++;
  let last = value.length - 1;
  while (last >= first && (value[last] === " " || value[last] === "\t")) last--;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (i < first || i > last) out += `"${c}"`; // edge blanks would be trimmed unless quoted
    else if (ESCAPES[c]) out += ESCAPES[c];
    else if (c === "\\" || c === "#" || c === "$" || QUOTES.has(c)) out += `\\${c}`;
    else out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Loading from disk, `.include` targets included

/** A folder `.include` reads every *.cnf and *.conf in it: as many as a file may have .include lines. */
const MAX_FOLDER_FILES = 64;

export function loadCnf(path: string, label = "cnf"): Cnf {
  const input = readInput(path, label, MAX_CNF_BYTES);
  return parseCnf(input.text, path, includeHost);
}

const includeHost: IncludeHost = {
  env: (name) => process.env[name],
  include(path, from): IncludeTarget {
    let st;
    try {
      st = statSync(path);
    } catch {
      return { kind: "missing" };
    }
    // Read like any input: at most MAX_CNF_BYTES, and a FIFO or device without blocking
    // (`.include /dev/zero` used to exhaust the memory, and a FIFO to hang).
    const read = (p: string) => {
      try {
        const { text } = readInput(p, ".include", MAX_CNF_BYTES);
        return { path: realpathSync(p), text };
      } catch (err) {
        if (err instanceof SkycertError) throw new CnfError(from, err.message);
        throw new CnfError(from, `.include ${p}: ${(err as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : (err as Error).message}`);
      }
    };
    if (st.isDirectory()) {
      // OpenSSL reads *.cnf and *.conf in directory order; sorted, the result does not depend on the file system.
      const names = readdirSync(path).filter((n) => /\.(cnf|conf)$/i.test(n)).sort();
      if (names.length > MAX_FOLDER_FILES) throw new CnfError(from, `.include ${path}: ${names.length} config files in one folder (at most ${MAX_FOLDER_FILES})`);
      return { kind: "dir", path, files: names.map((n) => read(join(path, n))) };
    }
    return { kind: "file", ...read(path) };
  },
};

export interface CnfChoice {
  path: string;
  source: "flag" | "working directory" | "bundled template";
}

/** --cnf, else ./skydive-openssl.cnf, else the seed's file bundled in templates/. */
export function chooseCnf(cwd: string, flag?: string): CnfChoice {
  if (flag) return { path: resolve(cwd, flag), source: "flag" };
  const local = join(cwd, "skydive-openssl.cnf");
  if (existsSync(local)) return { path: local, source: "working directory" };
  return { path: BUNDLED_CNF, source: "bundled template" };
}
