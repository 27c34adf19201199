/**
 * kill -9 safety of the writers other than `init analyzer|agent` (crash.test.ts
 * covers that one): `renew` (one file replaced under its folder's lock), `init
 * ca`, a fleet run (`init agent --ca --inventory`), `export k8s` and `export
 * ansible`. After each kill every unit a writer owns (a set folder, or one file)
 * is absent, as it was before, or complete and new (a key and its certificate
 * hold one public key, the certificate verifies with its signer; an export's
 * files are exactly what a complete run writes); nothing is half-written; and
 * the next run cleans what the killed one left.
 *
 * Two ways: scripts/kill-loop.mjs kills runs at random moments (10 runs per
 * writer), and a strace sweep kills a run at each of its file-system changes in
 * turn (deterministic), then runs the writer again and checks that it completes
 * and leaves nothing behind.
 */
import { spawn } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { chmodSync, closeSync, constants, cpSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, ROOT, SHARED, ok, openssl, scratch, skycert, tool } from "./helpers/run.js";
import { recordStreams, registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";
import { STRACE, changesOf, tracedRun } from "./helpers/strace.js";

const changesOfChanged = (trace: string) => changesOf(trace, true);

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const STEM = "agent.domain.com";
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16);

/** skycert's leftovers (temporaries, folders moved aside, locks) anywhere under `dir`. */
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

const pub = (p: string, kind: "key" | "crt" | "csr") =>
  ok(openssl(kind === "key" ? ["pkey", "-in", p, "-pubout"] : kind === "crt" ? ["x509", "-in", p, "-noout", "-pubkey"] : ["req", "-in", p, "-noout", "-pubkey"]), `openssl reads ${p}`).stdout;

/** The certificate at `crt` verifies with `signer`'s public key. */
function expectSigned(crt: string, signer: string): void {
  expect(new X509Certificate(readFileSync(crt)).verify(new X509Certificate(readFileSync(signer)).publicKey), `${crt} verifies with ${signer}`).toBe(true);
}

/** A complete key/certificate(/request) set: one public key, the documented modes, signed by `signer`. Returns the certificate's bytes. */
function keySet(dir: string, stem: string, opts: { csr?: boolean; signer?: string } = {}): string {
  const csr = opts.csr ?? true;
  const files = [`${stem}.key`, `${stem}.crt`, ...(csr ? [`${stem}.csr`] : [])].map((n) => join(dir, n));
  expect(files.filter((f) => existsSync(f)), `${dir} holds a partial set`).toEqual(files);
  const key = pub(files[0]!, "key");
  expect(pub(files[1]!, "crt"), `${files[1]} does not match its key`).toBe(key);
  if (csr) expect(pub(files[2]!, "csr"), `${files[2]} does not match its key`).toBe(key);
  expect([mode(dir), ...files.map(mode)]).toEqual(["700", "400", "444", ...(csr ? ["444"] : [])]);
  expectSigned(files[1]!, opts.signer ?? files[1]!);
  return sha(files[1]!);
}

describe("kill -9 at random moments (scripts/kill-loop.mjs --command ..., 10 runs each)", () => {
  for (const command of ["renew", "ca", "fleet", "export-k8s", "export-ansible"]) {
    it(command, () => {
      const dir = scratch("skycert-kill-loop-");
      const r = tool(process.execPath, [join(ROOT, "scripts", "kill-loop.mjs"), "--command", command, "--runs", "10", "--dir", dir, "--manifest", MANIFEST], { timeout: 600_000 });
      expect(r.stderr, r.stdout).toBe("");
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(summary).toMatchObject({ command, runs: 10 });
      expect(summary.killed + summary.completed).toBe(10);
      expect(summary.killed).toBeGreaterThan(0);
      // The script's final run left a clean output folder: check it independently.
      expect(leftovers(join(dir, "out"))).toEqual([]);
    });
  }
});

/**
 * Deterministic crash points, as in crash.test.ts: a traced reference run lists
 * the writer's file-system changes; then, from the same starting folder each
 * time, a run is killed by strace on entering each change in turn.
 */

interface Unit {
  /** Path under the working folder. */
  path: string;
  folder: boolean;
  /** Checks the unit is complete and consistent; returns what identifies its content. */
  read: (path: string) => string;
}

interface Writer {
  /** Makes the starting state in `base` (sources and the output as a previous run left it). */
  setup: (base: string) => void;
  args: string[];
  units: Unit[];
  /** What a complete run writes, unit by unit, when it is the same every time (exports). */
  reference?: boolean;
}

/**
 * For each change of `w.args` run from `base`: kill there, check every unit is
 * previous, moved aside (a set folder between the two renames of its swap) or
 * complete and new; then run the writer again and check that it completes,
 * every unit is complete, and nothing of skycert's is left anywhere.
 */
function sweep(w: Writer): string[] {
  const work = scratch("skycert-sweep-");
  const base = join(work, "base");
  const cur = join(work, "cur");
  w.setup(base);
  const reset = () => {
    rmSync(cur, { recursive: true, force: true });
    cpSync(base, cur, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  };
  const previous = Object.fromEntries(w.units.map((u) => [u.path, existsSync(join(base, u.path)) ? u.read(join(base, u.path)) : undefined]));
  reset();
  const traceFile = join(work, "reference.trace");
  ok(tracedRun(w.args, cur, ["-o", traceFile]), "reference run");
  const reference = w.reference ? Object.fromEntries(w.units.map((u) => [u.path, u.read(join(cur, u.path))])) : undefined;
  const changes = changesOfChanged(readFileSync(traceFile, "utf8"));
  expect(changes.length).toBeGreaterThan(3);
  const seen: string[] = [];
  for (const [i, change] of changes.entries()) {
    const at = `change ${i + 1}/${changes.length} (${change.line.replace(/^\d+ +/, "")})`;
    reset();
    const r = tracedRun(w.args, cur, ["-o", "/dev/null", "-e", `inject=${change.call}:signal=SIGKILL:when=${change.rank}`]);
    expect(r.code, `${at}: not killed: ${r.stderr}`).toBe(128);
    for (const u of w.units) {
      const path = join(cur, u.path);
      let what: string;
      if (!lstatSync(path, { throwIfNoEntry: false })) {
        if (previous[u.path] === undefined) what = "absent";
        else {
          const aside = readdirSync(dirname(path)).filter((n) => n.startsWith(`.skycert-old-${basename(path)}-`));
          expect(u.folder && aside.length, `${at}: ${u.path} is gone and nothing was moved aside`).toBe(1);
          expect(u.read(join(dirname(path), aside[0]!)), `${at}: what was moved aside is not ${u.path} as it was`).toBe(previous[u.path]);
          what = "moved aside";
        }
      } else {
        const now = u.read(path);
        if (now === previous[u.path]) what = "previous";
        else {
          if (reference) expect(now, `${at}: ${u.path} is neither as it was nor what a complete run writes`).toBe(reference[u.path]);
          what = "new";
        }
      }
      seen.push(`${i + 1}:${u.path}:${what}`);
    }
    // The next run completes and cleans up after the killed one.
    const next = skycert(w.args, { cwd: cur, env: { SKYCERT_LOCK_WAIT_MS: "2000" } });
    expect(next.code, `${at}: the next run: ${next.stderr}`).toBe(0);
    for (const u of w.units) {
      const now = u.read(join(cur, u.path));
      if (reference) expect(now, `${at}: ${u.path} after the next run`).toBe(reference[u.path]);
    }
    expect(leftovers(cur), `${at}: left after the next run`).toEqual([]);
  }
  return seen;
}

const kinds = (seen: string[]) => new Set(seen.map((s) => s.split(":").pop()));

describe.skipIf(!STRACE)("kill -9 at every file-system change (strace), then the next run", () => {
  it("renew of a self-signed certificate: the previous certificate or the renewed one, never a temporary left after the next run", () => {
    const seen = sweep({
      setup: (base) => ok(skycert(["init", "agent", "--out", "pki"], { cwd: scratchInto(base) })),
      args: ["renew", `pki/agent/${STEM}.crt`],
      units: [{ path: `pki/agent/${STEM}.crt`, folder: false, read: (p) => renewedCert(p, p) }],
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "new"]));
  });

  it("renew of a CA-signed certificate", () => {
    const seen = sweep({
      setup: (base) => {
        const cwd = scratchInto(base);
        ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd }));
        ok(skycert(["init", "agent", "--ca", "pki", "--out", "pki"], { cwd }));
      },
      args: ["renew", `pki/agent/${STEM}.crt`, "--ca", "pki"],
      units: [{ path: `pki/agent/${STEM}.crt`, folder: false, read: (p) => renewedCert(p, join(dirname(dirname(p)), "ca", "skydive-ca.crt")) }],
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "new"]));
  });

  it("init ca --force over an existing CA", () => {
    const seen = sweep({
      setup: (base) => ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: scratchInto(base) })),
      args: ["init", "ca", "--out", "pki", "--bits", "2048", "--force"],
      units: [{ path: "pki/ca", folder: true, read: (p) => keySet(p, "skydive-ca", { csr: false }) }],
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  it("a fleet run (two hosts) with --force over issued hosts", () => {
    const hosts = ["h1", "h2"];
    const seen = sweep({
      setup: (base) => {
        const cwd = scratchInto(base);
        writeFileSync(join(cwd, "hosts.ini"), `[agents]\n${hosts.map((h, i) => `${h} ansible_host=10.9.0.${i + 1}`).join("\n")}\n`);
        ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd }));
        ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "pki", "--bits", "2048"], { cwd }));
      },
      args: ["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "pki", "--bits", "2048", "--force"],
      units: hosts.map((h) => ({
        path: `pki/agents/${h}`,
        folder: true,
        read: (p) => {
          const crt = keySet(p, STEM, { signer: join(p, "..", "..", "ca", "skydive-ca.crt") });
          expect(readFileSync(join(p, "skydive.yml"), "utf8"), `${p}/skydive.yml names the host's files`).toMatch(/client_cert: .*\/agent\.domain\.com\.crt\n  client_key: .*\/agent\.domain\.com\.key\n/);
          return crt;
        },
      })),
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  /** The source of an export renewed, so that --force replaces every certificate of the bundle. */
  const exportBase = (base: string, first: string[]) => {
    const cwd = scratchInto(base);
    ok(skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--out", "src"], { cwd }));
    writeFileSync(join(cwd, "hosts.ini"), `[analyzers]\nlocalhost\n[agents]\nagent1 ansible_host=127.0.0.1\nagent2 skydive_extra_config="{'logging': {'level': 'DEBUG'}}"\n`);
    ok(skycert(first, { cwd }));
    for (const role of ["analyzer", "agent"]) ok(skycert(["renew", `src/${role}/${role}.domain.com.crt`], { cwd }));
  };
  const exportSet = (path: string, pairs: [string, string][]): Unit => ({
    path,
    folder: true,
    read: (p) => {
      for (const [key, crt] of pairs) expect(pub(join(p, crt), "crt"), `${join(p, crt)} does not match its key`).toBe(pub(join(p, key), "key"));
      // skycert's own leftovers (a killed run's lock) are the next run's business, checked there.
      const names = readdirSync(p).filter((n) => !n.startsWith(".skycert")).sort();
      return names.map((n) => `${n} ${mode(join(p, n))} ${sha(join(p, n))}`).join(", ");
    },
  });
  const exportFile = (path: string): Unit => ({ path, folder: false, read: (p) => `${mode(p)} ${sha(p)}` });

  it("export k8s --force after a renewal", () => {
    const args = ["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "src"];
    const seen = sweep({
      setup: (base) => exportBase(base, args),
      args: [...args, "--force"],
      reference: true,
      units: [
        exportSet("overlay/secrets/analyzer", [["analyzer.key", "analyzer.crt"]]),
        exportSet("overlay/secrets/agent", [["agent.key", "agent.crt"]]),
        ...["skydive.yaml", "kustomization.yaml", "patch-analyzer.yaml", "patch-agent.yaml"].map((f) => exportFile(`overlay/${f}`)),
      ],
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });

  it("export ansible --force after a renewal", () => {
    const args = ["export", "ansible", "--inventory", "hosts.ini", "--out", "deploy", "--from", "src"];
    const seen = sweep({
      setup: (base) => exportBase(base, args),
      args: [...args, "--force"],
      reference: true,
      units: [
        exportSet("deploy/files/analyzer", [["analyzer.key", "analyzer.crt"]]),
        exportSet("deploy/files/agent", [["agent.key", "agent.crt"]]),
        ...["skydive-tls.yml", "group_vars/analyzers.yml", "group_vars/agents.yml", "host_vars/agent2.yml"].map((f) => exportFile(`deploy/${f}`)),
      ],
    });
    expect(kinds(seen)).toEqual(new Set(["previous", "moved aside", "new"]));
  });
});

/** A pid that is gone: a killed run's. */
const deadPid = () => tool("bash", ["-c", "sleep 0 & echo $!; wait"]).stdout.trim();

describe("the next run cleans up where it writes nothing new", () => {
  it("a fleet run that skips a host cleans what a killed run left in its folder, and keeps the host as it was", () => {
    const dir = scratch();
    writeFileSync(join(dir, "hosts.ini"), "[agents]\nh1 ansible_host=10.9.0.1\n");
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    const host = join(dir, "pki", "agents", "h1");
    const crt = readFileSync(join(host, `${STEM}.crt`));
    const dead = deadPid();
    chmodSync(host, 0o700);
    writeFileSync(join(host, ".skycert.lock"), `${dead}\n`);
    writeFileSync(join(host, `.skycert-tmp-${STEM}.crt-${dead}-abc123`), "half a certif");
    const r = ok(skycert(["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "pki", "--bits", "2048", "--json"], { cwd: dir }));
    expect(JSON.parse(r.stdout).hosts.map((h: { status: string }) => h.status)).toEqual(["skipped"]);
    expect(leftovers(join(dir, "pki"))).toEqual([]);
    expect(readFileSync(join(host, `${STEM}.crt`)).equals(crt)).toBe(true);
  });

  it("an export that changes nothing cleans what a killed run left in the bundle's folders", () => {
    const dir = scratch();
    const args = ["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "src"];
    ok(skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--out", "src"], { cwd: dir }));
    ok(skycert(args, { cwd: dir }));
    const dead = deadPid();
    writeFileSync(join(dir, "overlay", "secrets", "agent", ".skycert.lock"), `${dead}\n`);
    writeFileSync(join(dir, "overlay", "secrets", `.skycert-tmp-agent-${dead}-AbCdEf`), "");
    writeFileSync(join(dir, "overlay", `.skycert-tmp-kustomization.yaml-${dead}-x1y2`), "half");
    const r = JSON.parse(ok(skycert([...args, "--json"], { cwd: dir })).stdout);
    expect(new Set(r.files.map((f: { status: string }) => f.status))).toEqual(new Set(["unchanged"]));
    expect(leftovers(join(dir, "overlay"))).toEqual([]);
  });
});

describe("renew and a re-issue of the same set take turns", () => {
  it("a re-issue waits for the set folder's lock, which renew holds while it replaces the certificate", () => {
    const dir = scratch();
    ok(skycert(["init", "agent"], { cwd: dir }));
    const live = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      writeFileSync(join(dir, "agent", ".skycert.lock"), `${live.pid}\n`);
      const before = snapshot(dir);
      const r = skycert(["init", "agent", "--force"], { cwd: dir, env: { SKYCERT_LOCK_WAIT_MS: "200" } });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`another skycert run (pid ${live.pid}) is writing ${join(dir, "agent")}`);
      // Nothing replaced; the run's own staging folder and lock are gone.
      expect(snapshot(dir)).toEqual(before);
    } finally {
      live.kill("SIGKILL");
    }
  });

  it("a certificate re-issued with a new key while renew was working is not overwritten with the old key's renewal", async () => {
    const dir = scratch();
    const pass = join(dir, "pass");
    writeFileSync(pass, `${registerSecret("take-turns-passphrase")}\n`);
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048", "--encrypt", "--passphrase-file", pass], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--passphrase-file", pass, "--out", "pki"], { cwd: dir }));
    // renew reads the certificate, then waits for the CA key's passphrase on a FIFO that this test
    // holds open: meanwhile the set is re-issued with a new key; then the passphrase arrives.
    const fifo = join(dir, "fifo");
    tool("mkfifo", [fifo]);
    const writer = openSync(fifo, constants.O_RDWR);
    const crt = join(dir, "pki", "agent", `${STEM}.crt`);
    const renew = spawn(process.execPath, [BIN, "renew", crt, "--ca", "pki", "--passphrase-file", fifo], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    renew.stdout.on("data", (d) => (stdout += d));
    renew.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => renew.on("exit", resolve));
    try {
      const reading = () => readdirSync(`/proc/${renew.pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${renew.pid}/fd/${fd}`) === fifo;
        } catch {
          return false;
        }
      });
      for (let i = 0; i < 3000 && renew.exitCode === null && !reading(); i++) tool("sleep", ["0.01"]);
      expect(reading(), `renew never opened the FIFO: ${stderr}`).toBe(true);
      ok(skycert(["init", "agent", "--ca", "pki", "--passphrase-file", pass, "--out", "pki", "--force"], { cwd: dir }), "the re-issue");
      writeSync(writer, readFileSync(pass));
    } finally {
      closeSync(writer);
    }
    const code = await exited;
    recordStreams(["skycert", "renew", "(passphrase on a FIFO)"], stdout, stderr);
    // The re-issued set is whole: its certificate is still its key's.
    keySet(join(dir, "pki", "agent"), STEM, { signer: join(dir, "pki", "ca", "skydive-ca.crt") });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`skycert: error: ${crt} changed while it was being renewed (another skycert run replaced it) (fix: run the same renew again)`);
    expect(leftovers(join(dir, "pki"))).toEqual([]);
  });
});

/** `base`, made, as the working folder of the setup commands. */
function scratchInto(base: string): string {
  mkdirSync(base, { recursive: true });
  return base;
}

/** A renewed (or previous) certificate: complete, 0444, the key beside it, signed by `signer`. Returns its bytes. */
function renewedCert(crt: string, signer: string): string {
  expect(pub(crt, "crt"), `${crt} does not match the key beside it`).toBe(pub(join(dirname(crt), `${STEM}.key`), "key"));
  expect(mode(crt)).toBe("444");
  expectSigned(crt, signer);
  return sha(crt);
}
