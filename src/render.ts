/**
 * One renderer for every command: `--json` prints the result object and nothing
 * else on stdout; otherwise the command's view turns the same object into
 * headings, fields and tables, coloured unless NO_COLOR is set or output is piped.
 */
import { Chalk, type ChalkInstance } from "chalk";

export type Tone = "ok" | "warn" | "fail" | "skip" | "dim" | "strong";
export type Cell = string | { text: string; tone?: Tone };

export type Block =
  | { kind: "heading"; text: string }
  | { kind: "fields"; rows: [label: string, value: Cell][] }
  | { kind: "table"; head: string[]; rows: Cell[][] }
  | { kind: "line"; text: string; tone?: Tone }
  | { kind: "blank" };

export type View<T> = (data: T) => Block[];

export function colorLevel(stream: { isTTY?: boolean } = process.stdout): 0 | 1 | 2 | 3 {
  if (process.env.NO_COLOR) return 0;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return 1;
  return stream.isTTY ? 2 : 0;
}

export function render<T>(data: T, view: View<T>, opts: { json: boolean; stream?: NodeJS.WriteStream }): void {
  const stream = opts.stream ?? process.stdout;
  if (opts.json) {
    stream.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  stream.write(formatBlocks(view(data), new Chalk({ level: colorLevel(stream) })));
}

function paint(c: ChalkInstance, cell: Cell): string {
  if (typeof cell === "string") return cell;
  switch (cell.tone) {
    case "ok":
      return c.green(cell.text);
    case "warn":
      return c.yellow(cell.text);
    case "fail":
      return c.red.bold(cell.text);
    case "skip":
    case "dim":
      return c.dim(cell.text);
    case "strong":
      return c.bold(cell.text);
    default:
      return cell.text;
  }
}

const text = (cell: Cell) => (typeof cell === "string" ? cell : cell.text);

export function formatBlocks(blocks: Block[], c: ChalkInstance): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        out.push(c.bold(b.text));
        break;
      case "fields": {
        const width = Math.max(...b.rows.map(([l]) => l.length));
        for (const [label, value] of b.rows) out.push(`  ${c.dim(label.padEnd(width))}  ${paint(c, value)}`);
        break;
      }
      case "table": {
        const widths = b.head.map((h, i) => Math.max(h.length, ...b.rows.map((r) => text(r[i] ?? "").length)));
        const line = (cells: Cell[], head = false) =>
          cells
            .map((cell, i) => {
              const pad = " ".repeat(Math.max(0, widths[i]! - text(cell).length));
              const shown = head ? c.bold(text(cell)) : paint(c, cell);
              return i === cells.length - 1 ? shown : shown + pad;
            })
            .join("  ");
        out.push(`  ${line(b.head, true)}`);
        for (const row of b.rows) out.push(`  ${line(row)}`);
        break;
      }
      case "line":
        out.push(paint(c, { text: b.text, tone: b.tone }));
        break;
      case "blank":
        out.push("");
        break;
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
