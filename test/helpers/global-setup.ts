// Tests drive the built CLI (bin/skycert -> dist/), so build it once per run.
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
