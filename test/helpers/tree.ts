/** Snapshots of folder trees, to prove a failed command created or changed nothing. */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/**
 * Hashes of large files by identity and change time: hostile inputs of 17 MB are
 * snapshotted before and after each of hundreds of runs. Any write to a file
 * moves its ctime, so a changed file is hashed again.
 */
const large = new Map<string, string>();
const hashOf = (path: string, st: import("node:fs").BigIntStats) => {
  if (st.size < 1_000_000n) return createHash("sha256").update(readFileSync(path)).digest("hex");
  const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  let h = large.get(id);
  if (!h) large.set(id, (h = createHash("sha256").update(readFileSync(path)).digest("hex")));
  return h;
};

/** Every entry under `root` (itself included): type, mode, and content hash or link target. Never follows a symlink. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false, bigint: true });
    if (!st) return;
    const mode = (Number(st.mode) & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
    else if (st.isFile()) out[rel] = `file ${mode} ${hashOf(path, st)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const name of readdirSync(path).sort()) walk(join(path, name), rel === "." ? name : `${rel}/${name}`);
    } else out[rel] = `other ${mode}`;
  };
  walk(root, ".");
  return out;
}
