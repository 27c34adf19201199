/**
 * Running skycert and the real tools it is checked against. Every stdout and
 * stderr seen here is appended to the run's stream log (see streams.ts), which
 * global-setup's teardown greps for private keys and test passphrases.
 */
import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect } from "vitest";
import { recordStreams } from "./streams.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin", "skycert");
export const SHARED = resolve(ROOT, "..", "shared");
export const SEED_CNF = join(SHARED, "seed", "skydive-openssl.cnf");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Run {
  // SIGKILL on timeout: a CLI blocked in a system call with a SIGTERM handler would never die, and hang the suite.
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 256 << 20, killSignal: "SIGKILL", ...opts, env: { ...process.env, NO_COLOR: "1", COLUMNS: "1000", ...(opts.env ?? {}) } });
  const result = { code: r.status ?? (r.signal ? 128 : 1), stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  recordStreams([cmd, ...args], result.stdout, result.stderr);
  if (r.error) throw r.error;
  return result;
}

/** Any other program, recorded like the rest. */
export function tool(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Run {
  return run(cmd, args, opts);
}

/** bin/skycert with `args` in `cwd`. */
export function skycert(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
  return run(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: opts.env, input: opts.input });
}

export function openssl(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  return run("openssl", args, { cwd: opts.cwd, input: opts.input, env: opts.env });
}

export function sh(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  return run("bash", ["-euo", "pipefail", "-c", script], { cwd: opts.cwd, env: opts.env });
}

/** A scratch folder removed after the test file. */
export function scratch(prefix = "skycert-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fails the test with the tool's output when it did not exit 0. */
export function ok(r: Run, what = "command"): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/**
 * The one line a failed run printed on stderr, for the error contract: the exit
 * code is `code`, stderr is exactly one line ending in a line break, and no
 * stack trace came with it.
 */
export function oneLine(r: Run, code: number): string {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.endsWith("\n"), r.stderr).toBe(true);
  const lines = r.stderr.slice(0, -1).split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}
