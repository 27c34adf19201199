/** Flag parsers shared by the commands: each bad value is a usage error (exit 2) naming the flag. */
import { InvalidArgumentError, type Command } from "commander";
import { MAX_RSA_BITS, MIN_RSA_BITS } from "../core/key-sizes.js";
import { type San, sanFromAddress } from "../core/san.js";

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

/** `--san` is repeatable and takes comma-separated lists; each address is validated here. */
export function collectSans(value: string, previous: San[] = []): San[] {
  const out = previous.slice();
  for (const address of value === "" ? [""] : value.split(",")) {
    const { san, problem } = sanFromAddress(address);
    if (!san) throw new InvalidArgumentError(`"${address}" ${problem}.`);
    out.push(san);
  }
  return out;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

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
