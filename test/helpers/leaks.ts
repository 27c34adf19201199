/**
 * The secrets check (no vitest imports: global-setup's teardown runs it). Every
 * stdout and stderr the suite sees through the helpers is appended to one log
 * per vitest run, named by the run id global-setup puts in SKYCERT_TEST_RUN_ID,
 * next to the passphrases tests register; a stream that holds a PEM private-key
 * marker or a registered passphrase is a leak, and fails the run.
 */
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const RUN_ID_ENV = "SKYCERT_TEST_RUN_ID";
/** Record separator in both files: never in a command's output of interest, nor in a passphrase. */
export const SEP = "\u001e";

/** Where a record's streams start: `${SEP}<test>\n$ <command>${STREAMS}<stdout>\n--- stderr\n<stderr>\n`. */
export const STREAMS = "\n--- stdout\n";

export function streamLog(runId: string): string {
  return join(tmpdir(), `skycert-test-${runId}-streams.log`);
}

export function secretsFile(runId: string): string {
  return join(tmpdir(), `skycert-test-${runId}-secrets`);
}

export const PRIVATE_KEY_MARKER = "PRIVATE KEY-----";

export interface Leak {
  where: string;
  what: string;
}

/** The records of `log` that hold a private-key marker or one of `secrets`. */
export function findLeaks(logText: string, secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  for (const record of logText.split(SEP)) {
    if (!record) continue;
    const where = record.split("\n", 2).join(" / ");
    // The header names the test and the command line, which may pass a passphrase on purpose: scan the streams only.
    const body = record.slice(Math.max(0, record.indexOf(STREAMS)));
    if (body.includes(PRIVATE_KEY_MARKER)) leaks.push({ where, what: `a PEM private-key marker (${PRIVATE_KEY_MARKER})` });
    for (const s of secrets) if (body.includes(s)) leaks.push({ where, what: `the test passphrase "${s.slice(0, 2)}..." (${s.length} characters)` });
  }
  return leaks;
}

/** Leaks in the run `runId`, read from its files. */
export function checkRun(runId: string): { log: string; records: number; leaks: Leak[] } {
  const log = streamLog(runId);
  const text = existsSync(log) ? readFileSync(log, "utf8") : "";
  const secrets = existsSync(secretsFile(runId)) ? readFileSync(secretsFile(runId), "utf8").split(SEP).filter(Boolean) : [];
  return { log, records: text.split(SEP).length - 1, leaks: findLeaks(text, secrets) };
}
