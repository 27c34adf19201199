/**
 * All of skycert's writes go through here, so that:
 * - a key is 0400 from the moment it exists (opened with its mode, O_EXCL|O_NOFOLLOW),
 *   and certificates are 0444, whatever the umask;
 * - nothing is written through a symlink: files are created fresh and renamed over;
 * - a key, its request and its certificate appear together or not at all: they are
 *   staged in a sibling directory that is renamed into place;
 * - nothing existing is replaced without `force`;
 * - two runs on one output folder never interleave (a lock), and what a killed
 *   run left behind is cleaned up by the next one.
 */
import { closeSync, constants, existsSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { type FileHandle, link, lstat, mkdir, mkdtemp, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SkycertError, failure, usageError } from "../core/errors.js";

export const KEY_MODE = 0o400;
export const CERT_MODE = 0o444;
export const KEY_DIR_MODE = 0o700;

const TMP = ".skycert-tmp-";
const OLD = ".skycert-old-";
const LOCK = ".skycert.lock";

/** Translate an fs error into one line naming the path, with a remedy where one exists. */
export function fsError(err: unknown, path: string, doing: string): SkycertError {
  if (err instanceof SkycertError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const text: Record<string, [string, string?]> = {
    ENOENT: ["no such file or directory"],
    EACCES: ["permission denied", "check the folder's owner and mode, or choose another --out"],
    EPERM: ["operation not permitted", "check the folder's owner and mode, or choose another --out"],
    ENOTDIR: ["a parent of this path is a regular file, not a folder", "choose a path whose parents are folders"],
    EISDIR: ["is a directory"],
    EROFS: ["read-only file system", "choose another --out"],
    ENOSPC: ["no space left on device"],
    EEXIST: ["already exists", "pass --force to replace it"],
    ELOOP: ["is a symlink, and skycert never writes through one", "pass --force to replace the link itself"],
    ENAMETOOLONG: ["name too long"],
  };
  const [what, remedy] = (code && text[code]) || [(err as Error)?.message ?? String(err)];
  return new SkycertError(`cannot ${doing} ${path}: ${what}`, { exitCode: 1, remedy, cause: err });
}

// ---------------------------------------------------------------------------
// Reading inputs

export interface InputFile {
  path: string;
  text: string;
  bytes: Buffer;
}

/** Read a file the user named; missing, unreadable, directory or oversized inputs are usage errors naming `label` and the path. */
export function readInput(path: string, label: string, maxBytes = 4 * 1024 * 1024): InputFile {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`${label} ${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message}`);
  }
  if (st.isDirectory()) throw usageError(`${label} ${path}: is a directory, not a file`);
  if (st.size > maxBytes) throw usageError(`${label} ${path}: too large (${st.size} bytes; limit ${maxBytes})`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`${label} ${path}: ${code === "EACCES" ? "permission denied" : (err as Error).message}`);
  }
  return { path, bytes, text: bytes.toString("utf8") };
}

// ---------------------------------------------------------------------------
// Writing one new file

/**
 * Create `path` (which must not exist) with `mode` and `data`, never following a
 * symlink. The mode is given to open(2); fchmod only adds back what a umask removed.
 */
async function createFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    if (((await fh.stat()).mode & 0o777) !== mode) await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    throw fsError(err, path, "write");
  } finally {
    await fh?.close();
  }
}

export interface FileSpec {
  /** Final path. */
  path: string;
  data: string | Uint8Array;
  mode: number;
}

/** Paths of `files` that already exist (symlinks included, dangling or not). */
export function existing(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

/** Make `dir` and its parents; a parent that is a regular file is named in the error. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    throw fsError(err, dir, "create folder");
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw failure(`cannot use ${dir}: it is not a folder`);
}

/**
 * Write a set of files that live in one folder (a role's key, request and
 * certificate) so that they appear together or not at all. Other entries of an
 * existing folder are kept.
 */
export async function writeSet(dir: string, files: readonly FileSpec[], opts: { force: boolean }): Promise<void> {
  if (files.some((f) => dirname(f.path) !== dir)) throw new Error("writeSet: files must be in one folder");
  if (!opts.force) {
    const clash = existing(files.map((f) => f.path));
    if (clash.length) throw failure(`${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""}`, "pass --force to replace, or choose another --out");
  }
  const parent = dirname(dir);
  await ensureDir(parent);
  let stage: string;
  try {
    stage = await mkdtemp(join(parent, `${TMP}${basename(dir)}-${process.pid}-`));
  } catch (err) {
    throw fsError(err, parent, "write in");
  }
  temporaries.add(stage);
  try {
    await Promise.all(files.map((f) => createFile(join(stage, basename(f.path)), f.data, f.mode)));
    const current = await lstat(dir).catch(() => undefined);
    if (!current) {
      await rename(stage, dir);
    } else if (current.isDirectory()) {
      await swapInto(dir, stage, new Set(files.map((f) => basename(f.path))));
    } else if (current.isSymbolicLink() && opts.force) {
      await swapInto(dir, stage, new Set(), false);
    } else {
      throw failure(`cannot write into ${dir}: it is ${current.isSymbolicLink() ? "a symlink, and skycert never writes through one" : "not a folder"}`, current.isSymbolicLink() ? "pass --force to replace the link itself" : "remove it or choose another --out");
    }
    syncDir(parent);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw fsError(err, dir, "write");
  } finally {
    temporaries.delete(stage);
  }
}

/**
 * Replace folder `dir` with `stage`, carrying over entries skycert does not own
 * (hard links, so nothing is copied or lost). The two renames are adjacent; if a
 * run dies between them, `recover` puts the previous folder back.
 */
async function swapInto(dir: string, stage: string, owned: Set<string>, carry = true): Promise<void> {
  const subdirs: string[] = [];
  if (carry) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (owned.has(entry.name)) continue;
      if (entry.isDirectory()) subdirs.push(entry.name);
      else await link(join(dir, entry.name), join(stage, entry.name));
    }
  }
  const old = join(dirname(dir), `${OLD}${basename(dir)}-${process.pid}-${Date.now()}`);
  temporaries.add(old);
  await rename(dir, old);
  await rename(stage, dir);
  for (const name of subdirs) await rename(join(old, name), join(dir, name));
  await rm(old, { recursive: true, force: true });
  temporaries.delete(old);
}

/** Replace or create one file atomically. Returns false when the content is unchanged. */
export async function writeFileAtomic(
  path: string,
  data: string,
  opts: { mode: number; force: boolean; backup?: boolean },
): Promise<boolean> {
  const current = await lstat(path).catch(() => undefined);
  if (current?.isSymbolicLink() && !opts.force) {
    throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
  }
  if (current && !current.isSymbolicLink() && !current.isFile()) throw failure(`cannot write ${path}: it is not a regular file`);
  if (current?.isFile() && readFileSync(path, "utf8") === data) return false;
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `${TMP}${basename(path)}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  temporaries.add(tmp);
  try {
    await createFile(tmp, data, current?.isFile() ? current.mode & 0o777 : opts.mode);
    if (opts.backup && current?.isFile()) {
      const bak = `${path}.bak`;
      const bakTmp = `${tmp}.bak`;
      await link(path, bakTmp);
      await rename(bakTmp, bak);
    }
    await rename(tmp, path);
    syncDir(dirname(path));
    return true;
  } catch (err) {
    await rm(tmp, { force: true });
    throw fsError(err, path, "write");
  } finally {
    temporaries.delete(tmp);
  }
}

/** Make the renames in `dir` durable; some file systems refuse fsync on a folder, which is fine. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

// ---------------------------------------------------------------------------
// Interruption: temporaries of this run are removed on SIGINT/SIGTERM; those of
// a killed run (kill -9) are removed by the next run, under the lock.

const temporaries = new Set<string>();
let lockHeld: string | undefined;

function cleanupNow(): void {
  for (const t of temporaries) {
    if (basename(t).startsWith(OLD)) restoreOld(t);
    else rmSync(t, { recursive: true, force: true });
  }
  temporaries.clear();
  if (lockHeld) rmSync(lockHeld, { force: true });
  lockHeld = undefined;
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.once(signal, () => {
    cleanupNow();
    process.exit(code);
  });
}

/** `old` is a folder moved aside by swapInto: put it back unless its replacement is in place. */
function restoreOld(old: string): void {
  const name = basename(old).slice(OLD.length).replace(/-\d+-\d+$/, "");
  const target = join(dirname(old), name);
  if (existsSync(target)) {
    // The swap completed: move back any sub-folder that had not been carried over yet.
    for (const entry of readdirSync(old, { withFileTypes: true })) {
      if (entry.isDirectory() && !existsSync(join(target, entry.name))) renameSync(join(old, entry.name), join(target, entry.name));
    }
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(old, target);
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove what dead runs left in `dir`: staging folders, temporary files, folders moved aside. */
export function recover(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const done: string[] = [];
  for (const name of names) {
    const m = /^\.skycert-(tmp|old)-.*?-(\d+)-[^-]+$/.exec(name);
    if (!m || alive(Number(m[2]))) continue;
    const path = join(dir, name);
    if (m[1] === "old") restoreOld(path);
    else rmSync(path, { recursive: true, force: true });
    done.push(path);
  }
  return done;
}

/**
 * Run `fn` holding `<dir>/.skycert.lock`. A second run waits up to `waitMs` for
 * the first, then refuses; a lock whose process is gone is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, waitMs = Number(process.env.SKYCERT_LOCK_WAIT_MS ?? 5000)): Promise<T> {
  await ensureDir(dir);
  const path = join(dir, LOCK);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      lockHeld = path;
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fsError(err, path, "create lock");
    }
    let holder = NaN;
    try {
      holder = parseInt(readFileSync(path, "utf8"), 10);
    } catch {
      /* vanished or unreadable: retry */
    }
    if (!Number.isNaN(holder) && !alive(holder)) {
      try {
        unlinkSync(path);
      } catch {
        /* another run took it over first */
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw failure(
        `another skycert run${Number.isNaN(holder) ? "" : ` (pid ${holder})`} is writing ${dir}`,
        `wait for it to finish; if no skycert is running, remove ${path}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
    lockHeld = undefined;
  }
}
