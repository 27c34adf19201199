/** The PEM reader: a line-by-line reference (its first version) against the indexOf-based one fleets use. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePem, toPem } from "../src/core/pem.js";

function reference(text: string) {
  const blocks: { label: string; der: Uint8Array; line: number; headers: Record<string, string> }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const begin = /^-----BEGIN ([A-Z0-9 #-]+)-----[ \t]*$/.exec(lines[i]!);
    if (!begin) continue;
    const label = begin[1]!;
    const start = i + 1;
    const headers: Record<string, string> = {};
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const end = /^-----END ([A-Z0-9 #-]+)-----[ \t]*$/.exec(lines[j]!);
      if (end) {
        if (end[1] !== label) return { blocks, problem: { kind: "mismatch", begin: label, end: end[1]!, line: j + 1 } };
        break;
      }
      const header = /^([A-Za-z-]+):\s*(.*)$/.exec(lines[j]!);
      if (header && body.length === 0) headers[header[1]!] = header[2]!;
      else if (lines[j]!.trim() !== "") body.push(lines[j]!.trim());
    }
    if (j >= lines.length) return { blocks, problem: { kind: "truncated", label, line: start } };
    const b64 = body.join("");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0 || b64.length === 0) return { blocks, problem: { kind: "bad-base64", label, line: start } };
    blocks.push({ label, der: new Uint8Array(Buffer.from(b64, "base64")), line: start, headers });
    i = j;
  }
  return { blocks, problem: { kind: "none" } };
}

const block = fc.record({
  label: fc.constantFrom("CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "CERTIFICATE REQUEST"),
  endLabel: fc.option(fc.constantFrom("CERTIFICATE", "PRIVATE KEY"), { nil: undefined }),
  der: fc.uint8Array({ minLength: 1, maxLength: 120 }),
  headers: fc.boolean(),
  crlf: fc.boolean(),
  truncate: fc.boolean(),
  junk: fc.constantFrom("", "junk line\n", "x-----BEGIN CERTIFICATE-----\n", "\n\n", "Proc-Type: 4,ENCRYPTED\n"),
});

describe("parsePem", () => {
  it("agrees with the line-by-line reference on well-formed, truncated, mismatched and junk-laden input", () => {
    fc.assert(
      fc.property(fc.array(block, { maxLength: 4 }), (parts) => {
        let text = "";
        for (const p of parts) {
          let pem = toPem(p.label, p.der);
          if (p.headers) pem = pem.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n");
          if (p.endLabel) pem = pem.replace(`-----END ${p.label}-----`, `-----END ${p.endLabel}-----`);
          if (p.truncate) pem = pem.slice(0, pem.indexOf("-----END"));
          if (p.crlf) pem = pem.replace(/\n/g, "\r\n");
          text += p.junk + pem;
        }
        expect(parsePem(text)).toEqual(reference(text));
      }),
      { numRuns: 1000 },
    );
  });
});
