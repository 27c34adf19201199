/** PEM armour (RFC 7468) with LF line ends, whatever node-forge or a platform would use. */

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
  /** 1-based line of the BEGIN line. */
  readonly line: number;
  /** Set when the block has headers such as Proc-Type (legacy encrypted keys). */
  readonly headers: Record<string, string>;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export type PemProblem =
  | { kind: "none" }
  | { kind: "truncated"; label: string; line: number }
  | { kind: "mismatch"; begin: string; end: string; line: number }
  | { kind: "bad-base64"; label: string; line: number };

// Sticky (y): matched at a given offset only; module-level, as a fleet parses hundreds of files.
const BEGIN_LINE = /-----BEGIN ([A-Z0-9 #-]+)-----[ \t\r]*(?:\n|$)/y;
const END_LINE = /-----END ([A-Z0-9 #-]+)-----[ \t\r]*(?:\n|$)/y;

/** Every well-formed block of `text`, plus the first problem met (a BEGIN without END, a block of bad base64, which is skipped as Go skips it). */
export function parsePem(text: string): { blocks: PemBlock[]; problem: PemProblem } {
  const blocks: PemBlock[] = [];
  let firstProblem: PemProblem | undefined;
  let line = 1; // line number of `counted`
  let counted = 0;
  const lineAt = (pos: number) => {
    for (let i = text.indexOf("\n", counted); i !== -1 && i < pos; i = text.indexOf("\n", i + 1)) line++;
    counted = pos;
    return line;
  };
  /** The marker line starting at `at` (`-----BEGIN X-----`), or undefined when the line is anything else. */
  const marker = (at: number, kind: "BEGIN" | "END") => {
    const m = kind === "BEGIN" ? BEGIN_LINE : END_LINE;
    m.lastIndex = at;
    const r = m.exec(text);
    return r ? { label: r[1]!, next: m.lastIndex } : undefined;
  };
  for (let at = text.indexOf("-----BEGIN "); at !== -1; at = text.indexOf("-----BEGIN ", at + 1)) {
    if (at > 0 && text[at - 1] !== "\n") continue;
    const begin = marker(at, "BEGIN");
    if (!begin) continue;
    const startLine = lineAt(at);
    let endAt = text.indexOf("-----END ", begin.next);
    while (endAt !== -1 && (text[endAt - 1] !== "\n" || !marker(endAt, "END"))) endAt = text.indexOf("-----END ", endAt + 1);
    if (endAt === -1) return { blocks, problem: firstProblem ?? { kind: "truncated", label: begin.label, line: startLine } };
    const end = marker(endAt, "END")!;
    if (end.label !== begin.label) return { blocks, problem: firstProblem ?? { kind: "mismatch", begin: begin.label, end: end.label, line: lineAt(endAt) } };
    const inner = text.slice(begin.next, endAt);
    const headers: Record<string, string> = {};
    let b64: string;
    if (inner.includes(":")) {
      // RFC 1421 headers (Proc-Type, DEK-Info) before the base64 body.
      const body: string[] = [];
      for (const l of inner.split(/\r?\n/)) {
        const header = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
        if (header && body.length === 0) headers[header[1]!] = header[2]!;
        else if (l.trim() !== "") body.push(l.trim());
      }
      b64 = body.join("");
    } else b64 = inner.replace(/[ \t\r\n]+/g, "");
    if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      // Go's encoding/pem skips such a block and reads on: so do we, and say so.
      firstProblem ??= { kind: "bad-base64", label: begin.label, line: startLine };
      at = end.next - 1;
      continue;
    }
    blocks.push({ label: begin.label, der: new Uint8Array(Buffer.from(b64, "base64")), line: startLine, headers });
    at = end.next - 1;
  }
  return { blocks, problem: firstProblem ?? { kind: "none" } };
}

/** A PEM problem in words, for messages: `line 3: the CERTIFICATE block has no END line (truncated)`. */
export function pemProblemText(problem: PemProblem): string {
  switch (problem.kind) {
    case "none":
      return "no problem";
    case "truncated":
      return `line ${problem.line}: the ${problem.label} block has no END line (truncated)`;
    case "mismatch":
      return `line ${problem.line}: a ${problem.begin} block ends with END ${problem.end}`;
    case "bad-base64":
      return `line ${problem.line}: the ${problem.label} block is not valid base64`;
  }
}
