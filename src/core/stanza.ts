/**
 * The Skydive configuration keys that name certificate files, in both schemas
 * (skydive-tls.md): legacy `analyzer.X509_*` / `agent.X509_*` with strict cross
 * validation, and modern `tls.*` with one CA.
 */
export type Role = "analyzer" | "agent";
export type Schema = "legacy" | "tls";
export type Settings = Record<string, string | boolean>;

export const ROLES: readonly Role[] = ["analyzer", "agent"];

export const LEGACY_KEYS = {
  analyzer: { cert: "analyzer.X509_cert", key: "analyzer.X509_key" },
  agent: { cert: "agent.X509_cert", key: "agent.X509_key" },
} as const;

export const TLS_KEYS = {
  analyzer: { cert: "tls.server_cert", key: "tls.server_key" },
  agent: { cert: "tls.client_cert", key: "tls.client_key" },
  ca: "tls.ca_cert",
  requireClientCert: "tls.require_client_cert",
} as const;

export interface RoleFiles {
  cert: string;
  key: string;
  /** The CA certificate, in CA mode. */
  ca?: string;
}

/** The keys one role's files set in a Skydive config. */
export function roleSettings(role: Role, schema: Schema, files: RoleFiles): Settings {
  if (schema === "legacy") return { [LEGACY_KEYS[role].cert]: files.cert, [LEGACY_KEYS[role].key]: files.key };
  const settings: Settings = { [TLS_KEYS[role].cert]: files.cert, [TLS_KEYS[role].key]: files.key };
  if (files.ca) settings[TLS_KEYS.ca] = files.ca;
  // Without it the analyzer accepts agents that present no certificate at all.
  if (role === "analyzer") settings[TLS_KEYS.requireClientCert] = true;
  return settings;
}

/** `analyzer.X509_cert` -> `SKYDIVE_ANALYZER_X509_CERT`, as Skydive maps keys to the environment. */
export function envName(key: string): string {
  return `SKYDIVE_${key.toUpperCase().replace(/[.-]/g, "_")}`;
}

/** Where a fleet's hosts live under the output folder: `<out>/agents/<host>/`. */
export const AGENTS_FOLDER = "agents";
/** The Skydive config file skycert writes beside each host's files and in the output folder. */
export const STANZA_FILE = "skydive.yml";
