import type { Command } from "commander";
import { usageSections, withCommonOptions } from "../cli/flags.js";

export function register(program: Command): void {
  const cmd = program
    .command("inspect")
    .summary("show what certificates, requests and keys hold, and which role each certificate is (never key material)")
    .description(
      "Show each certificate (its role: the seed's legacy pair, a CA, a fleet host's certificate with its host from the fleet " +
        "record, or a client certificate; subject, issuer, version, serial, validity and days left, key, SANs, key usage, EKU, " +
        "basic constraints, SKID/AKID, every extension, SHA-256 fingerprint), request (the same, with its requested extensions " +
        "and whether its signature verifies) and key (format, type, size, public-key fingerprint, and the certificate it belongs " +
        "to; encrypted keys are reported with their scheme and not opened) in the files given, PEM (any number of blocks) or DER. " +
        "A Skydive config (skydive.yml) is inspected through the certificates and keys it names (tls.* and legacy analyzer.X509_*/agent.X509_* keys).",
    )
    .argument("<file...>", "certificate, CSR, key or Skydive config files");
  withCommonOptions(cmd).addHelpText("after", usageSections({
    positional: [["file", "PEM (any number of blocks) or DER certificate, request or key; or a skydive.yml"]],
    examples: `
skycert inspect skydive.yml                         # the files a Skydive config names
skycert inspect pki/analyzers/an1/analyzer.crt      # a fleet host's certificate, with its host
skycert inspect pki/ca/skydive-ca.crt pki/agents/node-a/*
skycert inspect pki/agents/node-a/agent.csr --json
skycert inspect agent/agent.domain.com.key agent/agent.domain.com.crt   # shows that the key matches
    `,
    exitCodes: `
Exit codes:
  0  every file was read
  1  a file (or a file a config names) holds nothing readable, or a block in it is damaged; the others are still shown
  2  usage: unknown flag, or a file given cannot be opened`,
  }));
  cmd.action(async (files: string[], flags: { json?: boolean }) => {
    const [{ inspectFiles }, { inspectView }, { render }, { failure }] = await Promise.all([import("./inspect.js"), import("./view.js"), import("../cli/render.js"), import("../cli/errors.js")]);
    const result = await inspectFiles(files, process.cwd());
    render(result, inspectView, { json: Boolean(flags.json) });
    const bad = result.files.filter((f) => f.error);
    if (bad.length) throw failure(`${bad[0]!.path}: ${bad[0]!.error}${bad.length > 1 ? ` (and ${bad.length - 1} more files, listed above)` : ""}`);
  });
}
