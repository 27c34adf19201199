import { Argument, type Command } from "commander";
import { generateRsaKey } from "../core/keys.js";
import type { San } from "../core/san.js";
import type { Role } from "../core/stanza.js";
import { EXIT_CODES, collectSans, parseBits, parseDays, withCommonOptions } from "./flags.js";

interface InitFlags {
  san?: San[];
  cnf?: string;
  out: string;
  config?: string;
  bits: number;
  days: number;
  cn?: string;
  extensions?: string;
  stem?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("init")
    .summary("make a role's key, request, certificate and Skydive config stanza")
    .description(
      "Make what the seed's OpenSSL recipe makes for a Skydive role: a 2048-bit RSA key (0400),\n" +
        "a CSR and a self-signed certificate (0444) with the cnf's v3_req extensions and SANs,\n" +
        "then set the role's X509_cert/X509_key keys in <out>/skydive.yml.",
    )
    .addArgument(new Argument("<role...>", "analyzer or agent; give both to make both at once").choices(["analyzer", "agent"]))
    .option("--san <address>", "add a subjectAltName: an IP if it parses as one, else a DNS name (repeatable, or comma-separated)", collectSans)
    .option("--cnf <file>", "OpenSSL config (default: ./skydive-openssl.cnf, else the bundled seed template)")
    .option("--out <dir>", "output folder; files go to <out>/<role>/", ".")
    .option("--config <file>", "Skydive config to create or update (default: <out>/skydive.yml)")
    .option("--bits <n>", "RSA key size, at least 2048", parseBits, 2048)
    .option("--days <n>", "validity in days", parseDays, 365)
    .option("--cn <name>", "subject common name (default: skydive-<role>)")
    .option("--extensions <section>", "cnf section of the certificate's extensions (default: v3_req)")
    .option("--stem <name>", "file name stem (default: the role's DNS SAN, e.g. analyzer.domain.com)")
    .option("--force", "replace existing files")
    .option("--dry-run", "show what would be written, and write nothing");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      `
Positional arguments:
  role        analyzer | agent (both: analyzer agent)

Examples:
  skycert init analyzer
  skycert init agent --san 192.168.1.1
  skycert init analyzer agent --san 10.0.0.4 --out /etc/skydive/tls
  skycert init analyzer --cnf ./my.cnf --extensions v3_server --days 90 --force
  skycert init agent --dry-run --json
${EXIT_CODES}`,
    )
    .action(async (roles: Role[], flags: InitFlags) => {
      const unique = [...new Set(roles)];
      // Key generation is the slow part: start it in the thread pool before loading the rest.
      const keys = flags.dryRun ? undefined : unique.map(() => generateRsaKey(flags.bits));
      keys?.forEach((k) => k.catch(() => undefined));
      const [{ initRoles }, { initView }, { render }] = await Promise.all([import("../ops/init.js"), import("../views/init.js"), import("../render.js")]);
      const result = await initRoles(
        {
          roles: unique,
          cwd: process.cwd(),
          cnf: flags.cnf,
          out: flags.out,
          config: flags.config,
          bits: flags.bits,
          days: flags.days,
          cn: flags.cn,
          sans: flags.san ?? [],
          extensions: flags.extensions,
          stem: flags.stem,
          force: Boolean(flags.force),
          dryRun: Boolean(flags.dryRun),
        },
        keys,
      );
      render(result, initView, { json: Boolean(flags.json) });
    });
}
