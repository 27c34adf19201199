/**
 * Python's `ast.literal_eval`, for what Ansible's INI inventory plugin does to a
 * variable's value: `skydive_extra_config={'agent.topology.probes': ['docker']}`
 * in `[agents:vars]` is a dict to Ansible, not text. (core/inventory.ts turns
 * scalars into values and keeps lists and dicts as their text; this reads that
 * text the rest of the way.)
 *
 * Accepted, as literal_eval accepts them: strings ('...', "...", triple-quoted,
 * r/u/b prefixes, escapes, adjacent literals concatenated), integers (decimal,
 * 0x, 0o, 0b, underscores), floats, unary + and -, True, False, None, lists,
 * tuples, dicts and sets (tuples and sets become arrays). Anything else (a
 * name, a call, an operator) is not a literal: the caller keeps the text, as
 * Ansible does when literal_eval raises.
 *
 * Pure: no fs, no console.
 */

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

export type LiteralResult = { ok: true; value: PyValue } | { ok: false; problem: string; offset: number };

class NotLiteral extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Nesting deeper than this is refused (Python's own parser gives up near 200). */
const MAX_DEPTH = 100;

export function literalEval(text: string): LiteralResult {
  const p = new Parser(text);
  try {
    p.skip();
    const value = p.value(0);
    p.skip();
    if (!p.done()) p.fail("unexpected text after the value");
    return { ok: true, value };
  } catch (err) {
    if (err instanceof NotLiteral) return { ok: false, problem: err.message, offset: err.offset };
    throw err;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

class Parser {
  private i = 0;

  constructor(private readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  fail(message: string): never {
    throw new NotLiteral(message, this.i);
  }

  /** Blanks, and line breaks (only meaningful inside brackets, where Python allows them; at top level literal_eval strips the text). */
  skip(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") this.i++;
      else if (c === "\\" && this.s[this.i + 1] === "\n") this.i += 2;
      else if (c === "#") {
        while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      } else break;
    }
  }

  private peek(): string {
    return this.s[this.i] ?? "";
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    const c = this.peek();
    if (c === "[") return this.sequence("]", depth);
    if (c === "(") return this.paren(depth);
    if (c === "{") return this.brace(depth);
    if (c === "+" || c === "-") {
      this.i++;
      this.skip();
      const n = this.number();
      return c === "-" ? -n : n;
    }
    if (/[0-9.]/.test(c) && /[0-9]/.test(c === "." ? (this.s[this.i + 1] ?? "") : c)) return this.number();
    if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))![0];
      if (/^[rRuUbB]{1,2}$/.test(word) && (this.s[this.i + word.length] === "'" || this.s[this.i + word.length] === '"')) return this.strings();
      this.i += word.length;
      if (word === "True") return true;
      if (word === "False") return false;
      if (word === "None") return null;
      this.i -= word.length;
      this.fail(`"${word}" is a name, not a literal`);
    }
    if (c === "'" || c === '"') return this.strings();
    if (c === "") this.fail("a value is missing");
    this.fail(`unexpected "${c}"`);
  }

  private number(): number {
    const rest = this.s.slice(this.i);
    const m =
      /^0[xX](?:_?[0-9a-fA-F])+/.exec(rest) ??
      /^0[oO](?:_?[0-7])+/.exec(rest) ??
      /^0[bB](?:_?[01])+/.exec(rest) ??
      /^(?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?/.exec(rest);
    const text = m?.[0] ?? "";
    if (!text || text === ".") this.fail("not a number");
    const after = rest[text.length] ?? "";
    if (/[A-Za-z0-9_]/.test(after)) this.fail(`"${text}${after}" is not a number literal skycert reads (complex numbers are not supported)`);
    this.i += text.length;
    const clean = text.replace(/_/g, "");
    if (/^0[xob]/i.test(clean)) return Number(clean.toLowerCase());
    // Python 3 refuses 0777 (a leading zero on a non-zero decimal integer).
    if (/^0[0-9]+$/.test(clean) && !/^0+$/.test(clean)) this.fail(`"${text}": leading zeros in a decimal integer are not allowed in Python 3`);
    return Number(clean);
  }

  /** One or more adjacent string literals, concatenated. */
  private strings(): string {
    let out = "";
    let bytes: boolean | undefined;
    for (;;) {
      const m = /^([rRuUbB]{0,2})('''|"""|'|")/.exec(this.s.slice(this.i));
      if (!m) break;
      const prefix = m[1]!.toLowerCase();
      if (prefix.length === 2 && !(prefix.includes("r") && prefix.includes("b"))) this.fail(`"${m[1]}" is not a string prefix`);
      const isBytes = prefix.includes("b");
      if (bytes !== undefined && bytes !== isBytes) this.fail("cannot mix bytes and text string literals");
      bytes = isBytes;
      this.i += m[0].length;
      out += this.stringBody(m[2]!, prefix.includes("r"));
      this.skip();
    }
    return out;
  }

  private stringBody(quote: string, raw: boolean): string {
    const triple = quote.length === 3;
    let out = "";
    for (;;) {
      if (this.done()) this.fail("unterminated string");
      if (this.s.startsWith(quote, this.i)) {
        this.i += quote.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === "\n" && !triple) this.fail("unterminated string (a line break inside a one-line string)");
      if (c !== "\\") {
        out += c;
        this.i++;
        continue;
      }
      const next = this.s[this.i + 1];
      if (next === undefined) this.fail("unterminated string");
      if (raw) {
        // In a raw string a backslash stays, and only keeps the next character from ending the string.
        out += c + next;
        this.i += 2;
        continue;
      }
      this.i += 2;
      if (next === "\n") continue;
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      if (/[0-7]/.test(next)) {
        let digits = next;
        while (digits.length < 3 && /[0-7]/.test(this.peek())) digits += this.s[this.i++];
        out += String.fromCodePoint(parseInt(digits, 8));
        continue;
      }
      const hexLength = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
      if (hexLength) {
        const hex = this.s.slice(this.i, this.i + hexLength);
        if (!new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(hex)) this.fail(`truncated \\${next} escape`);
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) this.fail(`\\${next}${hex} is not a Unicode code point`);
        out += String.fromCodePoint(code);
        this.i += hexLength;
        continue;
      }
      if (next === "N") this.fail("\\N{...} escapes are not supported");
      // Unknown escapes keep their backslash in Python.
      out += `\\${next}`;
    }
  }

  private sequence(close: string, depth: number): PyValue[] {
    this.i++; // open
    const items: PyValue[] = [];
    this.skip();
    while (this.peek() !== close) {
      items.push(this.value(depth + 1));
      this.skip();
      if (this.peek() === ",") {
        this.i++;
        this.skip();
      } else if (this.peek() !== close) this.fail(`expected "," or "${close}"`);
    }
    this.i++; // close
    return items;
  }

  /** `()` and `(a,)` are tuples; `(a)` is a; `(a, b)` a tuple. */
  private paren(depth: number): PyValue {
    this.i++;
    this.skip();
    if (this.peek() === ")") {
      this.i++;
      return [];
    }
    const first = this.value(depth + 1);
    this.skip();
    if (this.peek() === ")") {
      this.i++;
      return first;
    }
    if (this.peek() !== ",") this.fail('expected "," or ")"');
    this.i++;
    this.skip();
    const items = [first];
    while (this.peek() !== ")") {
      items.push(this.value(depth + 1));
      this.skip();
      if (this.peek() === ",") {
        this.i++;
        this.skip();
      } else if (this.peek() !== ")") this.fail('expected "," or ")"');
    }
    this.i++;
    return items;
  }

  /** `{}` is an empty dict; `{k: v, ...}` a dict; `{a, b}` a set. */
  private brace(depth: number): PyValue {
    this.i++;
    this.skip();
    if (this.peek() === "}") {
      this.i++;
      return {};
    }
    const firstKey = this.value(depth + 1);
    this.skip();
    if (this.peek() !== ":") {
      // A set: read the rest as a sequence.
      const items = [firstKey];
      while (this.peek() !== "}") {
        if (this.peek() !== ",") this.fail('expected "," or "}"');
        this.i++;
        this.skip();
        if (this.peek() === "}") break;
        items.push(this.value(depth + 1));
        this.skip();
      }
      this.i++;
      for (const item of items) if (typeof item === "object" && item !== null) this.fail("a set cannot hold a list or dict (unhashable)");
      return dedupe(items);
    }
    const out: Record<string, PyValue> = {};
    let key = firstKey;
    for (;;) {
      if (typeof key === "object" && key !== null && !Array.isArray(key)) this.fail("a dict key cannot be a dict (unhashable)");
      if (Array.isArray(key)) this.fail("a dict key that is a list or tuple is not supported");
      this.i++; // ':'
      this.skip();
      const value = this.value(depth + 1);
      // Later keys win, as in Python. (Python keys 1 and "1" differ; here both are "1".)
      out[key === null ? "None" : key === true ? "True" : key === false ? "False" : String(key)] = value;
      this.skip();
      if (this.peek() === ",") {
        this.i++;
        this.skip();
      } else if (this.peek() !== "}") this.fail('expected "," or "}"');
      if (this.peek() === "}") break;
      key = this.value(depth + 1);
      this.skip();
      if (this.peek() !== ":") this.fail('expected ":" after a dict key');
    }
    this.i++;
    return out;
  }
}

function dedupe(items: PyValue[]): PyValue[] {
  const seen = new Set<string>();
  return items.filter((v) => {
    const k = JSON.stringify(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
