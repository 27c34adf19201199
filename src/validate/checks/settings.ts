/**
 * config, tls-enabled, server-pair and require-client-cert: what the host's
 * Skydive release does with its settings (skydive/release.ts, held to the
 * emulator written from Skydive's source): whether TLS is on, whether every
 * process starts, and whether its analyzers can refuse clients without a
 * certificate.
 */
import { LEGACY_COST, LEGACY_WAY_OUT } from "../../skydive/settings.js";
import { CA_KEY, REQUIRE_CLIENT_CERT, type Release, type Role, canRequireClientCert, keysOf, startup } from "../../skydive/release.js";
import { command } from "../../cli/invocation.js";
import type { HostContext } from "../context.js";
import { type Check, check } from "../model.js";

export interface SettingsView {
  /** viper's GetString of a key (environment first). */
  text(key: string): string;
  bool(key: string): boolean;
  /** Where a key's value comes from, for messages. */
  source(key: string): string | undefined;
  /** A key the config misspells for `key`, with its value (`agent.X509_crt` for `agent.X509_cert`). */
  misspelt(key: string): { key: string; value: string } | undefined;
  analyzers: string[];
  /** The config's file, or "flags". */
  where: string;
  /** The fleet CA's path, when a fleet record names it. */
  fleetCa?: string;
}

/** What to set for each missing key, guessed from the host's other settings where skycert's layout makes it certain. */
function fixFor(missing: string[], s: SettingsView, release: Release): Record<string, string> | undefined {
  const k = keysOf(release);
  const values: Record<string, string> = {};
  for (const key of missing) {
    const typo = s.misspelt(key);
    if (typo) values[key] = typo.value;
    else if (release !== "legacy" && key === k.server.cert && s.text(k.client.cert)) values[key] = s.text(k.client.cert);
    else if (release !== "legacy" && key === k.server.key && s.text(k.client.key)) values[key] = s.text(k.client.key);
    else if (release !== "legacy" && key === k.client.cert && s.text(k.server.cert)) values[key] = s.text(k.server.cert);
    else if (release !== "legacy" && key === k.client.key && s.text(k.server.key)) values[key] = s.text(k.server.key);
    else if (key === CA_KEY && s.fleetCa) values[key] = s.fleetCa;
    else return undefined;
  }
  return values;
}

function missingRemedy(missing: string[], s: SettingsView, ctx: HostContext): string {
  const values = fixFor(missing, s, ctx.release);
  if (values) return ctx.remedies.configSet(values);
  return `set ${missing.join(", ")} in ${s.where} to the host's files`;
}

function typoNote(missing: string[], s: SettingsView): string {
  const typos = missing.map((k) => [k, s.misspelt(k)] as const).filter(([, t]) => t);
  return typos.length ? ` (${typos.map(([k, t]) => `${t!.key} is set: did you mean ${k}?`).join("; ")})` : "";
}

/** tls-enabled for one role of the host (legacy configs are checked for both). */
export function checkTlsEnabled(s: SettingsView, role: Role, ctx: HostContext): Check[] {
  const release = ctx.release;
  const k = keysOf(release);
  const st = startup(release, role, (key) => s.text(key), (key) => s.bool(key), s.analyzers);
  const subject = `${role} start-up`;
  const unset = (keys: string[]) => keys.filter((key) => s.text(key) === "");
  const fail = (message: string, keys: string[]) => check("tls-enabled", "fail", subject, `${s.where}: ${message}${typoNote(keys, s)}`, { remedy: missingRemedy(keys, s, ctx) });
  const out: Check[] = [];
  const serverKeys = [k.server.cert, k.server.key];
  const clientKeys = [k.client.cert, k.client.key];
  if (release === "legacy") {
    if (!st.tls) return [fail(`TLS is off: Skydive up to 0.20 turns it on only when ${unset(serverKeys).join(" and ")} ${unset(serverKeys).length > 1 ? "are" : "is"} set (every API server, agents' too, serves with the analyzer's pair)`, unset(serverKeys))];
    if (!s.text(k.clientCAs)) out.push(fail(`the API server would not start: ${k.clientCAs} is its ClientCAs (Failed to open root certificate '')`, [k.clientCAs]));
    const clientMissing = unset(clientKeys);
    if (clientMissing.length && role === "agent" && s.analyzers.length) out.push(fail(`agents would dial wss:// with no client certificate and the system's trust, and fail (x509: certificate signed by unknown authority): ${clientMissing.join(", ")} not set`, clientMissing));
    if (clientMissing.length && role === "analyzer") out.push(check("tls-enabled", "warn", subject, `${s.where}: replication between analyzers (HA) dials with the agent pair, and ${clientMissing.join(", ")} ${clientMissing.length > 1 ? "are" : "is"} not set${typoNote(clientMissing, s)}`, { remedy: missingRemedy(clientMissing, s, ctx) }));
  } else if (release === "0.21") {
    const missing = unset([...clientKeys, ...serverKeys, k.clientCAs]);
    if (missing.length) {
      const caStop = missing.includes(k.clientCAs) && !unset(clientKeys).length && role === "agent" && s.analyzers.length;
      return [fail(caStop ? `the agent would not start (Failed to open root certificate ''): ${missing.join(", ")} not set` : `TLS is silently off: Skydive 0.21 to 0.26 turns it on only with all five tls.* keys, and ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not set`, missing)];
    }
  } else {
    if (!st.tls) return [fail(`TLS is off: Skydive 0.27 turns it on with tls.server_cert and tls.server_key, or tls.ca_cert with the client pair; ${unset([...serverKeys, k.clientCAs, ...clientKeys]).join(", ")} not set`, unset([...serverKeys, ...clientKeys, k.clientCAs]))];
    const serverMissing = unset(serverKeys);
    if (serverMissing.length) out.push(fail(`the ${role} would not start: TLS is on, and the API server's pair is not set (Can't read X509 key pair set in config : cert '${s.text(k.server.cert)}' key '${s.text(k.server.key)}')`, serverMissing));
    if (!s.text(k.clientCAs)) out.push(fail("the process would not start: TLS is on and tls.ca_cert is not set (Failed to open root certificate '')", [k.clientCAs]));
    const clientMissing = unset(clientKeys);
    if (clientMissing.length) {
      out.push(
        role === "agent"
          ? fail(`the agent would dial its analyzers in plaintext (ws://) against their TLS listeners: ${clientMissing.join(", ")} not set`, clientMissing)
          : check("tls-enabled", "warn", subject, `${s.where}: replication between analyzers (HA) would dial in plaintext against TLS listeners: ${clientMissing.join(", ")} not set${typoNote(clientMissing, s)}`, { remedy: missingRemedy(clientMissing, s, ctx) }),
      );
    }
  }
  if (out.length === 0) {
    out.push(check("tls-enabled", "pass", subject, `${s.where}: TLS is on for Skydive ${release}; the API server serves ${s.text(k.server.cert)}${st.client ? `, and ${role === "agent" ? "agents dial" : "it dials its peers"} with ${s.text(k.client.cert)}` : ""}`));
  }
  return out;
}

/** server-pair: every Skydive process serves its API, agents too; on an agent host, the pair it serves with. */
export function checkServerPair(s: SettingsView, ctx: HostContext): Check {
  const k = keysOf(ctx.release);
  const cert = s.text(k.server.cert);
  const key = s.text(k.server.key);
  const subject = "agent API server";
  if (!cert || !key) {
    const missing = [k.server.cert, k.server.key].filter((x) => !s.text(x));
    const why = ctx.release === "legacy" ? "Skydive up to 0.20 serves the agent's API with the analyzer's pair, key included" : ctx.release === "0.21" ? "without it TLS is off on the whole host" : "the agent stops at start-up without it";
    return check("server-pair", "fail", subject, `${s.where}: ${missing.join(" and ")} not set: ${why}${typoNote(missing, s)}`, { remedy: missingRemedy(missing, s, ctx) });
  }
  if (ctx.release === "legacy") {
    return check("server-pair", "warn", subject, `${s.where}: the agent serves its API with the analyzer's own pair (${key}); ${LEGACY_COST}; ${LEGACY_WAY_OUT}`, { remedy: command("init", "ca", "--out", "pki") });
  }
  return check("server-pair", "pass", subject, `${s.where}: the agent serves its API with ${cert}`);
}

/** require-client-cert: whether the analyzer refuses clients that present no certificate, per release. */
export function checkRequireClientCert(s: SettingsView, ctx: HostContext): Check {
  const subject = "analyzer clients";
  const set = s.bool(REQUIRE_CLIENT_CERT);
  if (ctx.release === "legacy") {
    return check("require-client-cert", "warn", subject, `Skydive up to 0.20 cannot require client certificates (VerifyClientCertIfGiven): anyone who reaches the analyzer's port connects without one; ${LEGACY_WAY_OUT}`, { remedy: command("init", "ca", "--out", "pki") });
  }
  if (!canRequireClientCert(ctx.release)) {
    return check("require-client-cert", "warn", subject, `${s.where}: ${set ? "tls.require_client_cert is set, but has no effect on" : "tls.require_client_cert does not exist on"} Skydive 0.21 to 0.26: clients without a certificate, or with one from another CA (which Go then does not send), are accepted`, { remedy: "run Skydive 0.27 or later, which honours tls.require_client_cert: true" });
  }
  if (set) return check("require-client-cert", "pass", subject, `${s.source(REQUIRE_CLIENT_CERT)} = true: the analyzer refuses clients without a certificate`);
  return check("require-client-cert", "fail", subject, `${s.where}: tls.require_client_cert is ${s.text(REQUIRE_CLIENT_CERT) || "not set"}: the analyzer accepts anyone who presents no certificate`, { remedy: ctx.remedies.configSet({ [REQUIRE_CLIENT_CERT]: true }) });
}
