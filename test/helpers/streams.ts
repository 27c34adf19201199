/** Recording the streams the helpers see, and the secrets tests use (see leaks.ts for the check). */
import { appendFileSync } from "node:fs";
import { expect } from "vitest";
import { RUN_ID_ENV, SEP, STREAMS, secretsFile, streamLog } from "./leaks.js";

function currentTest(): string {
  const state = expect.getState();
  return `${state.testPath ?? "?"} > ${state.currentTestName ?? "(outside a test)"}`;
}

/** Append one command's streams to the run's log (no-op outside a vitest run set up by global-setup). */
export function recordStreams(command: readonly string[], stdout: string, stderr: string): void {
  const id = process.env[RUN_ID_ENV];
  if (!id) return;
  const record = `${SEP}${currentTest()}\n$ ${command.join(" ")}${STREAMS}${stdout}\n--- stderr\n${stderr}\n`;
  appendFileSync(streamLog(id), record);
}

/** A passphrase (or any secret) a test uses: no recorded stream may contain it. */
export function registerSecret(secret: string): string {
  const id = process.env[RUN_ID_ENV];
  if (id && secret.length >= 4) appendFileSync(secretsFile(id), `${secret}${SEP}`);
  return secret;
}

