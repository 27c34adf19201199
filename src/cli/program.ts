/**
 * The commands, the exit-code contract (0 ok, 1 failure, 2 usage) and the
 * error contract (one line on stderr naming the input at fault, with its fix;
 * a stack trace only with --debug or SKYCERT_DEBUG=1). The command files only
 * define flags; each loads its work when it runs.
 */
import { Command, CommanderError } from "commander";
import { register as registerConfig } from "../config/command.js";
import { register as registerExport } from "../export/command.js";
import { register as registerInit } from "../init/command.js";
import { register as registerInspect } from "../inspect/command.js";
import { register as registerProbe } from "../probe/command.js";
import { register as registerRenew } from "../renew/command.js";
import { familyOf } from "../skydive/release.js";
import { register as registerValidate } from "../validate/command.js";
import { registerCompletion } from "./completion.js";
import { SkycertError, printable } from "./errors.js";
import { EXIT_CODES } from "./flags.js";
import { didYouMean } from "./suggest.js";

declare const SKYCERT_VERSION: string;
const version = typeof SKYCERT_VERSION === "string" ? SKYCERT_VERSION : "0.0.0-dev";

const debug = () => process.argv.includes("--debug") || process.env.SKYCERT_DEBUG === "1";

export function buildProgram(): Command {
  const program = new Command("skycert")
    .description("Make and check the TLS certificates of a Skydive deployment.")
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      // One line, whatever a flag value holds; commander's "(Did you mean ...?)" joins it.
      outputError: (message, write) => {
        const [text, ...hints] = message.trim().replace(/^error: /, "").split(/\n(?=\(Did you mean)/);
        // A value outside a flag's choices (--role analyzr, --skydive 0.28) gets the closest choice too.
        const choice = /^option '(\S+).*' argument '(.*)' is invalid\. Allowed choices are (.*)\.$/.exec(text!);
        const family = choice?.[1] === "--skydive" ? familyOf(choice[2]!) : undefined;
        const hint = family ? ` (Skydive ${choice![2]} is of the ${family} family: --skydive ${family})` : choice ? didYouMean(choice[2]!, choice[3]!.split(", ")) : "";
        write(`skycert: ${printable(text!, 2000)}${hint}${hints.map((h) => ` ${printable(h)}`).join("")}\n`);
      },
    });
  registerInit(program);
  registerValidate(program);
  registerRenew(program);
  registerInspect(program);
  registerExport(program);
  registerProbe(program);
  registerConfig(program);
  registerCompletion(program);
  program.addHelpText(
    "after",
    `
Examples:
  skycert init analyzer                       # the seed's recipe, legacy Skydive
  skycert init agent --san 192.168.1.1
  skycert validate
  skycert init ca --out pki                   # a CA fleet, Skydive 0.27 by default
  skycert init analyzer agent --ca pki --inventory hosts --out pki
  skycert validate --fleet pki
${EXIT_CODES}

Run skycert <command> --help for a command's flags and examples.`,
  );
  return program;
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
    // Help shown because no command was given is a usage error.
    if (err.code === "commander.help") return err.exitCode === 0 ? 0 : 2;
    return 2; // commander already printed the message
  }
  if (err instanceof SkycertError) {
    process.stderr.write(`skycert: error: ${printable(err.message, 4000)}${err.remedy ? ` (fix: ${printable(err.remedy, 2000)})` : ""}\n`);
    if (debug()) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`skycert: internal error: ${printable(message.split("\n")[0]!, 2000)} (rerun with --debug for details)\n`);
  if (debug() && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}

export async function main(argv = process.argv): Promise<void> {
  // A reader that stops early (skycert inspect ... | head) is not an error.
  for (const s of [process.stdout, process.stderr]) {
    s.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? 0 : 1));
  }
  let code = 0;
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    code = reportError(err);
  }
  // Piped output beyond the pipe buffer is written asynchronously: flush it before exiting.
  const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write("", () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
