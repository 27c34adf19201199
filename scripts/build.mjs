// Bundles the CLI with esbuild: one start-up file plus lazily loaded chunks, so
// `skycert --version` never pays for node-forge, @peculiar/x509 or yaml.
import { build } from "esbuild";
import { readFileSync, rmSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { cli: "src/cli.ts" },
  outdir: "dist",
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
