/** Flag parsers shared by the commands: each bad value is a usage error (exit 2) naming the flag. */
import { InvalidArgumentError, type Command, Option } from "commander";
import { MAX_RSA_BITS, MIN_RSA_BITS } from "../pki/key-sizes.js";
import { type San, sanFromAddress } from "../pki/san.js";
import { RELEASES } from "../skydive/release.js";

function integer(value: string, what: string): number {
  if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`${what} must be a whole number.`);
  return Number(value.trim());
}

export function parseDays(value: string): number {
  const days = integer(value, "Days");
  if (days < 1) throw new InvalidArgumentError("Days must be at least 1.");
  if (days > 36500) throw new InvalidArgumentError("Days must be at most 36500 (100 years).");
  return days;
}

/** `30d`, `30` (days), `12w`, `6m` (30-day months), `1y`. */
export function parseSpan(value: string): number {
  const m = /^([0-9]+)([dwmy]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError("Give a number of days, optionally with d, w, m or y (30d, 12w, 6m, 1y).");
  return Number(m[1]) * { "": 1, d: 1, w: 7, m: 30, y: 365 }[m[2] as "" | "d" | "w" | "m" | "y"];
}

export function parseBits(value: string): number {
  const bits = integer(value, "Bits");
  if (bits < MIN_RSA_BITS) throw new InvalidArgumentError(`RSA keys below ${MIN_RSA_BITS} bits are refused (Go and current OpenSSL policies reject them).`);
  if (bits > MAX_RSA_BITS) throw new InvalidArgumentError(`At most ${MAX_RSA_BITS} bits.`);
  if (bits % 8 !== 0) throw new InvalidArgumentError("Bits must be a multiple of 8.");
  return bits;
}

export function parseNonNegative(value: string): number {
  return integer(value, "The value");
}

export function parsePositive(value: string): number {
  const n = integer(value, "The value");
  if (n < 1) throw new InvalidArgumentError("The value must be at least 1.");
  return n;
}

/** `--san` is repeatable and takes comma-separated lists; each address is validated here. */
export function collectSans(value: string, previous: San[] = []): San[] {
  const out = previous.slice();
  for (const address of value === "" ? [""] : value.split(",")) {
    const { san, problem } = sanFromAddress(address.trim());
    if (!san) throw new InvalidArgumentError(`"${address}" ${problem}.`);
    out.push(san);
  }
  return out;
}

/** Repeatable, comma-separated list of words. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const skydiveOption = (defaultText: string) =>
  new Option("--skydive <release>", `Skydive release family the files are for: legacy (up to 0.20), 0.21 (0.21 to 0.26), 0.27 (0.27 and later); ${defaultText}`).choices(RELEASES);

export const keyTypeOption = () => new Option("--key-type <type>", "key algorithm: rsa (2048 bits, --bits) or ecdsa (P-256)").choices(["rsa", "ecdsa"]);

/** Flags init and renew both take: each flag's spelling and parser once; its help says what it means to the command. */
export const flag = {
  san: (help: string) => new Option("--san <address>", help).argParser(collectSans),
  days: (help: string) => new Option("--days <n>", help).argParser(parseDays),
  bits: (help: string) => new Option("--bits <n>", help).argParser(parseBits),
  cnf: (help: string) => new Option("--cnf <file>", help),
  extensions: (help: string) => new Option("--extensions <section>", help),
  passphraseFile: (help: string) => new Option("--passphrase-file <file>", help),
  force: (help: string) => new Option("--force", help),
  dryRun: (help: string) => new Option("--dry-run", help),
};

/** --json and --debug on every command. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option("--json", "print the result as JSON, and nothing else, on stdout")
    .option("--debug", "print a stack trace with errors (or set SKYCERT_DEBUG=1)");
}

export const EXIT_CODES = `
Exit codes:
  0  success
  1  failure: a check failed, files exist without --force, a write failed
  2  usage: unknown command or flag, bad flag value, unreadable or invalid input file`;

/** A command's help epilogue: POSITIONAL ARGUMENTS, EXAMPLES and EXIT CODES, as `skycert CMD --help` shows them. */
export function usageSections(sections: { positional?: [string, string][]; examples: string; exitCodes?: string }): string {
  const out: string[] = [""];
  if (sections.positional?.length) {
    out.push("Positional arguments:");
    const w = Math.max(...sections.positional.map(([n]) => n.length));
    for (const [name, text] of sections.positional) out.push(`  ${name.padEnd(w)}  ${text}`);
    out.push("");
  }
  // Examples are written one per line, as typed, in a template literal.
  out.push("Examples:", ...sections.examples.trim().split("\n").map((e) => (e === "" ? "" : `  ${e}`)));
  out.push(sections.exitCodes ?? EXIT_CODES);
  return out.join("\n");
}
