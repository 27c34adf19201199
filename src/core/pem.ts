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

/** Every well-formed block of `text`, plus the first problem met (a BEGIN without END, bad base64...). */
export function parsePem(text: string): { blocks: PemBlock[]; problem: PemProblem } {
  const blocks: PemBlock[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const begin = /^-----BEGIN ([A-Z0-9 #-]+)-----\s*$/.exec(lines[i]!);
    if (!begin) continue;
    const label = begin[1]!;
    const start = i + 1;
    const headers: Record<string, string> = {};
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      const end = /^-----END ([A-Z0-9 #-]+)-----\s*$/.exec(line);
      if (end) {
        if (end[1] !== label) return { blocks, problem: { kind: "mismatch", begin: label, end: end[1]!, line: j + 1 } };
        break;
      }
      const header = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (header && body.length === 0) headers[header[1]!] = header[2]!;
      else if (line.trim() !== "") body.push(line.trim());
    }
    if (j >= lines.length) return { blocks, problem: { kind: "truncated", label, line: start } };
    const b64 = body.join("");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
      return { blocks, problem: { kind: "bad-base64", label, line: start } };
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(b64, "base64")), line: start, headers });
    i = j;
  }
  return { blocks, problem: { kind: "none" } };
}
