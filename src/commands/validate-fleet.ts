/**
 * `skycert validate --fleet DIR`, called from the validate command: runs the
 * fleet validation, renders it, and fails with one line when anything failed.
 */
import { flushStdout } from "../io/stdout.js";

export async function runFleetValidate(flags: { fleet: string; deep?: boolean; host?: string[]; warnDays: number; json?: boolean; config?: string; role?: string; analyzerCert?: string; analyzerKey?: string; agentCert?: string; agentKey?: string; caCert?: string }): Promise<void> {
  const [{ validateFleet }, { fleetValidateView }, { render }, { failure, usageError }] = await Promise.all([
    import("../ops/validate-fleet.js"),
    import("../views/validate-fleet.js"),
    import("../render.js"),
    import("../core/errors.js"),
  ]);
  for (const [flag, value] of [["--config", flags.config], ["--role", flags.role], ["--analyzer-cert", flags.analyzerCert], ["--analyzer-key", flags.analyzerKey], ["--agent-cert", flags.agentCert], ["--agent-key", flags.agentKey]] as const) {
    if (value !== undefined) throw usageError(`${flag} does not apply with --fleet: each host's files come from DIR/agents/<host>/skydive.yml`);
  }
  const result = await validateFleet({ cwd: process.cwd(), fleet: flags.fleet, hosts: flags.host ?? [], warnDays: flags.warnDays, caCert: flags.caCert, deep: Boolean(flags.deep) });
  render(result, fleetValidateView, { json: Boolean(flags.json) });
  await flushStdout();
  if (!result.ok) {
    const failedHosts = result.hosts.filter((h) => !h.ok).map((h) => h.host);
    const failedFleet = result.fleetChecks.filter((c) => c.status === "fail").map((c) => c.id);
    const parts = [
      failedHosts.length ? `${failedHosts.length} of ${result.hosts.length} hosts failed (${failedHosts.slice(0, 5).join(", ")}${failedHosts.length > 5 ? ", ..." : ""})` : "",
      failedFleet.length ? `fleet checks failed (${failedFleet.join(", ")})` : "",
      result.analyzer && !result.analyzer.ok ? "the analyzer failed its checks" : "",
    ].filter(Boolean);
    throw failure(`fleet ${flags.fleet}: ${parts.join("; ")}`);
  }
}
