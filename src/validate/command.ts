import { type Command, InvalidArgumentError, Option } from "commander";
import { failure } from "../cli/errors.js";
import { parseNonNegative, skydiveOption, usageSections, withCommonOptions } from "../cli/flags.js";
import { sanFromAddress } from "../pki/san.js";
import type { Release, Role } from "../skydive/release.js";

interface ValidateFlags {
  config?: string;
  analyzerCert?: string;
  analyzerKey?: string;
  agentCert?: string;
  agentKey?: string;
  caCert?: string;
  host?: string[];
  role?: Role;
  skydive?: Release;
  warnDays: number;
  fleet?: string;
  all?: boolean;
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
    .summary("check that Skydive's analyzers and agents will start with TLS on and connect, before rollout")
    .description(
      "Check a Skydive host's TLS settings, certificates and keys the way its Skydive release reads them: whether TLS is on " +
        "and every process starts, the files, their modes, key match and strength, signatures, validity, serials, constraints, " +
        "SANs for every address agents dial, trust both ways, whether a certificate could impersonate the analyzer, and a real " +
        "mutual-TLS handshake. Go itself (crypto/x509 and crypto/tls, built into skycert as WebAssembly) gives every verdict on " +
        "trust, names and handshakes, with its own error text. Each warning or failure comes with the command that fixes it. " +
        "--fleet checks every host of a CA fleet. Check ids: docs/checks.md.",
    )
    .option("--config <file>", "the host's Skydive config, legacy analyzer.X509_*/agent.X509_* or tls.* (default: ./skydive.yml)")
    .option("--fleet <dir>", "check every host of a CA fleet (its skycert.json), then the fleet: one CA, unique serials and keys, handshakes")
    .addOption(skydiveOption("default: the fleet record's, else legacy for analyzer.X509_* keys, else 0.27"))
    .addOption(new Option("--role <role>", "the host's role (default: the fleet record's, else from its settings)").choices(["analyzer", "agent"]))
    .option("--analyzer-cert <file>", "the certificate the API server serves with (overrides the config)")
    .option("--analyzer-key <file>", "its private key")
    .option("--agent-cert <file>", "the certificate the host dials with")
    .option("--agent-key <file>", "its private key")
    .option("--ca-cert <file>", "the CA certificate (tls.ca_cert)")
    .option("--host <address>", "an address agents dial, IP or DNS name, port allowed (repeatable; default: the fleet's or the config's analyzers: entries)", collectHosts)
    .option("--warn-days <n>", "warn when a certificate expires within n days", parseWarnDays, 30)
    .option("--all", "show every check, not only the warnings and failures");
  withCommonOptions(cmd)
    .addHelpText(
      "after",
      usageSections({
        examples: `
skycert validate                                  # ./skydive.yml, as init leaves it
skycert validate --config /etc/skydive/skydive.yml --host 10.0.0.4
skycert validate --fleet pki                      # every host of a CA fleet
skycert validate --config pki/agents/10.0.0.9/skydive.yml --skydive 0.21
skycert validate --json --warn-days 60 | jq '.checks[] | select(.status == "fail")'
        `,
        exitCodes: `
Statuses: pass, warn (connects, but fix it), fail (will not start, will not connect, or is unsafe), skip (with the reason).

Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed
  2  usage: unknown flag, bad flag value, unreadable or malformed config or fleet record`,
      }),
    )
    .action(async (flags: ValidateFlags) => {
      const { render } = await import("../cli/render.js");
      const json = Boolean(flags.json);
      const cwd = process.cwd();
      const fleetDir = flags.fleet ?? (await implicitFleet(cwd, flags));
      if (fleetDir) {
        for (const [f, name] of [[flags.config, "--config"], [flags.role, "--role"], [flags.analyzerCert ?? flags.analyzerKey ?? flags.agentCert ?? flags.agentKey ?? flags.caCert, "the file flags"]] as const) {
          if (f) throw new (await import("../cli/errors.js")).SkycertError(`${name} does not apply with --fleet: each host is read from its own skydive.yml`, { exitCode: 2 });
        }
        const [{ validateFleet }, { fleetView }] = await Promise.all([import("./fleet.js"), import("./view.js")]);
        const result = await validateFleet({ cwd, fleet: fleetDir, hosts: flags.host ?? [], release: flags.skydive, warnDays: flags.warnDays });
        render(result, fleetView(Boolean(flags.all)), { json });
        if (!result.ok) {
          const bad = result.hosts.filter((h) => !h.ok).map((h) => h.host);
          const failedFleet = [...new Set(result.fleetChecks.filter((c) => c.status === "fail").map((c) => c.id))];
          const first = [...result.hosts.flatMap((h) => h.checks), ...result.fleetChecks].find((c) => c.status === "fail");
          throw failure(`${bad.length ? `${bad.length} of ${result.hosts.length} hosts failed (${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", ..." : ""})` : "the fleet checks failed"}${failedFleet.length ? `; fleet: ${failedFleet.join(", ")}` : ""}; first: ${first?.message ?? "see above"}`);
        }
        return;
      }
      const [{ validate }, { validateView }] = await Promise.all([import("./validate.js"), import("./view.js")]);
      const result = await validate({
        cwd,
        config: flags.config,
        flags: { analyzerCert: flags.analyzerCert, analyzerKey: flags.analyzerKey, agentCert: flags.agentCert, agentKey: flags.agentKey, caCert: flags.caCert },
        hosts: flags.host ?? [],
        role: flags.role,
        release: flags.skydive,
        warnDays: flags.warnDays,
        env: process.env,
      });
      render(result, validateView(Boolean(flags.all)), { json });
      if (!result.ok) {
        const failures = result.checks.filter((c) => c.status === "fail");
        // The first failure's message names its file, setting or host; the table above has the rest.
        throw failure(`${failures.length} check${failures.length === 1 ? "" : "s"} failed (${[...new Set(failures.map((c) => c.id))].join(", ")}); first: ${failures[0]?.message ?? "see above"}`);
      }
    });
}

/** No config here, and no file flags, but a fleet record with hosts: validate the fleet. */
async function implicitFleet(cwd: string, flags: ValidateFlags): Promise<string | undefined> {
  if (flags.config || flags.analyzerCert || flags.agentCert || flags.analyzerKey || flags.agentKey || flags.caCert) return undefined;
  const { existsSync } = await import("node:fs");
  if (existsSync(`${cwd}/skydive.yml`)) return undefined;
  const { readRecord } = await import("../skydive/record.js");
  return readRecord(cwd)?.hosts.length ? "." : undefined;
}
