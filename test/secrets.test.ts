/**
 * The suite-wide secrets check: every stream the helpers see is recorded (this
 * file proves the recording reaches the run's log), and the scan that
 * global-setup's teardown runs over the log finds PEM private keys and
 * registered passphrases in stdout or stderr, never in the command line.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PRIVATE_KEY_MARKER, RUN_ID_ENV, SEP, STREAMS, findLeaks, streamLog } from "./helpers/leaks.js";
import { openssl, scratch, skycert } from "./helpers/run.js";

const record = (command: string, stdout: string, stderr: string) => `${SEP}test > name\n$ ${command}${STREAMS}${stdout}\n--- stderr\n${stderr}\n`;

describe("the leak scan", () => {
  it("finds a PEM private-key marker in stdout or stderr, whatever the key type", () => {
    for (const marker of ["-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----", "-----END EC PRIVATE KEY-----"]) {
      expect(findLeaks(record("a", marker, ""), [])).toHaveLength(1);
      expect(findLeaks(record("a", "", `x\n${marker}\ny`), [])).toHaveLength(1);
    }
    expect(PRIVATE_KEY_MARKER).toBe("PRIVATE KEY-----");
  });

  it("finds a registered passphrase in the streams but not on the command line that passed it", () => {
    const secret = "correct horse battery";
    expect(findLeaks(record(`openssl pkey -passin pass:${secret}`, "", ""), [secret])).toEqual([]);
    expect(findLeaks(record("skycert init", `passphrase was ${secret}`, ""), [secret])).toHaveLength(1);
    expect(findLeaks(record("skycert init", "", `error: ${secret}`), [secret])).toHaveLength(1);
  });

  it("passes public material: certificates, CSRs, public keys, fingerprints", () => {
    const clean = record("x", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\n-----BEGIN CERTIFICATE REQUEST-----\nAB:CD:EF", "");
    expect(findLeaks(clean, ["not in there"])).toEqual([]);
  });

  it("names the test and command of each leak", () => {
    const leaks = findLeaks(record("openssl genpkey", "-----BEGIN PRIVATE KEY-----", "") + record("clean", "ok", ""), []);
    expect(leaks).toEqual([{ where: "test > name / $ openssl genpkey", what: "a PEM private-key marker (PRIVATE KEY-----)" }]);
  });
});

describe("the recording", () => {
  it("every helper run lands in this vitest run's log, with its test and streams", () => {
    const id = process.env[RUN_ID_ENV];
    expect(id, "global-setup sets the run id for every worker").toMatch(/^\d+-[0-9a-f]{8}$/);
    const dir = scratch();
    const marker = `skycert-recording-${Date.now()}`;
    skycert(["init", "agent", "--dry-run", "--out", marker], { cwd: dir });
    openssl(["version"]);
    const log = streamLog(id!);
    expect(existsSync(log)).toBe(true);
    const text = readFileSync(log, "utf8");
    const mine = text.split(SEP).find((r) => r.includes(marker));
    expect(mine).toBeDefined();
    expect(mine).toContain("the recording > every helper run lands in this vitest run's log");
    expect(mine).toContain("Would make the agent certificate");
    expect(text).toContain("$ openssl version");
  });
});
