// Tests drive the built CLI (bin/skycert -> dist/), so build it once per run.
// The run id names the log every helper appends its streams to; after the run,
// the teardown fails it if any stream leaked a private key or a test passphrase.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { RUN_ID_ENV, checkRun, secretsFile } from "./leaks.js";

export default function setup(): () => void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  const id = `${Date.now()}-${randomBytes(4).toString("hex")}`;
  process.env[RUN_ID_ENV] = id;
  return () => {
    const { log, records, leaks } = checkRun(id);
    if (leaks.length > 0) {
      const list = leaks.slice(0, 20).map((l) => `  ${l.where}: ${l.what}`).join("\n");
      // vitest reports a teardown error as "error during close" but still exits 0: set the code too.
      process.exitCode = 1;
      throw new Error(`secrets check: ${leaks.length} recorded output stream(s) leak secrets (log kept: ${log}):\n${list}`);
    }
    process.stdout.write(`secrets check: ${records} recorded output streams, no private key or test passphrase in any\n`);
    rmSync(log, { force: true });
    rmSync(secretsFile(id), { force: true });
  };
}
