/**
 * `skycert validate` for one host: its config (or file flags) and every file
 * it names, judged by host.ts with Go's verdicts. Without a config in a
 * folder that holds a fleet record, the fleet is validated instead.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { usageError } from "../cli/errors.js";
import { type SkydiveConfig, readConfigFile } from "../skydive/config.js";
import { loadGoTls } from "../skydive/go-tls.js";
import type { Release, Role } from "../skydive/release.js";
import type { DialHost } from "./context.js";
import { type FileFlags, validateHost } from "./host.js";
import { type Check, type Status, sortChecks, summarize } from "./model.js";

export interface ValidateOptions {
  cwd: string;
  config?: string;
  flags: FileFlags;
  hosts: string[];
  role?: Role;
  release?: Release;
  warnDays: number;
  env: Record<string, string | undefined>;
  now?: Date;
}

export interface ValidateResult {
  ok: boolean;
  kind: "host";
  skydive: Release;
  skydiveFrom: string;
  roles: Role[];
  config: string | null;
  hosts: DialHost[];
  checks: Check[];
  summary: Record<Status, number>;
}

export function readHostConfig(opts: Pick<ValidateOptions, "cwd" | "config" | "flags">): SkydiveConfig | undefined {
  const path = resolve(opts.cwd, opts.config ?? "skydive.yml");
  if (opts.config === undefined && !existsSync(path)) {
    if (Object.values(opts.flags).some(Boolean)) return undefined;
    throw usageError(
      `no skydive.yml in ${opts.cwd}`,
      "pass --config FILE, --fleet DIR for a CA fleet, or name the files with --analyzer-cert, --analyzer-key, --agent-cert, --agent-key (and --ca-cert)",
    );
  }
  return readConfigFile(path, "--config", () => usageError(`--config ${opts.config}: no such file`, "pass the path of the Skydive config (skydive.yml)"));
}

export async function validate(opts: ValidateOptions): Promise<ValidateResult> {
  const config = readHostConfig(opts);
  const go = await loadGoTls();
  const report = await validateHost(
    { cwd: opts.cwd, config, env: opts.env, flags: opts.flags, release: opts.release, role: opts.role, hosts: opts.hosts, warnDays: opts.warnDays, now: opts.now ?? new Date() },
    go,
  );
  const checks = sortChecks(report.checks);
  const summary = summarize(checks);
  return { ok: summary.fail === 0, kind: "host", skydive: report.release, skydiveFrom: report.releaseFrom, roles: report.roles, config: report.config, hosts: report.hosts, checks, summary };
}
