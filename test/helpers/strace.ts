/**
 * Killing skycert at a chosen file-system change, with strace. strace counts
 * calls per thread and per system call, so each change is named by its system
 * call and its rank among that thread's calls of it; with one libuv worker,
 * every asynchronous file operation runs on one thread, in a fixed order.
 */
import { BIN, tool } from "./run.js";

export const STRACE = tool("strace", ["-f", "-qq", "-o", "/dev/null", "true"]).code === 0;
export const CHANGES = "rename,renameat,renameat2,link,linkat,unlink,unlinkat,rmdir,mkdir,mkdirat";
export const SWEEP_ENV = { UV_THREADPOOL_SIZE: "1", SKYCERT_LOCK_WAIT_MS: "2000" };

/** bin/skycert under strace, tracing the file-system changes (plus `straceArgs`, e.g. an injected kill). */
export function tracedRun(args: string[], cwd: string, straceArgs: string[]) {
  return tool("strace", ["-f", "-qq", "-e", `trace=${CHANGES}`, ...straceArgs, process.execPath, BIN, ...args], { cwd, env: SWEEP_ENV });
}

/**
 * The changes of one run: system call and its rank on its thread, with the line
 * for messages. With `changedOnly`, calls that failed (a mkdir of a folder that
 * exists) are left out: they changed nothing, so they are not kill points.
 */
export function changesOf(trace: string, changedOnly = false): { call: string; rank: number; line: string }[] {
  const ranks = new Map<string, number>();
  return trace
    .split("\n")
    .map((line) => /^(\d+) +(\w+)\(/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const key = `${m[1]} ${m[2]}`;
      ranks.set(key, (ranks.get(key) ?? 0) + 1);
      return { call: m[2]!, rank: ranks.get(key)!, line: m.input };
    })
    .filter((c) => !changedOnly || !/ = -1 E/.test(c.line));
}
