// Bundles the CLI with esbuild: one start-up file plus lazily loaded chunks, so
// `skycert --version` never pays for node-forge, @peculiar/x509 or yaml.
//
// Files are replaced one by one with a rename (chunks first, cli.js last), so a
// skycert that is running while a build happens (a test run beside another)
// never sees a half-written dist/. Chunks a new build no longer produces are
// removed once they are a few minutes old.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const result = await build({
  // keygen: what bin/skycert loads to start key searches before the CLI itself.
  entryPoints: { cli: join(root, "src/cli.ts"), keygen: join(root, "src/core/keys.ts") },
  outdir: dist,
  write: false,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  logLevel: "warning",
  define: { SKYCERT_VERSION: JSON.stringify(pkg.version) },
  // CJS dependencies (node-forge) call require() on node built-ins.
  banner: { js: "import { createRequire as __skycertRequire } from 'node:module'; const require = __skycertRequire(import.meta.url);" },
});

mkdirSync(dist, { recursive: true });
const files = result.outputFiles.sort((a, b) => (basename(a.path) === "cli.js") - (basename(b.path) === "cli.js"));
for (const f of files) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
const current = new Set(files.map((f) => basename(f.path)));
for (const name of readdirSync(dist)) {
  const path = join(dist, name);
  if (!current.has(name) && Date.now() - statSync(path).mtimeMs > 5 * 60_000) unlinkSync(path);
}
