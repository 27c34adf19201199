/**
 * Replacing one existing file (renew's certificate) atomically with an exact
 * mode: the new content goes to a temporary in the same folder, created with
 * the mode (O_EXCL|O_NOFOLLOW, never chmod'ed down), synced, then renamed over
 * the old file. A killed run leaves the old file and a temporary named so that
 * files.ts's recover() removes it on the next run; an interrupted one removes
 * it on exit.
 */
import { closeSync, constants, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeSync, fchmodSync, fstatSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { failure } from "../core/errors.js";
import { fsError } from "./files.js";

const pending = new Set<string>();
process.on("exit", () => {
  for (const p of pending) rmSync(p, { force: true });
});

export function replaceFile(path: string, data: string, mode: number, opts: { replaceSymlink: boolean }): void {
  const current = lstatSync(path, { throwIfNoEntry: false });
  if (current?.isSymbolicLink() && !opts.replaceSymlink) {
    throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself with the renewed file");
  }
  if (current && !current.isFile() && !current.isSymbolicLink()) throw failure(`cannot replace ${path}: it is not a regular file`);
  // Same pattern as files.ts temporaries: .skycert-tmp-<name>-<pid>-<random>.
  const tmp = join(dirname(path), `.skycert-tmp-${basename(path)}-${process.pid}-${randomBytes(6).toString("hex")}`);
  pending.add(tmp);
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      // A umask can only remove bits: add back what it removed (never more than `mode`).
      if ((fstatSync(fd).mode & 0o777) !== mode) fchmodSync(fd, mode);
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    pending.delete(tmp);
    try {
      const dfd = openSync(dirname(path), constants.O_RDONLY);
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      /* best effort */
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    pending.delete(tmp);
    throw fsError(err, path, "replace");
  }
}
