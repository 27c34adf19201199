#!/usr/bin/env node
// kill -9 loop over one of skycert's writers. Each run is killed with SIGKILL at
// a random moment; then every unit the writer owns (a set folder, or one file)
// must be as it was before the run, or complete and new:
//   - a set's key, certificate (and CSR) hold one public key (the openssl CLI),
//     the certificate verifies with its signer, modes are key 0400,
//     certificate/CSR 0444, set folder 0700;
//   - an export's units are byte for byte what a complete run from the same
//     source writes, and the file that names the others (kustomization.yaml,
//     the playbook) never appears before them;
//   - skydive.yml, skycert.json and every other YAML/JSON file parse, and name
//     the files the run writes;
//   - nothing under the output folder is half-written: every key, certificate,
//     request, YAML and JSON file that is not a skycert temporary is read whole,
//     and a file holding a private key is never readable by group or others,
//     temporaries included;
//   - an operator's file and sub-folder put in a set folder survive (init, ca,
//     fleet, renew-fleet), possibly in a folder moved aside until the next run
//     puts it back.
// A run that completes must leave no temporaries or folders moved aside where it
// writes, and a final normal run must complete and leave nothing of skycert's
// (temporaries, folders moved aside, locks) anywhere under the output folder.
//
//   node scripts/kill-loop.mjs --command init|ca|fleet|renew|renew-fleet|export-k8s|export-ansible
//        [--runs 20] [--dir DIR] [--seed N] [--bin bin/skycert] [--manifest FILE]
//        [--key-type ecdsa|rsa] [--wait-stale]
//
//   init            skycert init analyzer agent --out OUT [--force]
//   ca              skycert init ca --out OUT [--force]
//   fleet           skycert init analyzer agent --ca DIR/pki --inventory FILE --out OUT [--force]
//                   (an analyzer and three agents; each OUT/analyzers/<host>/ and
//                   OUT/agents/<host>/ is a unit, with its skydive.yml)
//   renew           skycert renew CERT, alternately a self-signed certificate (key
//                   beside it) and a CA fleet host's (signer from the fleet record)
//   renew-fleet     skycert renew --fleet OUT --within 4000d, every other run with
//                   --rekey (a new key and certificate swapped in as a set)
//   export-k8s      skycert export k8s --manifest FILE --cluster-ip IP --out OUT --from SRC [--force]
//                   (legacy pairs)
//   export-ansible  skycert export ansible --inventory FILE --out OUT --from SRC [--force]
//                   (a CA fleet: a set per host and one for the CA certificate)
//                   Exports alternate between two sources made once, DIR/srcA and
//                   DIR/srcB, so every --force run replaces what the other wrote;
//                   what a complete run writes from each is made first in DIR/ref-*.
//
// Half the runs are killed at a random moment of the whole run (from start-up,
// key generation and reading, to the end), half at a random moment of its write
// phase: after its lock appears in the folder it locks, within the time the
// lock was held in a normal run. Runs alternate between a fresh output (no
// --force) and --force over the existing units.
//
// A killed run's lock (proper-lockfile: a folder whose mtime the holder
// refreshes) is taken over once it is 5 seconds old. After each kill the loop
// backdates the locks left under the folder by a minute, which is what waiting 5
// seconds does, so the next run takes them over at once; --wait-stale waits
// instead. test/crash.test.ts proves the real wait separately.
//
// Without --dir it works in a new temporary folder, removed on success. Keys are
// ECDSA P-256 unless --key-type rsa (faster runs; the write paths are the same).
// Prints one line per run and a JSON summary; exits 1 at the first violation.
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

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
const KEY_TYPE = opt("key-type", "ecdsa");
const WAIT_STALE = args.includes("--wait-stale");
const KEY = KEY_TYPE === "rsa" ? ["--key-type", "rsa", "--bits", "2048"] : ["--key-type", KEY_TYPE];
const OUT = join(DIR, "out");
const ENV = { ...process.env, NO_COLOR: "1", SKYCERT_LOCK_WAIT_MS: "15000" };
const LOCK = ".skycert.lock";
const STALE_MS = 5000;

for (const [flag, value] of [["runs", RUNS], ["seed", SEED]]) if (!Number.isInteger(value) || value < 0) usage(`--${flag} must be a whole number`);
if (!["ecdsa", "rsa"].includes(KEY_TYPE)) usage("--key-type is ecdsa or rsa");

function usage(message) {
  process.stderr.write(`kill-loop: ${message}\n`);
  process.exit(2);
}

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
  if (/PRIVATE KEY-----/.test(text)) fail(`${what} printed a PEM private-key marker`);
}

/** skycert run to completion; a failure is a violation. */
function skycert(argv, what) {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: "utf8", env: ENV, cwd: DIR });
  noSecrets(r.stdout + r.stderr, what);
  if (r.status !== 0) fail(`${what} (skycert ${argv.join(" ")}) exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r;
}

const mode = (p) => (statSync(p).mode & 0o777).toString(8);
const sha = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");
const isSkycert = (name) => name.startsWith(".skycert");
const isTemporary = (name) => name.startsWith(".skycert-tmp-") || name.startsWith(".skycert-old-");

/** The public key of a key, certificate or request, from the openssl CLI; undefined when it cannot read it. */
function pubkey(path, kind) {
  const argv = { key: ["pkey", "-in", path, "-pubout"], crt: ["x509", "-in", path, "-noout", "-pubkey"], csr: ["req", "-in", path, "-noout", "-pubkey"] }[kind];
  return openssl(argv);
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

/**
 * A complete key/certificate(/request) set in `dir`: one public key, the
 * documented modes, signed by `signer`. `csrMatches: false` when the request may
 * be the previous key's (renew --rekey leaves it as it was). Returns the certificate's hash.
 */
function checkKeySet(dir, stem, where, { csr = true, csrMatches = true, signer } = {}) {
  const files = { key: join(dir, `${stem}.key`), crt: join(dir, `${stem}.crt`), ...(csr ? { csr: join(dir, `${stem}.csr`) } : {}) };
  const present = Object.entries(files).filter(([, p]) => existsSync(p)).map(([k]) => k);
  if (present.length !== Object.keys(files).length) fail(`${where}: ${dir} holds ${present.join(", ") || "none"} of ${Object.keys(files).join(", ")}`);
  const keys = Object.entries(files).map(([k, p]) => [k, pubkey(p, k)]);
  for (const [k, pub] of keys) if (!pub) fail(`${where}: openssl cannot read ${files[k]} (half-written?)`);
  for (const [k, pub] of keys.slice(1)) if (pub !== keys[0][1] && (k !== "csr" || csrMatches)) fail(`${where}: ${files.key} does not match ${files[k]}`);
  const modes = [mode(dir), mode(files.key), mode(files.crt), ...(csr ? [mode(files.csr)] : [])];
  if (modes.join(" ") !== ["700", "400", "444", ...(csr ? ["444"] : [])].join(" ")) fail(`${where}: modes ${modes.join(" ")} in ${dir} (folder, key, certificate${csr ? ", request" : ""})`);
  checkSigned(files.crt, signer ?? files.crt, where);
  return sha(files.crt);
}

/** A YAML file's first document; every document must parse (a Kubernetes manifest holds several). */
function readYaml(path, where) {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  const errors = (Array.isArray(docs) ? docs : [docs]).flatMap((d) => d.errors);
  if (errors.length) fail(`${where}: ${path} does not parse as YAML (half-written?): ${errors[0].message.split("\n")[0]}`);
  return Array.isArray(docs) ? docs[0]?.toJS() : undefined;
}

function readJson(path, where) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    fail(`${where}: ${path} does not parse as JSON (half-written?): ${err.message}`);
  }
}

/** Every file under `dir` (relative path -> mode and sha256), skycert's own entries excluded. */
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

/** skycert's entries (temporaries, folders moved aside, locks) anywhere under `dir`, relative to OUT. */
function leftoversUnder(dir, which = isSkycert) {
  const found = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (which(name)) found.push(relative(OUT, p));
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found.sort();
}
const leftoversIn = (dirs, which = isTemporary) => dirs.filter((d) => existsSync(d)).flatMap((d) => readdirSync(d).filter(which).map((n) => relative(OUT, join(d, n))));

/**
 * Nothing under OUT is half-written: every key, certificate, request, YAML and
 * JSON file outside skycert's temporaries reads whole, and a file holding a
 * private key (temporaries included) is never open to group or others.
 */
function checkWholeTree(where) {
  const walk = (d, inTemporary) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        walk(p, inTemporary || isTemporary(name));
        continue;
      }
      if (!st.isFile()) continue;
      const text = readFileSync(p, "utf8");
      if (/PRIVATE KEY-----/.test(text) && st.mode & 0o077) fail(`${where}: ${relative(OUT, p)} holds a private key and has mode ${(st.mode & 0o777).toString(8)}`);
      if (inTemporary || isTemporary(name)) continue;
      if (/\.key$/.test(name) && !pubkey(p, "key")) fail(`${where}: openssl cannot read ${p} (half-written?)`);
      if (/\.crt$/.test(name) && !pubkey(p, "crt")) fail(`${where}: openssl cannot read ${p} (half-written?)`);
      if (/\.csr$/.test(name) && !pubkey(p, "csr")) fail(`${where}: openssl cannot read ${p} (half-written?)`);
      if (/\.ya?ml(\.bak)?$/.test(name)) readYaml(p, where);
      if (/\.json$/.test(name)) readJson(p, where);
    }
  };
  if (existsSync(OUT)) walk(OUT, false);
}

// ---------------------------------------------------------------------------
// The writers. A unit is { name, path, folder, read(path, where) -> fingerprint }:
// read fails the loop on anything partial, mismatched or unreadable.

const STEM = { analyzer: "analyzer.domain.com", agent: "agent.domain.com" };
const FLEET = [
  { name: "a1", group: "analyzers", role: "analyzer", address: "10.9.0.10" },
  { name: "h1", group: "agents", role: "agent", address: "10.9.0.1" },
  { name: "h2", group: "agents", role: "agent", address: "10.9.0.2" },
  { name: "h3", group: "agents", role: "agent", address: "10.9.0.3" },
];
const INI = (hosts) => ["analyzers", "agents"].map((g) => `[${g}]\n${hosts.filter((h) => h.group === g).map((h) => `${h.name} ansible_host=${h.address}`).join("\n")}\n`).join("");

/** A fleet host's folder: its set signed by `ca`, and its skydive.yml naming that set and the CA. */
function fleetHostUnit(root, h, ca, opts = {}) {
  return {
    name: relative(OUT, join(root, h.group, h.name)) || `${h.group}/${h.name}`,
    path: join(root, h.group, h.name),
    folder: true,
    read(path, where) {
      const fp = checkKeySet(path, h.role, where, { signer: ca, ...opts });
      const yml = join(path, "skydive.yml");
      if (!existsSync(yml)) fail(`${where}: ${yml} is missing`);
      const tls = readYaml(yml, where)?.tls ?? {};
      const home = join(root, h.group, h.name, `${h.role}.crt`);
      if (tls.server_cert !== home || tls.client_cert !== home || tls.ca_cert !== ca) fail(`${where}: ${yml} does not name ${home} and ${ca} (tls: ${JSON.stringify(tls)})`);
      return fp;
    },
  };
}

/** skycert.json parses, and names what the scenario expects of it. */
function checkRecord(dir, where, expect = () => undefined) {
  const path = join(dir, "skycert.json");
  if (!existsSync(path)) return;
  const record = readJson(path, where);
  if (record.schema !== 1 || !Array.isArray(record.hosts)) fail(`${where}: ${path} is not a fleet record: ${JSON.stringify(record).slice(0, 200)}`);
  expect(record, path);
}

/** An export's units, from the reference output: each folder of keys and certificates is a set, every other file a document. */
function exportUnits(ref, entryPoint) {
  const files = Object.keys(tree(ref));
  const setDirs = [...new Set(files.filter((f) => /\.(key|crt)$/.test(f)).map((f) => dirname(f)))];
  for (const d of setDirs) if (files.some((f) => dirname(f) === d && !/\.(key|crt)$/.test(f))) fail(`the reference export's ${d} holds more than keys and certificates`);
  const units = setDirs.map((d) => ({
    name: d,
    path: join(OUT, d),
    folder: true,
    read(path, where) {
      const names = readdirSync(path).filter((n) => !isSkycert(n));
      for (const key of names.filter((n) => n.endsWith(".key"))) {
        const crt = key.replace(/\.key$/, ".crt");
        const a = pubkey(join(path, key), "key");
        const b = pubkey(join(path, crt), "crt");
        if (!a || !b) fail(`${where}: openssl cannot read ${join(path, key)} or ${join(path, crt)} (half-written?)`);
        if (a !== b) fail(`${where}: ${join(path, key)} does not match ${join(path, crt)}`);
        if (mode(join(path, key)) !== "400") fail(`${where}: ${join(path, key)} has mode ${mode(join(path, key))}`);
      }
      if (mode(path) !== "700") fail(`${where}: ${path} has mode ${mode(path)}`);
      return JSON.stringify(tree(path));
    },
  }));
  for (const f of files.filter((f) => !setDirs.includes(dirname(f)))) {
    units.push({ name: f, path: join(OUT, f), folder: false, read: (path) => `${mode(path)} ${sha(path)}` });
  }
  if (!units.some((u) => u.name === entryPoint)) fail(`the reference export has no ${entryPoint}`);
  return units;
}

const SCENARIOS = {
  init: {
    setup() {},
    units: () => ["analyzer", "agent"].map((role) => ({ name: role, path: join(OUT, role), folder: true, read: (path, where) => checkKeySet(path, STEM[role], where) })),
    argv: (_run, fresh) => ["init", "analyzer", "agent", "--out", OUT, ...KEY, ...(fresh ? [] : ["--force"])],
    freshRemove: () => readdirSync(OUT).map((n) => join(OUT, n)),
    lockDir: () => OUT,
    operatorFiles: true,
    extraCheck(where) {
      const yml = join(OUT, "skydive.yml");
      if (existsSync(yml)) {
        const config = readYaml(yml, where);
        for (const role of ["analyzer", "agent"]) {
          const want = { X509_cert: join(OUT, role, `${STEM[role]}.crt`), X509_key: join(OUT, role, `${STEM[role]}.key`) };
          const got = config?.[role];
          if (got && (got.X509_cert !== want.X509_cert || got.X509_key !== want.X509_key)) fail(`${where}: ${yml} names ${JSON.stringify(got)} for the ${role}`);
        }
      }
      checkRecord(OUT, where, (r, p) => r.skydive !== "legacy" && fail(`${where}: ${p} is not a legacy record`));
    },
  },
  ca: {
    setup() {},
    units: () => [{ name: "ca", path: join(OUT, "ca"), folder: true, read: (path, where) => checkKeySet(path, "skydive-ca", where, { csr: false }) }],
    argv: (_run, fresh) => ["init", "ca", "--out", OUT, ...KEY, ...(fresh ? [] : ["--force"])],
    freshRemove: () => readdirSync(OUT).map((n) => join(OUT, n)),
    lockDir: () => OUT,
    operatorFiles: true,
    extraCheck: (where) => checkRecord(OUT, where, (r, p) => r.ca !== "ca/skydive-ca.crt" && fail(`${where}: ${p} names the CA ${r.ca}`)),
  },
  fleet: {
    setup() {
      skycert(["init", "ca", "--out", join(DIR, "pki"), ...KEY], "making the CA");
      writeFileSync(join(DIR, "hosts.ini"), INI(FLEET));
    },
    units: () => FLEET.map((h) => fleetHostUnit(OUT, h, join(DIR, "pki", "ca", "skydive-ca.crt"))),
    freshRemove: () => ["agents", "analyzers", "skycert.json"].map((n) => join(OUT, n)),
    argv: (_run, fresh) => ["init", "analyzer", "agent", "--ca", join(DIR, "pki"), "--inventory", join(DIR, "hosts.ini"), "--out", OUT, ...KEY, ...(fresh ? [] : ["--force"])],
    lockDir: () => OUT,
    operatorFiles: true,
    extraCheck: (where) =>
      checkRecord(OUT, where, (r, p) => {
        for (const h of r.hosts) {
          const f = FLEET.find((x) => x.name === h.name);
          if (!f || h.dir !== `${f.group}/${f.name}` || h.cert !== `${f.group}/${f.name}/${f.role}.crt`) fail(`${where}: ${p} records ${JSON.stringify(h)}`);
        }
      }),
  },
  renew: {
    setup() {
      skycert(["init", "agent", "--out", OUT, ...KEY], "making a self-signed pair");
      skycert(["init", "ca", "--out", join(OUT, "fleet"), ...KEY], "making the CA");
      skycert(["init", "agent", "--ca", join(OUT, "fleet"), "--hosts", "h1=10.9.0.1", "--out", join(OUT, "fleet"), ...KEY], "making a CA-signed host");
    },
    targets: [
      { crt: () => join(OUT, "agent", `${STEM.agent}.crt`), signer: (crt) => crt },
      { crt: () => join(OUT, "fleet", "agents", "h1", "agent.crt"), signer: () => join(OUT, "fleet", "ca", "skydive-ca.crt") },
    ],
    units() {
      return this.targets.map((t) => ({
        name: relative(OUT, t.crt()),
        path: t.crt(),
        folder: false,
        read(path, where) {
          const key = join(dirname(path), basename(path).replace(/\.crt$/, ".key"));
          const pub = pubkey(path, "crt");
          if (!pub) fail(`${where}: openssl cannot read ${path} (half-written?)`);
          if (pub !== pubkey(key, "key")) fail(`${where}: ${path} does not match ${key}`);
          if (mode(path) !== "444" || mode(key) !== "400") fail(`${where}: ${path} has mode ${mode(path)}, its key ${mode(key)}`);
          checkSigned(path, t.signer(path), where);
          return sha(path);
        },
      }));
    },
    target: (run) => SCENARIOS.renew.targets[run % 2],
    noFresh: true,
    argv: (run) => ["renew", SCENARIOS.renew.target(run).crt()],
    finalArgvs: () => SCENARIOS.renew.targets.map((t) => ["renew", t.crt()]),
    lockDir: (run) => dirname(SCENARIOS.renew.target(run).crt()),
    cleaned: (run) => [dirname(SCENARIOS.renew.target(run).crt())],
    extraCheck: (where) => checkRecord(join(OUT, "fleet"), where),
  },
  "renew-fleet": {
    setup() {
      skycert(["init", "ca", "--out", OUT, ...KEY], "making the CA");
      for (const role of ["analyzer", "agent"]) {
        const hosts = FLEET.filter((h) => h.role === role).map((h) => `${h.name}=${h.address}`).join(",");
        skycert(["init", role, "--ca", OUT, "--hosts", hosts, "--out", OUT, ...KEY], `making the fleet's ${role}s`);
      }
    },
    units: () => FLEET.map((h) => fleetHostUnit(OUT, h, join(OUT, "ca", "skydive-ca.crt"), { csrMatches: false })),
    noFresh: true,
    argv: (run) => ["renew", "--fleet", OUT, "--within", "4000d", ...(run % 2 === 0 ? ["--rekey"] : [])],
    lockDir: () => OUT,
    operatorFiles: true,
    extraCheck: (where) => checkRecord(OUT, where, (r, p) => r.hosts.length !== FLEET.length && fail(`${where}: ${p} lists ${r.hosts.length} hosts`)),
  },
  "export-k8s": {
    sources() {
      for (const src of ["srcA", "srcB"]) skycert(["init", "analyzer", "agent", "--san", "10.96.0.50", "--out", join(DIR, src), ...KEY], `making ${src}`);
    },
    argvTo: (out, src, fresh) => ["export", "k8s", "--manifest", MANIFEST, "--cluster-ip", "10.96.0.50", "--out", out, "--from", join(DIR, src), ...(fresh ? [] : ["--force"])],
    entryPoint: "kustomization.yaml",
    lockDir: () => OUT,
  },
  "export-ansible": {
    sources() {
      const hosts = [
        { name: "localhost", group: "analyzers", address: "127.0.0.1" },
        { name: "agent1", group: "agents", address: "127.0.0.2" },
        { name: "agent2", group: "agents", address: "127.0.0.3" },
      ];
      writeFileSync(join(DIR, "hosts.ini"), `${INI(hosts)}`.replace("agent2 ansible_host=127.0.0.3", `agent2 ansible_host=127.0.0.3 skydive_extra_config="{'logging': {'level': 'DEBUG'}}"`));
      for (const src of ["srcA", "srcB"]) {
        skycert(["init", "ca", "--out", join(DIR, src), ...KEY], `making ${src}'s CA`);
        skycert(["init", "analyzer", "agent", "--ca", join(DIR, src), "--inventory", join(DIR, "hosts.ini"), "--out", join(DIR, src), ...KEY], `making ${src}'s fleet`);
      }
    },
    argvTo: (out, src, fresh) => ["export", "ansible", "--inventory", join(DIR, "hosts.ini"), "--out", out, "--from", join(DIR, src), ...(fresh ? [] : ["--force"])],
    entryPoint: "skydive-tls.yml",
    lockDir: () => OUT,
  },
};

const S = SCENARIOS[COMMAND];
if (!S) usage(`unknown --command ${COMMAND} (one of ${Object.keys(SCENARIOS).join(", ")})`);
const isExport = Boolean(S.argvTo);

/** Locks killed runs left under DIR, made older than the staleness (unless --wait-stale, which waits). */
async function staleLocks() {
  const locks = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === LOCK) locks.push(p);
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(DIR);
  if (locks.length === 0) return 0;
  if (WAIT_STALE) await new Promise((r) => setTimeout(r, STALE_MS + 500));
  else for (const p of locks) utimesSync(p, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  return locks.length;
}

/** Spawn the run; kill it with SIGKILL after `delayMs`, or `afterLockMs` after its lock appears in `lockDir`. Also measures how long the lock was held. */
function runAndKill(argv, { delayMs, afterLockMs }, lockDir) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: DIR, stdio: ["ignore", "pipe", "pipe"], env: ENV });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let timer;
    let locked;
    let held = 0;
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
    const watcher = existsSync(lockDir)
      ? watch(lockDir, (_event, name) => {
          if (name !== LOCK) return;
          if (existsSync(join(lockDir, LOCK))) {
            locked ??= Date.now();
            if (afterLockMs !== undefined && !timer) timer = setTimeout(kill, afterLockMs);
          } else if (locked !== undefined) held = Math.max(held, Date.now() - locked);
        })
      : undefined;
    if (afterLockMs === undefined && delayMs !== undefined) timer = setTimeout(kill, delayMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      noSecrets(stdout + stderr, `run ${argv.join(" ")}`);
      resolveRun({ code, signal, stderr, ms: Date.now() - started, held: held || (locked ? Date.now() - locked : 0) });
    });
  });
}

function addOperatorFiles(units) {
  if (!S.operatorFiles) return;
  for (const u of units) {
    if (!existsSync(u.path)) continue;
    writeFileSync(join(u.path, "notes.txt"), "operator notes\n");
    mkdirSync(join(u.path, "extra"), { recursive: true });
    writeFileSync(join(u.path, "extra", "f"), "operator file\n");
  }
}
const hasOperatorFiles = (dir) => existsSync(join(dir, "notes.txt")) && existsSync(join(dir, "extra", "f"));
const movedAside = (u) =>
  existsSync(dirname(u.path)) ? readdirSync(dirname(u.path)).filter((n) => n.startsWith(`.skycert-old-${basename(u.path)}-`)).map((n) => join(dirname(u.path), n)) : [];
const anyMovedAside = () => leftoversUnder(OUT).some((p) => basename(p).startsWith(".skycert-old-"));

mkdirSync(OUT, { recursive: true });
const summary = { command: COMMAND, seed: SEED, dir: DIR, keyType: KEY_TYPE, runs: 0, killed: 0, completed: 0, staleLocks: 0, outcomes: { absent: 0, previous: 0, new: 0, "moved aside": 0 } };

// Exports: what a complete run writes from each source, made once.
let units;
const reference = {};
if (isExport) {
  S.sources();
  for (const src of ["srcA", "srcB"]) {
    const ref = join(DIR, `ref-${src}`);
    skycert(S.argvTo(ref, src, true), `reference export from ${src}`);
    const refTree = tree(ref);
    if (src === "srcB" && JSON.stringify(Object.keys(refTree)) !== JSON.stringify(Object.keys(tree(join(DIR, "ref-srcA"))))) fail("the two sources export different file lists");
  }
  units = exportUnits(join(DIR, "ref-srcA"), S.entryPoint);
  for (const src of ["srcA", "srcB"]) reference[src] = Object.fromEntries(units.map((u) => [u.name, u.read(join(DIR, `ref-${src}`, u.name), `the reference export from ${src}`)]));
  if (units.every((u) => reference.srcA[u.name] === reference.srcB[u.name])) fail("the two sources export the same files: --force would have nothing to replace");
} else {
  S.setup();
  units = S.units();
}
const argvOf = (run, fresh) => (isExport ? S.argvTo(OUT, run % 2 === 0 ? "srcA" : "srcB", fresh) : S.argv(run, fresh));

/** Each unit's fingerprint (undefined when absent), checked on the way. */
function readUnits(where) {
  return Object.fromEntries(units.map((u) => [u.name, lstatSync(u.path, { throwIfNoEntry: false }) ? u.read(u.path, where) : undefined]));
}

// Calibration: one normal run gives the duration the random delays are drawn from, and how long it holds its lock.
const calibration = await runAndKill(argvOf(0, !S.noFresh), {}, S.lockDir(0));
if (calibration.code !== 0) fail(`the calibration run exited ${calibration.code}: ${calibration.stderr.trim()}`);
const duration = calibration.ms;
const lockWindow = Math.max(20, calibration.held);
readUnits("after the calibration run");
checkWholeTree("after the calibration run");
S.extraCheck?.("after the calibration run");
addOperatorFiles(units);
// Complete units with the operator's files, put back before a --force run that would
// otherwise start from a unit an earlier kill left absent.
const PRISTINE = join(DIR, "pristine");
for (const u of units) {
  if (!u.folder || isExport || !existsSync(u.path)) continue;
  mkdirSync(dirname(join(PRISTINE, u.name)), { recursive: true });
  cpSync(u.path, join(PRISTINE, u.name), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

for (let i = 1; i <= RUNS; i++) {
  // Fresh outputs only when no earlier run left a folder moved aside (the next run puts it back).
  const fresh = !S.noFresh && i % 2 === 1 && !anyMovedAside();
  let before = readUnits(`before run ${i}`);
  if (fresh) {
    const remove = isExport ? readdirSync(OUT).map((n) => join(OUT, n)) : S.freshRemove();
    for (const p of remove) rmSync(p, { recursive: true, force: true });
    before = readUnits(`before run ${i}`);
  } else if (!isExport) {
    for (const u of units) {
      if (before[u.name] !== undefined || movedAside(u).length > 0 || !u.folder || !existsSync(join(PRISTINE, u.name))) continue;
      mkdirSync(dirname(u.path), { recursive: true });
      cpSync(join(PRISTINE, u.name), u.path, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    }
    before = readUnits(`restoring before run ${i}`);
  }
  const hadOperatorFiles = Object.fromEntries(units.map((u) => [u.name, Boolean(S.operatorFiles) && hasOperatorFiles(u.path)]));
  const leftBefore = leftoversUnder(OUT);
  const src = i % 2 === 0 ? "srcA" : "srcB";

  const whole = i % 4 < 2;
  // Random moments: of the whole run (from start-up to a little past its usual end), or of its write phase.
  const timing = whole ? { delayMs: Math.floor((0.2 + random() * 0.9) * duration) } : { afterLockMs: Math.floor(random() * lockWindow * 1.2) };
  const argv = argvOf(i, fresh);
  const r = await runAndKill(argv, timing, S.lockDir(i));
  summary.runs++;
  if (r.signal === "SIGKILL") summary.killed++;
  else if (r.code === 0) summary.completed++;
  else fail(`run ${i} (skycert ${argv.join(" ")}) exited ${r.code} without being killed: ${r.stderr.trim()}`);

  const where = `after run ${i}`;
  const now = readUnits(where);
  const seen = [];
  for (const u of units) {
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
      if (isExport && now[u.name] !== reference[src][u.name]) fail(`${where}: ${u.name} is neither as before the run nor what a complete export from ${src} writes`);
      outcome = "new";
    }
    if (hadOperatorFiles[u.name] && !hasOperatorFiles(u.path) && !movedAside(u).some(hasOperatorFiles)) fail(`${where}: the operator's files in ${u.name} were lost`);
    summary.outcomes[outcome]++;
    seen.push(`${u.name}=${outcome}`);
  }
  // The entry point (kustomization.yaml, the playbook) is written last: once it is there and
  // changed, everything it names is what the run writes.
  if (isExport && now[S.entryPoint] !== undefined && now[S.entryPoint] !== before[S.entryPoint]) {
    const behind = units.filter((u) => now[u.name] !== reference[src][u.name]).map((u) => u.name);
    if (behind.length) fail(`${where}: ${S.entryPoint} was written before ${behind.join(", ")}`);
  }
  checkWholeTree(where);
  S.extraCheck?.(where);
  // A run that completed cleaned what killed runs had left where it writes.
  if (r.code === 0) {
    const cleaned = S.cleaned ? leftoversIn(S.cleaned(i)) : leftoversUnder(OUT, isTemporary);
    if (cleaned.length) fail(`${where}: the run completed and left ${cleaned.join(", ")} (before it: ${leftBefore.join(", ") || "none"})`);
  }
  const aged = r.signal === "SIGKILL" ? await staleLocks() : 0;
  summary.staleLocks += aged;
  process.stdout.write(
    `run ${String(i).padStart(3)} ${S.noFresh ? "       " : fresh ? "fresh  " : "--force"} ${whole ? `kill at ${timing.delayMs} ms` : `kill ${timing.afterLockMs} ms after lock`}: ` +
      `${r.signal ?? `exit ${r.code}`}; ${seen.join(" ")}; left: ${leftoversUnder(OUT).join(" ") || "-"}${aged ? ` (${aged} stale lock${aged === 1 ? "" : "s"})` : ""}\n`,
  );
  addOperatorFiles(units);
}

// The next normal run takes over a stale lock, cleans up, and completes, keeping the operator's files.
const keptOperatorFiles = units.filter((u) => S.operatorFiles && [u.path, ...movedAside(u)].some(hasOperatorFiles)).map((u) => u.name);
for (const argv of S.finalArgvs ? S.finalArgvs() : [argvOf(RUNS + 1, false)]) skycert(argv, "final run");
const left = leftoversUnder(OUT);
if (left.length) fail(`the final run left ${left.join(", ")}`);
const final = readUnits("after the final run");
checkWholeTree("after the final run");
S.extraCheck?.("after the final run");
for (const u of units) {
  if (final[u.name] === undefined) fail(`the final run did not make ${u.name}`);
  if (isExport && final[u.name] !== reference[RUNS % 2 === 1 ? "srcA" : "srcB"][u.name]) fail(`after the final run ${u.name} is not what a complete export writes`);
  if (keptOperatorFiles.includes(u.name) && !hasOperatorFiles(u.path)) fail(`the final run lost the operator's files in ${u.name}`);
}
summary.calibration = { ms: duration, lockHeldMs: calibration.held };
process.stdout.write(`${JSON.stringify(summary)}\n`);
// A folder the script made is removed on success (kept, and named, on a violation).
if (OWN_DIR) rmSync(DIR, { recursive: true, force: true });
