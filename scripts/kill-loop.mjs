#!/usr/bin/env node
// kill -9 loop over one of skycert's writers: each run is killed after a random
// delay, then every unit the writer owns (a set folder, or one file) must be
// absent, as it was before the run, or complete and new: a set's key,
// certificate (and CSR) hold one public key (checked with the openssl CLI), a
// certificate verifies with its signer, and no file is half-written. A run that
// completes must leave no temporaries in the folders it writes (it cleans what
// killed runs left there), and a final normal run must succeed and leave no
// temporaries, folders moved aside, or lock anywhere under the output folder.
//
//   node scripts/kill-loop.mjs [--command init|ca|fleet|renew|export-k8s|export-ansible]
//                              [--runs 20] [--dir DIR] [--seed N] [--bin bin/skycert] [--manifest FILE]
//
//   init            skycert init analyzer agent --out OUT [--force]
//   ca              skycert init ca --out OUT --bits 2048 [--force]
//   fleet           skycert init agent --ca DIR/pki --inventory FILE --out OUT --bits 2048 [--force]
//                   (four hosts; each OUT/agents/<host>/ is a unit)
//   renew           skycert renew CERT, alternately a self-signed certificate (key beside it)
//                   and a CA-signed one (--ca DIR/pki)
//   export-k8s      skycert export k8s --manifest FILE --out OUT --from DIR/src [--force]
//   export-ansible  skycert export ansible --inventory FILE --out OUT --from DIR/src [--force]
//                   (between two exports the source certificates are renewed, so --force
//                   replaces them; what a complete run writes is made first in DIR/ref, and
//                   every unit of OUT must be as before the run or exactly that)
//
// Without --dir it works in a new temporary folder, removed on success.
//
// Half the runs are killed at a random moment of the whole run (start-up, key
// generation), half at a random moment shortly after the run takes its lock,
// where it writes. Runs alternate between a fresh output (no --force) and
// --force over the existing units, into whose folders an operator's file and
// sub-folder are put (init, ca, fleet), which must survive. Prints one line per
// run and a JSON summary; exits 1 at the first violation.
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const COMMAND = opt("command", "init");
const RUNS = Number(opt("runs", "20"));
const OWN_DIR = !opt("dir", "");
const DIR = resolve(opt("dir", "") || mkdtempSync(join(tmpdir(), "skycert-kill-loop-")));
const SEED = Number(opt("seed", String(Math.floor(Math.random() * 2 ** 31))));
const BIN = resolve(opt("bin", join(ROOT, "bin", "skycert")));
const MANIFEST = resolve(opt("manifest", join(ROOT, "..", "shared", "skydive", "kubernetes-skydive.yaml")));
const OUT = join(DIR, "out");
const ENV = { ...process.env, NO_COLOR: "1", SKYCERT_LOCK_WAIT_MS: "3000" };

// mulberry32: reproducible delays for a given --seed.
let state = SEED >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

function fail(message) {
  process.stderr.write(`kill-loop: VIOLATION (${COMMAND}): ${message}\nkill-loop: seed ${SEED}, folder ${DIR}\n`);
  process.exit(1);
}

function openssl(argv) {
  const r = spawnSync("openssl", argv, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : undefined;
}

/** Output of a run, killed or not, never holds key material (the test suite's leak scan does not see these streams). */
function noSecrets(text, what) {
  if (text.includes("PRIVATE KEY-----")) fail(`${what} printed a PEM private-key marker`);
}

/** skycert run to completion; a failure is a violation. */
function skycert(argv, what) {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: "utf8", env: ENV, cwd: DIR });
  noSecrets(r.stdout + r.stderr, what);
  if (r.status !== 0) fail(`${what} (${argv.join(" ")}) exited ${r.status}: ${r.stderr.trim()}`);
  return r;
}

const mode = (p) => (statSync(p).mode & 0o777).toString(8);
const sha = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");
const isSkycert = (name) => name.startsWith(".skycert");

/** The public key of a key, certificate or request, from the openssl CLI; undefined when it cannot read it. */
function pubkey(path, kind) {
  const argv = { key: ["pkey", "-in", path, "-pubout"], crt: ["x509", "-in", path, "-noout", "-pubkey"], csr: ["req", "-in", path, "-noout", "-pubkey"] }[kind];
  return openssl(argv);
}

/** A complete key/certificate(/request) set in `dir`: one public key, the documented modes. Returns the certificate's fingerprint. */
function checkKeySet(dir, stem, where, { csr = true, signer } = {}) {
  const files = { key: join(dir, `${stem}.key`), crt: join(dir, `${stem}.crt`), ...(csr ? { csr: join(dir, `${stem}.csr`) } : {}) };
  const present = Object.entries(files).filter(([, p]) => existsSync(p)).map(([k]) => k);
  if (present.length !== Object.keys(files).length) fail(`${where}: ${dir} holds ${present.join(", ") || "none"} of ${Object.keys(files).join(", ")}`);
  const keys = Object.entries(files).map(([k, p]) => [k, pubkey(p, k)]);
  for (const [k, pub] of keys) if (!pub) fail(`${where}: openssl cannot read ${files[k]} (half-written?)`);
  for (const [k, pub] of keys.slice(1)) if (pub !== keys[0][1]) fail(`${where}: ${files.key} does not match ${files[k]}`);
  const modes = [mode(dir), mode(files.key), mode(files.crt), ...(csr ? [mode(files.csr)] : [])];
  if (modes.join(" ") !== ["700", "400", "444", ...(csr ? ["444"] : [])].join(" ")) fail(`${where}: modes ${modes.join(" ")} in ${dir}`);
  checkSigned(files.crt, signer ?? files.crt, where);
  return sha(files.crt);
}

/** The certificate verifies with its signer's public key (itself when self-signed). */
function checkSigned(crt, signerCrt, where) {
  let ok = false;
  try {
    ok = new X509Certificate(readFileSync(crt)).verify(new X509Certificate(readFileSync(signerCrt)).publicKey);
  } catch {
    ok = false;
  }
  if (!ok) fail(`${where}: ${crt} does not verify with ${signerCrt}`);
}

/** Every file under `dir` (relative path -> sha256), skycert's own leftovers excluded. */
function tree(dir) {
  const out = {};
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      if (isSkycert(name)) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out[relative(dir, p)] = `${(st.mode & 0o777).toString(8)} ${sha(p)}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** skycert's leftovers (temporaries, folders moved aside, locks) anywhere under `dir`. */
function leftoversUnder(dir) {
  const found = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (isSkycert(name)) found.push(relative(OUT, p));
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}
const leftoversIn = (dirs) => dirs.filter((d) => existsSync(d)).flatMap((d) => readdirSync(d).filter(isSkycert).map((n) => relative(OUT, join(d, n))));

// ---------------------------------------------------------------------------
// The writers. A unit is { name, path, folder: boolean, read(path, where) -> fingerprint }:
// read fails the loop on anything partial, mismatched or unreadable.

const STEM = { analyzer: "analyzer.domain.com", agent: "agent.domain.com" };
const HOSTS = ["h1", "h2", "h3", "h4"];

function sourcePair(dir) {
  skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--out", dir], "making the source");
}
/** Renew the source's certificates, so that an export --force has something to replace. */
function renewSource(dir) {
  for (const role of ["analyzer", "agent"]) skycert(["renew", join(dir, role, `${STEM[role]}.crt`)], "renewing the source");
}

/** An export's units: its set folders and its files, read as what a complete run made (`ref`) expects them. */
function exportUnits(sets, docs) {
  const units = [];
  for (const s of sets) {
    units.push({
      name: s.dir,
      path: join(OUT, s.dir),
      folder: true,
      read(path, where) {
        for (const [key, crt] of s.pairs) {
          const a = pubkey(join(path, key), "key");
          const b = pubkey(join(path, crt), "crt");
          if (!a || !b) fail(`${where}: openssl cannot read ${join(path, key)} or ${join(path, crt)} (half-written?)`);
          if (a !== b) fail(`${where}: ${join(path, key)} does not match ${join(path, crt)}`);
        }
        return JSON.stringify(tree(path));
      },
    });
  }
  for (const d of docs) units.push({ name: d, path: join(OUT, d), folder: false, read: (path) => `${mode(path)} ${sha(path)}` });
  return units;
}

const SCENARIOS = {
  init: {
    setup() {},
    units: () =>
      ["analyzer", "agent"].map((role) => ({ name: role, path: join(OUT, role), folder: true, read: (path, where) => checkKeySet(path, STEM[role], where) })),
    argv: (_run, fresh) => ["init", "analyzer", "agent", "--out", OUT, ...(fresh ? [] : ["--force"])],
    lockDir: () => OUT,
    afterLockMs: 25,
    operatorFiles: true,
    extraCheck(where) {
      const yml = join(OUT, "skydive.yml");
      if (existsSync(yml) && !/X509_cert:/.test(readFileSync(yml, "utf8"))) fail(`${where}: skydive.yml is incomplete`);
    },
  },
  ca: {
    setup() {},
    units: () => [{ name: "ca", path: join(OUT, "ca"), folder: true, read: (path, where) => checkKeySet(path, "skydive-ca", where, { csr: false }) }],
    argv: (_run, fresh) => ["init", "ca", "--out", OUT, "--bits", "2048", ...(fresh ? [] : ["--force"])],
    lockDir: () => OUT,
    afterLockMs: 15,
    operatorFiles: true,
  },
  fleet: {
    setup() {
      skycert(["init", "ca", "--out", join(DIR, "pki"), "--bits", "2048"], "making the CA");
      writeFileSync(join(DIR, "hosts.ini"), `[agents]\n${HOSTS.map((h, i) => `${h} ansible_host=10.9.0.${i + 1}`).join("\n")}\n`);
    },
    units: () =>
      HOSTS.map((host) => ({
        name: `agents/${host}`,
        path: join(OUT, "agents", host),
        folder: true,
        read(path, where) {
          const fp = checkKeySet(path, STEM.agent, where, { signer: join(DIR, "pki", "ca", "skydive-ca.crt") });
          const stanza = join(path, "skydive.yml");
          if (!existsSync(stanza) || !readFileSync(stanza, "utf8").includes(join(path, `${STEM.agent}.crt`))) fail(`${where}: ${stanza} is missing or does not name the host's certificate`);
          return fp;
        },
      })),
    freshRemove: () => [join(OUT, "agents")],
    argv: (_run, fresh) => ["init", "agent", "--ca", join(DIR, "pki"), "--inventory", join(DIR, "hosts.ini"), "--out", OUT, "--bits", "2048", ...(fresh ? [] : ["--force"])],
    lockDir: () => OUT,
    afterLockMs: 40,
    operatorFiles: true,
  },
  renew: {
    setup() {
      skycert(["init", "analyzer", "agent", "--out", OUT], "making self-signed certificates");
      skycert(["init", "ca", "--out", join(DIR, "pki"), "--bits", "2048"], "making the CA");
      skycert(["init", "agent", "--ca", join(DIR, "pki"), "--out", join(OUT, "signed")], "making a CA-signed certificate");
    },
    targets: [
      { crt: () => join(OUT, "agent", `${STEM.agent}.crt`), argv: [], signer: (crt) => crt },
      { crt: () => join(OUT, "signed", "agent", `${STEM.agent}.crt`), argv: () => ["--ca", join(DIR, "pki")], signer: () => join(DIR, "pki", "ca", "skydive-ca.crt") },
    ],
    units() {
      return this.targets.map((t) => ({
        name: relative(OUT, t.crt()),
        path: t.crt(),
        folder: false,
        read(path, where) {
          const key = join(dirname(path), `${STEM.agent}.key`);
          if (!pubkey(path, "crt")) fail(`${where}: openssl cannot read ${path} (half-written?)`);
          if (pubkey(path, "crt") !== pubkey(key, "key")) fail(`${where}: ${path} does not match ${key}`);
          if (mode(path) !== "444") fail(`${where}: ${path} has mode ${mode(path)}`);
          checkSigned(path, t.signer(path), where);
          return sha(path);
        },
      }));
    },
    target: (run) => SCENARIOS.renew.targets[run % 2],
    noFresh: true,
    argv: (run) => {
      const t = SCENARIOS.renew.target(run);
      return ["renew", t.crt(), ...(typeof t.argv === "function" ? t.argv() : t.argv)];
    },
    finalArgvs: () => SCENARIOS.renew.targets.map((t) => ["renew", t.crt(), ...(typeof t.argv === "function" ? t.argv() : t.argv)]),
    lockDir: (run) => dirname(SCENARIOS.renew.target(run).crt()),
    cleaned: (run) => [dirname(SCENARIOS.renew.target(run).crt())],
    afterLockMs: 4,
  },
  "export-k8s": {
    setup() {
      sourcePair(join(DIR, "src"));
    },
    units: () =>
      exportUnits(
        [
          { dir: "secrets/analyzer", pairs: [["analyzer.key", "analyzer.crt"]] },
          { dir: "secrets/agent", pairs: [["agent.key", "agent.crt"]] },
        ],
        ["skydive.yaml", "kustomization.yaml", "patch-analyzer.yaml", "patch-agent.yaml"],
      ),
    argvTo: (out, fresh) => ["export", "k8s", "--manifest", MANIFEST, "--out", out, "--from", join(DIR, "src"), ...(fresh ? [] : ["--force"])],
    entryPoint: "kustomization.yaml",
    lockDir: () => OUT,
    afterLockMs: 40,
  },
  "export-ansible": {
    setup() {
      sourcePair(join(DIR, "src"));
      writeFileSync(join(DIR, "hosts.ini"), `[analyzers]\nlocalhost\n[agents]\nagent1 ansible_host=127.0.0.1\nagent2 skydive_extra_config="{'logging': {'level': 'DEBUG'}}"\n`);
    },
    units: () =>
      exportUnits(
        [
          { dir: "files/analyzer", pairs: [["analyzer.key", "analyzer.crt"]] },
          { dir: "files/agent", pairs: [["agent.key", "agent.crt"]] },
        ],
        ["skydive-tls.yml", "group_vars/analyzers.yml", "group_vars/agents.yml", "host_vars/agent2.yml"],
      ),
    argvTo: (out, fresh) => ["export", "ansible", "--inventory", join(DIR, "hosts.ini"), "--out", out, "--from", join(DIR, "src"), ...(fresh ? [] : ["--force"])],
    entryPoint: "skydive-tls.yml",
    lockDir: () => OUT,
    afterLockMs: 40,
  },
};

const S = SCENARIOS[COMMAND];
if (!S) fail(`unknown --command ${COMMAND} (one of ${Object.keys(SCENARIOS).join(", ")})`);
const isExport = Boolean(S.argvTo);
const argvOf = (run, fresh) => (isExport ? S.argvTo(OUT, fresh) : S.argv(run, fresh));
const units = () => S.units();

const movedAside = (u) =>
  existsSync(dirname(u.path)) ? readdirSync(dirname(u.path)).filter((n) => n.startsWith(`.skycert-old-${basename(u.path)}-`)).map((n) => join(dirname(u.path), n)) : [];
const anyMovedAside = () => leftoversUnder(OUT).some((p) => basename(p).startsWith(".skycert-old-"));

/** Each unit's fingerprint (undefined when absent), checked on the way. */
function readUnits(where) {
  return Object.fromEntries(units().map((u) => [u.name, lstatSync(u.path, { throwIfNoEntry: false }) ? u.read(u.path, where) : undefined]));
}

function addOperatorFiles() {
  if (!S.operatorFiles) return;
  for (const u of units()) {
    if (!existsSync(u.path)) continue;
    writeFileSync(join(u.path, "notes.txt"), "operator notes\n");
    mkdirSync(join(u.path, "extra"), { recursive: true });
    writeFileSync(join(u.path, "extra", "f"), "operator file\n");
  }
}
const hasOperatorFiles = (dir) => existsSync(join(dir, "notes.txt")) && existsSync(join(dir, "extra", "f"));

/** Spawn the run; kill it with SIGKILL after `delayMs`, or `afterLockMs` after its lock appears in `lockDir`. */
function runAndKill(argv, { delayMs, afterLockMs }, lockDir) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: DIR, stdio: ["ignore", "pipe", "pipe"], env: ENV });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let timer;
    let watcher;
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
    if (afterLockMs !== undefined) {
      watcher = watch(lockDir, (_event, name) => {
        if (name === ".skycert.lock" && !timer) timer = setTimeout(kill, afterLockMs);
      });
    } else {
      timer = setTimeout(kill, delayMs);
    }
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      noSecrets(stdout + stderr, `run ${argv.join(" ")}`);
      resolveRun({ code, signal, stderr, ms: Date.now() - started });
    });
  });
}

mkdirSync(OUT, { recursive: true });
S.setup();
const summary = { command: COMMAND, seed: SEED, dir: DIR, runs: 0, killed: 0, completed: 0, outcomes: { absent: 0, previous: 0, new: 0, "moved aside": 0 } };

// Calibration: one normal run gives the duration the random delays are drawn from.
const t0 = Date.now();
skycert(argvOf(0, !S.noFresh), "calibration run");
const duration = Date.now() - t0;
readUnits("after the calibration run");
addOperatorFiles();
// Complete units with the operator's files, put back before a --force run that would
// otherwise start from a unit an earlier kill left absent.
const PRISTINE = join(DIR, "pristine");
mkdirSync(PRISTINE);
for (const u of units()) {
  if (!u.folder || isExport) continue;
  mkdirSync(dirname(join(PRISTINE, u.name)), { recursive: true });
  spawnSync("cp", ["-a", u.path, join(PRISTINE, u.name)]);
}

for (let i = 1; i <= RUNS; i++) {
  // Fresh outputs only when no earlier run left a folder moved aside (the next run puts it back).
  const fresh = !S.noFresh && i % 2 === 1 && !anyMovedAside();
  if (isExport && !fresh) renewSource(join(DIR, "src"));
  let before = readUnits(`before run ${i}`);
  if (fresh) {
    const remove = isExport ? readdirSync(OUT).map((n) => join(OUT, n)) : S.freshRemove ? S.freshRemove() : units().map((u) => u.path);
    for (const p of remove) rmSync(p, { recursive: true, force: true });
    before = readUnits(`before run ${i}`);
  } else if (!isExport) {
    for (const u of units()) {
      if (before[u.name] !== undefined || movedAside(u).length > 0 || !u.folder) continue;
      mkdirSync(dirname(u.path), { recursive: true });
      spawnSync("cp", ["-a", join(PRISTINE, u.name), u.path]);
    }
    before = readUnits(`restoring before run ${i}`);
  }
  const hadOperatorFiles = Object.fromEntries(units().map((u) => [u.name, S.operatorFiles && hasOperatorFiles(u.path)]));
  // What a complete run on this source writes (exports: the same bytes every time).
  let reference;
  if (isExport) {
    const ref = join(DIR, "ref");
    rmSync(ref, { recursive: true, force: true });
    skycert(S.argvTo(ref, true), "reference run");
    reference = Object.fromEntries(units().map((u) => [u.name, u.read(join(ref, u.name), "the reference run")]));
  }
  const leftBefore = leftoversUnder(OUT);

  const whole = i % 4 < 2;
  // Random moments: of the whole run (from start-up to the end of writing), or of its write phase.
  const timing = whole ? { delayMs: Math.floor((0.2 + random() * 0.9) * duration) } : { afterLockMs: Math.floor(random() * S.afterLockMs) };
  const argv = argvOf(i, fresh);
  const r = await runAndKill(argv, timing, S.lockDir(i));
  summary.runs++;
  if (r.signal === "SIGKILL") summary.killed++;
  else if (r.code === 0) summary.completed++;
  else fail(`run ${i} (${argv.join(" ")}) exited ${r.code} without being killed: ${r.stderr.trim()}`);

  const where = `after run ${i}`;
  const now = readUnits(where);
  const seen = [];
  for (const u of units()) {
    let outcome;
    if (now[u.name] === undefined) {
      if (before[u.name] === undefined) outcome = "absent";
      else {
        // Killed between the two renames of a swap: the previous set waits, complete, in a folder moved aside.
        const aside = movedAside(u).map((p) => u.read(p, where));
        if (!u.folder || !aside.includes(before[u.name])) fail(`${where}: ${u.name} is gone and no folder moved aside holds its previous state`);
        outcome = "moved aside";
      }
    } else if (now[u.name] === before[u.name]) outcome = "previous";
    else {
      if (reference && now[u.name] !== reference[u.name]) fail(`${where}: ${u.name} is neither as before the run nor what a complete run writes`);
      outcome = "new";
    }
    if (hadOperatorFiles[u.name] && !hasOperatorFiles(u.path) && !movedAside(u).some(hasOperatorFiles)) fail(`${where}: the operator's files in ${u.name} were lost`);
    summary.outcomes[outcome]++;
    seen.push(`${u.name}=${outcome}`);
  }
  // The entry point (kustomization.yaml, the playbook) is written last: present and new means all is new.
  if (S.entryPoint && fresh && now[S.entryPoint] !== undefined) {
    const partial = units().filter((u) => now[u.name] !== reference[u.name]).map((u) => u.name);
    if (partial.length) fail(`${where}: ${S.entryPoint} was written before ${partial.join(", ")}`);
  }
  S.extraCheck?.(where);
  // A run that completed cleaned what killed runs had left where it writes.
  if (r.code === 0) {
    const cleaned = S.cleaned ? leftoversIn(S.cleaned(i)) : leftoversUnder(OUT);
    if (cleaned.length) fail(`${where}: the run completed and left ${cleaned.join(", ")} (before it: ${leftBefore.join(", ") || "none"})`);
  }
  process.stdout.write(
    `run ${String(i).padStart(3)} ${S.noFresh ? "       " : fresh ? "fresh  " : "--force"} ${whole ? `kill at ${timing.delayMs} ms` : `kill ${timing.afterLockMs} ms after lock`}: ` +
      `${r.signal ?? `exit ${r.code}`}; ${seen.join(" ")}; left: ${leftoversUnder(OUT).join(" ") || "-"}\n`,
  );
  addOperatorFiles();
}

// The next normal run takes over a stale lock, cleans up, and completes, keeping the operator's files.
const keptOperatorFiles = units().filter((u) => S.operatorFiles && [u.path, ...movedAside(u)].some(hasOperatorFiles)).map((u) => u.name);
if (isExport) renewSource(join(DIR, "src"));
for (const argv of S.finalArgvs ? S.finalArgvs() : [argvOf(RUNS + 1, false)]) skycert(argv, "final run");
const left = leftoversUnder(OUT);
if (left.length) fail(`final run left ${left.join(", ")}`);
const final = readUnits("after the final run");
for (const u of units()) {
  if (final[u.name] === undefined) fail(`final run did not make ${u.name}`);
  if (keptOperatorFiles.includes(u.name) && !hasOperatorFiles(u.path)) fail(`final run lost the operator's files in ${u.name}`);
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
// A folder the script made is removed on success (kept, and named, on a violation).
if (OWN_DIR) rmSync(DIR, { recursive: true, force: true });
