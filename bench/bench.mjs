#!/usr/bin/env node
/**
 * `npm run bench`: skycert side by side with what it replaces, in one run.
 * Each pair is measured interleaved (A B A B ...) after a warm-up round, every
 * run in a fresh folder; medians with their spread and the ratio go to
 * bench/results/latest.{json,md}. This is a benchmark, not a test: it asserts
 * nothing, it reports whether each target is met.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKYCERT = join(ROOT, "bin", "skycert");
const CNF = join(ROOT, "templates", "skydive-openssl.cnf");
const RESULTS = join(ROOT, "bench", "results");
const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);

const work = mkdtempSync(join(tmpdir(), "skycert-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = () => {
  const dir = join(work, `run-${++counter}`);
  mkdirSync(dir);
  return dir;
};

function has(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Wall time of one command in ms; throws when it fails, so a broken side never looks fast. */
function time(cmd, args, opts = {}) {
  const start = process.hrtime.bigint();
  // opts.env, when given, is the whole environment (so a variable can be left out).
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts, env: { ...(opts.env ?? process.env), NO_COLOR: "1" } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${String(r.stderr).slice(0, 400)}`);
  return ms;
}

const sh = (script, cwd, env) => time("bash", ["-c", script], { cwd, env });

/**
 * This machine's environment sets NODE_EXTRA_CA_CERTS, which Node 20 loads at
 * every start (about 45 ms here): it lengthens `node -e 0` and every skycert
 * run alike. The rows below are measured as the environment is; where it is
 * set, start-up and fleet validate are also measured without it (for reference).
 */
const extraCerts = process.env.NODE_EXTRA_CA_CERTS;
const withoutExtraCerts = () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
};
const skycert = (args, cwd, env) => time(process.execPath, [SKYCERT, ...args], { cwd, env });

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
 * `warmup` unrecorded rounds. Each side is `() => ms` (it prepares its own folder).
 */
function compare(name, sides, rounds, warmup = 1) {
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  const keys = Object.keys(sides);
  for (let r = 0; r < warmup + rounds; r++) {
    const order = keys.map((_, i) => keys[(i + r) % keys.length]);
    for (const k of order) {
      const ms = sides[k]();
      if (r >= warmup) samples[k].push(ms);
    }
    process.stderr.write(`\r${name}: round ${r + 1}/${warmup + rounds}   `);
  }
  process.stderr.write("\n");
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
}

// ---------------------------------------------------------------------------
// The seed's recipe, as operators run it (../shared/seed).

const recipeRole = (role) => `openssl genrsa -out ${role}/${role}.domain.com.key 2048 2>/dev/null
chmod 400 ${role}/${role}.domain.com.key
openssl req -new -key ${role}/${role}.domain.com.key -out ${role}/${role}.domain.com.csr -subj "/CN=skydive-${role}" -config skydive-openssl.cnf
yes '' | openssl x509 -req -days 365 -signkey ${role}/${role}.domain.com.key -in ${role}/${role}.domain.com.csr -out ${role}/${role}.domain.com.crt -extfile skydive-openssl.cnf -extensions v3_req 2>/dev/null
chmod 444 ${role}/${role}.domain.com.crt`;

function recipeDir(roles) {
  const dir = fresh();
  copyFileSync(CNF, join(dir, "skydive-openssl.cnf"));
  for (const r of roles) mkdirSync(join(dir, r));
  return dir;
}

// ---------------------------------------------------------------------------
// Fleets: a CA made once, then one certificate per agent.

function hosts(n) {
  return Array.from({ length: n }, (_, i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

function inventory(dir, list) {
  const path = join(dir, "hosts.ini");
  writeFileSync(path, `[analyzers]\n10.0.0.4\n\n[agents]\n${list.join("\n")}\n`);
  return path;
}

function fleetFixture(n) {
  const dir = fresh();
  skycert(["init", "ca", "--out", dir, "--bits", "2048"], dir);
  // The same CA for the OpenSSL, mkcert and cfssl loops.
  const ca = { crt: join(dir, "ca", "skydive-ca.crt"), key: join(dir, "ca", "skydive-ca.key") };
  writeFileSync(join(dir, "agent.ext"), "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth, clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
  writeFileSync(join(dir, "cfssl.json"), JSON.stringify({ signing: { default: { expiry: "8760h", usages: ["digital signature", "key encipherment", "server auth", "client auth"] } } }));
  return { dir, ca, inventory: inventory(dir, hosts(n)), list: hosts(n) };
}

/** The loop Skydive's scale scripts run: genrsa, req, x509 -CA, chmod, per agent. */
const opensslLoop = (f) => `set -e
for h in ${f.list.join(" ")}; do
  mkdir -p agents/$h
  openssl genrsa -out agents/$h/agent.key 2048 2>/dev/null
  chmod 400 agents/$h/agent.key
  openssl req -new -key agents/$h/agent.key -out agents/$h/agent.csr -subj "/CN=skydive-agent" -config ${CNF}
  (cat ${f.dir}/agent.ext; echo "subjectAltName = IP:$h") > agents/$h/ext
  openssl x509 -req -days 365 -in agents/$h/agent.csr -CA ${f.ca.crt} -CAkey ${f.ca.key} -CAcreateserial -CAserial agents/$h/serial -out agents/$h/agent.crt -extfile agents/$h/ext 2>/dev/null
  chmod 444 agents/$h/agent.crt
done`;

const mkcertLoop = (f) => `set -e
mkdir -p caroot && cp ${f.ca.crt} caroot/rootCA.pem && cp ${f.ca.key} caroot/rootCA-key.pem && chmod 600 caroot/rootCA-key.pem
for h in ${f.list.join(" ")}; do
  mkdir -p agents/$h
  CAROOT=$PWD/caroot mkcert -client -cert-file agents/$h/agent.crt -key-file agents/$h/agent.key $h 2>/dev/null
done`;

const cfsslLoop = (f) => `set -e
for h in ${f.list.join(" ")}; do
  mkdir -p agents/$h
  echo '{"CN":"skydive-agent","hosts":["'$h'"],"key":{"algo":"rsa","size":2048}}' | cfssl gencert -loglevel 5 -ca ${f.ca.crt} -ca-key ${f.ca.key} -config ${f.dir}/cfssl.json - | (cd agents/$h && cfssljson -bare agent)
done`;

// ---------------------------------------------------------------------------

const R = quick ? { role: 5, both: 5, fleet: 1, start: 10, validate: 3 } : { role: 21, both: 15, fleet: 3, start: 31, validate: 11 };
const rows = [];
const want = (id) => !only || only.split(",").includes(id);

function row(id, comparison, target, a, b, extra = {}) {
  const ratio = a.median / b.median;
  rows.push({ id, comparison, target, ratio, met: ratio <= target, skycert: a, baseline: b, ...extra });
}

if (want("role")) {
  const s = compare("one role", {
    recipe: () => sh(recipeRole("analyzer"), recipeDir(["analyzer"])),
    skycert: () => skycert(["init", "analyzer"], recipeDir([])),
  }, R.role);
  row("role", "`skycert init analyzer` vs the recipe for one role", 0.9, s.skycert, s.recipe);
}

if (want("both")) {
  const s = compare("both roles", {
    recipe: () => sh(`${recipeRole("analyzer")}\n${recipeRole("agent")}`, recipeDir(["analyzer", "agent"])),
    skycert: () => skycert(["init", "analyzer", "agent"], recipeDir([])),
  }, R.both);
  row("both", "`skycert init analyzer agent` vs the recipe twice", 0.6, s.skycert, s.recipe);
}

if (want("fleet")) {
  const f = fleetFixture(50);
  const sides = {
    openssl: () => sh(opensslLoop(f), fresh()),
    skycert: () => skycert(["init", "agent", "--ca", join(f.dir, "ca"), "--inventory", f.inventory, "--out", fresh()], f.dir),
  };
  if (has("mkcert")) sides.mkcert = () => sh(mkcertLoop(f), fresh());
  if (has("cfssl") && has("cfssljson")) sides.cfssl = () => sh(cfsslLoop(f), fresh());
  const s = compare("50-agent fleet", sides, R.fleet);
  const others = Object.fromEntries(Object.entries(s).filter(([k]) => k !== "skycert" && k !== "openssl"));
  row("fleet", "50 CA-signed agents: `skycert init agent --ca --inventory` vs an OpenSSL loop", 0.5, s.skycert, s.openssl, { others });
}

if (want("start")) {
  const s = compare("start-up", {
    node: () => time(process.execPath, ["-e", "0"]),
    version: () => skycert(["--version"], work),
    help: () => skycert(["--help"], work),
  }, R.start, 3);
  row("version", "`skycert --version` vs `node -e 0`", 1.5, s.version, s.node);
  row("help", "`skycert --help` vs `node -e 0`", 1.5, s.help, s.node, { informational: true });
  if (extraCerts) {
    const bare = (args) => (args ? skycert(args, work, withoutExtraCerts()) : time(process.execPath, ["-e", "0"], { env: withoutExtraCerts() }));
    const b = compare("start-up without NODE_EXTRA_CA_CERTS", { node: () => bare(), version: () => bare(["--version"]) }, R.start, 3);
    row("version-bare", "`skycert --version` vs `node -e 0`, both without NODE_EXTRA_CA_CERTS (for reference)", 1.5, b.version, b.node, { informational: true });
  }
}

if (want("validate")) {
  const f = fleetFixture(200);
  const out = fresh();
  skycert(["init", "agent", "--ca", join(f.dir, "ca"), "--inventory", f.inventory, "--out", out], f.dir);
  const certs = f.list.map((h) => join(out, "agents", h, "*.crt")).join(" ");
  const s = compare("fleet validate", {
    openssl: () => sh(`set -e; for c in ${certs}; do openssl verify -CAfile ${f.ca.crt} $c >/dev/null; done`, out),
    skycert: () => skycert(["validate", "--fleet", out], out),
  }, R.validate);
  row("validate", "`skycert validate --fleet` on 200 hosts vs an `openssl verify -CAfile` loop", 0.2, s.skycert, s.openssl);
  if (extraCerts) {
    const b = compare("fleet validate without NODE_EXTRA_CA_CERTS", {
      openssl: () => sh(`set -e; for c in ${certs}; do openssl verify -CAfile ${f.ca.crt} $c >/dev/null; done`, out),
      skycert: () => skycert(["validate", "--fleet", out], out, withoutExtraCerts()),
    }, R.validate);
    row("validate-bare", "`skycert validate --fleet` on 200 hosts vs the loop, skycert without NODE_EXTRA_CA_CERTS (for reference)", 0.2, b.skycert, b.openssl, { informational: true });
  }
}

// ---------------------------------------------------------------------------

const fmt = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const spread = (s) => `${fmt(s.median)} (IQR ${fmt(s.p25)}–${fmt(s.p75)}, n=${s.n})`;
const machine = `${cpus()[0]?.model?.trim() ?? "cpu"}, ${availableParallelism()} cores, Node ${process.version}, ${spawnSync("openssl", ["version"], { encoding: "utf8" }).stdout.trim()}`;
const date = new Date().toISOString();
const md = [
  `Measured ${date.slice(0, 16).replace("T", " ")} UTC on ${machine}. Medians of interleaved runs after a warm-up; the ratio is skycert's median over the baseline's.`,
  "",
  "| comparison | skycert | baseline | ratio | target | met |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.comparison} | ${spread(r.skycert)} | ${spread(r.baseline)} | ${r.ratio.toFixed(3)} | ${r.informational ? "(info)" : `≤ ${r.target}`} | ${r.informational ? "" : r.met ? "yes" : "**no**"} |`),
  ...rows.flatMap((r) => (r.others ? Object.entries(r.others).map(([k, s]) => `| 50 agents with a ${k} loop (for reference) | ${spread(r.skycert)} | ${spread(s)} | ${(r.skycert.median / s.median).toFixed(3)} | | |`) : [])),
  "",
].join("\n");
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "latest.json"), `${JSON.stringify({ date, machine, quick, rows }, null, 2)}\n`);
writeFileSync(join(RESULTS, "latest.md"), md);
process.stdout.write(md);
// A full run regenerates the README's table between its markers.
if (!quick && !only) {
  const readme = join(ROOT, "README.md");
  const text = readFileSync(readme, "utf8");
  const next = text.replace(/(<!-- bench:start -->\n)[\s\S]*?(<!-- bench:end -->)/, `$1${md}$2`);
  if (next !== text) writeFileSync(readme, next);
}
process.exitCode = rows.every((r) => r.informational || r.met) ? 0 : 1;
