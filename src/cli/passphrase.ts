/**
 * The CA key's passphrase: from `--passphrase-file` (its first line) or typed at
 * a terminal with echo off. It is never echoed, logged, put in --json output or
 * in an error message.
 */
import { SkycertError, usageError } from "./errors.js";
import { readInput } from "../fs/files.js";

/** OpenSSL refuses to encrypt with fewer characters (PEM_def_callback). */
export const MIN_PASSPHRASE = 4;

export type PassphraseSource = (purpose: "encrypt" | "decrypt", what: string) => Promise<string>;

/** The first line of `path`, without its line end. */
export function passphraseFromFile(path: string): string {
  const text = readInput(path, "--passphrase-file", 64 * 1024).text;
  const first = text.split(/\r?\n/)[0] ?? "";
  if (first === "") throw usageError(`--passphrase-file ${path}: the first line is empty`, "write the passphrase on the first line");
  return first;
}

/**
 * `--passphrase-file` when given, else a prompt when stdin and stderr are a
 * terminal, else a usage error naming the flag.
 */
export function passphraseSource(file: string | undefined, cwdResolve: (p: string) => string): PassphraseSource {
  let cached: string | undefined;
  return async (purpose, what) => {
    if (cached !== undefined) return cached;
    if (file) {
      cached = passphraseFromFile(cwdResolve(file));
    } else if (process.stdin.isTTY && process.stderr.isTTY) {
      cached = await promptHidden(`Passphrase for ${what}: `);
      if (purpose === "encrypt") {
        if (cached.length < MIN_PASSPHRASE) throw usageError(`the passphrase must be at least ${MIN_PASSPHRASE} characters`);
        const again = await promptHidden(`Repeat the passphrase for ${what}: `);
        if (again !== cached) throw usageError("the two passphrases differ", "run the command again");
      }
    } else {
      throw usageError(
        purpose === "encrypt" ? "--encrypt needs a passphrase, and there is no terminal to ask for one" : `${what} is encrypted, and there is no terminal to ask for its passphrase`,
        "pass --passphrase-file FILE (its first line is the passphrase)",
      );
    }
    if (purpose === "encrypt" && cached.length < MIN_PASSPHRASE) {
      throw usageError(`--passphrase-file: the passphrase must be at least ${MIN_PASSPHRASE} characters`);
    }
    return cached;
  };
}

/** Read one line from the terminal with echo off (raw mode); Ctrl-C and Ctrl-D cancel. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let buf = "";
    const wasRaw = input.isRaw;
    const finish = (err?: SkycertError) => {
      input.off("data", onData);
      input.setRawMode(wasRaw);
      input.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003" || ch === "\u0004") return finish(new SkycertError("cancelled at the passphrase prompt"));
        if (ch === "\u007f" || ch === "\b") buf = buf.slice(0, -1);
        else if (ch >= " ") buf += ch;
      }
    };
    input.setRawMode(true);
    input.setEncoding("utf8");
    input.on("data", onData);
    input.resume();
  });
}
