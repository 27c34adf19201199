/**
 * Where a CA lives on disk: the folder layout `init ca` makes and what `--ca`
 * may name. Apart from ops/ca.ts (which signs), so that readers of a fleet find
 * its CA without loading the issuing code.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { usageError } from "../core/errors.js";
import { parsePem } from "../core/pem.js";
import { readInput } from "./files.js";

export const CA_FOLDER = "ca";

/** Where `--ca` points: a CA certificate file, a folder holding one, or a folder whose `ca/` holds one. */
export function findCaCert(spec: string, cwd: string, flag = "--ca"): string {
  const path = resolve(cwd, spec);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw usageError(`${flag} ${spec}: no such file or folder`, "make a CA with skycert init ca --out DIR, then pass --ca DIR");
  }
  if (st.isFile()) return path;
  if (!st.isDirectory()) throw usageError(`${flag} ${spec}: a device, socket or FIFO, not a CA certificate or folder`, "pass the ca/ folder skycert init ca made, or the CA certificate file");
  let dir = path;
  try {
    if (statSync(join(path, CA_FOLDER)).isDirectory()) dir = join(path, CA_FOLDER);
  } catch {
    /* DIR itself */
  }
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.(crt|pem)$/i.test(n) && !n.startsWith(".")).sort();
  } catch (err) {
    throw usageError(`${flag} ${spec}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const cas = names.filter((n) => {
    try {
      const block = parsePem(readInput(join(dir, n), flag).text).blocks.find((b) => b.label === "CERTIFICATE");
      return block !== undefined && new X509Certificate(block.der).ca;
    } catch {
      return false;
    }
  });
  if (cas.length === 0) {
    throw usageError(`${flag} ${spec}: no CA certificate in ${dir}`, "make one with skycert init ca --out DIR, or pass the CA certificate file itself");
  }
  if (cas.length > 1) throw usageError(`${flag} ${spec}: several CA certificates in ${dir} (${cas.join(", ")})`, "pass the one to use as a file: --ca DIR/NAME.crt");
  return join(dir, cas[0]!);
}

/** The key beside a certificate: same stem, `.key`. */
export function keyBeside(certPath: string): string {
  return join(dirname(certPath), `${basename(certPath).replace(/\.(crt|pem|cer)$/i, "")}.key`);
}
