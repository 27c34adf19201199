/**
 * validate for one host: the one path every check takes, whether the host is
 * named by a config, by file flags, or by a fleet record (validate --fleet runs
 * this for each host). It reads the settings as the host's Skydive release
 * reads them, the files they name, and asks Go for every verdict on them.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { basename, join, resolve } from "node:path";
import { type FileRead, readMaterial } from "../fs/files.js";
import { type SkydiveConfig, fleetOf, lookup, notAPath, readSetting, releaseOf, settingPath, settingText, settingTrue, unknownKeys } from "../skydive/config.js";
import type { GoTls, ParseResult } from "../skydive/go-tls.js";
import { hostPart } from "../skydive/address.js";
import { type FleetRecord, type RecordHost, abs, findRecord } from "../skydive/record.js";
import { ANALYZERS, CA_KEY, REQUIRE_CLIENT_CERT, type Release, type Role, dialsResolvedIp, fileKeys, keysOf } from "../skydive/release.js";
import { envName } from "../skydive/settings.js";
import { certUses, checkBasicConstraints, checkKeyStrength, checkKeyUsage, checkSanPresent, checkSerial, checkSignatureAlgorithm, checkValidity } from "./checks/cert.js";
import { checkFileMode, checkReadable } from "./checks/files.js";
import { checkCoverage, checkImpersonation } from "./checks/names.js";
import { type PairFiles, checkKeyMatches, readCertFile, readKeyFile } from "./checks/pem.js";
import { type SettingsView, checkRequireClientCert, checkServerPair, checkTlsEnabled } from "./checks/settings.js";
import { checkHandshakes, checkTrust } from "./checks/trust.js";
import { type CertFile, type DialHost, type HostContext, type Material, type Part, shower } from "./context.js";
import { type Check, check } from "./model.js";
import { Remedies } from "./remedy.js";

export interface FileFlags {
  analyzerCert?: string;
  analyzerKey?: string;
  agentCert?: string;
  agentKey?: string;
  caCert?: string;
}

export interface HostOptions {
  cwd: string;
  config?: SkydiveConfig;
  env: Record<string, string | undefined>;
  flags: FileFlags;
  /** --skydive */
  release?: Release;
  /** --role */
  role?: Role;
  /** --host */
  hosts: string[];
  warnDays: number;
  now: Date;
  /** The fleet this host belongs to, when validate --fleet (or a record found beside the config) says so. */
  fleet?: { dir: string; record: FleetRecord; host?: RecordHost };
  /** Run the handshakes (default true). */
  handshake?: boolean;
  /** What hosts of one run share: trust files read, and Go's parse of file texts. */
  shared?: { reads: Map<string, FileRead>; parses: Map<string, ParseResult> };
}

export interface HostReport {
  release: Release;
  releaseFrom: string;
  roles: Role[];
  config: string | null;
  hosts: DialHost[];
  checks: Check[];
  /** What the fleet-level checks need: the host's own leaf, parsed by Go, its key, and the CA it trusts. */
  leaf?: { serialHex: string; issuer: string; keyPem?: string; rawSha256: string; publicKeySha256: string; certPem: string; subject: string };
  trustPath?: string;
}

/** Every key validate knows, for "did you mean". */
const KNOWN_KEYS = [...new Set([...fileKeys("legacy"), ...fileKeys("0.27"), REQUIRE_CLIENT_CERT, "analyzer.listen", "agent.listen", "agent.X509_servername", "agent.X509_insecure", "tls.insecure"])];

function whichRoles(opts: HostOptions, release: Release, analyzers: string[], requireSet: boolean): Role[] {
  if (opts.role) return [opts.role];
  if (opts.fleet?.host) return opts.fleet.host.roles;
  if (release === "legacy") return ["analyzer", "agent"];
  if (analyzers.length && !requireSet) return ["agent"];
  if (requireSet && !analyzers.length) return ["analyzer"];
  return ["analyzer", "agent"];
}

/** Names and IPs the host's clients verify; up to Skydive 0.26 a name is resolved and its IP verified. */
async function dialHosts(entries: { name: string; source: string }[], release: Release): Promise<DialHost[]> {
  const out: DialHost[] = [];
  for (const e of entries) {
    if (dialsResolvedIp(release) && isIP(e.name) === 0) {
      try {
        const { address } = await dnsLookup(e.name);
        out.push({ name: address, source: `${e.source}; ${e.name} resolves to ${address} here, and Skydive ${release} verifies that IP` });
        continue;
      } catch {
        out.push({ name: e.name, source: `${e.source}; ${e.name} does not resolve here, and Skydive ${release} would not start (it resolves every analyzers: entry first)` });
        continue;
      }
    }
    out.push({ name: e.name, source: e.source });
  }
  const seen = new Set<string>();
  return out.filter((h) => (seen.has(h.name.toLowerCase()) ? false : (seen.add(h.name.toLowerCase()), true)));
}

export async function validateHost(opts: HostOptions, go: GoTls): Promise<HostReport> {
  const checks: Check[] = [];
  const config = opts.config;
  const where = config ? shower(opts.cwd)(config.path) : "flags";
  // The fleet a host belongs to: its config's, else the one its certificate files sit in.
  const flagged = [opts.flags.analyzerCert, opts.flags.agentCert].find((p): p is string => Boolean(p));
  const fleet: HostOptions["fleet"] = opts.fleet ?? (config ? fleetOf(config.path) : flagged ? findRecord(resolve(opts.cwd, flagged)) : undefined);
  const { release, from } = releaseOf(config, opts.env, { flag: opts.release, fleet, legacyHint: !opts.flags.caCert && Boolean(opts.flags.analyzerCert ?? opts.flags.agentCert) });
  const k = keysOf(release);
  const get = (key: string) => readSetting(config, opts.env, key);
  const text = (key: string) => settingText(get(key));
  const configSets = (key: string) => config !== undefined && lookup(config.data, key) !== undefined;
  const show = shower(opts.cwd);

  // config: the file itself, typos, the other schema, values that are not paths.
  const analyzersSetting = get(ANALYZERS);
  let analyzers: string[] = [];
  if (analyzersSetting) {
    const v = analyzersSetting.value;
    if (Array.isArray(v) && v.every((e) => typeof e === "string")) analyzers = v.map((e) => e.trim()).filter(Boolean);
    // viper's GetStringSlice splits a string on white space only.
    else if (typeof v === "string") analyzers = v.split(/\s+/).filter(Boolean);
    else checks.push(check("config", "fail", where, `${where}: ${analyzersSetting.source} is not a list of host:port entries`, { remedy: "write analyzers: as a list, e.g. [10.0.0.4:8082]" }));
  }
  const typos = config ? unknownKeys(config.data, KNOWN_KEYS) : [];
  for (const t of typos) {
    if (!t.suggestion) continue;
    checks.push(check("config", "warn", where, `${where}: ${t.key} is not a Skydive setting (did you mean ${t.suggestion}?)`, { remedy: `rename ${t.key} to ${t.suggestion} in ${where}` }));
  }
  const otherSchema = fileKeys(release === "legacy" ? "0.27" : "legacy").filter((key) => get(key) !== undefined);
  if (otherSchema.length) {
    checks.push(check("config", "warn", where, `${where}: ${otherSchema.join(", ")} ${otherSchema.length > 1 ? "belong" : "belongs"} to the ${release === "legacy" ? "tls.*" : "legacy"} schema, which Skydive ${release} ignores`, { remedy: `remove ${otherSchema.join(", ")} from ${where}` }));
  }
  for (const key of fileKeys(release)) {
    const s = get(key);
    const wrong = notAPath(s);
    if (wrong) checks.push(check("config", "fail", where, `${where}: ${s!.source} is ${wrong}`, { remedy: `set ${key} to the path of the file` }));
  }
  const fromEnv = [...fileKeys(release), REQUIRE_CLIENT_CERT, ANALYZERS].filter((key) => get(key)?.fromEnv);
  const requireSet = settingTrue(get(REQUIRE_CLIENT_CERT));
  const roles = whichRoles(opts, release, analyzers, requireSet);

  // Which names clients verify.
  const entries: { name: string; source: string }[] = opts.hosts.length
    ? opts.hosts.map((h) => ({ name: hostPart(h), source: "--host" }))
    : roles.includes("analyzer")
      ? fleet && fleet.record.analyzers.length
        ? fleet.record.analyzers.map((a) => ({ name: hostPart(a), source: `what the fleet's agents dial (${a})` }))
        : analyzers.length
          ? analyzers.map((a) => ({ name: hostPart(a), source: `${analyzersSetting!.source}: ${a}` }))
          : text("analyzer.listen") && !["0.0.0.0", "::", "*", ""].includes(hostPart(text("analyzer.listen")))
            ? [{ name: hostPart(text("analyzer.listen")), source: `no analyzers: entries; analyzer.listen = ${text("analyzer.listen")}` }]
            : [{ name: "127.0.0.1", source: "no analyzers: entries; Skydive's default analyzer.listen 127.0.0.1:8082" }]
      : analyzers.map((a) => ({ name: hostPart(a), source: `${analyzersSetting!.source}: ${a}` }));
  const hosts = await dialHosts(entries, release);
  const agentCerts = fleet ? agentCertsOf(fleet) : new Map<string, string>();

  const ctx: HostContext = {
    go,
    cwd: opts.cwd,
    release,
    role: roles.length === 1 ? roles[0] : undefined,
    now: opts.now,
    warnDays: opts.warnDays,
    ...(config ? { config: config.path } : {}),
    ...(fleet?.host ? { fleetHost: fleet.host } : {}),
    agentCerts,
    hosts,
    remedies: new Remedies(opts.cwd, config?.path, configSets),
    show,
    ...(opts.shared ? { parses: opts.shared.parses } : {}),
  };

  const view: SettingsView = {
    text,
    bool: (key) => settingTrue(get(key)),
    source: (key) => get(key)?.source,
    misspelt: (key) => {
      const t = typos.find((x) => x.suggestion?.toLowerCase() === key.toLowerCase());
      const v = t && config ? lookup(config.data, t.key) : undefined;
      return t && typeof v === "string" ? { key: t.key, value: v } : undefined;
    },
    analyzers,
    where,
    ...(fleet?.record.ca ? { fleetCa: fleet.record.deployDir ? join(fleet.record.deployDir, basename(fleet.record.ca)) : abs(fleet.dir, fleet.record.ca) } : {}),
  };
  // With file flags, the flags stand in for the settings they name.
  const flagOf: Partial<Record<string, string | undefined>> = {
    [k.server.cert]: opts.flags.analyzerCert,
    [k.server.key]: opts.flags.analyzerKey,
    [k.client.cert]: opts.flags.agentCert,
    [k.client.key]: opts.flags.agentKey,
    ...(release !== "legacy" ? { [CA_KEY]: opts.flags.caCert } : {}),
  };
  const FLAG_NAMES: Record<string, string> = { [k.server.cert]: "--analyzer-cert", [k.server.key]: "--analyzer-key", [k.client.cert]: "--agent-cert", [k.client.key]: "--agent-key", [CA_KEY]: "--ca-cert" };
  const settingsView: SettingsView = { ...view, text: (key) => flagOf[key] ?? text(key), source: (key) => (flagOf[key] ? FLAG_NAMES[key] : view.source(key)) };

  const configCheck = config
    ? `${where}: ${release === "legacy" ? "legacy schema (analyzer.X509_*, agent.X509_*)" : "tls.* schema"}, for Skydive ${release} (from ${from}); checking ${roles.length === 2 ? "what every host loads (analyzer and agent)" : `an ${roles[0]} host`}${fromEnv.length ? `; from the environment: ${fromEnv.map(envName).join(", ")}` : ""}`
    : `file flags, for Skydive ${release} (from ${from})`;
  checks.unshift(check("config", checks.some((c) => c.status === "fail") ? "warn" : "pass", where, configCheck, config ? { file: config.path } : {}));
  for (const role of release === "legacy" && roles.length === 2 ? (["analyzer", "agent"] as const) : roles) checks.push(...checkTlsEnabled(settingsView, role, ctx));
  if (roles.includes("analyzer")) checks.push(checkRequireClientCert(settingsView, ctx));
  if (roles.includes("agent")) checks.push(checkServerPair(settingsView, ctx));

  // The files, each read once.
  const reads = new Map<string, FileRead>();
  const shared = opts.shared?.reads;
  const material = (part: Part, key: string): Material | undefined => {
    const flag = flagOf[key];
    const s = get(key);
    const value = flag ?? (s && typeof s.value === "string" ? s.value : undefined);
    if (!value) return undefined;
    const path = flag ? resolve(opts.cwd, flag) : settingPath(config, { value, fromEnv: s!.fromEnv }, opts.cwd, fleet);
    // Trust files are shared by a fleet's hosts; a host's own files are read for it alone.
    const pool = part === "client CAs" || part === "roots";
    let read = reads.get(path) ?? (pool ? shared?.get(path) : undefined);
    if (!read) {
      reads.set(path, (read = readMaterial(path)));
      if (pool) shared?.set(path, read);
    }
    return { part, key, setting: flag ? FLAG_NAMES[key]! : s!.source, fromEnv: !flag && s!.fromEnv, path, shown: show(path), read };
  };
  const m = {
    serverCert: material("server cert", k.server.cert),
    serverKey: material("server key", k.server.key),
    clientCert: material("client cert", k.client.cert),
    clientKey: material("client key", k.client.key),
    clientCAs: material("client CAs", k.clientCAs),
    roots: material("roots", k.rootCAs),
  };
  // A file is checked once as a file, and once for each kind of block read from it: Go reads a key
  // from a certificate's own file when a key setting names it, and that file must then hold one.
  const seen = new Set<string>();
  const certFiles = new Map<string, CertFile>();
  const keyTexts = new Map<string, string>();
  for (const mat of Object.values(m)) {
    if (!mat) continue;
    const isKey = mat.part === "server key" || mat.part === "client key";
    if (seen.has(`${isKey}:${mat.path}`)) continue;
    seen.add(`${isKey}:${mat.path}`);
    if (!seen.has(mat.path)) {
      seen.add(mat.path);
      checks.push(checkReadable(mat, ctx));
      const mode = checkFileMode(mat, ctx);
      if (mode) checks.push(mode);
    }
    if (isKey) {
      const certOf = mat.part === "server key" ? m.serverCert : m.clientCert;
      const r = readKeyFile(mat, ctx, { alone: !certOf?.read.ok });
      checks.push(r.check);
      if (r.text) keyTexts.set(mat.path, r.text);
    } else {
      const r = readCertFile(mat, ctx);
      checks.push(r.check);
      if (r.file) certFiles.set(mat.path, r.file);
    }
  }
  const cert = (mat: Material | undefined) => (mat ? certFiles.get(mat.path) : undefined);
  const keyText = (mat: Material | undefined) => (mat ? keyTexts.get(mat.path) : undefined);
  const files = {
    server: cert(m.serverCert) && { ...cert(m.serverCert)!, material: m.serverCert! },
    client: cert(m.clientCert) && { ...cert(m.clientCert)!, material: m.clientCert! },
    clientCAs: cert(m.clientCAs) && { ...cert(m.clientCAs)!, material: m.clientCAs! },
    roots: cert(m.roots) && { ...cert(m.roots)!, material: m.roots! },
  };

  // key-match, once for a pair that serves and dials with the same files.
  const pairs: PairFiles[] = [];
  const samePair = m.serverCert?.path === m.clientCert?.path && m.serverKey?.path === m.clientKey?.path;
  if (files.server && keyText(m.serverKey)) pairs.push({ which: "server", cert: files.server, certMaterial: m.serverCert!, key: keyText(m.serverKey)!, keyMaterial: m.serverKey! });
  if (!samePair && files.client && keyText(m.clientKey)) pairs.push({ which: "client", cert: files.client, certMaterial: m.clientCert!, key: keyText(m.clientKey)!, keyMaterial: m.clientKey! });
  const matches = checkKeyMatches(pairs, ctx);
  checks.push(...matches);

  // skycert's policy on each certificate, from Go's parse of it.
  const uses = certUses([files.server, files.client, files.clientCAs, files.roots].filter((f): f is CertFile => f !== undefined));
  for (const use of uses) {
    checks.push(checkKeyStrength(use, ctx), checkSignatureAlgorithm(use, ctx), checkValidity(use, ctx), checkSerial(use, ctx), checkBasicConstraints(use, ctx), checkKeyUsage(use, ctx));
    if (use.leaf.length) checks.push(checkSanPresent(use, ctx, use.leaf.includes("server")));
  }

  // Go's verdicts: names, trust, impersonation, the handshake.
  if (files.server && roles.includes("analyzer") && files.server.certs.length) checks.push(...checkCoverage(files.server, ctx));
  if (files.server?.certs.length && files.roots) checks.push(...checkTrust({ which: "server", presented: files.server, pool: files.roots }, ctx));
  if (files.client?.certs.length && files.clientCAs && !(samePair && release !== "legacy" && files.server && false)) checks.push(...checkTrust({ which: "client", presented: files.client, pool: files.clientCAs }, ctx));
  const analyzerNames = roles.includes("analyzer") ? hosts : await dialHosts(analyzers.map((a) => ({ name: hostPart(a), source: `analyzers: ${a}` })), release);
  if (files.roots && analyzerNames.length) {
    const candidates: { file: CertFile; whose: string }[] = [];
    const serverLeaf = files.server?.certs[0]?.cert.rawSha256;
    if (release === "legacy") {
      if (files.client?.certs.length && files.client.certs[0]!.cert.rawSha256 !== serverLeaf) candidates.push({ file: files.client, whose: "the agents' certificate" });
      else if (files.client?.certs.length) {
        checks.push(check("impersonation", "warn", "the agents' certificate", `${files.client.material.shown}: the agents present the analyzer's own certificate and key, so every agent is the analyzer`, { file: files.client.material.path, remedy: "give the agents their own pair (skycert init agent makes the seed's), and set agent.X509_cert and agent.X509_key to it" }));
      }
    } else if (!roles.includes("analyzer") && files.client?.certs.length) {
      candidates.push({ file: files.client, whose: fleet?.host ? `agent ${fleet.host.name}'s certificate` : "this agent's certificate" });
    }
    if (files.server?.certs.length && agentCerts.has(files.server.material.path) && roles.includes("analyzer")) {
      candidates.push({ file: files.server, whose: agentCerts.get(files.server.material.path)! });
    }
    for (const c of candidates) checks.push(...checkImpersonation(c, files.roots, analyzerNames, ctx));
  }
  const serves = roles.includes("analyzer") || release === "legacy";
  const canShake = files.server && files.client && files.clientCAs && files.roots && keyText(m.serverKey) && keyText(m.clientKey) && matches.every((c) => c.status === "pass");
  if (opts.handshake !== false && serves && hosts.length) {
    if (canShake) {
      checks.push(...(await checkHandshakes({
        server: { cert: files.server!, key: keyText(m.serverKey)!, clientCAs: files.clientCAs!, requireClientCert: release === "0.27" && settingTrue(get(REQUIRE_CLIENT_CERT)) },
        client: { cert: files.client!, key: keyText(m.clientKey)!, roots: files.roots! },
      }, ctx, checks.some((c) => c.status === "fail"))));
    } else {
      for (const h of hosts) checks.push(check("handshake", "skip", `client -> server ${h.name}`, "skipped: the pairs or trust files above could not be read, parsed or matched", { host: h.name }));
    }
  }

  const leaf = (files.client ?? files.server)?.certs[0];
  return {
    release,
    releaseFrom: from,
    roles,
    config: config?.path ?? null,
    hosts,
    checks,
    ...(m.roots ? { trustPath: m.roots.path } : {}),
    ...(leaf ? { leaf: { serialHex: leaf.cert.serialHex, issuer: leaf.cert.issuer, rawSha256: leaf.cert.rawSha256, publicKeySha256: leaf.cert.publicKeySha256, certPem: leaf.pem, subject: leaf.cert.subject, keyPem: keyText(m.clientKey ?? m.serverKey) } } : {}),
  };
}

const agentCertMaps = new WeakMap<FleetRecord, Map<string, string>>();

/** The fleet's agent certificates by path, made once per record (a fleet validates every host against it). */
function agentCertsOf(fleet: { dir: string; record: FleetRecord }): Map<string, string> {
  let map = agentCertMaps.get(fleet.record);
  if (!map) {
    map = new Map(fleet.record.hosts.filter((h) => !h.roles.includes("analyzer")).map((h) => [abs(fleet.dir, h.cert), `agent ${h.name}'s certificate`]));
    agentCertMaps.set(fleet.record, map);
  }
  return map;
}
