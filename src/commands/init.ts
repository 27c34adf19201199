import { Argument, type Command, Option } from "commander";
import { resolve } from "node:path";
import { usageError } from "../core/errors.js";
import type { San } from "../core/san.js";
import type { Role, Schema } from "../core/stanza.js";
import { EXIT_CODES, collectSans, parseBits, parseDays, withCommonOptions } from "./flags.js";
import { flushStdout } from "../io/stdout.js";

interface InitFlags {
  san?: San[];
  cnf?: string;
  out: string;
  config?: string;
  bits?: number;
  days?: number;
  cn?: string;
  extensions?: string;
  stem?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  ca?: string;
  schema?: Schema;
  inventory?: string;
  deployDir?: string;
  encrypt?: boolean;
  passphraseFile?: string;
}

type Target = Role | "ca";

/** Flags that make no sense for `init ca`, by their option name. */
const ROLE_ONLY: [keyof InitFlags, string][] = [
  ["san", "--san"],
  ["cnf", "--cnf"],
  ["config", "--config"],
  ["extensions", "--extensions"],
  ["ca", "--ca"],
  ["schema", "--schema"],
  ["inventory", "--inventory"],
  ["deployDir", "--deploy-dir"],
];

export function register(program: Command): void {
  const cmd = program
    .command("init")
    .summary("make a CA, or a role's key, request, certificate and Skydive config stanza")
    .description(
      "Make what the seed's OpenSSL recipe makes for a Skydive role: a 2048-bit RSA key (0400), " +
        "a CSR and a self-signed certificate (0444) with the cnf's v3_req extensions and SANs, " +
        "then set the role's X509_cert/X509_key keys in <out>/skydive.yml.\n\n" +
        "init ca makes a CA instead (<out>/ca/: RSA 4096 key, ten-year certificate). With --ca the " +
        "roles are signed by that CA and the stanza uses the tls.* schema; with --ca and --inventory, " +
        "init agent issues one certificate per host of the inventory's agents group.",
    )
    .addArgument(new Argument("<role...>", "analyzer or agent (both at once), or ca").choices(["analyzer", "agent", "ca"]))
    .option("--san <address>", "add a subjectAltName: an IP if it parses as one, else a DNS name (repeatable, or comma-separated)", collectSans)
    .option("--cnf <file>", "OpenSSL config (default: ./skydive-openssl.cnf, else the bundled seed template)")
    .option("--out <dir>", "output folder; files go to <out>/<role>/ (<out>/ca/, <out>/agents/<host>/)", ".")
    .option("--config <file>", "Skydive config to create or update (default: <out>/skydive.yml)")
    .option("--bits <n>", "RSA key size, at least 2048 (default: 2048; 4096 for ca)", parseBits)
    .option("--days <n>", "validity in days (default: 365; 3650 for ca)", parseDays)
    .option("--cn <name>", "subject common name (default: skydive-<role>; skydive-ca; each inventory host's name)")
    .option("--extensions <section>", "cnf section of the certificate's extensions (default: v3_req)")
    .option("--stem <name>", "file name stem (default: the role's DNS SAN, e.g. analyzer.domain.com; the CN for ca)")
    .option("--ca <dir>", "sign with this CA: the ca/ folder init ca made, the --out folder holding it, or the CA .crt")
    .addOption(new Option("--schema <schema>", "config keys to set (default: tls with --ca, legacy without)").choices(["legacy", "tls"]))
    .option("--inventory <file>", "Ansible inventory (INI or YAML): with agent, one certificate per host of the agents group; with analyzer, the analyzers' addresses as SANs")
    .option("--deploy-dir <dir>", "with --inventory: where the files will be on each host, for the paths in its skydive.yml (default: where they are written)")
    .option("--encrypt", "init ca: encrypt the CA key (PKCS#8, AES-256-CBC) with a passphrase")
    .option("--passphrase-file <file>", "passphrase for --encrypt, or of an encrypted --ca key (first line); else asked on the terminal")
    .option("--force", "replace existing files (re-issue existing inventory hosts)")
    .option("--dry-run", "show what would be written, and write nothing");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      `
Positional arguments:
  role        analyzer | agent (both: analyzer agent) | ca

Examples:
  skycert init analyzer
  skycert init agent --san 192.168.1.1
  skycert init analyzer agent --san 10.0.0.4 --out /etc/skydive/tls
  skycert init analyzer --cnf ./my.cnf --extensions v3_server --days 90 --force
  skycert init agent --dry-run --json

  CA mode and fleets:
  skycert init ca --out pki                              # pki/ca/skydive-ca.key (0400) and .crt
  skycert init ca --out pki --encrypt --passphrase-file pass.txt
  skycert init analyzer --ca pki --san 10.0.0.4 --out pki
  skycert init agent --ca pki --inventory hosts.multiple.container --out pki
  skycert init agent --ca pki --inventory hosts.yml --out pki --deploy-dir /etc/skydive/tls --json
${EXIT_CODES}
  A fleet run exits 1 when any host failed; the others are done and listed.`,
    )
    .action(async (targets: Target[], flags: InitFlags) => {
      // Loaded here, not with the command definitions: it brings node:crypto, which --version and --help do without.
      const { KeyPool, earlyKeys, roleKeys } = await import("../ops/keypool.js");
      const unique = [...new Set(targets)];
      const json = Boolean(flags.json);
      if (unique.includes("ca")) {
        if (unique.length > 1) throw usageError("init ca makes the CA alone", "run skycert init ca first, then skycert init analyzer agent --ca DIR");
        for (const [name, flag] of ROLE_ONLY) if (flags[name] !== undefined) throw usageError(`${flag} does not apply to init ca`);
        if (flags.passphraseFile && !flags.encrypt) throw usageError("--passphrase-file with init ca needs --encrypt");
        const bits = flags.bits ?? 4096;
        const key = flags.dryRun ? undefined : roleKeys(bits, 1)[0];
        const [{ initCa, DEFAULT_CA_DAYS }, { caInitView }, { render }, { passphraseSource }] = await Promise.all([
          import("../ops/ca.js"),
          import("../views/init.js"),
          import("../render.js"),
          import("../io/passphrase.js"),
        ]);
        const result = await initCa(
          {
            cwd: process.cwd(),
            out: flags.out,
            days: flags.days ?? DEFAULT_CA_DAYS,
            bits,
            cn: flags.cn,
            stem: flags.stem,
            force: Boolean(flags.force),
            dryRun: Boolean(flags.dryRun),
            encrypt: Boolean(flags.encrypt),
            passphrase: passphraseSource(flags.passphraseFile, (p) => resolve(p)),
          },
          key,
        );
        render(result, caInitView, { json });
        await flushStdout();
        return;
      }

      const roles = unique as Role[];
      if (flags.encrypt) throw usageError("--encrypt applies to init ca only", "Skydive cannot read an encrypted key, so role keys are never encrypted");
      if (flags.passphraseFile && !flags.ca) throw usageError("--passphrase-file is for an encrypted --ca key (or init ca --encrypt)");
      if (flags.inventory && !flags.ca) throw usageError("--inventory needs --ca DIR: a fleet is trusted through one CA", "make one with skycert init ca, then pass --ca DIR");
      if (flags.inventory && roles.length > 1) throw usageError("--inventory takes one role at a time", "run skycert init analyzer --inventory FILE and skycert init agent --inventory FILE");
      const fleet = Boolean(flags.inventory) && roles[0] === "agent";
      if (flags.deployDir && !fleet) throw usageError("--deploy-dir applies to init agent --inventory only");
      const bits = flags.bits ?? 2048;
      const days = flags.days ?? 365;

      if (fleet) {
        if (flags.config) throw usageError("--config does not apply with --inventory: each host gets <out>/agents/<host>/skydive.yml");
        // Key generation is the slow part: start every core on it before loading the rest.
        const pool = flags.dryRun ? undefined : KeyPool.withEarlyKeys(bits, earlyKeys(bits));
        const [{ issueFleet }, { fleetView }, { render }, { passphraseSource }, { progressBar }, { failure }] = await Promise.all([
          import("../ops/fleet.js"),
          import("../views/init.js"),
          import("../render.js"),
          import("../io/passphrase.js"),
          import("../views/progress.js"),
          import("../core/errors.js"),
        ]);
        const bar = !json && process.stderr.isTTY ? progressBar(process.stderr, "issuing") : undefined;
        let result;
        try {
          result = await issueFleet(
            {
              ...roleOptions(flags, bits, days, passphraseSource),
              inventory: flags.inventory!,
              ca: flags.ca!,
              deployDir: flags.deployDir,
              onProgress: bar ? (done, total, host) => bar.update(done, total, host) : undefined,
            },
            pool,
          );
        } finally {
          bar?.end();
        }
        render(result, fleetView, { json });
        await flushStdout();
        const failed = result.hosts.filter((h) => h.status === "failed");
        if (failed.length) {
          const first = failed[0]!;
          throw failure(
            `${failed.length} of ${result.hosts.length} hosts of ${result.inventory.path} failed; ${first.host}: ${first.reason}${failed.length > 1 ? ` (and ${failed.length - 1} more, listed above)` : ""}`,
            "fix those hosts and run the same command again: the hosts already issued are skipped",
          );
        }
        return;
      }

      // Key generation is the slow part: start it in the thread pool before loading the rest.
      const keys = flags.dryRun ? undefined : roleKeys(bits, roles.length);
      const [{ initRoles }, { initView }, { render }, { passphraseSource }] = await Promise.all([
        import("../ops/init.js"),
        import("../views/init.js"),
        import("../render.js"),
        import("../io/passphrase.js"),
      ]);
      const result = await initRoles(
        {
          ...roleOptions(flags, bits, days, passphraseSource),
          roles,
          config: flags.config,
          ca: flags.ca,
          inventory: flags.inventory,
        },
        keys,
      );
      render(result, initView, { json });
      await flushStdout();
    });
}

/** What a role run and a fleet run take alike from the flags. */
function roleOptions(flags: InitFlags, bits: number, days: number, passphraseSource: typeof import("../io/passphrase.js").passphraseSource) {
  return {
    cwd: process.cwd(),
    cnf: flags.cnf,
    out: flags.out,
    bits,
    days,
    cn: flags.cn,
    sans: flags.san ?? [],
    extensions: flags.extensions,
    stem: flags.stem,
    schema: flags.schema,
    force: Boolean(flags.force),
    dryRun: Boolean(flags.dryRun),
    passphrase: passphraseSource(flags.passphraseFile, (p) => resolve(p)),
  };
}
