/** Loading an OpenSSL config from disk, `.include` targets included. */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Cnf, type IncludeHost, type IncludeTarget, CnfError, MAX_CNF_BYTES, parseCnf } from "../core/cnf.js";
import { SkycertError } from "../core/errors.js";
import { readInput } from "./files.js";

/** A folder `.include` reads every *.cnf and *.conf in it: as many as a file may have .include lines. */
const MAX_FOLDER_FILES = 64;

export function loadCnf(path: string, label = "cnf"): Cnf {
  const input = readInput(path, label, MAX_CNF_BYTES);
  return parseCnf(input.text, path, includeHost);
}

const includeHost: IncludeHost = {
  env: (name) => process.env[name],
  include(path, from): IncludeTarget {
    let st;
    try {
      st = statSync(path);
    } catch {
      return { kind: "missing" };
    }
    // Read like any input: at most MAX_CNF_BYTES, and a FIFO or device without blocking
    // (`.include /dev/zero` used to exhaust the memory, and a FIFO to hang).
    const read = (p: string) => {
      try {
        const { text } = readInput(p, ".include", MAX_CNF_BYTES);
        return { path: realpathSync(p), text };
      } catch (err) {
        if (err instanceof SkycertError) throw new CnfError(from, err.message);
        throw new CnfError(from, `.include ${p}: ${(err as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : (err as Error).message}`);
      }
    };
    if (st.isDirectory()) {
      // OpenSSL reads *.cnf and *.conf in directory order; sorted, the result does not depend on the file system.
      const names = readdirSync(path).filter((n) => /\.(cnf|conf)$/i.test(n)).sort();
      if (names.length > MAX_FOLDER_FILES) throw new CnfError(from, `.include ${path}: ${names.length} config files in one folder (at most ${MAX_FOLDER_FILES})`);
      return { kind: "dir", path, files: names.map((n) => read(join(path, n))) };
    }
    return { kind: "file", ...read(path) };
  },
};
