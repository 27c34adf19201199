// Bundles skycert with esbuild into dist/: dist/skycert.js runs the CLI, and
// each command's work is a chunk loaded when that command runs, so
// `skycert --version` loads commander and the command definitions only.
// Files are written to a temporary folder and renamed over dist/, so a skycert
// running while a build happens never sees a half-written bundle.
import { build } from "esbuild";
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const stage = mkdtempSync(join(root, ".dist-"));
// mkdtemp makes the folder 0700: dist/ must be readable by every user who runs skycert (a root install).
chmodSync(stage, 0o755);
try {
  await build({
    entryPoints: { skycert: join(root, "src/cli/main.ts"), "validate-worker": join(root, "src/validate/worker.ts") },
    outdir: stage,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // CommonJS dependencies (yaml, node-forge, proper-lockfile) require Node's built-ins.
    banner: { js: 'import { createRequire as __skycertRequire } from "node:module"; const require = __skycertRequire(import.meta.url);' },
    define: { SKYCERT_VERSION: JSON.stringify(pkg.version) },
    logLevel: "warning",
  });
  const old = join(root, `.dist-old-${process.pid}`);
  try {
    renameSync(join(root, "dist"), old);
  } catch {
    /* no previous build */
  }
  renameSync(stage, join(root, "dist"));
  rmSync(old, { recursive: true, force: true });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
