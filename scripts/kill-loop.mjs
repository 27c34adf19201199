#!/usr/bin/env node
// kill -9 loop over `skycert init analyzer agent`: each run is killed after a
// random delay, then every role folder must be absent, the previous set, or a
// complete new set whose key, CSR and certificate hold one public key (checked
// with the openssl CLI). A final normal run must succeed and leave no
// temporaries, folders moved aside, or lock.
//
//   node scripts/kill-loop.mjs [--runs 20] [--dir DIR] [--seed N] [--bin bin/skycert]
//
// Without --dir it works in a new temporary folder, removed on success.
//
// Half the runs are killed at a random moment of the whole run (start-up, key
// generation), half at a random moment shortly after the run takes its lock,
// where it writes. Runs alternate between a fresh folder (no --force) and
// --force over the existing set with an operator's file and sub-folder in each
// role folder, which must survive. Prints one line per run and a JSON summary;
// exits 1 at the first violation.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt("runs", "20"));
const OWN_DIR = !opt("dir", "");
const DIR = resolve(opt("dir", "") || mkdtempSync(join(tmpdir(), "skycert-kill-loop-")));
const SEED = Number(opt("seed", String(Math.floor(Math.random() * 2 ** 31))));
const BIN = resolve(opt("bin", join(ROOT, "bin", "skycert")));
const ROLES = ["analyzer", "agent"];
const STEM = { analyzer: "analyzer.domain.com", agent: "agent.domain.com" };
const OUT = join(DIR, "out");

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
  process.stderr.write(`kill-loop: VIOLATION: ${message}\nkill-loop: seed ${SEED}, folder ${DIR}\n`);
  process.exit(1);
}

function openssl(argv) {
  const r = spawnSync("openssl", argv, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : undefined;
}

const mode = (p) => (statSync(p).mode & 0o777).toString(8);

/** A role's set in `dir`: undefined when the folder is absent; throws (via fail) on anything partial or mismatched. */
function readSet(dir, role, where) {
  if (!lstatSync(dir, { throwIfNoEntry: false })) return undefined;
  const files = { key: join(dir, `${STEM[role]}.key`), csr: join(dir, `${STEM[role]}.csr`), crt: join(dir, `${STEM[role]}.crt`) };
  const present = Object.entries(files).filter(([, p]) => existsSync(p)).map(([k]) => k);
  if (present.length !== 3) fail(`${where}: ${dir} holds ${present.join(", ") || "none"} of key, csr, crt`);
  const fromKey = openssl(["pkey", "-in", files.key, "-pubout"]);
  const fromCrt = openssl(["x509", "-in", files.crt, "-noout", "-pubkey"]);
  const fromCsr = openssl(["req", "-in", files.csr, "-noout", "-pubkey"]);
  if (!fromKey || !fromCrt || !fromCsr) fail(`${where}: openssl cannot read the set in ${dir}`);
  if (fromKey !== fromCrt) fail(`${where}: ${files.key} does not match ${files.crt}`);
  if (fromKey !== fromCsr) fail(`${where}: ${files.key} does not match ${files.csr}`);
  if (mode(files.key) !== "400" || mode(files.csr) !== "444" || mode(files.crt) !== "444" || mode(dir) !== "700") {
    fail(`${where}: modes ${mode(dir)} ${mode(files.key)} ${mode(files.csr)} ${mode(files.crt)} in ${dir}`);
  }
  const fp = openssl(["x509", "-in", files.crt, "-noout", "-fingerprint", "-sha256"]).trim();
  return { fp, operatorFile: existsSync(join(dir, "notes.txt")), operatorFolder: existsSync(join(dir, "extra", "f")) };
}

const leftovers = () => readdirSync(OUT).filter((n) => n.startsWith(".skycert"));
const movedAside = (role) => leftovers().filter((n) => n.startsWith(`.skycert-old-${role}-`)).map((n) => join(OUT, n));

function addOperatorFiles() {
  for (const role of ROLES) {
    const dir = join(OUT, role);
    if (!existsSync(dir)) continue;
    writeFileSync(join(dir, "notes.txt"), "operator notes\n");
    mkdirSync(join(dir, "extra"), { recursive: true });
    writeFileSync(join(dir, "extra", "f"), "operator file\n");
  }
}

/** Spawn init; kill it with SIGKILL after `delayMs`, or `afterLockMs` after the lock appears. Resolves with how it ended. */
function runAndKill(argv, { delayMs, afterLockMs }) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1", SKYCERT_LOCK_WAIT_MS: "3000" } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let timer;
    let watcher;
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
    if (afterLockMs !== undefined) {
      watcher = watch(OUT, (_event, name) => {
        if (name === ".skycert.lock" && !timer) timer = setTimeout(kill, afterLockMs);
      });
    } else {
      timer = setTimeout(kill, delayMs);
    }
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      resolveRun({ code, signal, stderr, ms: Date.now() - started });
    });
  });
}

mkdirSync(OUT, { recursive: true });
const summary = { seed: SEED, dir: DIR, runs: 0, killed: 0, completed: 0, outcomes: { absent: 0, previous: 0, new: 0, "moved aside": 0 } };

// Calibration: one normal run gives the duration the random delays are drawn from.
const t0 = Date.now();
const first = spawnSync(process.execPath, [BIN, "init", ...ROLES, "--out", OUT], { encoding: "utf8" });
if (first.status !== 0) fail(`calibration run failed: ${first.stderr}`);
const duration = Date.now() - t0;
addOperatorFiles();
// A complete set with the operator's files, put back before a --force run that would
// otherwise start from a folder an earlier kill left absent.
const PRISTINE = join(DIR, "pristine");
mkdirSync(PRISTINE);
for (const r of ROLES) spawnSync("cp", ["-a", join(OUT, r), join(PRISTINE, r)]);

for (let i = 1; i <= RUNS; i++) {
  const before = Object.fromEntries(ROLES.map((r) => [r, readSet(join(OUT, r), r, `before run ${i}`)]));
  // Fresh folders only when no earlier run left a folder moved aside (the next run puts it back).
  const fresh = i % 2 === 1 && ROLES.every((r) => movedAside(r).length === 0);
  if (fresh) {
    for (const r of ROLES) {
      rmSync(join(OUT, r), { recursive: true, force: true });
      before[r] = undefined;
    }
  } else {
    for (const r of ROLES) {
      if (before[r] || movedAside(r).length > 0) continue;
      spawnSync("cp", ["-a", join(PRISTINE, r), join(OUT, r)]);
      before[r] = readSet(join(OUT, r), r, `restoring ${r} before run ${i}`);
    }
  }
  const whole = i % 4 < 2;
  // Random moments: of the whole run (from start-up to the end of writing), or of its write phase.
  const timing = whole ? { delayMs: Math.floor((0.2 + random() * 0.9) * duration) } : { afterLockMs: Math.floor(random() * 25) };
  const argv = ["init", ...ROLES, "--out", OUT, ...(fresh ? [] : ["--force"])];
  const r = await runAndKill(argv, timing);
  summary.runs++;
  if (r.signal === "SIGKILL") summary.killed++;
  else if (r.code === 0) summary.completed++;
  else fail(`run ${i} (${argv.join(" ")}) exited ${r.code} without being killed: ${r.stderr.trim()}`);

  const seen = [];
  for (const role of ROLES) {
    const where = `after run ${i}`;
    const now = readSet(join(OUT, role), role, where);
    let outcome;
    if (!now) {
      if (!before[role]) outcome = "absent";
      else {
        // Killed between the two renames of the swap: the previous set waits, complete, in a folder moved aside.
        const aside = movedAside(role).map((p) => readSet(p, role, where)).filter(Boolean);
        if (!aside.some((s) => s.fp === before[role].fp)) fail(`${where}: ${role} is gone and no folder moved aside holds its previous set`);
        outcome = "moved aside";
      }
    } else {
      outcome = before[role] && now.fp === before[role].fp ? "previous" : "new";
      if (before[role]?.operatorFile && !now.operatorFile) fail(`${where}: ${role}/notes.txt was lost`);
      if (before[role]?.operatorFolder && !now.operatorFolder && !movedAside(role).some((p) => existsSync(join(p, "extra", "f")))) {
        fail(`${where}: ${role}/extra/ was lost`);
      }
    }
    summary.outcomes[outcome]++;
    seen.push(`${role}=${outcome}`);
  }
  const yml = join(OUT, "skydive.yml");
  if (existsSync(yml) && !/X509_cert:/.test(readFileSync(yml, "utf8"))) fail(`after run ${i}: skydive.yml is incomplete`);
  process.stdout.write(
    `run ${String(i).padStart(3)} ${fresh ? "fresh  " : "--force"} ${whole ? `kill at ${timing.delayMs} ms` : `kill ${timing.afterLockMs} ms after lock`}: ` +
      `${r.signal ?? `exit ${r.code}`}; ${seen.join(" ")}; left: ${leftovers().join(" ") || "-"}\n`,
  );
  addOperatorFiles();
}

// The next normal run takes over a stale lock, cleans up, and completes, keeping the operator's files.
const hadOperatorFiles = ROLES.filter((r) => [join(OUT, r), ...movedAside(r)].some((d) => existsSync(join(d, "notes.txt"))));
const last = spawnSync(process.execPath, [BIN, "init", ...ROLES, "--out", OUT, "--force"], { encoding: "utf8", env: { ...process.env, SKYCERT_LOCK_WAIT_MS: "3000" } });
if (last.status !== 0) fail(`final run exited ${last.status}: ${last.stderr.trim()}`);
if (leftovers().length) fail(`final run left ${leftovers().join(", ")}`);
for (const role of ROLES) {
  const s = readSet(join(OUT, role), role, "after the final run");
  if (!s) fail(`final run did not make ${role}`);
  if (hadOperatorFiles.includes(role) && (!s.operatorFile || !s.operatorFolder)) fail(`final run lost the operator's files in ${role}`);
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
// A folder the script made is removed on success (kept, and named, on a violation).
if (OWN_DIR) rmSync(DIR, { recursive: true, force: true });
