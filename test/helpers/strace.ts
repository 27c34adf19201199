/**
 * Killing skycert at a chosen file-system change, with strace.
 *
 * A reference run is traced with `strace -f -y -e trace=file,desc`; its changes
 * are the calls that succeeded and changed something under the working folder:
 * mkdir, rmdir, rename, link, symlink, unlink, an open that may create
 * (O_CREAT), a write to a file, chmod, utimensat (a lock's mtime), truncate.
 * Killing a run on entering change k leaves the state after change k-1, so
 * killing at each change in turn visits every state the run goes through.
 *
 * strace injects by system call and by its rank among one thread's calls of it
 * (`inject=rename:signal=SIGKILL:when=3`), counted in every thread: the first
 * thread to make its third rename is killed. Node's main thread and its libuv
 * worker (one, with UV_THREADPOOL_SIZE=1: every asynchronous file operation
 * runs there, in a fixed order) make the same calls, so a rank of the worker's
 * may be reached first by the main thread (which opens modules and configs),
 * or by a child process (ansible-inventory). So each run is started with a
 * preload (`node --import`) that first makes the target's call K times on the
 * target's thread (K just enough that no other thread reaches the target's
 * rank plus K), and the kill is at rank plus K. The worker also writes to an
 * eventfd when its loop is not already woken, which depends on timing, so a
 * write's rank drifts: a write is killed at the last other call its thread
 * makes before it, where there is one. Every kill run is traced too, and
 * `killAt` checks which changes completed before the kill (as many as come
 * before the target, all of them the reference run's, the target not among
 * them: three files of a set are written concurrently, in an order that
 * varies), and else tries the next rank, or the rank the target had in a run
 * that went past it. A write that directly follows another write of its
 * thread may stay out of reach; the sweep says which (test/crash.test.ts).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll } from "vitest";
import { BIN, type Run, tool } from "./run.js";
import { recordStreams } from "./streams.js";

export const STRACE = tool("strace", ["-f", "-qq", "-o", "/dev/null", "true"]).code === 0;
export const SWEEP_ENV = { UV_THREADPOOL_SIZE: "1" };

export interface Change {
  /** Position in the reference run's list of changes, from 1. */
  index: number;
  call: string;
  /** Rank of this call among its thread's calls of the same system call. */
  rank: number;
  /** Position of the call in the trace's list of calls. */
  at: number;
  /** The call and its paths, with pids and random suffixes taken out: the same change in another run has the same key. */
  key: string;
  line: string;
}

const PATH_CALLS = new Set(["mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "chmod", "fchmodat", "utimensat", "utimes", "utime", "futimesat", "truncate", "creat"]);
const FD_CALLS = new Set(["write", "pwrite64", "writev", "pwritev", "pwritev2", "fchmod", "ftruncate", "fallocate"]);
const OPEN_CALLS = new Set(["open", "openat", "openat2"]);

export interface Call {
  tid: number;
  call: string;
  args: string;
  result: string;
  line: string;
  rank: number;
}

/** Every call of a `strace -f` trace, unfinished calls joined to their resumption, with their per-thread ranks. */
export function callsOf(trace: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<number, Call>();
  const ranks = new Map<string, number>();
  for (const line of trace.split("\n")) {
    const resumed = /^(\d+) +<\.\.\. (\w+) resumed>(.*)$/.exec(line);
    if (resumed) {
      const c = open.get(Number(resumed[1]));
      if (c && c.call === resumed[2]) {
        const rest = resumed[3]!;
        const eq = rest.lastIndexOf(" = ");
        c.args += rest.slice(0, eq >= 0 ? eq : undefined);
        c.result = eq >= 0 ? rest.slice(eq + 3).trim() : "?";
        c.line += rest;
        open.delete(c.tid);
      }
      continue;
    }
    const m = /^(\d+) +(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const tid = Number(m[1]);
    const rk = `${tid} ${m[2]}`;
    ranks.set(rk, (ranks.get(rk) ?? 0) + 1);
    const c: Call = { tid, call: m[2]!, args: m[3]!, result: "?", line, rank: ranks.get(rk)! };
    if (/ <unfinished \.\.\.>$/.test(line)) {
      c.args = c.args.replace(/ <unfinished \.\.\.>$/, "");
      open.set(tid, c);
    } else {
      const eq = c.args.lastIndexOf(" = ");
      c.result = eq >= 0 ? c.args.slice(eq + 3).trim() : "?";
      c.args = eq >= 0 ? c.args.slice(0, eq) : c.args;
    }
    calls.push(c);
  }
  return calls;
}

/** The paths a call changes: its quoted path arguments, or for a call on a descriptor, the descriptor's path (strace -y). */
function pathsOf(c: Call, cwd: string): string[] {
  if (FD_CALLS.has(c.call)) {
    const fd = /^\d+<([^>]*)>/.exec(c.args);
    return fd ? [fd[1]!] : [];
  }
  return [...c.args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => resolve(cwd, m[1]!));
}

const normalize = (p: string, root: string) => p.replace(root, "ROOT").replace(/(\.skycert-(?:tmp|old)-.*?)-\d+-[^-/]+/g, "$1-*");

export interface Trace {
  calls: Call[];
  /** The calls that succeeded and changed something under the root, in the trace's order. */
  changes: Change[];
}

/** A run's calls and its changes under `root` (its working folder is `cwd`). */
export function readTrace(text: string, root: string, cwd = root): Trace {
  const calls = callsOf(text);
  const changes: Change[] = [];
  calls.forEach((c, at) => {
    const isOpen = OPEN_CALLS.has(c.call);
    if (!PATH_CALLS.has(c.call) && !FD_CALLS.has(c.call) && !(isOpen && /O_CREAT/.test(c.args))) return;
    if (c.result === "?" || /^-1 /.test(c.result)) return;
    const paths = pathsOf(c, cwd);
    if (!paths.some((p) => p === root || p.startsWith(`${root}/`))) return;
    // A write of nothing changes nothing.
    if (FD_CALLS.has(c.call) && c.call.startsWith("write") && c.result === "0") return;
    changes.push({ index: changes.length + 1, call: c.call, rank: c.rank, at, key: `${c.call} ${paths.map((p) => normalize(p, root)).join(" ")}`, line: c.line });
  });
  return { calls, changes };
}

/**
 * The preload: SKYCERT_STRACE_PRELOAD="main|worker CALL K" makes CALL K times,
 * on the main thread (synchronous calls) or on the libuv worker (promises),
 * in a scratch folder outside the working folder, before skycert starts.
 */
const PRELOAD_SOURCE = `
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
const spec = (process.env.SKYCERT_STRACE_PRELOAD || "").split(" ");
const dir = process.env.SKYCERT_STRACE_SCRATCH || "";
delete process.env.SKYCERT_STRACE_PRELOAD;
delete process.env.SKYCERT_STRACE_SCRATCH;
const [where, call, count] = [spec[0], spec[1], Number(spec[2] || 0)];
if (count > 0) {
  // Every op leaves the scratch folder (holding one file, f) as it found it, and makes its call exactly once.
  const f = join(dir, "f");
  const sync = where === "main";
  const pair = async (make, remove, a, b) => { if (sync) { fs[make + "Sync"](a, b); fs[remove + "Sync"](b); } else { await fsp[make](a, b); await fsp[remove](b); } };
  const ops = {
    openat: async () => (sync ? fs.closeSync(fs.openSync("/dev/null", "r")) : (await fsp.open("/dev/null", "r")).close()),
    mkdir: async () => { const d = join(dir, "d"); if (sync) { fs.mkdirSync(d); fs.rmdirSync(d); } else { await fsp.mkdir(d); await fsp.rmdir(d); } },
    rename: async () => (sync ? fs.renameSync(f, f) : fsp.rename(f, f)),
    link: async () => pair("link", "unlink", f, f + "l"),
    symlink: async () => pair("symlink", "unlink", f, f + "s"),
    chmod: async () => (sync ? fs.chmodSync(f, 0o644) : fsp.chmod(f, 0o644)),
    utimensat: async () => (sync ? fs.utimesSync(f, 1, 1) : fsp.utimes(f, 1, 1)),
    fchmod: async () => { const fd = fs.openSync(f, "r"); try { if (sync) fs.fchmodSync(fd, 0o644); else await new Promise((r) => fs.fchmod(fd, 0o644, r)); } finally { fs.closeSync(fd); } },
    statx: async () => (sync ? fs.statSync(f) : fsp.stat(f)),
    fsync: async () => { const fd = fs.openSync(f, "r"); try { if (sync) fs.fsyncSync(fd); else await new Promise((r) => fs.fsync(fd, r)); } finally { fs.closeSync(fd); } },
  };
  Object.assign(ops, { open: ops.openat, rmdir: ops.mkdir, unlink: ops.link, close: ops.openat });
  const op = ops[call];
  if (op) for (let i = 0; i < count; i++) await op();
}
`;
const PRELOAD_DIR = mkdtempSync(join(tmpdir(), "skycert-strace-preload-"));
const PRELOAD = join(PRELOAD_DIR, "preload.mjs");
const SCRATCH = join(PRELOAD_DIR, "scratch");
mkdirSync(SCRATCH);
writeFileSync(PRELOAD, PRELOAD_SOURCE);
writeFileSync(join(SCRATCH, "f"), "");
afterAll(() => rmSync(PRELOAD_DIR, { recursive: true, force: true }));
/** Calls the preload can make K times; a change of another call is killed at its own rank. */
const PRELOADABLE = new Set(["open", "openat", "mkdir", "rmdir", "rename", "link", "unlink", "symlink", "chmod", "utimensat", "fchmod", "statx", "fsync", "close"]);

const straceArgs = (args: string[], traceFile: string, extra: string[]) => ["-f", "-qq", "-y", "-e", "trace=file,desc", "-o", traceFile, ...extra, process.execPath, "--import", pathToFileURL(PRELOAD).href, BIN, ...args];
const straceEnv = (spec: string) => ({ ...SWEEP_ENV, SKYCERT_STRACE_PRELOAD: spec, SKYCERT_STRACE_SCRATCH: SCRATCH });

/** bin/skycert under strace (file and descriptor calls, descriptors shown with their paths), with the preload (`spec`: "main|worker CALL K"). */
export function tracedRun(args: string[], cwd: string, traceFile: string, extra: string[] = [], spec = ""): Run {
  return tool("strace", straceArgs(args, traceFile, extra), { cwd, env: straceEnv(spec) });
}

/** tracedRun without blocking the test process (sweeps run two at a time), its streams recorded like the others. */
export function tracedRunAsync(args: string[], cwd: string, traceFile: string, extra: string[] = [], spec = ""): Promise<Run> {
  const argv = straceArgs(args, traceFile, extra);
  const child = spawn("strace", argv, { cwd, env: { ...process.env, NO_COLOR: "1", COLUMNS: "1000", ...straceEnv(spec) }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      recordStreams(["strace", ...argv], stdout, stderr);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/**
 * Where to kill for the state before `target`: at the target, or for a write
 * (whose rank drifts) at the last other call its thread makes after the
 * previous change, if any; on which thread to preload that call, and how many
 * times (just enough that no other thread or process of the reference run
 * reaches its rank plus that many); and the rank.
 */
export function killPoint(ref: Trace, target: Change): { spec: string; call: string; rank: number } {
  const main = ref.calls[0]!.tid;
  const tid = ref.calls[target.at]!.tid;
  let at = target.at;
  if (target.call.startsWith("write")) {
    const from = target.index >= 2 ? ref.changes[target.index - 2]!.at + 1 : 0;
    for (let j = target.at - 1; j >= from; j--) {
      const c = ref.calls[j]!;
      if (c.tid === tid && PRELOADABLE.has(c.call)) {
        at = j;
        break;
      }
    }
  }
  const call = ref.calls[at]!;
  const others = Math.max(0, ...ref.calls.filter((c) => c.call === call.call && c.tid !== tid).map((c) => c.rank));
  if (others < call.rank || !PRELOADABLE.has(call.call)) return { spec: "", call: call.call, rank: call.rank };
  const k = others - call.rank + 1 + Math.max(10, Math.ceil(others / 5));
  return { spec: `${tid === main ? "main" : "worker"} ${call.call} ${k}`, call: call.call, rank: call.rank + k };
}

export interface Kill {
  run: Run;
  /** How many changes had completed when the run was killed. */
  completed: number;
  attempts: number;
  /** The run was killed with exactly the changes before the target done. */
  landed: boolean;
}

/**
 * Run `args` from the state `reset()` makes, killed before `target` (see
 * killPoint); when the run was killed before it, the next rank, when after
 * it, the rank the target had in that run; at most `tries` runs.
 */
export async function killAt(args: string[], cwd: string, root: string, ref: Trace, target: Change, reset: () => void, tries = target.call.startsWith("write") ? 8 : 5): Promise<Kill> {
  const dir = mkdtempSync(join(tmpdir(), "skycert-strace-"));
  const traceFile = join(dir, "kill.trace");
  // Changes of one thread interleave differently from run to run (three files of a set are written
  // concurrently): the run landed when it was killed after as many changes as come before the target,
  // all of them changes of the reference run, the target not among them.
  const before = ref.changes.slice(0, target.index - 1).map((c) => c.key);
  const possible = ref.changes.map((c) => c.key);
  const lands = (done: Change[]) => {
    if (done.length !== before.length || done.some((c) => c.key === target.key && !before.includes(c.key))) return false;
    const left = [...possible];
    return done.every((c) => {
      const i = left.indexOf(c.key);
      return i >= 0 && left.splice(i, 1).length === 1;
    });
  };
  const point = killPoint(ref, target);
  const tried = new Set<number>();
  let rank = point.rank;
  let last: Kill | undefined;
  try {
    for (let attempt = 1; attempt <= tries; attempt++) {
      tried.add(rank);
      reset();
      // A run strace refused leaves no trace of its own: never judge it by the previous attempt's.
      rmSync(traceFile, { force: true });
      const run = await tracedRunAsync(args, cwd, traceFile, ["-e", `inject=${point.call}:signal=SIGKILL:when=${rank}`], point.spec);
      const done = existsSync(traceFile) ? readTrace(readFileSync(traceFile, "utf8"), root, cwd).changes : [];
      const killed = run.code === 128 || run.code === 137;
      last = { run, completed: done.length, attempts: attempt, landed: killed && lands(done) };
      if (last.landed) return last;
      const past = point.call === target.call ? done.find((c) => c.key === target.key) : undefined;
      const next = past && done.length > before.length ? past.rank : done.length < before.length ? rank + 1 : rank - 1;
      // A rank tried already, or none (ranks count from 1): the next one up (a write's rank drifts upwards
      // with the eventfd writes).
      rank = tried.has(next) || next < 1 ? Math.max(...tried) + 1 : next;
    }
    return last!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
