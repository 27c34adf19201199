/** Snapshots of folder trees, to prove a failed command created or changed nothing. */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** Every entry under `root` (itself included): type, mode, and content hash or link target. Never follows a symlink. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
    else if (st.isFile()) out[rel] = `file ${mode} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const name of readdirSync(path).sort()) walk(join(path, name), rel === "." ? name : `${rel}/${name}`);
    } else out[rel] = `other ${mode}`;
  };
  walk(root, ".");
  return out;
}
