/**
 * One renderer for every command: `--json` prints the result object and nothing
 * else on stdout; otherwise the command's view turns the same object into
 * headings, fields, tables and lines, coloured unless NO_COLOR is set or output
 * is piped, and wrapped to the terminal's width (COLUMNS, else 100, when piped).
 * Commands to run are never wrapped, so they paste whole.
 */
import { relative } from "node:path";
import { Chalk, type ChalkInstance } from "chalk";

export type Tone = "ok" | "warn" | "fail" | "skip" | "dim" | "strong";
export type Cell = string | { text: string; tone?: Tone };

export type Block =
  | { kind: "heading"; text: string }
  | { kind: "fields"; rows: [label: string, value: Cell][] }
  | { kind: "table"; head: string[]; rows: Cell[][] }
  | { kind: "line"; text: string; tone?: Tone }
  /** A command to run, after a label ("To fix:"), printed whole. */
  | { kind: "command"; label: string; text: string }
  | { kind: "blank" };

export type View<T> = (data: T) => Block[];

/** A path as messages show it: relative to `cwd` when it is under it. */
export function shownPath(p: string, cwd = process.cwd()): string {
  const rel = relative(cwd, p);
  return rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? p : rel;
}

export function colorLevel(stream: { isTTY?: boolean } = process.stdout): 0 | 1 | 2 | 3 {
  if (process.env.NO_COLOR) return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return 1;
  return stream.isTTY ? 2 : 0;
}

export function outputWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  if (stream.isTTY && stream.columns) return Math.max(40, stream.columns);
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env >= 40 ? env : 100;
}

export function render<T>(data: T, view: View<T>, opts: { json: boolean; stream?: NodeJS.WriteStream }): void {
  const stream = opts.stream ?? process.stdout;
  if (opts.json) {
    stream.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  stream.write(formatBlocks(view(data), new Chalk({ level: colorLevel(stream) }), outputWidth(stream)));
}

function paint(c: ChalkInstance, text: string, tone: Tone | undefined): string {
  switch (tone) {
    case "ok":
      return c.green(text);
    case "warn":
      return c.yellow(text);
    case "fail":
      return c.red.bold(text);
    case "skip":
    case "dim":
      return c.dim(text);
    case "strong":
      return c.bold(text);
    default:
      return text;
  }
}

const text = (cell: Cell) => (typeof cell === "string" ? cell : cell.text);
const tone = (cell: Cell) => (typeof cell === "string" ? undefined : cell.tone);

/** Break `s` into lines of at most `width` characters at spaces; a longer word stands alone. */
export function wrap(s: string, width: number): string[] {
  if (s.length <= width) return [s];
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export function formatBlocks(blocks: Block[], c: ChalkInstance, width = Infinity): string {
  const out: string[] = [];
  /** `first` then wrapped continuation lines indented by `indent`. */
  const hang = (prefix: string, body: string, indent: number, t?: Tone) => {
    const lines = wrap(body, Math.max(20, width - indent));
    out.push(`${prefix}${paint(c, lines[0] ?? "", t)}`);
    for (const l of lines.slice(1)) out.push(`${" ".repeat(indent)}${paint(c, l, t)}`);
  };
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        for (const l of wrap(b.text, width)) out.push(c.bold(l));
        break;
      case "fields": {
        const w = Math.max(...b.rows.map(([l]) => l.length));
        for (const [label, value] of b.rows) hang(`  ${c.dim(label.padEnd(w))}  `, text(value), w + 4, tone(value));
        break;
      }
      case "table": {
        const widths = b.head.map((h, i) => Math.max(h.length, ...b.rows.map((r) => text(r[i] ?? "").length)));
        const lastAt = 2 + widths.slice(0, -1).reduce((n, w) => n + w + 2, 0);
        if (lastAt + 30 > width) {
          // Too narrow for columns: each row's leading cells on one line, its last cell wrapped below.
          for (const r of b.rows) {
            hang("  ", r.slice(0, -1).map(text).join("  "), 4, tone(r[0] ?? ""));
            hang("    ", text(r[r.length - 1] ?? ""), 4, tone(r[r.length - 1] ?? ""));
          }
          break;
        }
        const row = (cells: Cell[], head = false) => {
          const lead = cells.slice(0, -1).map((cell, i) => {
            const pad = " ".repeat(Math.max(0, widths[i]! - text(cell).length));
            return (head ? c.bold(text(cell)) : paint(c, text(cell), tone(cell))) + pad;
          });
          const last = cells[cells.length - 1] ?? "";
          const prefix = `  ${lead.map((l) => `${l}  `).join("")}`;
          if (head) out.push(`${prefix}${c.bold(text(last))}`);
          else hang(prefix, text(last), lastAt, tone(last));
        };
        row(b.head, true);
        for (const r of b.rows) row(r);
        break;
      }
      case "line":
        hang("", b.text, 2, b.tone);
        break;
      case "command":
        out.push(`${b.label ? `${c.dim(b.label)} ` : ""}${b.text}`);
        break;
      case "blank":
        out.push("");
        break;
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
