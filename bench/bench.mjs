#!/usr/bin/env node
/**
 * `npm run bench`: skycert side by side with OpenSSL, in one run.
 *
 *   node bench/bench.mjs                 every row, full size (about 15 minutes on 2 cores)
 *   node bench/bench.mjs --quick         a smoke run: fleets of 50 hosts, few rounds
 *   node bench/bench.mjs --only=ID[,ID]  some rows: role, both, fleet-rsa, fleet-ecdsa, validate, version
 *
 * Each comparison is measured interleaved (A B, then B A, ...) after its warm-up
 * rounds, every run in a fresh folder; medians with their IQR and the ratio
 * (skycert's median over the baseline's) go to bench/results/latest.{json,md}
 * (a README-ready table). Quick and --only runs write quick.* or partial.*
 * instead, so they never replace a full run's results. This is a benchmark,
 * not a test: it asserts nothing and reports whether each target is met (exit
 * 0 either way). A side that fails, or leaves other files than it should,
 * throws (exit 1), so a broken side never looks fast.
 */
import { spawnSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKYCERT = join(ROOT, "bin", "skycert");
const SEED_CNF = join(ROOT, "templates", "skydive-openssl.cnf");
const RESULTS = join(ROOT, "bench", "results");
const ROW_IDS = ["role", "both", "fleet-rsa", "fleet-ecdsa", "validate", "version"];

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const only = argv.find((a) => a.startsWith("--only="))?.slice(7).split(",").filter(Boolean);
const unknown = argv.filter((a) => a !== "--quick" && !a.startsWith("--only="));
if (unknown.length || only?.some((id) => !ROW_IDS.includes(id))) {
  process.stderr.write(`bench: usage: node bench/bench.mjs [--quick] [--only=${ROW_IDS.join("|")}[,...]]\n`);
  process.exit(2);
}
const want = (id) => !only || only.includes(id);

/**
 * Fleet sizes and rounds. A full run is sized to finish in about 15 minutes on
 * 2 cores: the RSA fleet (1,000 keys per side, a minute or more each) gets one
 * recorded round and no warm-up (1,000 keys already average out the randomness
 * of RSA key generation); the ECDSA fleet three rounds, no warm-up (the rows
 * before it warm the caches, and a run of seconds hides a cold start); fleet
 * validate three rounds after one warm-up. Rounds are [recorded, warm-up].
 */
const FLEET = quick ? 50 : 1000;
const R = quick
  ? { role: [5, 1], both: [5, 1], fleetRsa: [1, 0], fleetEcdsa: [2, 0], validate: [2, 1], start: [10, 3] }
  : { role: [21, 1], both: [15, 1], fleetRsa: [1, 0], fleetEcdsa: [3, 0], validate: [3, 1], start: [31, 3] };

const loadAtStart = loadavg();
const work = mkdtempSync(join(tmpdir(), "skycert-bench-"));
const cleanUp = () => rmSync(work, { recursive: true, force: true });
process.on("exit", cleanUp);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
process.on("uncaughtException", (err) => {
  process.stderr.write(`\nbench: ${err.message}\n`);
  process.exit(1);
});
let counter = 0;
const fresh = () => {
  const dir = join(work, `run-${++counter}`);
  mkdirSync(dir);
  return dir;
};

// ---------------------------------------------------------------------------
// Timing

/**
 * This machine's environment sets NODE_EXTRA_CA_CERTS, which Node 20 loads at
 * every start: it lengthens `node -e 0` and every skycert run alike. Rows are
 * measured as the environment is; the start-up row is also given without it.
 */
const extraCerts = process.env.NODE_EXTRA_CA_CERTS;
const withoutExtraCerts = () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
};

/** Wall time of one command in ms; throws when it fails. opts.env, when given, is the whole environment. */
function time(cmd, args, opts = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
    ...opts,
    env: { ...(opts.env ?? process.env), NO_COLOR: "1" },
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw new Error(`${cmd} ${args.slice(0, 6).join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${[cmd, ...args].slice(0, 8).join(" ")}${args.length > 7 ? " ..." : ""} exited ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(-600)}`);
  }
  return ms;
}

/** A shell script run by bash from a file (a 1,000-host loop is too long for one argument). */
function sh(script, cwd) {
  const file = join(work, `script-${++counter}.sh`);
  writeFileSync(file, `set -euo pipefail\ntrap 'echo "failed: $BASH_COMMAND" >&2' ERR\n${script}\n`);
  return time("bash", [file], { cwd });
}

const skycert = (args, cwd, env) => time(process.execPath, [SKYCERT, ...args], { cwd, env });

/**
 * Peak RSS from GNU time's %M (the kernel's maxrss of the process, in KiB).
 * skycert is one process (key generation runs in libuv's thread pool), so its
 * own maxrss is its peak. The wrapper adds one fork and exec (about 1 ms).
 */
const GNU_TIME = "/usr/bin/time";
const haveGnuTime = existsSync(GNU_TIME) && /^\d+$/.test(spawnSync(GNU_TIME, ["-f", "%M", "true"], { encoding: "utf8" }).stderr?.trim() ?? "");
function skycertWithRss(args, cwd, rss) {
  if (!haveGnuTime) return skycert(args, cwd);
  const out = join(work, `rss-${++counter}`);
  const ms = time(GNU_TIME, ["-f", "%M", "-o", out, process.execPath, SKYCERT, ...args], { cwd });
  rss.push(Number(readFileSync(out, "utf8").trim().split("\n").pop()) / 1024);
  return ms;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
  };
  return { median: q(0.5), p25: q(0.25), p75: q(0.75), min: s[0], max: s[s.length - 1], n: s.length };
}

/**
 * Interleave the sides: round r runs every side once, in rotating order, after
 * `warmup` unrecorded rounds. A side is { run(dir) -> ms, check?(dir) }: it gets
 * a fresh folder; check (outside the timing) proves it made what it should;
 * the folder is removed after.
 */
function compare(name, sides, [rounds, warmup]) {
  const keys = Object.keys(sides);
  const samples = Object.fromEntries(keys.map((k) => [k, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    const order = keys.map((_, i) => keys[(i + r) % keys.length]);
    for (const k of order) {
      process.stderr.write(`\r${name}: round ${r + 1}/${warmup + rounds}${r < warmup ? " (warm-up)" : ""}, ${k}        `);
      const dir = fresh();
      const ms = sides[k].run(dir);
      sides[k].check?.(dir);
      rmSync(dir, { recursive: true, force: true });
      if (r >= warmup) samples[k].push(ms);
    }
  }
  process.stderr.write(`\r${name}: done${" ".repeat(40)}\n`);
  return Object.fromEntries(keys.map((k) => [k, { ...stats(samples[k]), warmup }]));
}

// ---------------------------------------------------------------------------
// The seed's recipe (test/helpers/recipe.ts), as operators run it.

const recipeRole = (role) => `openssl genrsa -out ${role}/${role}.domain.com.key 2048 2>/dev/null
chmod 400 ${role}/${role}.domain.com.key
openssl req -new -key ${role}/${role}.domain.com.key -out ${role}/${role}.domain.com.csr -subj "/CN=skydive-${role}" -config skydive-openssl.cnf
yes '' | openssl x509 -req -days 365 -signkey ${role}/${role}.domain.com.key -in ${role}/${role}.domain.com.csr -out ${role}/${role}.domain.com.crt -extfile skydive-openssl.cnf -extensions v3_req 2>/dev/null
chmod 444 ${role}/${role}.domain.com.crt`;

function recipe(dir, roles) {
  writeFileSync(join(dir, "skydive-openssl.cnf"), readFileSync(SEED_CNF));
  // `yes` ends on SIGPIPE when openssl closes the pipe: the seed ignores that, so does pipefail off.
  return sh(`set +o pipefail\nmkdir ${roles.join(" ")}\n${roles.map(recipeRole).join("\n")}`, dir);
}

/** Both sides leave a key and a self-signed certificate per role (the names differ, the kind must not). */
function checkSelfSigned(roles) {
  return (dir) => {
    const certs = findFiles(dir, ".crt");
    const keys = findFiles(dir, ".key");
    if (certs.length !== roles.length || keys.length !== roles.length) throw new Error(`expected ${roles.length} certificates and keys in ${dir}, found ${certs.length} and ${keys.length}`);
    for (const c of certs) {
      const x = new X509Certificate(readFileSync(c));
      if (!x.checkIssued(x) || x.publicKey.asymmetricKeyType !== "rsa") throw new Error(`${c}: not a self-signed RSA certificate`);
    }
  };
}

function findFiles(dir, ext) {
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(ext)).map((f) => join(dir, String(f)));
}

// ---------------------------------------------------------------------------
// CA fleets: one CA made once, outside the timing, shared by both sides.

function hostList(n) {
  return Array.from({ length: n }, (_, i) => ({ name: `h${i}`, ip: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
}

let sharedCa;
/** An ECDSA P-256 CA (`skycert init ca --key-type ecdsa`): signing is cheap, so the rows measure the hosts' work. */
function ca() {
  if (sharedCa) return sharedCa;
  const dir = join(work, "ca-fixture");
  mkdirSync(dir);
  skycert(["init", "ca", "--key-type", "ecdsa", "--out", dir], dir);
  const crt = join(dir, "ca", "skydive-ca.crt");
  // Only the certificate and key paths and the CA folder are shared; each side writes elsewhere.
  writeFileSync(join(dir, "req.cnf"), "[req]\ndistinguished_name = dn\n[dn]\n");
  sharedCa = { dir: join(dir, "ca"), crt, key: join(dir, "ca", "skydive-ca.key"), cnf: join(dir, "req.cnf"), x509: new X509Certificate(readFileSync(crt)) };
  return sharedCa;
}

const skycertFleet = (hosts, keyType, out) => [
  "init", "agent", "--ca", ca().dir, ...(keyType === "ecdsa" ? ["--key-type", "ecdsa"] : []),
  "--hosts", hosts.map((h) => `${h.name}=${h.ip}`).join(","), "--analyzers", "10.0.0.4", "--out", out,
];

/**
 * What an operator's loop does per host: a key, a CSR, and the CA's signature
 * with a host extfile (serverAuth + clientAuth, the host's name and IP as SANs,
 * as skycert issues them). Folders are made in one mkdir and modes set in one
 * chmod per kind after the loop, so the baseline pays no per-host process
 * beyond the three openssl runs.
 */
function opensslLoop(hosts, keyType) {
  const c = ca();
  const genkey = keyType === "ecdsa"
    ? `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out agents/$h/agent.key`
    : `openssl genrsa -out agents/$h/agent.key 2048 2>/dev/null`;
  const keyUsage = keyType === "ecdsa" ? "digitalSignature" : "digitalSignature, keyEncipherment";
  return `mkdir -p ${hosts.map((h) => `agents/${h.name}`).join(" ")}
for p in ${hosts.map((h) => `${h.name}=${h.ip}`).join(" ")}; do
  h=\${p%%=*}; ip=\${p#*=}
  ${genkey}
  openssl req -new -key agents/$h/agent.key -out agents/$h/agent.csr -subj "/CN=$h" -config ${c.cnf}
  printf 'basicConstraints = CA:FALSE\\nkeyUsage = ${keyUsage}\\nextendedKeyUsage = serverAuth, clientAuth\\nsubjectAltName = DNS:%s, IP:%s\\nsubjectKeyIdentifier = hash\\nauthorityKeyIdentifier = keyid\\n' "$h" "$ip" > agents/$h/ext
  openssl x509 -req -days 365 -in agents/$h/agent.csr -CA ${c.crt} -CAkey ${c.key} -CAserial serial.srl -CAcreateserial -extfile agents/$h/ext -out agents/$h/agent.crt 2>/dev/null
done
chmod 400 agents/*/agent.key
chmod 444 agents/*/agent.crt`;
}

/** Every host has a key and a certificate of the right kind, signed by the shared CA, naming its IP. */
function checkFleet(hosts, keyType) {
  const want = keyType === "ecdsa" ? "ec" : "rsa";
  return (dir) => {
    const made = findFiles(join(dir, "agents"), ".crt").length;
    if (made !== hosts.length) throw new Error(`expected ${hosts.length} host certificates in ${dir}, found ${made}`);
    for (const h of [hosts[0], hosts[hosts.length - 1]]) {
      const x = new X509Certificate(readFileSync(join(dir, "agents", h.name, "agent.crt")));
      const key = createPrivateKey(readFileSync(join(dir, "agents", h.name, "agent.key")));
      if (!x.checkIssued(ca().x509) || !x.verify(ca().x509.publicKey)) throw new Error(`${h.name}: not signed by the bench CA`);
      if (x.publicKey.asymmetricKeyType !== want || key.asymmetricKeyType !== want) throw new Error(`${h.name}: not a ${want} key`);
      if (!x.checkPrivateKey(key)) throw new Error(`${h.name}: key and certificate do not match`);
      if (!x.checkIP(h.ip)) throw new Error(`${h.name}: certificate does not name ${h.ip}`);
    }
  };
}

// ---------------------------------------------------------------------------
// Rows

const rows = [];
function row(id, comparison, target, a, b, extra = {}) {
  const ratio = a.median / b.median;
  rows.push({ id, comparison, target, ratio, met: target === null ? null : ratio <= target, skycert: a, baseline: b, ...extra });
}
const hostsLabel = (k) => k.toLocaleString("en-US");

if (want("role")) {
  const s = compare("one role", {
    recipe: { run: (dir) => recipe(dir, ["analyzer"]), check: checkSelfSigned(["analyzer"]) },
    skycert: { run: (dir) => skycert(["init", "analyzer"], dir), check: checkSelfSigned(["analyzer"]) },
  }, R.role);
  row("role", "`skycert init analyzer` vs the seed's recipe for one role", 1.25, s.skycert, s.recipe);
}

if (want("both")) {
  const roles = ["analyzer", "agent"];
  const s = compare("both roles", {
    recipe: { run: (dir) => recipe(dir, roles), check: checkSelfSigned(roles) },
    skycert: { run: (dir) => skycert(["init", ...roles], dir), check: checkSelfSigned(roles) },
  }, R.both);
  row("both", "`skycert init analyzer agent` vs the recipe run twice", 0.7, s.skycert, s.recipe);
}

for (const [id, keyType, rounds, target] of [["fleet-rsa", "rsa", R.fleetRsa, 0.5], ["fleet-ecdsa", "ecdsa", R.fleetEcdsa, 0.1]]) {
  if (!want(id)) continue;
  const hosts = hostList(FLEET);
  const label = keyType === "ecdsa" ? "ECDSA P-256" : "RSA 2048";
  const rss = [];
  const s = compare(`${hostsLabel(FLEET)}-agent fleet, ${label}`, {
    openssl: { run: (dir) => sh(opensslLoop(hosts, keyType), dir), check: checkFleet(hosts, keyType) },
    skycert: { run: (dir) => skycertWithRss(skycertFleet(hosts, keyType, dir), dir, rss), check: checkFleet(hosts, keyType) },
  }, rounds);
  const loop = keyType === "ecdsa" ? "genpkey EC" : "genrsa 2048";
  row(id, `${hostsLabel(FLEET)} agents, ${label} keys, ECDSA CA: \`skycert init agent --ca --hosts\` vs an OpenSSL loop (${loop}, req, x509 -req -CA)`, target, s.skycert, s.openssl);
  rows.at(-1).rss = rss.length ? { ...stats(rss), unit: "MB" } : null;
  if (keyType === "rsa") rows.at(-1).rssTarget = 250;
}

if (want("validate")) {
  const big = hostList(FLEET);
  const small = big.slice(0, FLEET / 2);
  // Fleets of the default kind (RSA 2048 leaves), made once by skycert outside the timing.
  const made = {};
  for (const [k, hosts] of [["big", big], ["small", small]]) {
    process.stderr.write(`validate: making the ${hosts.length}-host fleet\n`);
    made[k] = join(work, `validate-${k}`);
    mkdirSync(made[k]);
    skycert(skycertFleet(hosts, "rsa", made[k]), made[k]);
  }
  const certs = big.map((h) => `agents/${h.name}/agent.crt`).join(" ");
  const s = compare("fleet validate", {
    openssl: { run: () => sh(`for c in ${certs}; do openssl verify -CAfile ${ca().crt} $c >/dev/null; done`, made.big) },
    skycert: { run: () => skycert(["validate", "--fleet", made.big], made.big) },
    half: { run: () => skycert(["validate", "--fleet", made.small], made.small) },
  }, R.validate);
  row("validate", `\`skycert validate --fleet\` on ${hostsLabel(FLEET)} hosts (RSA 2048, ECDSA CA) vs an \`openssl verify -CAfile\` loop over the same certificates`, 0.25, s.skycert, s.openssl);
  row("validate-scaling", `\`skycert validate --fleet\`: ${hostsLabel(FLEET)} hosts over ${hostsLabel(FLEET / 2)} hosts (baseline column: ${hostsLabel(FLEET / 2)} hosts)`, 2.2, s.skycert, s.half);
}

if (want("version")) {
  const s = compare("start-up", {
    node: { run: () => time(process.execPath, ["-e", "0"]) },
    skycert: { run: () => skycert(["--version"], work) },
  }, R.start);
  row("version", `\`skycert --version\` vs \`node -e 0\`${extraCerts ? " (NODE_EXTRA_CA_CERTS set, as here)" : ""}`, 1.6, s.skycert, s.node);
  if (extraCerts) {
    const env = withoutExtraCerts();
    const b = compare("start-up without NODE_EXTRA_CA_CERTS", {
      node: { run: () => time(process.execPath, ["-e", "0"], { env }) },
      skycert: { run: () => skycert(["--version"], work, env) },
    }, R.start);
    row("version-bare", "`skycert --version` vs `node -e 0`, both without NODE_EXTRA_CA_CERTS (for reference)", null, b.skycert, b.node, { informational: true });
  }
}

// ---------------------------------------------------------------------------
// Report

const oneLine = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT });
  return r.status === 0 ? r.stdout.trim().split("\n")[0] : "unknown";
};
const machine = {
  cpu: cpus()[0]?.model?.trim() ?? "unknown",
  cores: availableParallelism(),
  kernel: release(),
  node: process.version,
  openssl: oneLine("openssl", ["version"]),
  skycert: oneLine(process.execPath, [SKYCERT, "--version"]),
  commit: oneLine("git", ["rev-parse", "--short", "HEAD"]),
  loadavgStart: loadAtStart.map((x) => x.toFixed(2)).join(" "),
  loadavgEnd: loadavg().map((x) => x.toFixed(2)).join(" "),
  nodeExtraCaCerts: extraCerts ? true : false,
};
const date = new Date().toISOString();

const fmt = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const spread = (s) => (s.n > 1 ? `${fmt(s.median)} (IQR ${fmt(s.p25)}–${fmt(s.p75)})` : fmt(s.median));
const rounds = (s) => `${s.n}${s.warmup ? ` (+${s.warmup} warm-up)` : ""}`;
const verdict = (met) => (met === null ? "" : met ? "yes" : "**no**");
const table = [
  "| comparison | n | skycert | baseline | ratio | target | met |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...rows.flatMap((r) => {
    const line = `| ${r.comparison} | ${rounds(r.skycert)} | ${spread(r.skycert)} | ${spread(r.baseline)} | ${r.ratio.toFixed(3)} | ${r.target === null ? "(info)" : `≤ ${r.target}`} | ${verdict(r.met)} |`;
    if (!r.rssTarget && !r.rss) return [line];
    const peak = r.rss ? r.rss.max : null;
    const met = r.rssTarget && peak !== null ? peak <= r.rssTarget : null;
    if (r.rssTarget) r.rssMet = met;
    const what = `skycert's peak RSS in the row above (GNU time, max over runs)`;
    const rssLine = peak === null
      ? `| ${what} | | not measured (needs GNU time at ${GNU_TIME}) | | | ≤ ${r.rssTarget} MB | |`
      : `| ${what} | ${r.rss.n} | ${peak.toFixed(0)} MB | | | ${r.rssTarget ? `≤ ${r.rssTarget} MB` : "(info)"} | ${verdict(met)} |`;
    return [line, rssLine];
  }),
];
const md = [
  `Measured ${date.slice(0, 16).replace("T", " ")} UTC on ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}, ${machine.openssl}; skycert ${machine.skycert} (${machine.commit}); load average (1, 5, 15 min) ${machine.loadavgStart} at the start, ${machine.loadavgEnd} at the end.${quick ? " **Quick run: fleets scaled down to " + FLEET + " hosts, few rounds; not for the README.**" : ""}`,
  "",
  `Medians of interleaved runs (A B, B A, ...) after the warm-up rounds shown, every run in a fresh folder; IQR in brackets; n is the recorded runs per side; the ratio is skycert's median over the baseline's.${extraCerts ? " NODE_EXTRA_CA_CERTS is set here (Node loads it at every start, skycert and `node -e 0` alike): every row is measured with it, as the environment is; the start-up row is also given without it." : ""} The fleets share one ECDSA P-256 CA (\`skycert init ca --key-type ecdsa\`, made outside the timing); each host gets its own key and a certificate for its name and IP (serverAuth + clientAuth); skycert also writes each host's skydive.yml and the fleet record.`,
  "",
  ...table,
  "",
].join("\n");

const stem = !quick && !only ? "latest" : quick ? "quick" : "partial";
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, `${stem}.json`), `${JSON.stringify({ date, machine, quick, only: only ?? null, fleetHosts: FLEET, rows }, null, 2)}\n`);
writeFileSync(join(RESULTS, `${stem}.md`), md);
process.stdout.write(md);
process.stderr.write(`\nwritten: bench/results/${stem}.json, bench/results/${stem}.md\n`);
