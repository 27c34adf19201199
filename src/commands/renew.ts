import type { Command } from "commander";
import { resolve } from "node:path";
import type { San } from "../core/san.js";
import { EXIT_CODES, collectSans, parseDays, withCommonOptions } from "./flags.js";
import { flushStdout } from "../io/stdout.js";

interface RenewFlags {
  key?: string;
  ca?: string;
  changeCa?: boolean;
  days?: number;
  cnf?: string;
  extensions?: string;
  san?: San[];
  passphraseFile?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("renew")
    .summary("re-issue a certificate: same key, subject and extensions; new serial and validity")
    .description(
      "Re-issue CERT with the same key, subject and extensions, a new serial and a new validity, " +
        "signed as before: a self-signed certificate by its own key, a CA-signed one by its CA. " +
        "Every extension is carried byte for byte; only the SANs (with --cnf/--san) and, with " +
        "--change-ca, the authorityKeyIdentifier are re-encoded. CERT is replaced atomically, 0444.",
    )
    .argument("<cert>", "the certificate file to renew (PEM)")
    .option("--key <file>", "its private key (default: the .key of the same stem beside CERT)")
    .option("--ca <dir>", "the CA that issued it: ca/ folder, the folder holding ca/, or the CA .crt (default: a ca/ folder beside CERT or up to three levels above)")
    .option("--change-ca", "let --ca be a different CA from the one that issued CERT")
    .option("--days <n>", "validity in days (default: the same length as before)", parseDays)
    .option("--cnf <file>", "refresh the SANs from this OpenSSL config's extension section")
    .option("--extensions <section>", "with --cnf: the section to take the SANs from (default: v3_req)")
    .option("--san <address>", "add a subjectAltName (repeatable, or comma-separated)", collectSans)
    .option("--passphrase-file <file>", "passphrase of an encrypted CA key (first line); else asked on the terminal")
    .option("--force", "replace CERT even when it is a symlink (the link itself, never its target)")
    .option("--dry-run", "show what would change, and write nothing");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      `
Examples:
  skycert renew analyzer/analyzer.domain.com.crt
  skycert renew pki/agents/10.0.0.9/agent.domain.com.crt --days 90
  skycert renew pki/analyzer/analyzer.domain.com.crt --ca pki --san 10.0.0.5
  skycert renew agent/agent.domain.com.crt --cnf ./skydive-openssl.cnf --dry-run --json
  skycert renew old.crt --ca new-pki --change-ca --passphrase-file pass.txt
${EXIT_CODES}`,
    )
    .action(async (cert: string, flags: RenewFlags) => {
      const [{ renewCertificate }, { renewView }, { render }, { passphraseSource }] = await Promise.all([
        import("../ops/renew.js"),
        import("../views/renew.js"),
        import("../render.js"),
        import("../io/passphrase.js"),
      ]);
      const result = await renewCertificate({
        cwd: process.cwd(),
        cert,
        key: flags.key,
        ca: flags.ca,
        changeCa: Boolean(flags.changeCa),
        days: flags.days,
        cnf: flags.cnf,
        extensions: flags.extensions,
        sans: flags.san ?? [],
        force: Boolean(flags.force),
        dryRun: Boolean(flags.dryRun),
        passphrase: passphraseSource(flags.passphraseFile, (p) => resolve(p)),
      });
      render(result, renewView, { json: Boolean(flags.json) });
      await flushStdout();
    });
}
