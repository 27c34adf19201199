/**
 * Every file skycert reads from a user or writes goes through here, so that:
 * - inputs are read with a bound, and a FIFO or device never hangs a run;
 * - a key is 0400 from the moment it exists (created with its mode under
 *   O_EXCL|O_NOFOLLOW), certificates are 0444, whatever the umask;
 * - nothing is written through a symlink: files are created fresh and renamed over;
 * - a key, its request and its certificate appear together or not at all: they
 *   are staged in a sibling folder that is renamed into place;
 * - nothing existing is replaced without `force`;
 * - what a killed run left (staging folders, temporaries, a folder moved aside)
 *   is cleaned by the next run that holds the folder's lock (fs/lock.ts). Each
 *   temporary is named after its run's pid, and only lock holders write them,
 *   so under the lock every temporary of another pid is a dead run's.
 */
import { accessSync, closeSync, constants, existsSync, fchmodSync, fstatSync, lstatSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { type FileHandle, chmod, link, lstat, mkdir, mkdtemp, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SkycertError, failure, usageError } from "../cli/errors.js";
import { LOCK_NAME, withLock } from "./lock.js";

export { withLock };

export const KEY_MODE = 0o400;
export const CERT_MODE = 0o444;
export const CONFIG_MODE = 0o644;
export const KEY_DIR_MODE = 0o700;

const TMP = ".skycert-tmp-";
const OLD = ".skycert-old-";

export const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, "0")}`;

/** An fs error as one line naming the path, with a remedy where one exists. */
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
// Reading

export interface InputFile {
  path: string;
  text: string;
  bytes: Buffer;
}

/** How long a pipe or device may stay empty before readInput gives up. */
const INPUT_WAIT_MS = 30_000;

/**
 * A file the user named. Missing, unreadable, folder or oversized inputs are
 * usage errors naming `label` and the path. Never more than `maxBytes` is read,
 * so /dev/zero is "too large"; a FIFO or device is opened without blocking, so
 * a FIFO nobody writes to reads as empty instead of hanging, while `<(command)`
 * still works.
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
      if (st.isFile() && n < buf.length) break;
    }
  } finally {
    closeSync(fd);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return { path, bytes, text: bytes.toString("utf8") };
}

/** Why a named file could not be read; validate reports it as a check rather than stopping. */
export type FileRead =
  | { ok: true; bytes: Buffer; mode: number; size: number }
  | { ok: false; problem: "missing" | "directory" | "not-regular" | "empty" | "too-large" | "unreadable"; detail: string; mode?: number };

/** Certificates and keys are a few kilobytes; anything this large is not one. */
export const MAX_PEM_BYTES = 1024 * 1024;

/**
 * One file named by a config, read without trusting it: no folders, devices
 * or FIFOs (opened without blocking and checked again once open), nothing huge.
 */
export function readMaterial(path: string): FileRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, problem: "missing", detail: "" };
    if (code === "ENOTDIR") return { ok: false, problem: "missing", detail: "a parent of the path is a file, not a folder" };
    if (code === "EISDIR") return { ok: false, problem: "directory", detail: "" };
    if (code === "EACCES") return { ok: false, problem: "unreadable", detail: "permission denied" };
    if (code === "ELOOP") return { ok: false, problem: "unreadable", detail: "symlink loop" };
    return { ok: false, problem: "unreadable", detail: (err as Error).message.split("\n")[0]! };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { ok: false, problem: "directory", detail: "", mode: st.mode };
    if (!st.isFile()) return { ok: false, problem: "not-regular", detail: "a device, socket or FIFO", mode: st.mode };
    if (st.size === 0) return { ok: false, problem: "empty", detail: "0 bytes", mode: st.mode };
    if (st.size > MAX_PEM_BYTES) return { ok: false, problem: "too-large", detail: `${st.size} bytes; a certificate or key is a few KB, limit ${MAX_PEM_BYTES}`, mode: st.mode };
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0; ) n += r;
    if (n === 0) return { ok: false, problem: "empty", detail: "0 bytes", mode: st.mode };
    return { ok: true, bytes: buf.subarray(0, n), mode: st.mode, size: n };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: "unreadable", detail: code === "EACCES" ? "permission denied" : (err as Error).message.split("\n")[0]! };
  } finally {
    closeSync(fd);
  }
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
  if (!st.isFile()) throw usageError(`${what} ${path}: ${st.isDirectory() ? "is a directory" : "is a device, socket or FIFO"}, not a key file`);
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw failure(`${what} ${path} is ${mode & 0o044 ? "readable" : "accessible"} by group or others (mode ${octal(mode)}); skycert refuses to use it`, `chmod 400 ${path}, and check who may have copied it`);
  }
}

/** Paths that already exist (symlinks included, dangling or not). */
export function existing(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    try {
      return lstatSync(p, { throwIfNoEntry: false }) !== undefined;
    } catch {
      return false; // under a regular file: nothing there
    }
  });
}

/**
 * Whether the regular file at `path` holds exactly `data`: a file of another
 * size is never read, and at most `data.length + 1` bytes are.
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

// ---------------------------------------------------------------------------
// Writing

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
  path: string;
  data: string | Uint8Array;
  mode: number;
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
    if (code === "EEXIST") return;
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir || depth > 255) throw err;
    await makeDirs(parent, mode, depth + 1);
    await mkdir(dir, { mode }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
}

/** Make `dir` and its parents; a parent that is not a folder is named in the error. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  const notAFolder = () => {
    let st;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch {
      return undefined; // under a regular file (ENOTDIR): the mkdir error says which
    }
    if (!st || st.isDirectory()) return undefined;
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
 * Write the files of one folder (a role's key, request and certificate) so that
 * they appear together or not at all. Other entries of an existing folder are
 * kept. Call it holding the lock of the folder's parent.
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
  try {
    // mkdtemp asks for 0700 but the umask still applies: the set folder is 0700 whatever it is.
    await chmod(stage, KEY_DIR_MODE);
    await Promise.all(files.map((f) => createFile(join(stage, basename(f.path)), f.data, f.mode)));
    const current = await lstat(dir).catch(() => undefined);
    if (!current) {
      await rename(stage, dir);
    } else if (current.isDirectory()) {
      // Under the set folder's own lock: renew replaces files in it under that lock. A folder its owner
      // made read-only (chmod 500) can hold no lock, nor anything renew could be writing: swapped as is.
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
      throw failure(
        `cannot write into ${dir}: it is ${current.isSymbolicLink() ? "a symlink, and skycert never writes through one" : "not a folder"}`,
        current.isSymbolicLink() ? "pass --force to replace the link itself" : "remove it or choose another --out",
      );
    }
    await syncDir(parent);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw fsError(err, dir, "write");
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
 * A folder moved aside that its owner had made read-only (chmod 500) cannot be
 * emptied until it is writable again. Changed through a descriptor opened with
 * O_NOFOLLOW, so a symlink replaced with --force is never followed.
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
      // skycert's temporaries stay behind; the lock is carried so the new folder is locked from its first instant.
      if (entry.name.startsWith(".skycert") && entry.name !== LOCK_NAME) continue;
      if (entry.isDirectory()) subdirs.push(entry.name);
      else await link(join(dir, entry.name), join(stage, entry.name));
    }
  }
  const old = join(dirname(dir), `${OLD}${basename(dir)}-${process.pid}-${Date.now()}`);
  // The lock first: until it is back in `dir`, its holder's mtime refresh finds no lock and gives it up.
  subdirs.sort((a, b) => Number(b === LOCK_NAME) - Number(a === LOCK_NAME));
  await rename(dir, old);
  await rename(stage, dir);
  for (const name of subdirs) await rename(join(old, name), join(dir, name));
  makeRemovable(old);
  await rm(old, { recursive: true, force: true });
}

/**
 * Replace or create one file atomically: the new content goes to a temporary in
 * the same folder, created with its mode, synced, then renamed over the file; a
 * symlink is replaced only with `force` (the link itself, never its target). An
 * existing file keeps its mode unless `exactMode`. Returns false when the
 * content is unchanged (nothing is written). Call it holding the folder's lock.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { mode: number; force: boolean; backup?: boolean; exactMode?: boolean }): Promise<boolean> {
  const current = await lstat(path).catch(() => undefined);
  if (current?.isSymbolicLink() && !opts.force) throw failure(`${path} is a symlink, and skycert never writes through one`, "pass --force to replace the link itself");
  if (current && !current.isSymbolicLink() && !current.isFile()) throw failure(`cannot write ${path}: it is not a regular file`);
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const mode = current?.isFile() && !opts.exactMode ? current.mode & 0o777 : opts.mode;
  if (current?.isFile() && (current.mode & 0o777) === mode && sameContent(path, bytes)) return false;
  await ensureDir(dirname(path));
  dropDeadTemporaries(path);
  const tmp = join(dirname(path), `${TMP}${basename(path)}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await createFile(tmp, bytes, mode);
    if (opts.backup && current?.isFile()) {
      const bakTmp = `${tmp}.bak`;
      await link(path, bakTmp);
      await rename(bakTmp, `${path}.bak`);
      // rename(2) does nothing when both names are links to one file: a run killed after making the
      // backup, before replacing the file, leaves the file and its backup so.
      await rm(bakTmp, { force: true });
    }
    await rename(tmp, path);
    await syncDir(dirname(path));
    return true;
  } catch (err) {
    await rm(tmp, { force: true });
    await rm(`${tmp}.bak`, { force: true });
    throw fsError(err, path, "write");
  }
}

/**
 * The temporaries of `path` a killed run left (another pid's: under the
 * folder's lock, a dead run's), so that a writer whose callers do not
 * `recover` the folder (config set) still cleans up after itself.
 */
function dropDeadTemporaries(path: string): void {
  const name = new RegExp(`^${(TMP + basename(path)).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-[^-]+$`);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const n of names) {
    const m = name.exec(n);
    if (m && Number(m[1]) !== process.pid) rmSync(join(dirname(path), n), { force: true });
  }
}

/** Make the renames in `dir` durable; some file systems refuse fsync on a folder, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// What killed runs left

/** `old` is a folder moved aside by swapInto: put it back unless its replacement is in place. */
function restoreOld(old: string): void {
  const name = basename(old).slice(OLD.length).replace(/-\d+-\d+$/, "");
  const target = join(dirname(old), name);
  const moved = lstatSync(old, { throwIfNoEntry: false });
  if (!moved) return;
  if (lstatSync(target, { throwIfNoEntry: false })) {
    // A symlink replaced with --force: drop the link itself, never what it points to.
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

/** What another run left in `dir` (a staging folder or temporary, a folder moved aside): under the lock, a dead run's. */
function leftByOthers(dir: string): { name: string; kind: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: { name: string; kind: string }[] = [];
  for (const name of names) {
    const m = /^\.skycert-(tmp|old)-.*?-(\d+)-[^-]+$/.exec(name);
    if (m && Number(m[2]) !== process.pid) found.push({ name, kind: m[1]! });
  }
  return found;
}

/** Remove what dead runs left in `dir`. Call it holding the lock that guards `dir`'s writers. */
export function recover(dir: string): string[] {
  const done: string[] = [];
  for (const { name, kind } of leftByOthers(dir)) {
    const path = join(dir, name);
    if (kind === "old") restoreOld(path);
    else rmSync(path, { recursive: true, force: true });
    done.push(path);
  }
  return done;
}

/**
 * `recover` each of `dirs` under `lockDir`'s lock (the one their writers hold),
 * before a run reads what is in them: a folder a killed run moved aside is
 * back first. The lock is taken only when one of them holds what another run
 * left, so a run with nothing to recover locks nothing (its folders may be
 * read-only to it).
 */
export async function recoverUnder(lockDir: string, dirs: readonly string[]): Promise<string[]> {
  if (!dirs.some((d) => leftByOthers(d).length)) return [];
  return withLock(lockDir, async () => dirs.flatMap((d) => recover(d)));
}

/**
 * Clean a set folder this run does not replace (a fleet host skipped, an export
 * set that is unchanged) of what killed runs left in it, their lock included,
 * under its own lock.
 */
export async function tidy(dir: string): Promise<void> {
  let names: string[];
  try {
    if (!lstatSync(dir).isDirectory()) return;
    names = readdirSync(dir);
  } catch {
    return;
  }
  // A dead run's lock too: a run killed while it swapped this folder in leaves its lock inside.
  if (!names.some((n) => n.startsWith(TMP) || n.startsWith(OLD) || n === LOCK_NAME)) return;
  await withLock(dir, async () => recover(dir), 0).catch(() => undefined);
}
