import { type Command, InvalidArgumentError } from "commander";
import { resolve } from "node:path";
import { someFailed, usageError } from "../cli/errors.js";
import { flag, keyTypeOption, parseSpan, usageSections, withCommonOptions } from "../cli/flags.js";
import { type San, sanFromAddress } from "../pki/san.js";
import type { RenewOptions } from "./renew.js";

type RenewFlags = Omit<RenewOptions, "cwd" | "cert" | "passphrase"> & { passphraseFile?: string; fleet?: string; within?: number; json?: boolean };

/**
 * `--drop-san` names SANs the certificate has: an address (an IP if it parses
 * as one, else a DNS name) or a typed entry as renew prints them (DNS:x, IP:x,
 * email:x, URI:x). Repeatable, or comma-separated.
 */
export function collectDropSans(value: string, previous: San[] = []): San[] {
  return [...previous, ...value.split(",").map((item): San => {
    item = item.trim();
    const [, type, typed] = /^(DNS|IP|email|URI):(.*)$/.exec(item) ?? [];
    if ((type === "email" || type === "URI") && !typed) throw new InvalidArgumentError(`"${item}" names no ${type} value.`);
    if (type === "email" || type === "URI") return { type, value: typed! };
    const { san, problem } = sanFromAddress(typed ?? item);
    if (!san) throw new InvalidArgumentError(`"${item}" ${problem}.`);
    if (type && san.type !== type) throw new InvalidArgumentError(`"${item}": ${typed} is ${san.type === "IP" ? "an IP address" : "a DNS name"}, not ${type}.`);
    return san;
  })];
}

/** Flags of one certificate's renewal that --fleet does not take. */
const NOT_WITH_FLEET = ["key", "ca", "changeCa", "san", "dropSan", "profile", "cnf", "extensions", "force"] as const;

export function register(program: Command): void {
  const cmd = program
    .command("renew")
    .summary("re-issue a certificate, or a fleet's: same key, subject and extensions; new serial and validity")
    .description(
      "Re-issue CERT with the same key, subject and extensions, a new random serial and a new validity, signed as before: " +
        "a self-signed certificate by its own key, a CA-signed one by its CA (--ca, else the fleet record's, else a ca/ folder near it). " +
        "Every extension is carried byte for byte, in order; the names added and removed are reported, and a fleet host's record follows. " +
        "A CA keeps its key, so every certificate it signed stays valid. CERT is " +
        "replaced atomically (0444) once the new certificate is proved to certify the key and verify with its signer, in Go too.\n\n" +
        "--fleet DIR renews every host and client certificate of a fleet that expires within --within (default 30d), keeping keys " +
        "and SANs; never the CA, which it names when it expires within the window.",
    )
    .argument("[cert]", "the certificate file to renew (PEM)")
    .option("--key <file>", "its private key (default: the .key of the same stem beside CERT)")
    .option("--ca <dir>", "the CA that issued it: ca/ folder, the folder holding ca/, or the CA .crt (default: the fleet record's CA, else a ca/ folder beside CERT or up to three levels above)")
    .option("--change-ca", "with --ca: let it be another CA than the one that issued CERT (re-signs it; the authorityKeyIdentifier is re-encoded)")
    .addOption(flag.days("validity in days (default: the same length as before)"))
    .addOption(flag.san("add a subjectAltName to those CERT has, never dropping one: an IP if it parses as one, else a DNS name (repeatable, or comma-separated)"))
    .option("--drop-san <address>", "remove a subjectAltName CERT has (an address, or DNS:x / IP:x as renew prints them; repeatable, or comma-separated)", collectDropSans)
    .option("--profile", "re-derive the extensions from skycert's profile for CERT's kind, keeping its SANs: seed pair (the cnf's section), CA-signed host (serverAuth + clientAuth), client (clientAuth), CA")
    .addOption(flag.cnf("with --profile: the cnf of a seed pair or host (default: ./skydive-openssl.cnf, else the bundled template); without it: take the SANs from this cnf's section instead of CERT's"))
    .addOption(flag.extensions("the --cnf section to use (default: v3_req)"))
    .option("--rekey", "make a new key (default: the old key's type and size) and write it with the certificate as one set, 0400")
    .addOption(keyTypeOption())
    .addOption(flag.bits("with --rekey: RSA key size, at least 2048"))
    .addOption(flag.passphraseFile("passphrase of an encrypted CA key, or of CERT's own key when self-signed (first line); else asked on the terminal"))
    .addOption(flag.force("replace CERT even when it is a symlink (the link itself, never its target)"))
    .option("--fleet <dir>", "renew every host and client certificate of this fleet (its skycert.json) that expires within --within")
    .option("--within <span>", "with --fleet: the window, in days or with d, w, m, y (30d, 12w, 6m, 1y; default 30d)", parseSpan)
    .addOption(flag.dryRun("show what would change, and write nothing"));
  withCommonOptions(cmd).addHelpText("after", usageSections({
    positional: [["cert", "the certificate to renew; its key, CA and fleet record are found from its path"]],
    examples: `
skycert renew analyzer/analyzer.domain.com.crt            # the seed's self-signed pair
skycert renew pki/agents/node-a/agent.crt --days 90
skycert renew pki/analyzers/a1/analyzer.crt --san 10.0.0.5  # adds it, keeps the other names
skycert renew pki/agents/node-a/agent.crt --drop-san analyzer.domain.com
skycert renew pki/agents/node-a/agent.crt --profile       # serverAuth + clientAuth, as init issues
skycert renew pki/agents/node-a/agent.crt --rekey --key-type ecdsa
skycert renew pki/ca/skydive-ca.crt --passphrase-file pass.txt  # same key: what it signed stays valid
skycert renew old.crt --ca new-pki --change-ca

# A fleet: every host and client expiring within the window (default 30d), keys and SANs kept:
skycert renew --fleet pki --dry-run
skycert renew --fleet pki --within 12w --json
    `,
    exitCodes: `
Exit codes:
  0  success
  1  failure: the key is not CERT's, another CA signed it (without --change-ca), CERT is a symlink without
     --force or changed meanwhile, a write failed, a fleet host failed (the others are done)
  2  usage: unknown or conflicting flags, bad flag value, missing or unreadable CERT, key, CA or cnf`,
  }));
  cmd.action(async (cert: string | undefined, flags: RenewFlags) => {
    const [{ render }, { passphraseSource }, { fleetView, renewView }] = await Promise.all([import("../cli/render.js"), import("../cli/passphrase.js"), import("./view.js")]);
    const { fleet } = flags;
    const json = Boolean(flags.json);
    const opts = { ...flags, cwd: process.cwd(), passphrase: passphraseSource(flags.passphraseFile, (p) => resolve(p)) };
    if ((flags.keyType || flags.bits !== undefined) && !flags.rekey) throw usageError(`${flags.keyType ? "--key-type" : "--bits"} applies to the new key of --rekey`, "add --rekey, or drop it");
    if (flags.keyType === "ecdsa" && flags.bits !== undefined) throw usageError("--bits is for RSA keys; ECDSA keys are P-256");

    if (fleet !== undefined) {
      if (cert !== undefined) throw usageError(`renew takes CERT or --fleet DIR, not both (got ${cert})`, "run one renewal at a time");
      for (const name of NOT_WITH_FLEET) {
        const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        if (flags[name] !== undefined) throw usageError(`${flag} does not apply with --fleet: each certificate keeps its key, names and signer (the fleet's CA)`, `renew that certificate on its own: skycert renew CERT ${flag} ...`);
      }
      const [{ renewFleet }, { withProgress }] = await Promise.all([import("./fleet.js"), import("../cli/progress.js")]);
      const result = await withProgress(flags.dryRun ? "checking" : "renewing", json, (onProgress) => renewFleet({ ...opts, fleet, withinDays: flags.within ?? 30, onProgress }));
      render(result, fleetView, { json });
      const failed = someFailed(result.hosts, "certificates", "fix those hosts and run the same command again: the certificates renewed are no longer due");
      if (failed) throw failed;
      return;
    }
    if (cert === undefined) throw usageError("renew needs CERT, or --fleet DIR", "skycert renew pki/agents/HOST/agent.crt, or skycert renew --fleet pki");
    if (flags.within !== undefined) throw usageError("--within applies with --fleet DIR", "add --fleet DIR, or drop --within");
    if (flags.changeCa && !flags.ca) throw usageError("--change-ca needs --ca DIR: the CA to move CERT to");
    if (flags.extensions && !flags.cnf && !flags.profile) throw usageError("--extensions names the --cnf section to use", "pass --cnf FILE too, or --profile");
    const { renewCertificate } = await import("./renew.js");
    render(await renewCertificate({ ...opts, cert }), renewView, { json });
  });
}
