/**
 * Crash and concurrency safety of every writer (src/fs/files.ts and
 * src/fs/lock.ts, as init, init ca, a fleet run, renew, renew --fleet, export
 * k8s, export ansible and config set use them):
 *
 * - kill -9 at random moments (scripts/kill-loop.mjs, one run of it per writer):
 *   after each kill every set is the previous one or a complete, matching new
 *   one, nothing is half-written, and the next run cleans up and succeeds;
 * - kill -9 at every file-system change a writer makes (strace): the same
 *   checks at each state the writer goes through, and the next run from there;
 * - the lock: two runs on one folder take turns, a second run waits and writes
 *   nothing meanwhile, a killed run's lock is taken over once it is stale (and
 *   not before, nor by two runs at once), a lock that is not skycert's is
 *   refused, and renew never lands a renewal over a set re-issued meanwhile.
 *
 * Keys are ECDSA (--key-type ecdsa) wherever the writer makes one: the write
 * paths are the same as for RSA, and the runs are short.
 */
import { type SpawnOptions, spawn } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { closeSync, constants, cpSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { withLock } from "../src/fs/lock.js";
import { BIN, ROOT, type Run, SHARED, ok, oneLine, openssl, scratch, skycert, tool } from "./helpers/run.js";
import { type Change, STRACE, killAt, readTrace, tracedRunAsync } from "./helpers/strace.js";
import { recordStreams, registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const EC = ["--key-type", "ecdsa"];
const LOCK = ".skycert.lock";
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** skycert's entries (temporaries, folders moved aside, locks and their guards) anywhere under `dir`. */
function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name.startsWith(".skycert")) found.push(relative(dir, p));
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found.sort();
}

/** What killed runs left is as old as a killed run's lock gets after 5 seconds: what waiting does, without the wait. */
function ageLocks(dir: string): void {
  const then = new Date(Date.now() - 60_000);
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name.startsWith(LOCK)) utimesSync(p, then, then);
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
}

/** A program run without blocking the test process (a lock it holds keeps being refreshed), its streams recorded. */
function spawnRun(cmd: string, args: string[], opts: SpawnOptions & { env?: NodeJS.ProcessEnv } = {}): { done: Promise<Run>; pid: number } {
  const child = spawn(cmd, args, { ...opts, env: { ...process.env, NO_COLOR: "1", ...(opts.env ?? {}) }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on("close", (code, signal) => {
      recordStreams([cmd, ...args], stdout, stderr);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    }),
  );
  return { done, pid: child.pid! };
}

// ---------------------------------------------------------------------------
// Checks shared by the sweeps and the lock tests

const pub = (p: string, kind: "key" | "crt" | "csr") =>
  ok(openssl(kind === "key" ? ["pkey", "-in", p, "-pubout"] : kind === "crt" ? ["x509", "-in", p, "-noout", "-pubkey"] : ["req", "-in", p, "-noout", "-pubkey"]), `openssl reads ${p}`).stdout;

function expectSigned(crt: string, signer: string): void {
  expect(new X509Certificate(readFileSync(crt)).verify(new X509Certificate(readFileSync(signer)).publicKey), `${crt} verifies with ${signer}`).toBe(true);
}

/** A complete set: one public key (the CSR too, unless `csrMatches` is false), modes 0700/0400/0444, signed by `signer`. Returns the certificate's hash. */
function keySet(dir: string, stem: string, opts: { csr?: boolean; csrMatches?: boolean; signer?: string } = {}): string {
  const csr = opts.csr ?? true;
  const files = [`${stem}.key`, `${stem}.crt`, ...(csr ? [`${stem}.csr`] : [])].map((n) => join(dir, n));
  expect(files.filter((f) => existsSync(f)), `${dir} holds a partial set`).toEqual(files);
  const key = pub(files[0]!, "key");
  expect(pub(files[1]!, "crt"), `${files[1]} does not match its key`).toBe(key);
  if (csr) {
    const req = pub(files[2]!, "csr");
    if (opts.csrMatches ?? true) expect(req, `${files[2]} does not match its key`).toBe(key);
  }
  expect([mode(dir), ...files.map(mode)]).toEqual(["700", "400", "444", ...(csr ? ["444"] : [])]);
  expectSigned(files[1]!, opts.signer ?? files[1]!);
  return sha(files[1]!);
}

/**
 * Nothing under `dir` is half-written: keys, certificates, requests, YAML and
 * JSON outside skycert's temporaries read whole; a file holding a private key
 * is never open to group or others, temporaries included.
 */
function expectWhole(dir: string, where: string): void {
  const walk = (d: string, temporary: boolean) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      const tmp = temporary || /^\.skycert-(tmp|old)-/.test(name);
      if (st.isDirectory()) {
        walk(p, tmp);
        continue;
      }
      if (!st.isFile()) continue;
      const text = readFileSync(p, "utf8");
      if (text.includes("PRIVATE KEY-----")) expect(st.mode & 0o077, `${where}: ${p} holds a key and has mode ${(st.mode & 0o777).toString(8)}`).toBe(0);
      if (tmp) continue;
      if (name.endsWith(".key")) pub(p, "key");
      if (name.endsWith(".crt")) pub(p, "crt");
      if (name.endsWith(".csr")) pub(p, "csr");
      if (/\.ya?ml(\.bak)?$/.test(name)) for (const doc of parseAllDocuments(text) as unknown as { errors: unknown[] }[]) expect(doc.errors, `${where}: ${p} is not whole YAML`).toEqual([]);
      if (name.endsWith(".json")) expect(() => JSON.parse(text), `${where}: ${p} is not whole JSON`).not.toThrow();
    }
  };
  walk(dir, false);
}

// ---------------------------------------------------------------------------
// kill -9 at random moments

/** At most two kill loops at a time: the machine has two cores, and the loops spawn one skycert at a time. */
let free = 2;
const queue: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (free > 0) free--;
  else await new Promise<void>((r) => queue.push(r));
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next) next();
    else free++;
  }
}

describe.concurrent("kill -9 at random moments (scripts/kill-loop.mjs)", () => {
  const loops: [string, number][] = [["init", 20], ["ca", 10], ["fleet", 10], ["renew", 10], ["renew-fleet", 10], ["export-k8s", 10], ["export-ansible", 10]];
  for (const [command, runs] of loops) {
    it(`${command}: ${runs} runs`, async () => {
      const dir = scratch("skycert-kill-loop-");
      const r = await slot(() => spawnRun(process.execPath, [join(ROOT, "scripts", "kill-loop.mjs"), "--command", command, "--runs", String(runs), "--dir", dir, "--manifest", MANIFEST]).done);
      expect(r.stderr, r.stdout).toBe("");
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(summary).toMatchObject({ command, runs, keyType: "ecdsa" });
      expect(summary.killed + summary.completed).toBe(runs);
      expect(summary.killed).toBeGreaterThan(0);
      expect(r.stdout.split("\n").filter((l) => /^run +\d+ /.test(l))).toHaveLength(runs);
      // The script's final run left a clean output folder: checked here independently.
      expect(leftovers(join(dir, "out"))).toEqual([]);
      expectWhole(join(dir, "out"), "after the kill loop");
    }, 900_000);
  }
});

// ---------------------------------------------------------------------------
// kill -9 at every file-system change (strace)

interface Unit {
  /** Under the working folder. */
  path: string;
  folder: boolean;
  /** Checks the unit is complete and consistent; returns what identifies its content. */
  read: (path: string) => string;
}

interface Writer {
  /** Makes the starting state in the working folder (a copy of it is the start of every run). */
  setup: (cwd: string) => void;
  args: string[];
  units: (cwd: string) => Unit[];
  /** Every new unit is what a complete run writes (the run is deterministic: exports, config set). */
  reference?: boolean;
  /** Only these changes are kill points (by default all of them, but for `inStage` those inside a staging folder). */
  only?: (c: Change) => boolean;
  /**
   * Also kill inside staging folders (the files of a set being created and
   * written, or linked over, before the folder is renamed into place) and
   * inside folders moved aside (the previous set's files being removed).
   * writeSet does both the same way for every writer, so one sweep (init's)
   * goes through them; the others kill at every other change.
   */
  inStage?: boolean;
  /** More checks after a kill and after the next run. */
  check?: (cwd: string, where: string) => void;
}

/** A state's signature, for the next run: what killed runs left (names without pids; a folder moved aside with its entries), and each unit's outcome. */
function stateOf(cwd: string, outcomes: string[]): string {
  const norm = (s: string) => s.replace(/-\d+-[^-/]+$/, "-*");
  const left = leftovers(cwd).map((p) => {
    const abs = join(cwd, p);
    const inside = /\.skycert-old-/.test(basename(p)) && lstatSync(abs).isDirectory() ? ` [${readdirSync(abs).sort().join(",")}]` : "";
    return `${norm(p)}${inside}`;
  });
  return JSON.stringify([left, outcomes]);
}

/**
 * Kill `w.args` at each change of a traced reference run, from the same
 * starting state each time; check each unit is previous, moved aside (a set
 * folder between the two renames of its swap) or complete and new, and nothing
 * is half-written. Then the next run: it must complete, leave every unit
 * complete and nothing of skycert's anywhere. The next run is run once per
 * distinct state (see stateOf): recovery removes temporaries whole and puts
 * folders moved aside back, so it depends on nothing else.
 */
async function sweep(w: Writer): Promise<{ seen: string[]; missed: string[]; nextRuns: number }> {
  const work = scratch("skycert-sweep-");
  const cur = join(work, "cur");
  const base = join(work, "base");
  mkdirSync(cur);
  w.setup(cur);
  cpSync(cur, base, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const reset = () => {
    rmSync(cur, { recursive: true, force: true });
    cpSync(base, cur, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    // (cpSync keeps files' times, not folders': a killed run's lock in the start state stays stale.)
    ageLocks(cur);
  };
  const units = w.units(cur);
  const read = (u: Unit, path = join(cur, u.path)) => (lstatSync(path, { throwIfNoEntry: false }) ? u.read(path) : undefined);
  const previous = Object.fromEntries(units.map((u) => [u.path, read(u)]));
  reset();
  const traceFile = join(work, "reference.trace");
  ok(await tracedRunAsync(w.args, cur, traceFile), "the traced reference run");
  const reference = w.reference ? Object.fromEntries(units.map((u) => [u.path, read(u)])) : undefined;
  const ref = readTrace(readFileSync(traceFile, "utf8"), cur);
  const all = ref.changes;
  const targets = all.filter((c) => (w.only ? w.only(c) : w.inStage || !(STAGED.test(c.key) || MOVED_ASIDE.test(c.key))));
  expect(targets.length, all.map((c) => c.key).join("\n")).toBeGreaterThan(2);
  const seen: string[] = [];
  const missed: string[] = [];
  const unreachable: string[] = [];
  const states = new Set<string>();
  const started = Date.now();
  let killRuns = 0;
  for (const target of targets) {
    const at = `change ${target.index}/${all.length} (${target.key})`;
    const k = await killAt(w.args, cur, cur, ref, target, reset);
    killRuns += k.attempts;
    // A kill aimed at the run's last changes (releasing its lock) can come after the exit on a loaded
    // machine: the run then completed, a state the checks below judge like any other.
    const ranOut = k.run.code === 0 && target.index >= all.length - 1;
    if (ranOut) unreachable.push(`${at}: the run exited before the kill`);
    else expect(k.run.code, `${at}: not killed: ${k.run.stderr}`).toBe(128);
    if (!k.landed && !ranOut) {
      // The one kind of state strace cannot always reach: between two writes of one thread, which it
      // counts together with libuv's eventfd wake-ups (their number varies from run to run).
      const previousChange = all[target.index - 2];
      const betweenWrites = target.call.startsWith("write") && previousChange?.call.startsWith("write") && STAGED.test(target.key);
      (betweenWrites ? unreachable : missed).push(`${at}: the kill landed after ${k.completed} changes`);
    }
    const outcomes: string[] = [];
    for (const u of units) {
      const path = join(cur, u.path);
      let what: string;
      if (!lstatSync(path, { throwIfNoEntry: false })) {
        if (previous[u.path] === undefined) what = "absent";
        else {
          const aside = readdirSync(dirname(path)).filter((n) => n.startsWith(`.skycert-old-${basename(path)}-`));
          expect(u.folder && aside.length, `${at}: ${u.path} is gone and nothing was moved aside`).toBe(1);
          expect(read(u, join(dirname(path), aside[0]!)), `${at}: what was moved aside is not ${u.path} as it was`).toBe(previous[u.path]);
          what = "moved aside";
        }
      } else {
        const now = read(u);
        if (now === previous[u.path]) what = "previous";
        else {
          if (reference) expect(now, `${at}: ${u.path} is neither as it was nor what a complete run writes`).toBe(reference[u.path]);
          what = "new";
        }
      }
      outcomes.push(what);
      seen.push(`${target.index}:${u.path}:${what}`);
    }
    expectWhole(cur, at);
    w.check?.(cur, at);
    const state = stateOf(cur, outcomes);
    if (states.has(state)) continue;
    states.add(state);
    // The next run, once the killed run's lock is stale.
    ageLocks(cur);
    const next = await spawnRun(process.execPath, [BIN, ...w.args], { cwd: cur, env: { SKYCERT_LOCK_WAIT_MS: "3000" } }).done;
    expect(next.code, `${at}: the next run: ${next.stderr}`).toBe(0);
    for (const u of units) {
      const now = read(u);
      expect(now, `${at}: ${u.path} after the next run`).toBeDefined();
      if (reference) expect(now, `${at}: ${u.path} after the next run`).toBe(reference[u.path]);
    }
    expect(leftovers(cur), `${at}: left after the next run`).toEqual([]);
    expectWhole(cur, `${at}, after the next run`);
    w.check?.(cur, `${at}, after the next run`);
  }
  console.log(`sweep of skycert ${w.args.join(" ")}: ${targets.length} kill points of ${all.length} changes, ${killRuns} killed runs, ${states.size} next runs, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (unreachable.length) console.log(`${w.args.join(" ")}: ${unreachable.length} of ${targets.length} kill points not reached exactly:\n  ${unreachable.join("\n  ")}`);
  return { seen, missed, nextRuns: states.size };
}

/** A change inside a staging folder (the files of a set being made, before it is renamed into place). */
const STAGED = /\.skycert-tmp-[^/ ]*\/\S/;
/** A change inside a folder moved aside (the previous set's files, removed once the new set is in place). */
const MOVED_ASIDE = /\.skycert-old-[^/ ]*\/\S/;

const kinds = (seen: string[]) => new Set(seen.map((s) => s.split(":").pop()));

/** The operator's notes and sub-folder: in the set folder, or in the one folder moved aside, never lost or doubled. */
function operatorFilesKept(dir: string, where: string): void {
  const candidates = [dir, ...readdirSync(dirname(dir)).filter((n) => n.startsWith(`.skycert-old-${basename(dir)}-`)).map((n) => join(dirname(dir), n))];
  const notes = candidates.map((d) => join(d, "notes.txt")).filter((p) => existsSync(p));
  expect(notes.length, `${where}: the operator's notes`).toBeGreaterThan(0);
  for (const n of notes) expect(readFileSync(n, "utf8")).toBe("operator notes\n");
  expect(candidates.map((d) => join(d, "extra", "f")).filter((p) => existsSync(p)).map((p) => readFileSync(p, "utf8")), `${where}: the operator's sub-folder`).toEqual(["operator file\n"]);
}
const addOperatorFiles = (dir: string) => {
  writeFileSync(join(dir, "notes.txt"), "operator notes\n");
  mkdirSync(join(dir, "extra"));
  writeFileSync(join(dir, "extra", "f"), "operator file\n");
};

/** An export's output: each folder of keys and certificates is a set (byte for byte), every other file a document. */
function exportUnits(out: string, rel: string): Unit[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name.startsWith(".skycert")) continue;
      if (lstatSync(p).isDirectory()) walk(p);
      else files.push(relative(out, p));
    }
  };
  walk(out);
  const sets = [...new Set(files.filter((f) => /\.(key|crt)$/.test(f)).map((f) => dirname(f)))];
  const setUnit = (d: string): Unit => ({
    path: join(rel, d),
    folder: true,
    read: (p) => {
      for (const key of readdirSync(p).filter((n) => n.endsWith(".key"))) expect(pub(join(p, key.replace(/\.key$/, ".crt")), "crt"), `${p}/${key}`).toBe(pub(join(p, key), "key"));
      return readdirSync(p).filter((n) => !n.startsWith(".skycert")).sort().map((n) => `${n} ${mode(join(p, n))} ${sha(join(p, n))}`).join(", ");
    },
  });
  return [...sets.map(setUnit), ...files.filter((f) => !sets.includes(dirname(f))).map((f) => ({ path: join(rel, f), folder: false, read: (p: string) => `${mode(p)} ${sha(p)}` }))];
}

/** A sweep as a test: it waits for one of the two slots the kill loops share. */
const sweepIt = (name: string, body: () => Promise<void>) => it(name, () => slot(body), 900_000);

(STRACE ? describe.concurrent : describe.skip)("kill -9 at every file-system change (strace), then the next run", () => {
  sweepIt("init --force over an existing set: the operator's files and folders are kept at every point", async () => {
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "agent", "--out", "out", ...EC], { cwd }));
        addOperatorFiles(join(cwd, "out", "agent"));
      },
      args: ["init", "agent", "--out", "out", "--force", ...EC],
      units: () => [{ path: "out/agent", folder: true, read: (p) => keySet(p, "agent.domain.com") }],
      check: (cwd, where) => operatorFilesKept(join(cwd, "out", "agent"), where),
      inStage: true,
    });
    expect(r.missed).toEqual([]);
    // Every kind of state, the swap window included.
    expect(kinds(r.seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  sweepIt("a killed run's stale lock: every step of taking it over, and the next run", async () => {
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "agent", "--out", "out", ...EC], { cwd }));
        mkdirSync(join(cwd, "out", LOCK));
        utimesSync(join(cwd, "out", LOCK), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      },
      args: ["init", "agent", "--out", "out", "--force", ...EC],
      units: () => [{ path: "out/agent", folder: true, read: (p) => keySet(p, "agent.domain.com") }],
      only: (c) => /ROOT\/out\/\.skycert\.lock/.test(c.key),
    });
    expect(r.missed).toEqual([]);
    // The guard made, the stale lock removed, the guard removed, the new lock made, its mtime set.
    expect(new Set(r.seen.map((s) => s.split(":")[0])).size).toBeGreaterThanOrEqual(5);
  });

  sweepIt("--force over a role folder that is a symlink replaces the link, and never touches what it points to", async () => {
    let target = "";
    let before: Record<string, string> = {};
    const r = await sweep({
      setup: (cwd) => {
        target = join(dirname(cwd), "target");
        mkdirSync(join(target, "sub"), { recursive: true });
        writeFileSync(join(target, "sub", "f"), "the target's file\n");
        writeFileSync(join(target, "agent.domain.com.key"), "not a key, and must stay so\n");
        before = snapshot(target);
        mkdirSync(join(cwd, "out"));
        symlinkSync(target, join(cwd, "out", "agent"));
      },
      args: ["init", "agent", "--out", "out", "--force", ...EC],
      units: () => [{ path: "out/agent", folder: true, read: (p) => (lstatSync(p).isSymbolicLink() ? `link ${readlinkSync(p)}` : keySet(p, "agent.domain.com")) }],
      check: () => expect(snapshot(target)).toEqual(before),
      // The changes that concern the link: the swap that replaces it, and the removal of what was moved aside.
      only: (c) => /ROOT\/out\/(agent|\.skycert-old-agent-\*)( |$)/.test(c.key),
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  sweepIt("renew of a self-signed certificate: the previous certificate or the renewed one", async () => {
    const r = await sweep({
      setup: (cwd) => ok(skycert(["init", "agent", "--out", "out", ...EC], { cwd })),
      args: ["renew", "out/agent/agent.domain.com.crt"],
      units: () => [{
        path: "out/agent/agent.domain.com.crt",
        folder: false,
        read: (p) => {
          expect(pub(p, "crt"), `${p} does not match its key`).toBe(pub(join(dirname(p), "agent.domain.com.key"), "key"));
          expect(mode(p)).toBe("444");
          expectSigned(p, p);
          return sha(p);
        },
      }],
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "new"]));
  });

  sweepIt("a fleet run with --force over an issued host: its set and skydive.yml together, the record whole", async () => {
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "ca", "--out", "f", ...EC], { cwd }));
        ok(skycert(["init", "agent", "--ca", "f", "--hosts", "h1=10.9.0.1", "--out", "f", ...EC], { cwd }));
        addOperatorFiles(join(cwd, "f", "agents", "h1"));
      },
      args: ["init", "agent", "--ca", "f", "--hosts", "h1=10.9.0.1", "--out", "f", "--force", ...EC],
      units: (cwd) => [{
        path: "f/agents/h1",
        folder: true,
        read: (p) => {
          const fp = keySet(p, "agent", { signer: join(cwd, "f", "ca", "skydive-ca.crt") });
          expect(readFileSync(join(p, "skydive.yml"), "utf8")).toContain(`server_cert: ${join(cwd, "f", "agents", "h1", "agent.crt")}`);
          return fp;
        },
      }],
      check: (cwd, where) => operatorFilesKept(join(cwd, "f", "agents", "h1"), where),
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  sweepIt("renew --fleet --rekey: each host's new key and certificate swapped in as a set, and the next renew --fleet completes from any point", async () => {
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "ca", "--out", "f", ...EC], { cwd }));
        ok(skycert(["init", "agent", "--ca", "f", "--hosts", "h1=10.9.0.1", "--out", "f", ...EC], { cwd }));
      },
      args: ["renew", "--fleet", "f", "--within", "4000d", "--rekey"],
      units: (cwd) => [{
        path: "f/agents/h1",
        folder: true,
        // The CSR is left as it was (it still requests the old key); skydive.yml is carried over.
        read: (p) => `${keySet(p, "agent", { csrMatches: false, signer: join(cwd, "f", "ca", "skydive-ca.crt") })} ${sha(join(p, "skydive.yml"))}`,
      }],
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  sweepIt("export k8s --force after a renewal: each set and each document as before or as a complete run writes it", async () => {
    // A CA fleet: the analyzer pods' set is one analyzer host's pair and the CA; the agents' is the shared
    // agent certificate, issued into the source by the first export. Only the analyzer's is renewed.
    const args = ["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "src"];
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "ca", "--out", "src", ...EC], { cwd }));
        ok(skycert(["init", "analyzer", "--ca", "src", "--hosts", "a1=10.9.0.10", "--san", "skydive-analyzer.default.svc", "--out", "src", ...EC], { cwd }));
        ok(skycert(args, { cwd }));
        ok(skycert(["renew", "src/analyzers/a1/analyzer.crt"], { cwd }));
      },
      args: [...args, "--force"],
      units: (cwd) => exportUnits(join(cwd, "overlay"), "overlay"),
      reference: true,
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  sweepIt("config set: the config, and its backup, as before or as a complete run writes them", async () => {
    const r = await sweep({
      setup: (cwd) => {
        ok(skycert(["init", "agent", "--out", "out", ...EC], { cwd }));
        writeFileSync(join(cwd, "out", "skydive.yml"), `# the operator's comment\n${readFileSync(join(cwd, "out", "skydive.yml"), "utf8")}`);
      },
      args: ["config", "set", "out/skydive.yml", "agent.listen=10.0.0.1:8081", "analyzers=10.0.0.2:8082"],
      units: () => ["out/skydive.yml", "out/skydive.yml.bak"].map((path) => ({ path, folder: false, read: (p: string) => `${mode(p)} ${sha(p)}` })),
      reference: true,
    });
    expect(r.missed).toEqual([]);
    expect(kinds(r.seen)).toEqual(new Set(["previous", "absent", "new"]));
  });
});

// ---------------------------------------------------------------------------
// The lock

/** The write phase of a traced run: from its first staging folder to its last rename, in strace -ttt time. */
function writePhase(trace: string): [number, number] {
  const times = trace
    .split("\n")
    .filter((l) => /(mkdir|rename|link)(at|at2)?\(.*\.skycert-(tmp|old)-/.test(l) && !/ = -1 /.test(l))
    .map((l) => Number(/^\d+ +(\d+\.\d+) /.exec(l)?.[1]));
  expect(times.length, trace).toBeGreaterThan(0);
  return [Math.min(...times), Math.max(...times)];
}

/** bin/skycert under strace -ttt, with delays injected (`inject`), without blocking the test process. */
function traced(args: string[], cwd: string, traceFile: string, inject: string[]) {
  return spawnRun("strace", ["-f", "-qq", "-ttt", "-o", traceFile, "-e", "trace=mkdir,rename,rmdir,link,unlink", ...inject.flatMap((i) => ["-e", `inject=${i}`]), process.execPath, BIN, ...args], {
    cwd,
    env: { SKYCERT_LOCK_WAIT_MS: "30000" },
  }).done;
}

describe("the lock on a folder", () => {
  it("a run waits while another holds the lock, writes nothing meanwhile, then completes", async () => {
    const dir = scratch();
    ok(skycert(["init", "agent", ...EC], { cwd: dir }));
    let run: Promise<Run> | undefined;
    await withLock(dir, async () => {
      const before = snapshot(dir);
      const r = spawnRun(process.execPath, [BIN, "init", "agent", "--force", "--json", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "60000" } });
      run = r.done;
      // Long enough for the run to make its key and reach the lock, and for the lock to be refreshed.
      await sleep(3000);
      expect(existsSync(`/proc/${r.pid}`), "the second run finished while the lock was held").toBe(true);
      const during = snapshot(dir);
      // Only the lock's mtime (refreshed by this process) may differ.
      delete during[LOCK];
      delete before[LOCK];
      expect(during).toEqual(before);
    }, 0);
    const r = await run!;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    keySet(join(dir, "agent"), "agent.domain.com");
    expect(leftovers(dir)).toEqual([]);
  });

  it("after SKYCERT_LOCK_WAIT_MS it refuses with one line naming the folder and the lock, and changes nothing", async () => {
    const dir = scratch();
    ok(skycert(["init", "agent", ...EC], { cwd: dir }));
    await withLock(dir, async () => {
      const before = snapshot(dir);
      const r = await spawnRun(process.execPath, [BIN, "init", "agent", "--force", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "300" } }).done;
      expect(oneLine(r, 1)).toBe(
        `skycert: error: another skycert run is writing ${dir} (fix: wait for it to finish; a run that was killed releases the lock after 5 seconds (${join(dir, LOCK)}))`,
      );
      expect(r.stdout).toBe("");
      const after = snapshot(dir);
      delete after[LOCK];
      delete before[LOCK];
      expect(after).toEqual(before);
    }, 0);
  });

  it("a re-issue waits for the set folder's lock, which renew takes to replace the certificate", async () => {
    const dir = scratch();
    ok(skycert(["init", "agent", ...EC], { cwd: dir }));
    await withLock(join(dir, "agent"), async () => {
      const before = snapshot(dir);
      const r = await spawnRun(process.execPath, [BIN, "init", "agent", "--force", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "300" } }).done;
      expect(oneLine(r, 1)).toMatch(new RegExp(`^skycert: error: another skycert run is writing ${join(dir, "agent")} \\(fix: wait for it to finish`));
      // Nothing replaced; the run's staging folder and its own lock are gone.
      const after = snapshot(dir);
      delete after[`agent/${LOCK}`];
      delete before[`agent/${LOCK}`];
      expect(after).toEqual(before);
    }, 0);
  });

  it("a killed run's lock is taken over once it is 5 seconds old, not before", async () => {
    const dir = scratch();
    ok(skycert(["init", "agent", ...EC], { cwd: dir }));
    // Killed on its first rename: the lock and a staging folder are left.
    const killed = tool("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=rename", "-e", "inject=rename:signal=SIGKILL:when=1", process.execPath, BIN, "init", "agent", "--force", ...EC], { cwd: dir });
    expect(killed.code).toBe(128);
    const killedAt = Date.now();
    expect(leftovers(dir).filter((p) => !p.startsWith(".skycert-tmp-"))).toEqual([LOCK, `agent/${LOCK}`]);
    const before = snapshot(dir);
    const early = skycert(["init", "agent", "--force", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "500" } });
    expect(oneLine(early, 1)).toMatch(/another skycert run is writing .* a run that was killed releases the lock after 5 seconds/);
    expect(snapshot(dir)).toEqual(before);
    // With the default wait (10 s) the next run outwaits the staleness, takes the lock over and cleans up.
    const started = Date.now();
    const next = skycert(["init", "agent", "--force", "--json", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "" } });
    expect(next.stderr).toBe("");
    expect(next.code).toBe(0);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(5000);
    expect(Date.now() - started).toBeLessThan(10_000);
    keySet(join(dir, "agent"), "agent.domain.com");
    expect(leftovers(dir)).toEqual([]);
  });

  it.skipIf(!STRACE)("two concurrent --force runs on one folder take turns: their write phases never overlap", async () => {
    const dir = scratch();
    const traces = scratch("skycert-traces-");
    ok(skycert(["init", "analyzer", "agent", ...EC], { cwd: dir }));
    const [a, b] = await Promise.all(["a", "b"].map((x) => traced(["init", "analyzer", "agent", "--force", "--json", ...EC], dir, join(traces, x), ["rename:delay_enter=150000"])));
    expect([a!.code, b!.code, a!.stderr, b!.stderr]).toEqual([0, 0, "", ""]);
    const [ta, tb] = ["a", "b"].map((x) => writePhase(readFileSync(join(traces, x), "utf8")));
    expect(ta![1] < tb![0] || tb![1] < ta![0], `write phases overlap: ${ta} and ${tb}`).toBe(true);
    for (const role of ["analyzer", "agent"]) keySet(join(dir, role), `${role}.domain.com`);
    expect(leftovers(dir)).toEqual([]);
  });

  it.skipIf(!STRACE)("two runs that both find a killed run's lock: only one takes it over, the other waits", async () => {
    const dir = scratch();
    const traces = scratch("skycert-traces-");
    ok(skycert(["init", "agent", ...EC], { cwd: dir }));
    mkdirSync(join(dir, LOCK));
    utimesSync(join(dir, LOCK), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    // B is slowed down just before it removes the stale lock; A arrives in that gap and finds the lock
    // still stale: it must not remove it too (proper-lockfile alone would, and A's removal could then
    // take the fresh lock B makes next). Then each takes the lock in turn, and both write slowly.
    const b = traced(["init", "agent", "--force", ...EC], dir, join(traces, "b"), ["rmdir:delay_enter=1500000:when=1", "rename:delay_enter=300000"]);
    // A starts once B holds the takeover guard.
    for (let i = 0; i < 1000 && !existsSync(join(dir, `${LOCK}.break`)); i++) await sleep(10);
    expect(existsSync(join(dir, `${LOCK}.break`)), "B never took the guard").toBe(true);
    const a = traced(["init", "agent", "--force", ...EC], dir, join(traces, "a"), ["rename:delay_enter=300000"]);
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.code, rb.code, ra.stderr, rb.stderr]).toEqual([0, 0, "", ""]);
    const [ta, tb] = ["a", "b"].map((x) => writePhase(readFileSync(join(traces, x), "utf8")));
    expect(ta[1] < tb[0] || tb[1] < ta[0], `write phases overlap: A ${ta}, B ${tb}`).toBe(true);
    // The stale lock was removed once, by B; A removed no lock but its own.
    const takeovers = (trace: string) => {
      const lines = trace.split("\n").filter((l) => l.includes(`"${join(dir, LOCK)}"`) && / = 0( \(DELAYED\))?$/.test(l));
      const own = lines.findIndex((l) => /\bmkdir\(/.test(l));
      return lines.slice(0, own < 0 ? undefined : own).filter((l) => /\brmdir\(/.test(l)).length;
    };
    expect([takeovers(readFileSync(join(traces, "a"), "utf8")), takeovers(readFileSync(join(traces, "b"), "utf8"))]).toEqual([0, 1]);
    keySet(join(dir, "agent"), "agent.domain.com");
    expect(leftovers(dir)).toEqual([]);
  });

  it("a lock that is a symlink or a regular file is refused with one line, never followed or removed", () => {
    const dir = scratch();
    writeFileSync(join(dir, "precious"), "precious\n");
    mkdirSync(join(dir, "precious-dir"));
    const cases: [string, () => void, string][] = [
      ["a symlink to a file", () => symlinkSync(join(dir, "precious"), join(dir, LOCK)), "a symlink"],
      ["a symlink to a folder", () => symlinkSync(join(dir, "precious-dir"), join(dir, LOCK)), "a symlink"],
      ["a dangling symlink", () => symlinkSync(join(dir, "nowhere"), join(dir, LOCK)), "a symlink"],
      ["a regular file", () => writeFileSync(join(dir, LOCK), "hello\n"), "a regular file"],
    ];
    for (const [name, make, kind] of cases) {
      rmSync(join(dir, LOCK), { force: true });
      make();
      // Old enough to be stale, were it a lock.
      tool("touch", ["-h", "-d", "1 minute ago", join(dir, LOCK)]);
      const before = snapshot(dir);
      const line = oneLine(skycert(["init", "agent", ...EC], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "100" } }), 1);
      expect(line, name).toBe(`skycert: error: ${join(dir, LOCK)} is ${kind}, not a skycert lock (a folder) (fix: remove it, once no skycert run is writing ${dir})`);
      expect(snapshot(dir), name).toEqual(before);
    }
    expect(readFileSync(join(dir, "precious"), "utf8")).toBe("precious\n");
    expect(readdirSync(join(dir, "precious-dir"))).toEqual([]);
  });
});

describe("the next run cleans up where it writes nothing new", () => {
  /** What a killed run leaves in a set folder: its stale lock and a temporary. */
  const killedIn = (dir: string, temporary: string) => {
    mkdirSync(join(dir, LOCK));
    utimesSync(join(dir, LOCK), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(join(dir, temporary), "half a certif");
  };

  it("a fleet run that skips a host cleans what a killed run left in its folder, and keeps the host as it was", () => {
    const dir = scratch();
    ok(skycert(["init", "ca", "--out", "pki", ...EC], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "h1=10.9.0.1", "--out", "pki", ...EC], { cwd: dir }));
    const host = join(dir, "pki", "agents", "h1");
    const crt = readFileSync(join(host, "agent.crt"));
    killedIn(host, ".skycert-tmp-agent.crt-999999-abc123");
    const r = ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "h1=10.9.0.1", "--out", "pki", "--json", ...EC], { cwd: dir }));
    expect(JSON.parse(r.stdout).hosts.map((h: { status: string }) => h.status)).toEqual(["skipped"]);
    expect(leftovers(join(dir, "pki"))).toEqual([]);
    expect(readFileSync(join(host, "agent.crt")).equals(crt)).toBe(true);
  });

  it("an export that changes nothing cleans what a killed run left in the bundle's folders", () => {
    const dir = scratch();
    const args = ["export", "k8s", "--manifest", MANIFEST, "--cluster-ip", "10.96.0.50", "--out", "overlay", "--from", "src"];
    ok(skycert(["init", "analyzer", "agent", "--san", "10.96.0.50", "--out", "src", ...EC], { cwd: dir }));
    ok(skycert(args, { cwd: dir }));
    killedIn(join(dir, "overlay", "secrets", "agent"), ".skycert-tmp-agent.crt-999999-x1y2");
    writeFileSync(join(dir, "overlay", "secrets", ".skycert-tmp-agent-999999-AbCdEf"), "");
    writeFileSync(join(dir, "overlay", ".skycert-tmp-kustomization.yaml-999999-x1y2"), "half");
    const r = JSON.parse(ok(skycert([...args, "--json"], { cwd: dir })).stdout);
    expect(new Set(r.files.map((f: { status: string }) => f.status))).toEqual(new Set(["unchanged"]));
    expect(leftovers(join(dir, "overlay"))).toEqual([]);
  });
});

describe("renew racing a re-issue", () => {
  it("a set re-issued with a new key while renew was working is never overwritten with the old key's renewal", async () => {
    const dir = scratch();
    const pass = join(dir, "pass");
    writeFileSync(pass, `${registerSecret("take-turns-passphrase")}\n`);
    ok(skycert(["init", "ca", "--out", "pki", "--encrypt", "--passphrase-file", pass, ...EC], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "h1=10.9.0.1", "--passphrase-file", pass, "--out", "pki", ...EC], { cwd: dir }));
    // renew reads the certificate, then waits for the CA key's passphrase on a FIFO this test
    // holds open; meanwhile the host is re-issued with a new key; then the passphrase arrives.
    const fifo = join(dir, "fifo");
    tool("mkfifo", [fifo]);
    const writer = openSync(fifo, constants.O_RDWR);
    const crt = join(dir, "pki", "agents", "h1", "agent.crt");
    const renew = spawnRun(process.execPath, [BIN, "renew", crt, "--passphrase-file", fifo], { cwd: dir });
    let reissued = "";
    try {
      const reading = () =>
        readdirSync(`/proc/${renew.pid}/fd`).some((fd) => {
          try {
            return readlinkSync(`/proc/${renew.pid}/fd/${fd}`) === fifo;
          } catch {
            return false;
          }
        });
      for (let i = 0; i < 3000 && existsSync(`/proc/${renew.pid}`) && !reading(); i++) await sleep(10);
      expect(reading(), "renew never opened the FIFO").toBe(true);
      ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "h1=10.9.0.1", "--passphrase-file", pass, "--out", "pki", "--force", ...EC], { cwd: dir }), "the re-issue");
      reissued = readFileSync(crt, "utf8");
      writeSync(writer, readFileSync(pass));
    } finally {
      closeSync(writer);
    }
    const r = await renew.done;
    // The re-issued set is whole, and its certificate is still the one the re-issue wrote.
    keySet(join(dir, "pki", "agents", "h1"), "agent", { signer: join(dir, "pki", "ca", "skydive-ca.crt") });
    expect(readFileSync(crt, "utf8")).toBe(reissued);
    expect(oneLine(r, 1)).toBe(`skycert: error: ${crt} changed while it was being renewed (another skycert run replaced it) (fix: run the same renew again)`);
    expect(leftovers(join(dir, "pki"))).toEqual([]);
  });
});
