import { type Command, InvalidArgumentError } from "commander";
import { parsePositive, skydiveOption, usageSections, withCommonOptions } from "../cli/flags.js";
import { sanFromAddress } from "../pki/san.js";
import type { ProbeOptions } from "./probe.js";

type ProbeFlags = Omit<ProbeOptions, "cwd" | "addresses" | "env" | "timeoutMs"> & { timeout: number; json?: boolean };

/** Seconds, fractions allowed (0.5), up to ten minutes. */
function parseSeconds(value: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value.trim())) throw new InvalidArgumentError("Give a number of seconds, e.g. 5 or 0.5.");
  const n = Number(value.trim());
  if (n <= 0 || n > 600) throw new InvalidArgumentError("The timeout must be above 0 and at most 600 seconds.");
  return n;
}

function parseConcurrency(value: string): number {
  const n = parsePositive(value);
  if (n > 256) throw new InvalidArgumentError("At most 256 connections at a time.");
  return n;
}

function parseName(value: string): string {
  const { san, problem } = sanFromAddress(value.trim());
  if (!san || (san.type !== "DNS" && san.type !== "IP")) throw new InvalidArgumentError(`"${value}" ${problem ?? "is not a DNS name or an IP address"}.`);
  return san.value;
}

export function register(program: Command): void {
  const cmd = program
    .command("probe")
    .summary("probe running Skydive API servers over TLS: chain served, trust for the name dialed, client certificates, disk")
    .description(
      "Dial each address (ADDR[:PORT]; the analyzer API's 8082 by default, agents serve 8081) with node:tls, with the client pair " +
        "of a host when one is known, and report: the chain served and days left; whether Skydive's Go accepts it for the name " +
        "dialed (Go's x509 Verify against the trust file for serverAuth; up to Skydive 0.26, the IP that name resolves to); whether " +
        "the server requires a client certificate (a second connection without one); whether the certificate served is the one " +
        "on disk (the fleet record's host certificate, or the config's server certificate); and connection errors named plainly " +
        "(refused, timeout, plaintext, wrong name). --fleet DIR probes every host of a fleet record: analyzers at ADDRESS:8082, " +
        "agents at ADDRESS:8081; with addresses, each is judged as the fleet host it (or --name) names.",
    )
    .argument("[addr...]", "ADDR[:PORT] of a Skydive API server")
    .option("--fleet <dir>", "a CA fleet (its skycert.json): its hosts, CA, an agent's client pair, and each host's certificate to compare")
    .option("--config <file>", "the Skydive config of the server probed: its client pair dials, its tls.ca_cert (legacy: analyzer.X509_cert) judges, its server certificate is compared")
    .option("--cert <file>", "client certificate to dial with (overrides --config/--fleet)")
    .option("--key <file>", "its private key")
    .option("--ca <file>", "trust file to verify the served chain against (overrides --config/--fleet)")
    .option("--name <name>", "the name Skydive's clients dial, when not ADDR's host (verified by Go, sent as SNI)", parseName)
    .addOption(skydiveOption("whose client rules apply; default: the fleet record's, else legacy for a legacy --config, else 0.27"))
    .option("--timeout <seconds>", "per-connection timeout: a connection that makes no progress for this long (no TCP connection, no TLS answer, no reply) fails", parseSeconds, 5)
    .option("--concurrency <n>", "addresses probed at a time", parseConcurrency, 8);
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      usageSections({
        positional: [["addr", "IP or DNS name, optionally :PORT ([v6]:PORT); default port 8082 (analyzer API)"]],
        examples: `
skycert probe --fleet pki                                   # every host of a fleet, compared with its files
skycert probe 10.0.0.4 --config pki/analyzers/a1/skydive.yml
skycert probe analyzer.example:8082 --ca pki/ca/skydive-ca.crt --cert alice.crt --key alice.key
skycert probe 10.0.0.4:8082 --name analyzer.example --fleet pki   # dial an IP, verify the name agents use
skycert probe 10.0.0.9:8081 --fleet pki --skydive 0.21 --timeout 2
skycert probe --fleet pki --json | jq '.probes[] | select(.verdict != "good")'
        `,
        exitCodes: `
Verdicts: good (Go trusts it for the name, it is the certificate on disk, nothing refused), bad (expired, not
trusted, wrong name, plaintext, refused, timeout, client certificate refused, not the certificate on disk),
unknown (no trust file to judge by: pass --ca, --config or --fleet).

Exit codes:
  0  every probe's verdict is good
  1  a probe is bad or could not be judged
  2  usage: unknown flag, bad address or flag value, unreadable --config, --fleet, certificate or key`,
      }),
    )
    .action(async (addresses: string[], flags: ProbeFlags) => {
      const [{ probe }, { probeView }, { render }, { failure }, { loadGoTls }] = await Promise.all([import("./probe.js"), import("./view.js"), import("../cli/render.js"), import("../cli/errors.js"), import("../skydive/go-tls.js")]);
      const report = await probe({ ...flags, cwd: process.cwd(), addresses, env: process.env, timeoutMs: Math.round(flags.timeout * 1000) }, loadGoTls);
      render(report, probeView, { json: Boolean(flags.json) });
      const notGood = report.probes.filter((p) => p.verdict !== "good");
      if (!report.ok) {
        throw failure(`${notGood.length} of ${report.probes.length} probes not good; ${notGood[0]!.address}: ${notGood[0]!.reason}${notGood.length > 1 ? ` (and ${notGood.length - 1} more, listed above)` : ""}`);
      }
    });
}
