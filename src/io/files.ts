/**
 * All of skycert's writes go through here, so that:
 * - a key is 0400 from the moment it exists (opened with its mode, O_EXCL|O_NOFOLLOW),
 *   and certificates are 0444, whatever the umask;
 * - nothing is written through a symlink: files are created fresh and renamed over;
 * - a key, its request and its certificate appear together or not at all: they are
 *   staged in a sibling directory that is renamed into place;
 * - nothing existing is replaced without `force`;
 * - two runs on one output folder never interleave (a lock), and what a killed
 *   run left behind is cleaned up by the next one. A set's own folder is locked
 *   too while it is replaced, so that renew (which replaces one file of a set
 *   under that folder's lock) and a re-issue of the set take turns.
 */
import { accessSync, closeSync, constants, existsSync, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { type FileHandle, chmod, link, lstat, mkdir, mkdtemp, open, readdir, rename, rm, unlink } from "node:fs/promises";
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

/** How long a pipe or device may stay empty before readInput gives up (the process cannot be interrupted while it waits). */
const INPUT_WAIT_MS = 30_000;

/**
 * Read a file the user named; missing, unreadable, directory or oversized inputs
 * are usage errors naming `label` and the path. Never more than `maxBytes` is
 * read, so /dev/zero is "too large" rather than a process that fills the
 * memory; a FIFO or device is opened without blocking, so a FIFO nobody writes
 * to reads as empty instead of hanging, while `<(command)` still works.
 */
export function readInput(path: string, label: string, maxBytes = 4 * 1024 * 1024, missing?: () => Error): InputFile {
  const problem = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "ENXIO" ? "a socket, not a file" : (err as Error).message;
    return usageError(`${label} ${path}: ${why}`);
  };
  const tooLarge = (size: string) => usageError(`${label} ${path}: too large (${size} bytes; limit ${maxBytes})`);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw missing && (err as NodeJS.ErrnoException).code === "ENOENT" ? missing() : problem(err);
  }
  if (st.isDirectory()) throw usageError(`${label} ${path}: is a directory, not a file`);
  if (st.isFile() && st.size > maxBytes) throw tooLarge(String(st.size));
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (st.isFile() ? 0 : constants.O_NONBLOCK));
  } catch (err) {
    throw problem(err);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let waited = 0;
  // A regular file is read in one call (validate --fleet reads hundreds of small configs); a pipe in 64 KiB steps.
  const step = st.isFile() ? st.size + 1 : 64 * 1024;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(step, maxBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw problem(err);
        if (waited >= INPUT_WAIT_MS) throw usageError(`${label} ${path}: nothing to read after ${INPUT_WAIT_MS / 1000} seconds`, "give a file, or a pipe that is written to");
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        waited += 20;
        continue;
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes}`);
      chunks.push(buf.subarray(0, n));
      // A regular file reads short only at its end.
      if (st.isFile() && n < buf.length) break;
    }
  } finally {
    closeSync(fd);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return { path, bytes, text: bytes.toString("utf8") };
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them: for inputs
 * already stat'ed as regular files (validate's). It is opened without blocking
 * and checked again once open, so a path swapped for a FIFO or device meanwhile
 * is never waited on, and a file that grows meanwhile is never read past the
 * limit. fs errors are thrown as they are, for the caller to word.
 */
export function readRegularFile(path: string, maxBytes: number): { kind: "ok"; bytes: Buffer } | { kind: "not-regular" } | { kind: "too-large" } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: "not-regular" };
    if (st.size > maxBytes) return { kind: "too-large" };
    // Sized from fstat (a fleet reads hundreds of small files), growing only if the file does,
    // and never past the limit.
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, st.size + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const want = buf.length - n;
      const r = readSync(fd, buf, n, want, null);
      if (r <= 0) break;
      n += r;
      // A regular file reads short only at its end: no second read(2) to be told so.
      if (r < want) break;
    }
    return n > maxBytes ? { kind: "too-large" } : { kind: "ok", bytes: buf.subarray(0, n) };
  } finally {
    closeSync(fd);
  }
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

/**
 * mkdir -p. Not Node's `recursive: true`, which spins forever when mkdir says
 * ENOENT under a parent that exists (a path in /proc, or under a dangling
 * symlink): here a second ENOENT, once the parent exists, is final.
 */
async function makeDirs(dir: string, mode: number, depth = 0): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return; // the caller checks that it is a folder
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir || depth > 255) throw err;
    await makeDirs(parent, mode, depth + 1);
    await mkdir(dir, { mode }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
}

/** Make `dir` and its parents; a parent that is a regular file is named in the error. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  const notAFolder = () => {
    let st;
    try {
      st = statSync(dir);
    } catch {
      return undefined; // missing, or under a regular file (ENOTDIR): the mkdir error says which
    }
    if (st.isDirectory()) return undefined;
    const kind = st.isFile() ? "a regular file" : st.isCharacterDevice() ? "a device" : st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : "not a folder";
    return failure(`cannot use ${dir} as a folder: it is ${kind}`, "choose another path");
  };
  try {
    await makeDirs(dir, mode);
  } catch (err) {
    throw notAFolder() ?? fsError(err, dir, "create folder");
  }
  const problem = notAFolder();
  if (problem) throw problem;
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
    // mkdtemp asks for 0700 but the umask still applies (0377 would leave 0400): the role folder is 0700 whatever it is.
    await chmod(stage, KEY_DIR_MODE);
    await Promise.all(files.map((f) => createFile(join(stage, basename(f.path)), f.data, f.mode)));
    const current = await lstat(dir).catch(() => undefined);
    if (!current) {
      await rename(stage, dir);
    } else if (current.isDirectory()) {
      // Under the folder's own lock (renew replaces files in it under that lock), after removing
      // what killed runs left in it; the lock is carried into the new folder by the swap. A folder
      // this user cannot write in holds no lock, nor anything renew could be writing: swapped as is.
      const swap = () => swapInto(dir, stage, new Set(files.map((f) => basename(f.path))));
      if (writable(dir)) {
        await withLock(dir, async () => {
          recover(dir);
          await swap();
        });
      } else await swap();
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
 * A folder moved aside that its owner had made read-only (chmod 500) cannot be
 * emptied until it is writable again. Changed through a descriptor opened with
 * O_NOFOLLOW, so a symlink (one replaced with --force) is never followed to its target.
 */
function makeRemovable(old: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(old, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    fchmodSync(fd, KEY_DIR_MODE);
  } catch {
    /* a symlink, or not ours to change: the removal says why */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
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
      // skycert's own temporaries stay behind (the caller removed those of dead runs); the lock,
      // held by this run, is carried so that the new folder is locked from its first instant.
      if (entry.name.startsWith(".skycert") && entry.name !== LOCK) continue;
      if (entry.isDirectory()) subdirs.push(entry.name);
      else await link(join(dir, entry.name), join(stage, entry.name));
    }
  }
  const old = join(dirname(dir), `${OLD}${basename(dir)}-${process.pid}-${Date.now()}`);
  temporaries.add(old);
  await rename(dir, old);
  await rename(stage, dir);
  for (const name of subdirs) await rename(join(old, name), join(dir, name));
  makeRemovable(old);
  await rm(old, { recursive: true, force: true });
  temporaries.delete(old);
}

/**
 * Replace or create one file atomically: the new content goes to a temporary in
 * the same folder, created with its mode (O_EXCL|O_NOFOLLOW), synced, then
 * renamed over the file; a symlink is replaced only with `force` (the link
 * itself, never its target). An existing file keeps its mode unless
 * `exactMode` (a renewed certificate is 0444 whatever it was). A killed run
 * leaves the previous file and a temporary that `recover` removes. Returns
 * false when the content is unchanged (nothing is written).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { mode: number; force: boolean; backup?: boolean; exactMode?: boolean },
): Promise<boolean> {
  const current = await lstat(path).catch(() => undefined);
  if (current?.isSymbolicLink() && !opts.force) {
    throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
  }
  if (current && !current.isSymbolicLink() && !current.isFile()) throw failure(`cannot write ${path}: it is not a regular file`);
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const mode = current?.isFile() && !opts.exactMode ? current.mode & 0o777 : opts.mode;
  if (current?.isFile() && (current.mode & 0o777) === mode && sameContent(path, bytes)) return false;
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `${TMP}${basename(path)}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  temporaries.add(tmp);
  try {
    await createFile(tmp, bytes, mode);
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
    await rm(`${tmp}.bak`, { force: true });
    throw fsError(err, path, "write");
  } finally {
    temporaries.delete(tmp);
  }
}

/**
 * Whether the regular file at `path` holds exactly `data`: a file of another
 * size is never read, and at most `data.length + 1` bytes are (a file that grows
 * or is swapped meanwhile cannot make this read without bound).
 */
export function sameContent(path: string, data: Uint8Array): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== data.length) return false;
    const buf = Buffer.alloc(data.length + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0; ) n += r;
    return n === data.length && buf.subarray(0, n).equals(data);
  } catch {
    return false;
  } finally {
    closeSync(fd);
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
/** The locks this run holds: an output folder's, and the set folders' inside it while they are replaced. */
const locksHeld = new Set<string>();

function cleanupNow(): void {
  for (const t of temporaries) {
    if (basename(t).startsWith(OLD)) restoreOld(t);
    else rmSync(t, { recursive: true, force: true });
  }
  temporaries.clear();
  for (const lock of locksHeld) rmSync(lock, { force: true });
  locksHeld.clear();
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
  const moved = lstatSync(old, { throwIfNoEntry: false });
  if (!moved) return;
  if (lstatSync(target, { throwIfNoEntry: false })) {
    // A symlink replaced with --force: drop the link itself, never what it points to
    // (readdir would follow it and move the target's folders into the new set).
    if (!moved.isDirectory()) {
      rmSync(old, { force: true });
      return;
    }
    // The swap completed: move back any sub-folder that had not been carried over yet.
    for (const entry of readdirSync(old, { withFileTypes: true })) {
      if (entry.isDirectory() && !existsSync(join(target, entry.name))) renameSync(join(old, entry.name), join(target, entry.name));
    }
    makeRemovable(old);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(old, target);
  }
}

// ---------------------------------------------------------------------------
// Which runs are alive. A lock or temporary names its run's pid; on Linux the
// lock also holds the process start time, so a pid reused by another process
// and a killed run its parent has not reaped yet (a zombie) both count as gone.

interface Holder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), where /proc exists. */
  start?: string;
}

function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return fields.length > 19 ? { state: fields[0]!, start: fields[19]! } : undefined;
}

const self: Holder = { pid: process.pid, start: procStat(process.pid)?.start };

function alive(holder: Holder): boolean {
  const { pid } = holder;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return holder.start === undefined || holder.start === self.start;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(pid);
  if (stat && (stat.state === "Z" || stat.state === "X")) return false;
  if (stat && holder.start !== undefined && stat.start !== holder.start) return false;
  return true;
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
    if (!m) continue;
    const path = join(dir, name);
    const pid = Number(m[2]);
    // Ours only while this run is using it (a dead run may have had our pid).
    if (pid === process.pid ? temporaries.has(path) : alive({ pid })) continue;
    if (m[1] === "old") restoreOld(path);
    else rmSync(path, { recursive: true, force: true });
    done.push(path);
  }
  return done;
}

/**
 * Clean a set folder this run does not replace (a fleet host skipped, an export
 * set that is unchanged): what killed runs left in it, and a lock whose run is
 * gone, taken over and released the way withLock does. A folder that a live run
 * holds is left alone, and a folder with nothing of skycert's in it is not touched.
 */
export async function tidy(dir: string): Promise<void> {
  let names: string[];
  try {
    if (!lstatSync(dir).isDirectory()) return;
    names = readdirSync(dir);
  } catch {
    return;
  }
  if (!names.some((n) => n.startsWith(".skycert"))) return;
  await withLock(dir, async () => recover(dir), 0).catch(() => undefined);
}

// ---------------------------------------------------------------------------
// The lock: `<dir>/.skycert.lock` holds "<pid> <start>\n". It is made complete in a
// temporary file and linked into place, so it is never seen empty, and link(2)
// fails when a lock exists, even a dangling symlink.

const lockLine = (h: Holder) => `${h.pid}${h.start === undefined ? "" : ` ${h.start}`}\n`;

/** Make `path` hold this run's lock line, atomically; false when it exists. */
async function createLockFile(dir: string, path: string): Promise<boolean> {
  const tmp = join(dir, `${TMP}lock-${process.pid}-${Math.random().toString(36).slice(2)}`);
  temporaries.add(tmp);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await fh.writeFile(lockLine(self));
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  } catch (err) {
    throw fsError(err, path, "create lock");
  } finally {
    await rm(tmp, { force: true });
    temporaries.delete(tmp);
  }
}

type LockState = { kind: "gone" } | { kind: "held"; holder: Holder | undefined; ino: number; text: string };

/** What is at `path` now, read without following a symlink. */
async function readLock(path: string): Promise<LockState> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "gone" };
    if (code === "ELOOP") throw failure(`${path} is a symlink, not a skycert lock`, "remove it");
    throw fsError(err, path, "read lock");
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw failure(`${path} is not a regular file, so not a skycert lock`, "remove it");
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(64), 0, 64, 0);
    const text = buffer.subarray(0, bytesRead).toString("latin1");
    const m = /^(\d+)(?: (\d+))?\n$/.exec(text);
    return { kind: "held", holder: m ? { pid: Number(m[1]), ...(m[2] ? { start: m[2] } : {}) } : undefined, ino: st.ino, text };
  } finally {
    await fh.close();
  }
}

/**
 * Remove the lock at `path` if it is still the dead run's lock read as `seen`.
 * Breakers take turns through `<path>.break`, so that two runs that both found
 * the stale lock cannot remove the lock one of them has just taken. (The guard
 * is held for a few system calls; one left by a run killed inside them is gone
 * with its holder.)
 */
async function breakStaleLock(dir: string, path: string, seen: Extract<LockState, { kind: "held" }>): Promise<void> {
  const guard = `${path}.break`;
  if (!(await createLockFile(dir, guard))) {
    const g = await readLock(guard);
    if (g.kind === "held" && g.holder && !alive(g.holder)) await rm(guard, { force: true });
    return;
  }
  try {
    const now = await readLock(path);
    if (now.kind === "held" && now.ino === seen.ino && now.text === seen.text) await unlink(path);
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Run `fn` holding `<dir>/.skycert.lock`. A second run waits up to `waitMs` for
 * the first, then refuses; a lock whose process is gone is taken over.
 * (All of it is asynchronous file-system work, like the writes it guards.)
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, waitMs = lockWaitMs()): Promise<T> {
  await ensureDir(dir);
  const path = join(dir, LOCK);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await createLockFile(dir, path)) {
      locksHeld.add(path);
      // A breaker killed inside its turn left its guard: gone with its holder, so remove it.
      const guard = await readLock(`${path}.break`).catch(() => undefined);
      if (guard?.kind === "held" && guard.holder && !alive(guard.holder)) await rm(`${path}.break`, { force: true });
      break;
    }
    const state = await readLock(path);
    if (state.kind === "held" && state.holder && !alive(state.holder)) {
      await breakStaleLock(dir, path, state);
      continue;
    }
    if (Date.now() >= deadline) {
      const holder = state.kind === "held" ? state.holder : undefined;
      if (state.kind === "held" && !holder) throw failure(`${path} exists but does not name a skycert run`, `if no skycert is running, remove ${path}`);
      throw failure(`another skycert run${holder ? ` (pid ${holder.pid})` : ""} is writing ${dir}`, `wait for it to finish; if no skycert is running, remove ${path}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
    locksHeld.delete(path);
  }
}

/** SKYCERT_LOCK_WAIT_MS, else 5 seconds. */
function lockWaitMs(): number {
  const raw = process.env.SKYCERT_LOCK_WAIT_MS;
  if (raw === undefined || raw === "") return 5000;
  if (!/^\d+$/.test(raw)) throw usageError(`SKYCERT_LOCK_WAIT_MS=${JSON.stringify(raw)}: not a whole number of milliseconds`);
  return Number(raw);
}
