/**
 * Remedies are commands that work when pasted, built from the real state:
 * the certificate's own path (renew keeps its key, SANs and signer), the
 * config file the settings are in, the variable to unset when the environment
 * is what overrides a working config. They never lose a SAN or a key that
 * renewal could keep: `renew --san` adds names to those the certificate has.
 */
import { relative } from "node:path";
import { command } from "../cli/invocation.js";
import { envName } from "../skydive/settings.js";
import type { Material } from "./context.js";

export class Remedies {
  constructor(
    private readonly cwd: string,
    /** The config the settings come from, if any. */
    private readonly config: string | undefined,
    /** Whether the config file itself sets a key (so unsetting its variable falls back to it). */
    private readonly configSets: (key: string) => boolean,
  ) {}

  private shown(p: string): string {
    const rel = relative(this.cwd, p);
    return rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? p : rel;
  }

  /** Renew a certificate in place: same key, same signer, the names it has plus `addSans`. */
  renew(cert: string, opts: { addSans?: readonly string[]; dropSans?: readonly string[]; rekey?: boolean; profile?: boolean; days?: number } = {}): string {
    const add = [...new Set(opts.addSans ?? [])];
    const drop = [...new Set(opts.dropSans ?? [])];
    return command(
      "renew",
      this.shown(cert),
      ...(add.length ? ["--san", add.join(",")] : []),
      ...(drop.length ? ["--drop-san", drop.join(",")] : []),
      ...(opts.days ? ["--days", String(opts.days)] : []),
      opts.profile ? "--profile" : undefined,
      opts.rekey ? "--rekey" : undefined,
    );
  }

  renewFleet(dir: string): string {
    return command("renew", "--fleet", this.shown(dir));
  }

  chmod(mode: "400" | "444", path: string): string {
    return `chmod ${mode} ${this.quote(this.shown(path))}`;
  }

  /** Set keys in the config; without a config file, the words to do it. */
  configSet(values: Record<string, string | boolean>): string {
    const pairs = Object.entries(values).map(([k, v]) => `${k}=${String(v)}`);
    if (!this.config) return `set ${pairs.join(", ")} in this host's skydive.yml (or pass the matching flags)`;
    return command("config", "set", this.shown(this.config), ...pairs);
  }

  /**
   * The fix for a file named by `m`: when the environment overrides a key the
   * config sets, unsetting the variable is the fix; else `fix`.
   */
  forSetting(m: Pick<Material, "key" | "fromEnv">, fix: string): string {
    if (m.fromEnv && this.configSets(m.key)) return `unset ${envName(m.key)}`;
    return fix;
  }

  /** Point the setting (or the file flag standing in for it) at what it should name. */
  pointAt(m: Pick<Material, "key" | "fromEnv" | "setting">, to: string): string {
    return this.forSetting(m, m.setting.startsWith("--") ? `give ${m.setting} ${to}` : `set ${m.key} to ${to}`);
  }

  private quote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
  }
}
