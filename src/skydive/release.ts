/**
 * Skydive's release families and what each does with its TLS settings, read
 * from Skydive's source (config/config.go IsTLSEnabled, config/tls.go,
 * common/tls.go or graffiti/tls/tls.go, config/http.go, agent/agent.go,
 * analyzer/server.go) at v0.20.0, v0.21.0 and v0.27.0. docs/skydive-releases.md
 * restates it; test/emulator.test.ts holds this model to a Go emulator written
 * from the same source.
 *
 * - legacy (up to 0.20): one server identity. Every API server, agents' too,
 *   serves with analyzer.X509_cert/_key and verifies clients against
 *   agent.X509_cert if they send one; clients present agent.X509_cert/_key and
 *   trust analyzer.X509_cert. TLS is on when both analyzer keys are set.
 * - 0.21 (0.21 to 0.26): tls.server_* serves, tls.client_* dials, tls.ca_cert
 *   is trusted both ways; TLS is on only with all five set, else silently off.
 * - 0.27 (0.27, 0.28): TLS is on with `(ca && client pair) || server pair`; a
 *   server pair missing then stops the process at start; tls.require_client_cert
 *   makes servers refuse clients without a certificate; a process dials with TLS
 *   when it has a client pair.
 * Up to 0.26 an `analyzers:` entry is resolved to its first IP and Go verifies
 * that IP; from 0.27 the name is verified as written.
 */
export const RELEASES = ["legacy", "0.21", "0.27"] as const;
export type Release = (typeof RELEASES)[number];
export type Role = "analyzer" | "agent";
export const ROLES: readonly Role[] = ["analyzer", "agent"];

export const RELEASE_NAMES: Record<Release, string> = {
  legacy: "Skydive up to 0.20 (legacy analyzer.X509_*/agent.X509_* schema)",
  "0.21": "Skydive 0.21 to 0.26 (tls.* schema)",
  "0.27": "Skydive 0.27 and later (tls.* schema)",
};

/** The family a Skydive version number belongs to (v0.24.0 -> 0.21), for a --skydive given as a version. */
export function familyOf(version: string): Release | undefined {
  const m = /^v?0\.(\d+)(\.\d+)?$/.exec(version);
  if (!m) return undefined;
  const minor = Number(m[1]);
  return minor <= 20 ? "legacy" : minor <= 26 ? "0.21" : "0.27";
}

/** The setting keys of each part a process loads, by release family. */
export interface PairKeys {
  cert: string;
  key: string;
}
export interface ReleaseKeys {
  /** What every API server serves with. */
  server: PairKeys;
  /** What every dialing process presents. */
  client: PairKeys;
  /** The pool a server verifies client certificates against. */
  clientCAs: string;
  /** The pool a client verifies servers against. */
  rootCAs: string;
}

const LEGACY: ReleaseKeys = {
  server: { cert: "analyzer.X509_cert", key: "analyzer.X509_key" },
  client: { cert: "agent.X509_cert", key: "agent.X509_key" },
  clientCAs: "agent.X509_cert",
  rootCAs: "analyzer.X509_cert",
};
const TLS: ReleaseKeys = {
  server: { cert: "tls.server_cert", key: "tls.server_key" },
  client: { cert: "tls.client_cert", key: "tls.client_key" },
  clientCAs: "tls.ca_cert",
  rootCAs: "tls.ca_cert",
};
export const CA_KEY = "tls.ca_cert";
export const REQUIRE_CLIENT_CERT = "tls.require_client_cert";
export const ANALYZERS = "analyzers";

export function keysOf(release: Release): ReleaseKeys {
  return release === "legacy" ? LEGACY : TLS;
}

/** Every certificate and key setting of a release's schema. */
export function fileKeys(release: Release): string[] {
  const k = keysOf(release);
  return [...new Set([k.server.cert, k.server.key, k.client.cert, k.client.key, k.clientCAs, k.rootCAs])];
}

/** Resolved by Skydive before dialing: up to 0.26 the first IP of the name is what Go verifies. */
export const dialsResolvedIp = (release: Release) => release !== "0.27";
/** Only 0.27 has tls.require_client_cert. */
export const canRequireClientCert = (release: Release) => release === "0.27";

type Get = (key: string) => string;

/** config.IsTLSEnabled of the release, over viper's GetString. */
export function isTlsEnabled(release: Release, get: Get): boolean {
  const set = (k: string) => get(k).length > 0;
  if (release === "legacy") return set(LEGACY.server.cert) && set(LEGACY.server.key);
  const ca = set(TLS.clientCAs);
  const client = set(TLS.client.cert) && set(TLS.client.key);
  const server = set(TLS.server.cert) && set(TLS.server.key);
  if (release === "0.21") return ca && client && server;
  // Go's && binds tighter than ||: (ca && client) || server.
  return (ca && client) || server;
}

/**
 * What a process of `role` does with its settings when it starts, as far as the
 * settings alone decide it; whether the named files load is for Go to say.
 */
export interface Startup {
  tls: boolean;
  /** The API server's TLS files, when TLS is on (empty strings are what Skydive would try to open). */
  server?: { cert: string; key: string; clientCAs: string; requireClientCert: boolean };
  /** The client pair and roots the process dials with, when it has a client TLS config. */
  client?: { cert: string; key: string; roots: string };
  /** Whether outgoing connections use TLS (https/wss). */
  dialsTls: boolean;
  /** Whether the client config is loaded at start, so a bad client pair or trust file stops the process. */
  clientLoadedAtStart: boolean;
}

export function startup(release: Release, role: Role, get: Get, getBool: (key: string) => boolean, analyzers: readonly string[] = []): Startup {
  const k = keysOf(release);
  const tls = isTlsEnabled(release, get);
  const clientSet = get(k.client.cert) !== "" && get(k.client.key) !== "";
  return {
    tls,
    ...(tls
      ? { server: { cert: get(k.server.cert), key: get(k.server.key), clientCAs: get(k.clientCAs), requireClientCert: canRequireClientCert(release) && getBool(REQUIRE_CLIENT_CERT) } }
      : {}),
    ...(clientSet ? { client: { cert: get(k.client.cert), key: get(k.client.key), roots: get(k.rootCAs) } } : {}),
    // Up to 0.26 the URL scheme follows IsTLSEnabled; from 0.27, whether a client TLS config exists.
    dialsTls: release === "0.27" ? clientSet : tls,
    // Up to 0.26 an agent loads it when it has analyzers to dial, an analyzer only in its replication
    // goroutine (a failure is logged, the process runs on); 0.27 loads it at start in both.
    clientLoadedAtStart: release === "0.27" || (role === "agent" && analyzers.length > 0),
  };
}
