import { InvalidArgumentError, Option, type Command } from "commander";
import { failure } from "../core/errors.js";
import { sanFromAddress } from "../core/san.js";
import type { Role } from "../core/stanza.js";
import { parseNonNegative, withCommonOptions } from "./flags.js";

interface ValidateFlags {
  config?: string;
  analyzerCert?: string;
  analyzerKey?: string;
  agentCert?: string;
  agentKey?: string;
  caCert?: string;
  host?: string[];
  role?: Role;
  warnDays: number;
  fleet?: string;
  deep?: boolean;
  json?: boolean;
}

/** `--host` takes an address as agents dial it: `10.0.0.4`, `10.0.0.4:8082`, `[fd00::4]:8082`, `analyzer.example.com`. */
export function collectHosts(value: string, previous: string[] = []): string[] {
  const out = previous.slice();
  for (const raw of value.split(",")) {
    const a = raw.trim();
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
    const hostPort = /^([^:]+):(\d+)$/.exec(a);
    const host = bracket ? bracket[1]! : hostPort ? hostPort[1]! : a;
    const { san, problem } = sanFromAddress(host);
    if (!san) throw new InvalidArgumentError(`"${raw}" ${problem}.`);
    out.push(san.value);
  }
  return out;
}

function parseWarnDays(value: string): number {
  const n = parseNonNegative(value);
  if (n > 36500) throw new InvalidArgumentError("At most 36500 days.");
  return n;
}

export function register(program: Command): void {
  const cmd = program
    .command("validate")
    .summary("check that Skydive's analyzer and agents will connect, before rollout")
    .description(
      "Check a Skydive deployment's certificates, keys and TLS settings by the rules of Skydive's Go TLS: " +
        "files, PEM, key match and strength, signatures, validity, serials, constraints and usages, SANs " +
        "for every address agents dial, trust both ways, file modes, and a real mutual-TLS handshake. " +
        "Each warning or failure comes with the command or change that fixes it. The check ids are " +
        "documented in README (skycert validate checks).",
    )
    .option("--config <file>", "Skydive config, legacy analyzer.X509_*/agent.X509_* or modern tls.* (default: ./skydive.yml)")
    .option("--analyzer-cert <file>", "the analyzer certificate (overrides the config)")
    .option("--analyzer-key <file>", "the analyzer private key")
    .option("--agent-cert <file>", "the agent certificate")
    .option("--agent-key <file>", "the agent private key")
    .option("--ca-cert <file>", "the CA certificate both sides trust (the tls.* schema)")
    .option("--host <address>", "an address agents dial, IP or DNS name, port allowed (repeatable; default: the config's analyzers: entries)", collectHosts)
    .addOption(new Option("--role <role>", "check only what one host needs; the other side's key is then not required").choices(["analyzer", "agent"]))
    .option("--warn-days <n>", "warn when a certificate expires within n days", parseWarnDays, 30)
    .option("--fleet <dir>", "check a fleet: every host of <dir>/agents/ (init agent --ca --inventory), the analyzer, and that no serial or key repeats")
    .option("--deep", "with --fleet: run every per-pair check on every host, not only pair, trust, expiry and modes");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      `
Examples:
  skycert validate                                  # ./skydive.yml, as init leaves it
  skycert validate --config /etc/skydive/skydive.yml --host 10.0.0.4
  skycert validate --role agent --config /etc/skydive/skydive.yml
  skycert validate --analyzer-cert a.crt --analyzer-key a.key --agent-cert b.crt --agent-key b.key --ca-cert ca.crt
  skycert validate --json --warn-days 60 | jq '.checks[] | select(.status == "fail")'
  skycert validate --fleet pki --host 10.0.0.4

Statuses: pass, warn (connects, but fix it), fail (will not connect or is unsafe), skip (not applicable, with the reason).

Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed
  2  usage: unknown flag, bad flag value, unreadable or unparsable config file`,
    )
    .action(async (flags: ValidateFlags) => {
      if (flags.fleet) return (await import("./validate-fleet.js")).runFleetValidate({ ...flags, fleet: flags.fleet });
      const [{ validate }, { validateView }, { render }] = await Promise.all([import("../ops/validate.js"), import("../views/validate.js"), import("../render.js")]);
      const result = await validate({
        cwd: process.cwd(),
        config: flags.config,
        files: { analyzerCert: flags.analyzerCert, analyzerKey: flags.analyzerKey, agentCert: flags.agentCert, agentKey: flags.agentKey, caCert: flags.caCert },
        hosts: flags.host ?? [],
        role: flags.role,
        warnDays: flags.warnDays,
        env: process.env,
      });
      render(result, validateView, { json: Boolean(flags.json) });
      // The CLI exits with process.exit(), which drops what a slow pipe has not taken yet
      // (beyond 64 KiB): wait until stdout has flushed everything written so far.
      await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
      if (!result.ok) {
        const failures = result.checks.filter((c) => c.status === "fail");
        const failed = [...new Set(failures.map((c) => c.id))];
        // The first failure's message names its file, setting or host; the table above has the rest.
        throw failure(`${result.summary.fail} check${result.summary.fail === 1 ? "" : "s"} failed (${failed.join(", ")}); first: ${failures[0]?.message ?? "see above"}`);
      }
    });
}
