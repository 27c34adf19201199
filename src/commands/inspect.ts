import type { Command } from "commander";
import { EXIT_CODES, withCommonOptions } from "./flags.js";
import { flushStdout } from "../io/stdout.js";

export function register(program: Command): void {
  const cmd = program
    .command("inspect")
    .summary("show what certificates, requests and keys hold (never key material)")
    .description(
      "Show each certificate (subject, issuer, serial, validity and days left, key, SANs, key usage, " +
        "EKU, basic constraints, SKID/AKID, SHA-256 fingerprint), request (the same, with its requested " +
        "extensions) and key (type, size, public-key fingerprint; encrypted keys are reported as such " +
        "and not opened) in the files given, PEM (any number of blocks) or DER.",
    )
    .argument("<file...>", "certificate, CSR or key files");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      `
Examples:
  skycert inspect analyzer/analyzer.domain.com.crt
  skycert inspect pki/ca/skydive-ca.crt pki/agents/10.0.0.9/*
  skycert inspect agent/agent.domain.com.csr --json
  skycert inspect agent/agent.domain.com.key agent/agent.domain.com.crt   # shows that the key matches
${EXIT_CODES}
  inspect exits 1 when a file holds nothing it can read, 2 when a file cannot be opened.`,
    )
    .action(async (files: string[], flags: { json?: boolean }) => {
      const [{ inspectFiles }, { inspectView }, { render }, { failure }] = await Promise.all([
        import("../ops/inspect.js"),
        import("../views/inspect.js"),
        import("../render.js"),
        import("../core/errors.js"),
      ]);
      const result = inspectFiles(files, process.cwd());
      render(result, inspectView, { json: Boolean(flags.json) });
      await flushStdout();
      const bad = result.files.filter((f) => f.error);
      if (bad.length) {
        throw failure(`${bad[0]!.path}: ${bad[0]!.error}${bad.length > 1 ? ` (and ${bad.length - 1} more files, listed above)` : ""}`);
      }
    });
}
