import { type Command, Option } from "commander";
import { resolve } from "node:path";
import { someFailed, usageError } from "../cli/errors.js";
import { collectList, flag, keyTypeOption, skydiveOption, usageSections, withCommonOptions } from "../cli/flags.js";
import { didYouMean } from "../cli/suggest.js";
import type { San } from "../pki/san.js";
import type { Release, Role } from "../skydive/release.js";

interface InitFlags {
  san?: San[];
  cnf?: string;
  cnfSans?: boolean;
  out: string;
  config?: string;
  bits?: number;
  keyType?: "rsa" | "ecdsa";
  days?: number;
  cn?: string;
  extensions?: string;
  stem?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  ca?: string;
  skydive?: Release;
  inventory?: string;
  hosts?: string[];
  analyzers?: string[];
  deployDir?: string;
  encrypt?: boolean;
  passphraseFile?: string;
  p12?: boolean;
  p12PassphraseFile?: string;
}

const TARGETS = ["analyzer", "agent", "ca", "client"];

/** Flags that apply to some targets only, by option name. */
const ONLY: Record<string, { flags: (keyof InitFlags)[]; for: string }> = {
  ca: { flags: ["san", "cnf", "cnfSans", "config", "extensions", "ca", "inventory", "hosts", "analyzers", "deployDir", "p12", "p12PassphraseFile"], for: "init ca" },
  client: { flags: ["san", "cnf", "cnfSans", "config", "extensions", "stem", "inventory", "hosts", "analyzers", "deployDir", "encrypt", "skydive", "cn"], for: "init client" },
  selfSigned: { flags: ["inventory", "hosts", "analyzers", "deployDir", "cnfSans", "encrypt", "p12", "p12PassphraseFile"], for: "init without --ca" },
  hosts: { flags: ["config", "encrypt", "p12", "p12PassphraseFile"], for: "init with --ca" },
};
const FLAG_NAMES: Partial<Record<keyof InitFlags, string>> = {
  san: "--san", cnf: "--cnf", cnfSans: "--cnf-sans", config: "--config", extensions: "--extensions", ca: "--ca", inventory: "--inventory", hosts: "--hosts",
  analyzers: "--analyzers", deployDir: "--deploy-dir", encrypt: "--encrypt", p12: "--p12", p12PassphraseFile: "--p12-passphrase-file", stem: "--stem", skydive: "--skydive", cn: "--cn",
};

function refuse(flags: InitFlags, which: keyof typeof ONLY): void {
  for (const name of ONLY[which]!.flags) {
    if (flags[name] !== undefined) throw usageError(`${FLAG_NAMES[name]} does not apply to ${ONLY[which]!.for}`, `run ${which === "selfSigned" ? "with --ca DIR (a CA fleet)" : "skycert init --help"} for what it takes`);
  }
}

export function register(program: Command): void {
  const cmd = program
    .command("init")
    .summary("make a CA, the seed's self-signed pairs, a CA fleet's host certificates, or a client certificate")
    .description(
      "Without --ca: what the seed's OpenSSL recipe makes for a role, for Skydive up to 0.20 (legacy): a 2048-bit RSA key (0400), " +
        "a CSR and a self-signed certificate (0444) with the cnf's v3_req extensions and SANs, and the role's analyzer.X509_*/agent.X509_* keys in <out>/skydive.yml.\n\n" +
        "init ca makes a CA (<out>/ca/) and the fleet record (<out>/skycert.json, Skydive 0.27 by default). With --ca, every host " +
        "(--inventory, --hosts, or one host named by --san) gets its own certificate for its own names (serverAuth and clientAuth) " +
        "and a skydive.yml with all five tls.* keys, in <out>/analyzers/<host>/ or <out>/agents/<host>/.\n\n" +
        "init client NAME makes a clientAuth-only certificate for skydive client --cert (--p12 for browsers).",
    )
    .argument("<target...>", "analyzer, agent (or both), ca, or client NAME")
    .addOption(flag.san("add a subjectAltName: an IP if it parses as one, else a DNS name (repeatable, or comma-separated)"))
    .addOption(flag.cnf("OpenSSL config (default: ./skydive-openssl.cnf, else the bundled seed template)"))
    .option("--cnf-sans", "with --ca: also give each host the cnf's [alt_names] (by default a host's certificate names that host only)")
    .option("--out <dir>", "output folder", ".")
    .option("--config <file>", "without --ca: the Skydive config to create or update (default: <out>/skydive.yml)")
    .addOption(keyTypeOption())
    .addOption(flag.bits("RSA key size, at least 2048 (default: 2048; 4096 for ca)"))
    .addOption(flag.days("validity in days (default: 365; 3650 for ca)"))
    .option("--cn <name>", "subject common name (default: skydive-<role>; skydive-ca; each host's name)")
    .addOption(flag.extensions("cnf section of the certificate's extensions (default: v3_req)"))
    .option("--stem <name>", "file name stem (default: the role's DNS SAN for self-signed pairs, analyzer or agent under a CA, the CN for ca)")
    .option("--ca <dir>", "sign with this CA: the ca/ folder init ca made, the folder holding it, or the CA .crt")
    .addOption(skydiveOption("default: legacy without --ca, else the fleet record's, else 0.27"))
    .option("--inventory <file>", "with --ca: an Ansible inventory (read by ansible-inventory); every host of its analyzers and agents groups gets its own certificate")
    .option("--hosts <list>", "with --ca: hosts without Ansible, name[=address],... (repeatable)", collectList)
    .option("--analyzers <list>", "with --ca: the host:port entries agents dial (default: every analyzer host's address, port 8082)", collectList)
    .option("--deploy-dir <dir>", "with --ca: where the files will be on each host, for the paths in its skydive.yml")
    .option("--encrypt", "init ca: encrypt the CA key (PKCS#8, AES-256-CBC) with a passphrase")
    .addOption(flag.passphraseFile("passphrase for --encrypt, or of an encrypted --ca key (first line); else asked on the terminal"))
    .option("--p12", "init client: also write a PKCS#12 bundle (key, certificate, CA) for browsers")
    .option("--p12-passphrase-file <file>", "init client --p12: the bundle's passphrase (first line); else asked on the terminal")
    .addOption(flag.force("replace existing files (re-issue existing hosts, with new keys)"))
    .addOption(flag.dryRun("show what would be written, and write nothing"));
  cmd.addOption(new Option("--schema <schema>").hideHelp().argParser(() => {
    throw usageError("--schema is gone: --skydive legacy|0.21|0.27 says which Skydive release the files are for");
  }));
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      usageSections({
        positional: [
          ["target", "analyzer | agent (both: analyzer agent) | ca | client NAME"],
        ],
        examples: `
# The seed's recipe (Skydive up to 0.20):
skycert init analyzer
skycert init agent --san 192.168.1.1
skycert init analyzer agent --san 10.0.0.4 --out /etc/skydive/tls

# A CA fleet (Skydive 0.27 by default; --skydive 0.21 for 0.21 to 0.26):
skycert init ca --out pki
skycert init analyzer agent --ca pki --inventory hosts --out pki
skycert init agent --ca pki --hosts node-a=10.0.1.21,node-b=10.0.1.22 --out pki
skycert init agent --ca pki --inventory hosts --out pki --deploy-dir /etc/skydive/tls
skycert init client alice --ca pki --out pki --p12
        `,
        exitCodes: `
Exit codes:
  0  success
  1  failure: files exist without --force, a write failed, a fleet host failed (the others are done)
  2  usage: unknown target or flag, bad flag value, unreadable or invalid cnf or inventory`,
      }),
    )
    .action(async (targets: string[], flags: InitFlags) => {
      const unknown = targets.find((t, i) => !TARGETS.includes(t) && !(targets[0] === "client" && i === 1));
      if (unknown !== undefined) throw usageError(`unknown init target "${unknown}"${didYouMean(unknown, TARGETS)}`, "targets are analyzer, agent, ca and client NAME");
      const [{ render }, { passphraseSource }] = await Promise.all([import("../cli/render.js"), import("../cli/passphrase.js")]);
      const json = Boolean(flags.json);
      const cwd = process.cwd();
      const passphrase = passphraseSource(flags.passphraseFile, (p) => resolve(p));
      const keyType = flags.keyType ?? "rsa";
      if (flags.bits !== undefined && keyType === "ecdsa") throw usageError("--bits is for RSA keys; ECDSA keys are P-256");

      if (targets[0] === "ca") {
        if (targets.length > 1) throw usageError("init ca makes the CA alone", "run skycert init ca first, then skycert init analyzer agent --ca DIR");
        refuse(flags, "ca");
        if (flags.passphraseFile && !flags.encrypt) throw usageError("--passphrase-file with init ca needs --encrypt");
        const [{ initCa }, { caView }] = await Promise.all([import("./ca.js"), import("./view.js")]);
        const result = await initCa({
          cwd, out: flags.out, days: flags.days ?? 3650, key: { type: keyType, bits: flags.bits ?? 4096 }, cn: flags.cn, stem: flags.stem,
          skydive: flags.skydive ?? "0.27", force: Boolean(flags.force), dryRun: Boolean(flags.dryRun), encrypt: Boolean(flags.encrypt), passphrase,
        });
        return render(result, caView, { json });
      }

      if (targets[0] === "client") {
        const name = targets[1];
        if (!name || targets.length > 2) throw usageError("init client takes one NAME", "skycert init client alice --ca pki");
        refuse(flags, "client");
        const [{ initClient }, { clientView }] = await Promise.all([import("./client.js"), import("./view.js")]);
        const result = await initClient({
          cwd, name, ca: flags.ca, out: flags.out, key: { type: keyType, bits: flags.bits ?? 2048 }, days: flags.days ?? 365,
          p12: Boolean(flags.p12), force: Boolean(flags.force), dryRun: Boolean(flags.dryRun), passphrase,
          p12Passphrase: passphraseSource(flags.p12PassphraseFile, (p) => resolve(p)),
        });
        return render(result, clientView, { json });
      }

      const roles = [...new Set(targets)] as Role[];
      if (roles.includes("ca" as Role) || roles.includes("client" as Role)) throw usageError("init ca and init client run alone", "run them as separate commands");
      if (!flags.ca) {
        refuse(flags, "selfSigned");
        if (flags.skydive && flags.skydive !== "legacy") {
          throw usageError(`--skydive ${flags.skydive} needs --ca DIR: its tls.ca_cert names the one CA every host trusts`, "make one with skycert init ca --out DIR, then pass --ca DIR");
        }
        if (flags.passphraseFile) throw usageError("--passphrase-file is for an encrypted --ca key (or init ca --encrypt)");
        const key = { type: keyType, bits: flags.bits ?? 2048 };
        // The keys are the slow part: a default-size key is started while the rest loads. (A run that then fails
        // waits for it at exit, a fraction of a second; larger keys start once the run is known to write.)
        const early = !flags.dryRun && (key.type === "ecdsa" || key.bits <= 2048) ? await import("../pki/keys.js").then(({ generateKey }) => roles.map(() => generateKey(key))) : undefined;
        const [{ initSelfSigned }, { selfSignedView }] = await Promise.all([import("./selfsigned.js"), import("./view.js")]);
        const result = await initSelfSigned({
          cwd, roles, cnf: flags.cnf, out: flags.out, config: flags.config, key, days: flags.days ?? 365,
          cn: flags.cn, sans: flags.san ?? [], extensions: flags.extensions, stem: flags.stem, force: Boolean(flags.force), dryRun: Boolean(flags.dryRun),
          ...(early ? { keys: early } : {}),
        });
        return render(result, selfSignedView, { json });
      }

      refuse(flags, "hosts");
      if (flags.inventory && flags.hosts) throw usageError("--inventory and --hosts both name the hosts", "pass one of them");
      const [{ initHosts }, { hostsView }, { withProgress }] = await Promise.all([import("./hosts.js"), import("./view.js"), import("../cli/progress.js")]);
      const ca = flags.ca;
      const result = await withProgress("issuing", json, (onProgress) =>
        initHosts({
          cwd, roles, ca, skydive: flags.skydive, inventory: flags.inventory, hosts: flags.hosts, analyzers: flags.analyzers,
          cnf: flags.cnf, cnfSans: Boolean(flags.cnfSans), out: flags.out, key: { type: keyType, bits: flags.bits ?? 2048 }, days: flags.days ?? 365,
          cn: flags.cn, sans: flags.san ?? [], extensions: flags.extensions, stem: flags.stem, deployDir: flags.deployDir,
          force: Boolean(flags.force), dryRun: Boolean(flags.dryRun), passphrase, onProgress,
        }),
      );
      render(result, hostsView, { json });
      const failed = someFailed(result.hosts, "hosts", "fix those hosts and run the same command again: the hosts already issued are skipped");
      if (failed) throw failed;
    });
}
