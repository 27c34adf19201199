/**
 * Property-based tests (fast-check) of the parts every command stands on:
 * - the cnf parser throws nothing but SkycertError, whatever the input;
 * - printing a parsed cnf and parsing the print gives the same sections and entries;
 * - SAN classification agrees with net.isIP, and IPs survive the octet round trip.
 * Counterexamples fast-check found are kept below as plain regression tests.
 */
import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Cnf, type IncludeHost, type IncludeTarget, CnfError, parseCnf, printCnf } from "../src/pki/cnf.js";
import { SkycertError } from "../src/cli/errors.js";
import { readExtensionSection } from "../src/pki/extensions.js";
import { bytesToIp, classifyAddress, dnsNameProblem, ipToBytes, sanFromAddress } from "../src/pki/san.js";

// Enough runs to find the bugs below within a few seconds; a fixed seed is not
// used, so each run explores new inputs (fast-check prints the seed on failure).
const RUNS = Number(process.env.SKYCERT_PROPERTY_RUNS ?? 2000);

/** Characters OpenSSL's reader gives a meaning to, plus whitespace and line ends. */
const MEANINGFUL = [..."[]=#${}():\\\"'`;.@", " ", "\t", "\r", "\n"];
const PLAIN = [..."abcxyzDNSIP019_-"];
/** Outside ASCII: a BMP letter, an astral character (two UTF-16 units), a lone surrogate, a BOM. */
const WIDE = ["é", "\u{1F600}", "\uD83D", "\uFEFF", "\u00A0"];
const anyChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...MEANINGFUL) },
  { weight: 4, arbitrary: fc.constantFrom(...PLAIN) },
  { weight: 1, arbitrary: fc.constantFrom(...WIDE) },
  // Any code point, lone surrogates and astral characters included.
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);
const anyText = fc.string({ unit: anyChar, maxLength: 200 });

/** Snippets that make the parser go down its less travelled paths. */
const TOKENS = [
  "[", "]", "[ s ]", "[s]", "=", " = ", "#", "\\", "\\\n", "\n", "\r\n", "$", "$v", "${v}", "$(v)", "${", "$(", "$s::v", "${s::v}", "$ENV::HOME",
  "$ENV::NOPE", "::", "s::", "'", '"', "`", ".include", ".include = ", ".include f.cnf", ".include d", ".include loop.cnf", ".pragma",
  ".pragma dollarid:on", ".pragma dollarid:off", ".pragma abspath:true", ".pragma includedir:d", ".pragma x:y", ".pragma =", "v = x", "\uFEFF",
  "default", "ENV", "@", "critical,", "\\n", "\\t", "\\b", "\\r",
];
const tokenText = fc.array(fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: anyText }), { maxLength: 30 }).map((a) => a.join(""));

/** A host with a few files, a folder, a self-include, and an environment. */
function fakeHost(files: Record<string, string>): IncludeHost {
  return {
    env: (name) => ({ HOME: "/root", EMPTY: "" })[name],
    include(path): IncludeTarget {
      if (path === "d" || path === "d/") return { kind: "dir", path: "d", files: Object.entries(files).map(([p, text]) => ({ path: `d/${p}`, text })) };
      if (path === "loop.cnf") return { kind: "file", path: "loop.cnf", text: ".include loop.cnf\n" };
      if (path in files) return { kind: "file", path, text: files[path]! };
      return { kind: "missing" };
    },
  };
}

function flat(cnf: Cnf): [string, [string, string][]][] {
  return [...cnf.sections.values()].map((s) => [s.name, s.entries.map((e): [string, string] => [e.name, e.value])]);
}

/** parseCnf, or the error it threw (which the caller checks). */
function tryParse(text: string, file = "p.cnf", host?: IncludeHost): Cnf | unknown {
  try {
    return parseCnf(text, file, host);
  } catch (err) {
    return { thrown: err };
  }
}

describe("the cnf parser throws nothing but SkycertError", () => {
  const onlyOwnErrors = (text: string, host?: IncludeHost) => {
    try {
      const cnf = parseCnf(text, "p.cnf", host);
      // The extension reader sits on the parser: it must keep the contract too.
      for (const section of cnf.sections.keys()) {
        try {
          readExtensionSection(cnf, section, { file: "p.cnf", line: 0 });
        } catch (err) {
          if (!(err instanceof SkycertError)) throw err;
        }
      }
    } catch (err) {
      if (!(err instanceof SkycertError)) throw err;
      expect(err.message).toMatch(/^p\.cnf:\d+: |^f\.cnf:\d+: |^d\/.*:\d+: |^loop\.cnf:\d+: /);
      // One line on stderr, whatever the file holds: no line breaks, no terminal escapes, bounded.
      for (const text of [err.message, err.remedy ?? ""]) {
        expect(text).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/);
        expect(text.length).toBeLessThan(6000);
      }
      expect(err.exitCode).toBe(2);
    }
  };

  it("on strings of OpenSSL-meaningful characters and arbitrary unicode", () => {
    fc.assert(fc.property(anyText, (text) => onlyOwnErrors(text)), { numRuns: RUNS });
  });

  it("on token soups, with includes, folders, loops and the environment", () => {
    fc.assert(
      fc.property(tokenText, tokenText, tokenText, (text, f, g) => onlyOwnErrors(text, fakeHost({ "f.cnf": f, "g.cnf": g }))),
      { numRuns: RUNS },
    );
  });

  it("on extension sections built from arbitrary values", () => {
    const name = fc.constantFrom("basicConstraints", "keyUsage", "extendedKeyUsage", "subjectAltName", "subjectKeyIdentifier", "authorityKeyIdentifier", "nsComment", "x");
    const value = fc.array(fc.oneof(fc.constantFrom("critical,", "@alt", "CA:", "TRUE", "pathlen:", "0x", "-1", "99999999999999999999", "DNS:", "IP:", "email:", "URI:", "RID:", "DER:", "keyid", "issuer", ":always", ",", ":", "::1", "1.2.3.4", "%", "*.", "hash", "none", "ab:cd"), anyText), { maxLength: 8 }).map((a) => a.join(""));
    const altName = fc.tuple(fc.constantFrom("DNS", "IP", "email", "URI", "DNS.1", "IP.x", "otherName", "dirName", "foo"), value);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 4 }), fc.array(altName, { maxLength: 4 }), (exts, alts) => {
        const esc = (s: string) => s.replace(/[\\#$"'`\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`));
        const text = `[ext]\n${exts.map(([n, v]) => `${n} = ${esc(v)}`).join("\n")}\n[alt]\n${alts.map(([n, v]) => `${n} = ${esc(v)}`).join("\n")}\n`;
        onlyOwnErrors(text);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("printCnf then parseCnf is the identity", () => {
  /** Raw names as the reader accepts them: alphanumerics, punctuation, and backslash escapes of anything. */
  const nameChar = fc.oneof(
    // `$` is a name character only under `.pragma dollarid:on`.
    { weight: 5, arbitrary: fc.constantFrom(..."abcXYZ019_!%&*+,-./;?@^|~$") },
    // The reader skips a backslash and the next UTF-16 unit, so escape each unit.
    { weight: 2, arbitrary: anyChar.filter((c) => c !== "\n").map((c) => c.split("").map((u) => `\\${u}`).join("")) },
  );
  const rawName = fc.string({ unit: nameChar, maxLength: 8 });
  const value = fc.array(fc.oneof(anyText.map((s) => s.replace(/\n/g, "")), fc.constantFrom("$v", "${v}", "$(v)", "$s::w", "\\$", '"  "', "' # '", "\\", " ", "\t")), { maxLength: 5 }).map((a) => a.join(""));
  const comment = fc.option(fc.constantFrom(" # c", "\t#c", "#"), { nil: "" });
  const line = fc.oneof(
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("", " "), rawName, fc.constantFrom("", "  "), comment).map(([a, n, b, c]) => `[${a}${n}${b}]${c}`) },
    { weight: 4, arbitrary: fc.tuple(fc.option(rawName.map((s) => `${s}::`), { nil: "" }), rawName, fc.constantFrom("=", " = ", "\t=  "), value, comment).map(([s, n, eq, v, c]) => `${s}${n}${eq}${v}${c}`) },
    { weight: 1, arbitrary: fc.constantFrom("", "# comment", ".pragma dollarid:on", ".pragma dollarid:off", "  ", "\\") },
  );
  const file = fc.array(line, { minLength: 1, maxLength: 12 }).map((lines) => `v = value of v\n[s]\nw = W\n[default]\n${lines.join("\n")}\n`);

  it("for every file the parser accepts (sections and (name, value) entries, in order)", () => {
    let accepted = 0;
    fc.assert(
      fc.property(file, (text) => {
        const once = tryParse(text);
        if (once && typeof once === "object" && "thrown" in once) {
          expect(once.thrown).toBeInstanceOf(CnfError);
          return;
        }
        accepted++;
        const printed = printCnf(once as Cnf);
        const twice = parseCnf(printed, "printed.cnf");
        expect(flat(twice)).toEqual(flat(once as Cnf));
        // And printing is stable.
        expect(printCnf(twice)).toBe(printed);
      }),
      { numRuns: RUNS },
    );
    // The property is not vacuous: most generated files parse.
    expect(accepted).toBeGreaterThan(RUNS / 4);
  });
});

describe("SAN classification agrees with net.isIP", () => {
  const addressLike = fc.oneof(
    fc.ipV4(),
    fc.ipV4Extended(),
    fc.ipV6(),
    fc.domain(),
    fc.tuple(fc.ipV6(), fc.constantFrom("%eth0", "%1", "%")).map(([a, z]) => a + z),
    fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFx.:%*- "), maxLength: 45 }),
    anyText,
  );

  it("an address is an IP SAN exactly when net.isIP accepts it (and has no zone), else a valid DNS name or refused", () => {
    fc.assert(
      fc.property(addressLike, (address) => {
        const kind = isIP(address);
        expect(classifyAddress(address)).toBe(kind === 0 ? "DNS" : "IP");
        const { san, problem } = sanFromAddress(address);
        expect(Boolean(san) !== Boolean(problem)).toBe(true);
        if (kind === 0) {
          if (san) {
            expect(san.type).toBe("DNS");
            expect(san.value).toBe(address.toLowerCase());
            expect(dnsNameProblem(san.value)).toBeUndefined();
            expect(isIP(san.value)).toBe(0);
          }
        } else if (address.includes("%")) {
          expect(problem).toMatch(/zone/);
        } else {
          expect(san?.type).toBe("IP");
          // Canonical text is an IP of the same family with the same octets.
          expect(isIP(san!.value)).toBe(kind);
          expect(ipToBytes(san!.value)).toEqual(ipToBytes(address));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("an address a resolver would read as IPv4 (inet_aton forms: octal, hex, fewer parts) is never a DNS SAN", () => {
    fc.assert(
      fc.property(fc.ipV4Extended(), (address) => {
        const { san } = sanFromAddress(address);
        if (san) expect(san.type).toBe("IP");
      }),
      { numRuns: RUNS },
    );
  });

  it("a valid IP round-trips through ipToBytes and bytesToIp", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
        const bytes = ipToBytes(ip);
        expect(bytes.length).toBe(isIP(ip) === 4 ? 4 : 16);
        const back = bytesToIp(bytes);
        expect(isIP(back)).toBe(isIP(ip));
        expect(ipToBytes(back)).toEqual(bytes);
        expect(bytesToIp(ipToBytes(back))).toBe(back);
      }),
      { numRuns: RUNS },
    );
  });

  it("any 4 or 16 octets print as an IP that parses back to them", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(fc.constantFrom(0, 1, 0xff), { minLength: 16, maxLength: 16 }).map((a) => new Uint8Array(a))), (bytes) => {
        const text = bytesToIp(bytes);
        expect(isIP(text)).toBe(bytes.length === 4 ? 4 : 6);
        expect(ipToBytes(text)).toEqual(bytes);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("counterexamples fast-check found, kept as regression tests", () => {
  const roundTrip = (text: string) => {
    const once = parseCnf(text, "c.cnf");
    const printed = printCnf(once);
    expect(flat(parseCnf(printed, "printed.cnf"))).toEqual(flat(once));
    return { once, printed };
  };

  it("a section name with an astral character (escaped unit by unit) prints as a header that reads back", () => {
    // Was printed as `[\😀]`: the reader escapes one UTF-16 unit, so the low surrogate ended the name.
    const { once, printed } = roundTrip("v = value of v\n[s]\nw = W\n[default]\n[\\\ud800\\\udc00]\n");
    expect([...once.sections.keys()]).toContain("\u{10000}");
    expect(printed).toContain("[\\\ud800\\\udc00]");
  });

  it("a name with a dollar, read under .pragma dollarid:on, prints with the pragma", () => {
    // Was printed without the pragma, and `$=` then read as "missing equal sign".
    const { once, printed } = roundTrip(".pragma dollarid:on\n$=\n=\n");
    expect(once.sections.get("default")!.entries.map((e) => e.name)).toEqual(["$", ""]);
    expect(printed.split("\n")[0]).toBe(".pragma dollarid:on");
    // Without such a name the print has no pragma.
    expect(roundTrip("a = b\\$\n").printed).toBe("a = b\\$\n");
  });

  it("names whose last label is hex or decimal (inet_aton IPv4 forms) are not DNS SANs", () => {
    for (const address of ["0.0x0", "0x7f.1", "10.0x1", "0x7f000001", "127.1", "host.0X1F"]) {
      expect(sanFromAddress(address).problem, address).toBe("looks like an IP address but is not a valid one");
    }
    for (const address of ["0x7f.example", "a.0xg", "node-0x1.example"]) expect(sanFromAddress(address).san?.type, address).toBe("DNS");
  });
});
