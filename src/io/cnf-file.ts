/** Loading an OpenSSL config from disk, `.include` targets included. */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Cnf, type IncludeHost, type IncludeTarget, CnfError, MAX_CNF_BYTES, parseCnf } from "../core/cnf.js";
import { readInput } from "./files.js";

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
    const read = (p: string) => {
      try {
        if (statSync(p).size > MAX_CNF_BYTES) throw new CnfError(from, `.include ${p}: file is too large`);
        return { path: realpathSync(p), text: readFileSync(p, "utf8") };
      } catch (err) {
        if (err instanceof CnfError) throw err;
        throw new CnfError(from, `.include ${p}: ${(err as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : (err as Error).message}`);
      }
    };
    if (st.isDirectory()) {
      // OpenSSL reads *.cnf and *.conf in directory order; sorted, the result does not depend on the file system.
      const names = readdirSync(path).filter((n) => /\.(cnf|conf)$/i.test(n)).sort();
      return { kind: "dir", path, files: names.map((n) => read(join(path, n))) };
    }
    return { kind: "file", ...read(path) };
  },
};
