/**
 * Reading a private key skycert signs with (a CA key) or renews for (a role key):
 * PEM (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8 or legacy Proc-Type encryption).
 * Errors name the file, never its content or the passphrase.
 */
import { type KeyObject, createPrivateKey } from "node:crypto";
import { lstatSync, statSync } from "node:fs";
import { failure, usageError } from "../core/errors.js";
import { parsePem, pemProblemText } from "../core/pem.js";
import { readInput } from "./files.js";
import type { PassphraseSource } from "./passphrase.js";

const KEY_LABELS = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]);

export interface LoadedKey {
  key: KeyObject;
  encrypted: boolean;
}

/** Fails when group or others have any access to `path` (as certstrap and ssh refuse such keys). */
export function requirePrivateMode(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`${what} ${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message}`);
  }
  // (chmod 400 is no remedy for a folder or a device.)
  if (!st.isFile()) throw usageError(`${what} ${path}: ${st.isDirectory() ? "is a directory" : "is a device, socket or FIFO"}, not a key file`);
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw failure(
      `${what} ${path} is ${mode & 0o044 ? "readable" : "accessible"} by group or others (mode 0${mode.toString(8)}); skycert refuses to use it`,
      `chmod 400 ${path}, and check who may have copied it`,
    );
  }
}

export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether the PEM in `text` is an encrypted private key, without decrypting it. */
export function pemKeyEncrypted(text: string): boolean {
  const block = parsePem(text).blocks.find((b) => KEY_LABELS.has(b.label));
  return block !== undefined && (block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers["Proc-Type"] ?? ""));
}

/**
 * Load the private key in `path`. An encrypted key asks `passphrase` for its
 * passphrase (a file or a prompt); without one it is an error naming the flag.
 */
export async function readPrivateKey(path: string, what: string, passphrase?: PassphraseSource, opts: { requirePrivate?: boolean } = {}): Promise<LoadedKey> {
  const input = readInput(path, what, 1024 * 1024);
  if (input.bytes.length === 0) throw usageError(`${what} ${path}: the file is empty`);
  const { blocks, problem } = parsePem(input.text);
  const block = blocks.find((b) => KEY_LABELS.has(b.label));
  if (!block) {
    const found = blocks.map((b) => b.label).join(", ");
    throw usageError(`${what} ${path}: no PEM private key in it${found ? ` (found ${found})` : problem.kind !== "none" ? ` (${pemProblemText(problem)})` : ""}`);
  }
  // Checked once the file is known to be a key: "chmod 400" is no remedy for a certificate passed as --key.
  if (opts.requirePrivate) requirePrivateMode(path, what);
  const encrypted = block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers["Proc-Type"] ?? "");
  if (!encrypted) {
    try {
      return { key: createPrivateKey(input.text), encrypted };
    } catch (err) {
      throw usageError(`${what} ${path}: not a usable private key (${firstLine(err)})`);
    }
  }
  if (!passphrase) throw failure(`${what} ${path} is encrypted`, "skycert reads encrypted keys only for a CA (--ca with --passphrase-file)");
  const secret = await passphrase("decrypt", `${what} ${path}`);
  try {
    return { key: createPrivateKey({ key: input.text, format: "pem", passphrase: secret }), encrypted };
  } catch {
    // OpenSSL reports a wrong passphrase as a bad decrypt; never echo what was tried.
    throw failure(`cannot decrypt ${what} ${path}: wrong passphrase`, "check --passphrase-file, or type the passphrase the key was encrypted with");
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}
