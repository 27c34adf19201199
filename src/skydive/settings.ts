/**
 * The settings skycert writes for a Skydive host, per release family
 * (skydive/release.ts): what that release really loads, and nothing it would
 * not read.
 */
import { ANALYZERS, CA_KEY, REQUIRE_CLIENT_CERT, type Release, type Role, keysOf } from "./release.js";

export type SettingValue = string | boolean | string[];
export type Settings = Record<string, SettingValue>;

export interface Pair {
  cert: string;
  key: string;
}

/**
 * Legacy (up to 0.20): every host, agents included, loads both pairs. Its API
 * server serves with the analyzer pair (so an agent host needs the analyzer's
 * key) and trusts agent.X509_cert; it dials with the agent pair and trusts
 * analyzer.X509_cert. Self-signed init writes the pairs it made.
 */
export function legacySettings(pairs: Partial<Record<Role, Pair>>): Settings {
  const k = keysOf("legacy");
  const out: Settings = {};
  if (pairs.analyzer) Object.assign(out, { [k.server.cert]: pairs.analyzer.cert, [k.server.key]: pairs.analyzer.key });
  if (pairs.agent) Object.assign(out, { [k.client.cert]: pairs.agent.cert, [k.client.key]: pairs.agent.key });
  return out;
}

/**
 * tls.* (0.21 and later): the host's own certificate serves and dials, so all
 * five keys are set (0.21 to 0.26 turn TLS off without any one of them; 0.27
 * stops an agent without a server pair). Analyzers require client certificates
 * (0.27 honours it); agents get the analyzers they dial, and analyzers of an
 * HA fleet the peers they replicate to.
 */
export function tlsHostSettings(roles: readonly Role[], own: Pair, ca: string, analyzers: readonly string[]): Settings {
  const k = keysOf("0.27");
  const out: Settings = {
    [k.server.cert]: own.cert,
    [k.server.key]: own.key,
    [k.client.cert]: own.cert,
    [k.client.key]: own.key,
    [CA_KEY]: ca,
  };
  if (roles.includes("analyzer")) out[REQUIRE_CLIENT_CERT] = true;
  // Agents dial their analyzers; analyzers replicate to their peers (HA) through the same list.
  if (analyzers.length && (roles.includes("agent") || analyzers.length > 1)) out[ANALYZERS] = [...analyzers];
  return out;
}

/** Settings for a host of `release`: legacy hosts all load both pairs. */
export function hostSettings(release: Release, roles: readonly Role[], files: { own?: Pair; ca?: string; legacy?: Partial<Record<Role, Pair>> }, analyzers: readonly string[] = []): Settings {
  if (release === "legacy") {
    const out = legacySettings(files.legacy ?? {});
    if (roles.includes("agent") && analyzers.length) out[ANALYZERS] = [...analyzers];
    return out;
  }
  if (!files.own || !files.ca) throw new Error("hostSettings: a tls.* host needs its own pair and the CA");
  return tlsHostSettings(roles, files.own, files.ca, analyzers);
}

/** `analyzer.X509_cert` -> `SKYDIVE_ANALYZER_X509_CERT`, as Skydive maps keys to the environment. */
export function envName(key: string): string {
  return `SKYDIVE_${key.toUpperCase().replace(/[.-]/g, "_")}`;
}

/** The config file skycert writes for a host, beside its files and in an output folder. */
export const CONFIG_FILE = "skydive.yml";
/** Skydive's API port on analyzers, which agents dial. */
export const ANALYZER_PORT = 8082;
/** Skydive's API port on agents. */
export const AGENT_PORT = 8081;

/** `{"a.b": 1, "a.c": 2}` -> `{a: {b: 1, c: 2}}`: the shape a YAML config file has. */
export function nestSettings(settings: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [dotted, value] of Object.entries(settings)) {
    const parts = dotted.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || next === null || typeof next !== "object") node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}

/** What a legacy deployment costs, said by every command that writes or ships it. */
export const LEGACY_COST =
  "Skydive up to 0.20 serves every agent's API with the analyzer's own key, so every agent host holds the analyzer's private key and can impersonate the analyzer, and agents without a certificate are accepted";
export const LEGACY_WAY_OUT = "the way out: a CA (skycert init ca, then --ca) on Skydive 0.21 or later";
