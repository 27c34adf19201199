/**
 * Crash and concurrency safety of `init` (src/io/files.ts): kill -9 at any
 * moment leaves each role folder absent, previous, or a complete new set whose
 * key, CSR and certificate hold one public key; the next run cleans up; two runs
 * on one folder never write at the same time; a killed run's lock is taken over.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { recover, withLock } from "../src/io/files.js";
import { BIN, ROOT, ok, openssl, scratch, skycert, tool } from "./helpers/run.js";
import { recordStreams } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";
import { CHANGES, STRACE, changesOf, tracedRun } from "./helpers/strace.js";

const STEM = { analyzer: "analyzer.domain.com", agent: "agent.domain.com" } as const;
type Role = keyof typeof STEM;
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

type SetState = { kind: "absent" } | { kind: "symlink" } | { kind: "set"; fingerprint: string };

/** The role's folder in `out`: absent, a symlink, or a complete set checked with openssl; anything else fails the test. */
function setState(out: string, role: Role, folder = join(out, role)): SetState {
  const st = lstatSync(folder, { throwIfNoEntry: false });
  if (!st) return { kind: "absent" };
  if (st.isSymbolicLink()) return { kind: "symlink" };
  const key = join(folder, `${STEM[role]}.key`);
  const csr = join(folder, `${STEM[role]}.csr`);
  const crt = join(folder, `${STEM[role]}.crt`);
  expect([key, csr, crt].filter(existsSync), `${folder} holds a partial set`).toEqual([key, csr, crt]);
  const fromKey = ok(openssl(["pkey", "-in", key, "-pubout"])).stdout;
  expect(ok(openssl(["x509", "-in", crt, "-noout", "-pubkey"])).stdout, `${crt} does not match its key`).toBe(fromKey);
  expect(ok(openssl(["req", "-in", csr, "-noout", "-pubkey"])).stdout, `${csr} does not match its key`).toBe(fromKey);
  expect([mode(folder), mode(key), mode(csr), mode(crt)]).toEqual(["700", "400", "444", "444"]);
  return { kind: "set", fingerprint: ok(openssl(["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"])).stdout.trim() };
}

const leftovers = (out: string) => readdirSync(out).filter((n) => n.startsWith(".skycert"));

describe("kill -9 at random moments (scripts/kill-loop.mjs, 20 runs)", () => {
  it("never leaves a key without its certificate, and the next run cleans up", () => {
    const dir = scratch("skycert-kill-loop-");
    const r = tool(process.execPath, [join(ROOT, "scripts", "kill-loop.mjs"), "--runs", "20", "--dir", dir], { timeout: 600_000 });
    expect(r.stderr, r.stdout).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(summary.runs).toBe(20);
    expect(summary.killed + summary.completed).toBe(20);
    // The script's final run left a clean folder: check it independently.
    const out = join(dir, "out");
    expect(leftovers(out)).toEqual([]);
    for (const role of ["analyzer", "agent"] as const) expect(setState(out, role).kind).toBe("set");
  });
});

/**
 * Deterministic crash points: a first traced run lists init's file-system
 * changes (mkdir, link, rename, unlink, rmdir); then, for each of them, a run is
 * killed by strace (SIGKILL on entering that system call). strace counts calls
 * per thread and per system call, so each change is named by its system call
 * and its rank among that thread's calls of it; with one libuv worker, every
 * asynchronous file operation of init runs on one thread, in a fixed order.
 */

describe.skipIf(!STRACE)("kill -9 at every file-system change of init (strace)", () => {
  /**
   * Restore `baseline` into `out`, kill `init` at change n, check the state as the
   * kill left it and after recover() (what the next run does first under the lock).
   * Returns the states seen right after each kill.
   */
  async function sweep(
    work: string,
    baseline: string,
    args: string[],
    roles: Role[],
    check: (out: string) => void,
    opts: { only?: (line: string) => boolean; nextRun?: boolean } = {},
  ): Promise<string[]> {
    const out = join(work, "out");
    const previous = Object.fromEntries(roles.map((r) => [r, setState(baseline, r)]));
    const reset = () => {
      rmSync(out, { recursive: true, force: true });
      cpSync(baseline, out, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    };
    reset();
    const traceFile = join(work, "reference.trace");
    ok(tracedRun(args, work, ["-o", traceFile]), "reference run");
    const changes = changesOf(readFileSync(traceFile, "utf8")).filter((c) => !opts.only || opts.only(c.line));
    expect(changes.length).toBeGreaterThan(3);
    const seen: string[] = [];
    for (const [i, change] of changes.entries()) {
      const at = `change ${i + 1}/${changes.length} (${change.line.replace(/^\d+ +/, "")})`;
      reset();
      const r = tracedRun(args, work, ["-o", "/dev/null", "-e", `inject=${change.call}:signal=SIGKILL:when=${change.rank}`]);
      expect(r.code, `${at}: not killed: ${r.stderr}`).toBe(128);
      for (const role of roles) {
        const now = setState(out, role);
        const prev = previous[role]!;
        let what: string;
        if (now.kind === "absent" && prev.kind !== "absent") {
          // Between the two renames of the swap: the previous folder waits, moved aside.
          const aside = leftovers(out).filter((name) => name.startsWith(`.skycert-old-${role}-`));
          expect(aside, `${at}: ${role} is gone and nothing was moved aside`).toHaveLength(1);
          expect(setState(out, role, join(out, aside[0]!))).toEqual(prev);
          what = "moved aside";
        } else if (JSON.stringify(now) === JSON.stringify(prev)) what = "previous";
        else {
          expect(now.kind, `${at}: ${role}`).toBe("set");
          what = "new";
        }
        seen.push(`${i + 1}:${role}:${what}`);
      }
      check(out);
      // What the next run does first: afterwards only the stale lock (and a dead breaker's
      // guard) may remain, which withLock takes over.
      recover(out);
      expect(leftovers(out).filter((name) => name !== ".skycert.lock" && name !== ".skycert.lock.break"), `${at}: left after recover`).toEqual([]);
      for (const role of roles) {
        const now = setState(out, role);
        if (JSON.stringify(now) !== JSON.stringify(previous[role])) expect(now.kind, `${at}: ${role} after recover`).toBe("set");
      }
      check(out);
      if (opts.nextRun) {
        // What the next run does around its writes, in this process (no key to generate):
        // take the lock over, recover, release. Nothing is left behind.
        await withLock(out, async () => recover(out), 0);
        expect(leftovers(out), `${at}: left by the next run`).toEqual([]);
        check(out);
      }
    }
    // And a normal run over the last killed state takes the stale lock over and completes.
    const last = skycert(args.includes("--force") ? args : [...args, "--force"], { cwd: work, env: { SKYCERT_LOCK_WAIT_MS: "0" } });
    expect(last.stderr).toBe("");
    for (const role of roles) expect(setState(out, role).kind).toBe("set");
    expect(leftovers(out)).toEqual([]);
    check(out);
    return seen;
  }

  it("--force over an existing set keeps the operator's files and folders at every point", async () => {
    const work = scratch("skycert-sweep-");
    const baseline = join(work, "baseline");
    ok(skycert(["init", "agent", "--out", "out"], { cwd: work }));
    writeFileSync(join(work, "out", "agent", "notes.txt"), "operator notes\n");
    mkdirSync(join(work, "out", "agent", "extra"));
    writeFileSync(join(work, "out", "agent", "extra", "f"), "operator file\n");
    cpSync(join(work, "out"), baseline, { recursive: true });
    const seen = await sweep(work, baseline, ["init", "agent", "--out", "out", "--force"], ["agent"], (out) => {
      const folder = existsSync(join(out, "agent")) ? join(out, "agent") : join(out, leftovers(out).find((n) => n.startsWith(".skycert-old-agent-"))!);
      expect(readFileSync(join(folder, "notes.txt"), "utf8")).toBe("operator notes\n");
      const extra = [join(out, "agent", "extra", "f"), ...leftovers(out).map((n) => join(out, n, "extra", "f"))].filter(existsSync);
      expect(extra.map((p) => readFileSync(p, "utf8"))).toEqual(["operator file\n"]);
    });
    // The sweep went through every kind of state, the swap window included.
    const kinds = new Set(seen.map((s) => s.split(":")[2]));
    expect([...kinds].sort()).toEqual(["moved aside", "new", "previous"]);
  });

  it("over a killed run's lock: every step of taking it over, and the next run cleans up", async () => {
    const work = scratch("skycert-sweep-");
    const baseline = join(work, "baseline");
    ok(skycert(["init", "agent", "--out", "baseline"], { cwd: work }));
    const dead = tool("bash", ["-c", "sleep 0 & echo $!; wait"]).stdout.trim();
    writeFileSync(join(baseline, ".skycert.lock"), `${dead}\n`);
    const seen = await sweep(work, baseline, ["init", "agent", "--out", "out", "--force"], ["agent"], () => {}, {
      only: (line) => /\.skycert\.lock|\.skycert-tmp-lock-/.test(line),
      nextRun: true,
    });
    expect(seen.length).toBeGreaterThan(5);
  });

  it("a first run into an empty folder", async () => {
    const work = scratch("skycert-sweep-");
    const baseline = join(work, "baseline");
    mkdirSync(baseline);
    const seen = await sweep(work, baseline, ["init", "agent", "--out", "out"], ["agent"], () => {});
    expect(new Set(seen.map((s) => s.split(":")[2]))).toEqual(new Set(["previous", "new"]));
  });

  it("--force over a role folder that is a symlink replaces the link and never touches its target", async () => {
    const work = scratch("skycert-sweep-");
    const target = join(work, "target");
    mkdirSync(join(target, "sub"), { recursive: true });
    writeFileSync(join(target, "sub", "f"), "target's file\n");
    writeFileSync(join(target, `${STEM.agent}.key`), "not a key, and must stay so\n");
    const before = snapshot(target);
    const baseline = join(work, "baseline");
    mkdirSync(baseline);
    symlinkSync(target, join(baseline, "agent"));
    const seen = await sweep(work, baseline, ["init", "agent", "--out", "out", "--force"], ["agent"], () => {
      expect(snapshot(target)).toEqual(before);
    });
    expect(seen.some((s) => s.endsWith(":moved aside"))).toBe(true);
  });
});

describe("the lock on the output folder", () => {
  const lockPath = (out: string) => join(out, ".skycert.lock");

  /** A process that stays alive until killed, to hold a lock. */
  function holder(): ChildProcess {
    const child = spawn("sleep", ["600"], { stdio: "ignore" });
    return child;
  }

  it("a run refuses clearly when another live run holds the lock, and changes nothing", () => {
    const dir = scratch();
    ok(skycert(["init", "agent"], { cwd: dir }));
    const live = holder();
    try {
      writeFileSync(lockPath(dir), `${live.pid}\n`);
      const before = snapshot(dir);
      const r = skycert(["init", "agent", "--force"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "200" } });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        `skycert: error: another skycert run (pid ${live.pid}) is writing ${dir} (fix: wait for it to finish; if no skycert is running, remove ${lockPath(dir)})`,
      ]);
      expect(snapshot(dir)).toEqual(before);
    } finally {
      live.kill("SIGKILL");
    }
  });

  it("a run waits for the lock to be released, and writes nothing before", async () => {
    const dir = scratch();
    // The holder releases the lock after a second, and records what existed at that moment.
    const script = `echo $$ > .skycert.lock; sleep 1; seen=$(ls -A); rm .skycert.lock; echo "$seen" > seen-at-release`;
    const held = spawn("bash", ["-c", script], { cwd: dir, stdio: "ignore" });
    const exited = new Promise((resolve) => held.on("exit", resolve));
    try {
      for (let i = 0; i < 200 && !existsSync(lockPath(dir)); i++) tool("sleep", ["0.01"]);
      const r = skycert(["init", "agent", "--json"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "60000" } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      // (Each try of the waiting run makes its lock line in a temporary and removes it when the link
      // fails: `ls` may catch one. That is waiting, not writing.)
      const seen = readFileSync(join(dir, "seen-at-release"), "utf8").split("\n").filter(Boolean);
      expect(seen.filter((n) => !n.startsWith(".skycert-tmp-lock-"))).toEqual([".skycert.lock"]);
      expect(setState(dir, "agent").kind).toBe("set");
      expect(leftovers(dir)).toEqual([]);
    } finally {
      held.kill("SIGKILL");
      await exited;
    }
  });

  it("a lock left by a killed run, a zombie, or a reused pid is taken over", () => {
    const dir = scratch();
    // A pid that is gone.
    const dead = tool("bash", ["-c", "sleep 0 & echo $!; wait"]).stdout.trim();
    writeFileSync(lockPath(dir), `${dead}\n`);
    ok(skycert(["init", "agent"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "0" } }), "dead holder");
    expect(leftovers(dir)).toEqual([]);
    // A killed run its parent has not reaped: `sleep 0` becomes a zombie under the exec'd `sleep 600`.
    const parent = spawn("bash", ["-c", "sleep 0 & echo $! > zombie.pid; exec sleep 600"], { cwd: dir, stdio: "ignore" });
    try {
      const pidFile = join(dir, "zombie.pid");
      for (let i = 0; i < 200 && !(existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n")); i++) tool("sleep", ["0.01"]);
      const zombie = readFileSync(pidFile, "utf8").trim();
      expect(zombie).toMatch(/^\d+$/);
      for (let i = 0; i < 200 && !readFileSync(`/proc/${zombie}/stat`, "utf8").includes(") Z "); i++) tool("sleep", ["0.01"]);
      expect(readFileSync(`/proc/${zombie}/stat`, "utf8")).toContain(") Z ");
      writeFileSync(lockPath(dir), `${zombie}\n`);
      ok(skycert(["init", "agent", "--force"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "0" } }), "zombie holder");
    } finally {
      parent.kill("SIGKILL");
    }
    // A live pid whose start time is not the one the lock recorded: the pid was reused.
    const live = holder();
    try {
      writeFileSync(lockPath(dir), `${live.pid} 1\n`);
      ok(skycert(["init", "agent", "--force"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "0" } }), "reused pid");
    } finally {
      live.kill("SIGKILL");
    }
    expect(leftovers(dir)).toEqual([]);
    expect(setState(dir, "agent").kind).toBe("set");
  });

  it("a lock that is a symlink, a folder or garbage is refused clearly, never followed", () => {
    const dir = scratch();
    writeFileSync(join(dir, "precious"), "precious\n");
    const cases: [string, () => void, RegExp][] = [
      ["symlink", () => symlinkSync(join(dir, "precious"), lockPath(dir)), /\.skycert\.lock is a symlink, not a skycert lock \(fix: remove it\)$/],
      ["folder", () => mkdirSync(lockPath(dir)), /\.skycert\.lock is not a regular file, so not a skycert lock \(fix: remove it\)$/],
      ["garbage", () => writeFileSync(lockPath(dir), "hello\n"), /\.skycert\.lock exists but does not name a skycert run \(fix: if no skycert is running, remove .*\.skycert\.lock\)$/],
    ];
    for (const [name, make, message] of cases) {
      rmSync(lockPath(dir), { recursive: true, force: true });
      make();
      const before = snapshot(dir);
      const r = skycert(["init", "agent"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "100" } });
      expect(r.code, name).toBe(1);
      expect(r.stderr.trim().split("\n"), name).toHaveLength(1);
      expect(r.stderr.trim(), name).toMatch(message);
      expect(snapshot(dir), name).toEqual(before);
    }
    expect(readFileSync(join(dir, "precious"), "utf8")).toBe("precious\n");
  });

  it("SKYCERT_LOCK_WAIT_MS must be a whole number", () => {
    const dir = scratch();
    const r = skycert(["init", "agent"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "soon" } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('skycert: error: SKYCERT_LOCK_WAIT_MS="soon": not a whole number of milliseconds');
  });
});

/** The write phase of each traced run: from its first staging folder to its last rename, in strace -ttt time. */
function writePhase(trace: string): [number, number] {
  const times = trace
    .split("\n")
    .filter((l) => /(mkdir|rename|link)(at|at2)?\(.*\.skycert-(tmp|old)-(?!lock)/.test(l) && !/ = -1 /.test(l))
    .map((l) => Number(/^\d+ +(\d+\.\d+) /.exec(l)?.[1]));
  expect(times.length, trace).toBeGreaterThan(0);
  return [Math.min(...times), Math.max(...times)];
}

function traced(args: string[], cwd: string, traceFile: string, inject: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("strace", ["-f", "-qq", "-ttt", "-o", traceFile, "-e", `trace=${CHANGES}`, ...inject.flatMap((i) => ["-e", `inject=${i}`]), process.execPath, BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => {
      recordStreams(["strace", ...args], stdout, stderr);
      resolve({ code, stderr });
    });
  });
}

describe.skipIf(!STRACE)("two runs on one folder never write at the same time (strace timelines)", () => {
  let dir: string;
  let traces: string;
  const trace = (name: string) => join(traces, `${name}.trace`);
  beforeAll(() => {
    dir = scratch();
    traces = scratch("skycert-traces-");
    ok(skycert(["init", "analyzer", "agent"], { cwd: dir }));
  });

  it("two concurrent --force runs: one waits, and the folder holds one run's complete sets", async () => {
    const [a, b] = await Promise.all([
      traced(["init", "analyzer", "agent", "--force", "--json"], dir, trace("a"), ["rename:delay_enter=150000"], { SKYCERT_LOCK_WAIT_MS: "30000" }),
      traced(["init", "analyzer", "agent", "--force", "--json"], dir, trace("b"), ["rename:delay_enter=150000"], { SKYCERT_LOCK_WAIT_MS: "30000" }),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
    const [ta, tb] = ["a", "b"].map((x) => writePhase(readFileSync(trace(x), "utf8")));
    expect(ta![1] < tb![0] || tb![1] < ta![0], `write phases overlap: ${ta} and ${tb}`).toBe(true);
    for (const role of ["analyzer", "agent"] as const) expect(setState(dir, role).kind).toBe("set");
    expect(leftovers(dir)).toEqual([]);
  });

  it("two runs that both find a killed run's lock: only one takes it over", async () => {
    const dead = tool("bash", ["-c", "sleep 0 & echo $!; wait"]).stdout.trim();
    writeFileSync(join(dir, ".skycert.lock"), `${dead}\n`);
    // B is slowed down between reading the dead lock and removing it; A arrives in that gap,
    // takes the lock over and writes slowly. B must not remove A's lock.
    const [a, b] = await Promise.all([
      traced(["init", "agent", "--force"], dir, trace("ta"), ["mkdir:delay_enter=800000:when=1", "rename:delay_enter=1000000"], { SKYCERT_LOCK_WAIT_MS: "30000" }),
      traced(["init", "agent", "--force"], dir, trace("tb"), ["unlink:delay_enter=1500000"], { SKYCERT_LOCK_WAIT_MS: "30000" }),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
    const [ta, tb] = ["ta", "tb"].map((x) => writePhase(readFileSync(trace(x), "utf8")));
    expect(ta![1] < tb![0] || tb![1] < ta![0], `write phases overlap: ${ta} and ${tb}`).toBe(true);
    expect(setState(dir, "agent").kind).toBe("set");
    expect(leftovers(dir)).toEqual([]);
  });
});
