/**
 * The CLI ends with process.exit(), which drops what a slow pipe has not taken
 * yet (beyond the pipe's 64 KiB): a fleet's --json output is larger than that.
 * Wait until stdout has flushed everything written so far.
 */
export function flushStdout(): Promise<void> {
  return new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
}
