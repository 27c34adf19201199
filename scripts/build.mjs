// Bundles skycert with esbuild into dist/, then trains the CLI's V8 code cache.
//
// - dist/cli.cjs: the whole CLI in one CommonJS file. Every module in it is
//   initialised on first use (esbuild's lazy wrappers), so `skycert --version`
//   never evaluates node-forge, @peculiar/x509 or yaml.
// - dist/cli-<build id>.cache: V8's code cache for it, written at the end of a
//   `validate --fleet` run on a small fleet (made first with init ca and init
//   agent --ca --inventory). bin/skycert compiles the bundle with it, so what
//   that run used is neither parsed nor compiled again. Node
//   20 has no compile cache for ES modules, hence CommonJS here; V8 rejects a
//   cache made by another Node, and the bundle then compiles as usual. V8 checks
//   only the source's length, so the cache is named after a build id that the
//   bundle's first line carries: a bundle never meets another build's cache.
// - dist/keygen.cjs: the key generator bin/skycert starts key searches with,
//   before the CLI has loaded.
//
// Files are replaced with a rename each (the bundle before its cache), so a
// skycert running while a build happens (a test run beside another) never sees
// a half-written file. Files a build no longer makes are removed once they are
// a few minutes old.
import { execFileSync } from "node:child_process";
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/**
 * commander requires node:child_process when it loads, for executable subcommands,
 * which skycert has none of: Node compiles that module on every start (~5 ms).
 * commander gets it on first use instead.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (args.importer.includes("/node_modules/commander/") ? { path: "child_process", namespace: "lazy" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({ contents: 'module.exports = { spawn: (...a) => require("node:child_process").spawn(...a) };', loader: "js" }));
  },
};
const buildId = randomBytes(8).toString("hex");
const common = { bundle: true, platform: "node", target: "node20", write: false, sourcemap: false, logLevel: "warning", define: { SKYCERT_VERSION: JSON.stringify(pkg.version) } };

const [cli, keygen] = await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, "src/cli.ts")],
    outfile: join(dist, "cli.cjs"),
    format: "cjs",
    // bin/skycert reads the bundle as latin1: nothing outside ASCII may be left unescaped.
    charset: "ascii",
    plugins: [lazyChildProcess],
    // The sources are ES modules: give them their own file's URL.
    define: { ...common.define, "import.meta.url": "__skycertModuleUrl" },
    banner: { js: `/* skycert build ${buildId} */ const __skycertModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
  }),
  build({
    ...common,
    entryPoints: [join(root, "src/core/keys.ts")],
    outfile: join(dist, "keygen.cjs"),
    format: "cjs",
  }),
]);

mkdirSync(dist, { recursive: true });
const replace = (path, contents) => {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
};
const outputs = [...keygen.outputFiles, ...cli.outputFiles];
for (const f of outputs) replace(f.path, f.contents);

// Training: a fleet to validate, then the validation, which writes the cache it ends with.
// (A cache trained on init too would be three times larger, and loading it costs every command.)
const cache = join(dist, `cli-${buildId}.cache`);
const work = mkdtempSync(join(tmpdir(), "skycert-train-"));
try {
  writeFileSync(join(work, "hosts.ini"), "[analyzers]\n10.0.0.4\n\n[agents]\n10.0.0.5\n10.0.0.6\n");
  const skycert = (args, env = {}) => execFileSync(process.execPath, [join(root, "bin", "skycert"), ...args], { cwd: work, stdio: "ignore", env: { ...process.env, ...env } });
  skycert(["init", "ca", "--out", "fleet", "--bits", "2048"]);
  skycert(["init", "agent", "--ca", "fleet", "--inventory", "hosts.ini", "--out", "fleet"]);
  const out = `${cache}.${process.pid}.train`;
  skycert(["validate", "--fleet", "fleet"], { SKYCERT_CODE_CACHE_OUT: out });
  renameSync(out, cache);
} catch (err) {
  // The cache only saves time: without it skycert compiles its bundle as usual.
  process.stderr.write(`build: no code cache (a training run failed: ${String(err.message).split("\n")[0]})\n`);
  rmSync(cache, { force: true });
} finally {
  rmSync(work, { recursive: true, force: true });
}

const current = new Set([...outputs.map((f) => basename(f.path)), basename(cache)]);
for (const name of readdirSync(dist)) {
  const path = join(dist, name);
  if (!current.has(name) && Date.now() - statSync(path).mtimeMs > 5 * 60_000) unlinkSync(path);
}
