/**
 * What to probe and with what: the addresses, the client pair to dial with,
 * the trust file to judge the served chain by, the Skydive release whose
 * client rules apply, and what is on disk to compare with. They come from the
 * flags, a host's Skydive config (--config), or a fleet record (--fleet).
 */
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { SkycertError, usageError } from "../cli/errors.js";
import { readInput } from "../fs/files.js";
import { privateKeyPem, readPrivateKey, sha256Fingerprint } from "../pki/keys.js";
import { parsePem } from "../pki/pem.js";
import { dialEntry, splitAddress } from "../skydive/address.js";
import { fileSetting, lookup, readConfigFile, readSetting, releaseOf, settingTrue } from "../skydive/config.js";
import { type FleetRecord, type RecordHost, RECORD_FILE, abs, readRecord } from "../skydive/record.js";
import { REQUIRE_CLIENT_CERT, ROLES, type Release, type Role, canRequireClientCert, keysOf } from "../skydive/release.js";
import { AGENT_PORT, ANALYZER_PORT, CONFIG_FILE } from "../skydive/settings.js";

/** A file read for a target; `from` says where it was named: a flag, a config key, the fleet record. */
export type PemFile = { path: string; text: string; from: string };
export type ClientPair = { cert: PemFile; key: PemFile };

export interface Target {
  /** As given, or `address:port` for a fleet host. */
  address: string;
  host: string;
  port: number;
  /** The name a Skydive client dials and verifies (--name, else the address's host). */
  name: string;
  api?: Role;
  fleetHost?: { name: string; roles: Role[]; fleet: string };
  release: Release;
  releaseFrom: string;
  client?: ClientPair;
  trust?: PemFile;
  /** The certificate this server should serve: the record's host certificate, or the config's server certificate. */
  disk?: { path: string; fingerprint: string; from: string; pem: string };
  /** tls.require_client_cert as the server's config sets it (honoured from Skydive 0.27). */
  expectRequire?: { value: boolean; from: string };
  /** The Skydive config the server runs with, for remedies. */
  config?: string;
}

export type TargetOptions = Partial<Record<"fleet" | "config" | "cert" | "key" | "ca" | "name", string>> & { cwd: string; addresses: string[]; skydive?: Release; env: Record<string, string | undefined> };

/** An address to probe, checked: its host and port (the analyzer's by default). */
export function parseAddress(value: string): { host: string; port: number } {
  const bad = (why: string) => usageError(`address "${value}": ${why}`, "give ADDR or ADDR:PORT, e.g. 10.0.0.4, 10.0.0.4:8082, [fd00::4]:8082, analyzer.example:8082");
  const { host, port } = splitAddress(value);
  if (host === "") throw bad("no host");
  if (isIP(host) === 0 && !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(host)) throw bad("not an IP address or a DNS name");
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw bad("the port must be 1 to 65535");
  return { host, port: port === undefined ? ANALYZER_PORT : Number(port) };
}

function readCert(path: string, from: string): PemFile & { der: Uint8Array } {
  const text = readInput(path, from, 1024 * 1024).text;
  const der = parsePem(text).blocks.find((b) => b.label === "CERTIFICATE")?.der;
  if (!der) throw usageError(`${from} ${path}: no PEM certificate in it`);
  return { path, text, from, der };
}

/** Skydive reads unencrypted keys only, and so does probe: an encrypted one is refused before any prompt. */
async function readPair(cert: string, certFrom: string, key: string, keyFrom: string): Promise<ClientPair> {
  const encrypted = () => Promise.reject(usageError(`${keyFrom} ${key}: the key is encrypted, and Skydive (like skycert probe) reads unencrypted keys only`));
  const c = readCert(cert, certFrom);
  return { cert: c, key: { path: key, from: keyFrom, text: privateKeyPem((await readPrivateKey(key, keyFrom, encrypted)).key) } };
}

function diskCert(path: string, from: string): Target["disk"] {
  const c = readCert(path, from);
  return { path, fingerprint: sha256Fingerprint(c.der), from, pem: c.text };
}

const requirement = (value: boolean, set: boolean, path: string) => ({ value, from: set ? `${REQUIRE_CLIENT_CERT} in ${path}` : `${path} (no ${REQUIRE_CLIENT_CERT})` });

/** What a host's config says: release, client pair, trust file, server certificate, require_client_cert. */
async function fromConfig(path: string, o: TargetOptions) {
  const config = readConfigFile(path, "--config");
  const get = (key: string) => readSetting(config, o.env, key);
  const { release, from: releaseFrom } = releaseOf(config, o.env, { flag: o.skydive });
  const k = keysOf(release);
  const file = (key: string) => {
    const s = fileSetting(config, o.env, key, o.cwd, path);
    return s && { path: s.path, from: `${s.source} in ${path}` };
  };
  const [clientCert, clientKey, trust, server] = [file(k.client.cert), file(k.client.key), file(k.rootCAs), file(k.server.cert)];
  const requireSet = lookup(config.data, REQUIRE_CLIENT_CERT) !== undefined || get(REQUIRE_CLIENT_CERT)?.fromEnv;
  return {
    config: config.path,
    release,
    releaseFrom,
    client: clientCert && clientKey ? await readPair(clientCert.path, clientCert.from, clientKey.path, clientKey.from) : undefined,
    trust: trust && readCert(trust.path, trust.from),
    disk: server && diskCert(server.path, server.from),
    expectRequire: canRequireClientCert(release) ? requirement(settingTrue(get(REQUIRE_CLIENT_CERT)), Boolean(requireSet), path) : undefined,
  };
}

/**
 * The pair the fleet probes with, as an agent dials its analyzers: an agent
 * host's own certificate and key; else any host's; else a client certificate
 * the record lists. A pair whose files are missing here (shipped away) is
 * passed over.
 */
async function fleetClient(dir: string, record: FleetRecord): Promise<ClientPair | undefined> {
  const isAnalyzer = (h: RecordHost) => h.roles.includes("analyzer");
  const candidates = [
    ...[...record.hosts.filter((h) => !isAnalyzer(h)), ...record.hosts.filter(isAnalyzer)].map((h) => ({ cert: abs(dir, h.cert), key: abs(dir, h.key), from: `the fleet record's ${isAnalyzer(h) ? "analyzer" : "agent"} ${h.name}` })),
    // skycert init client writes client.crt and client.key.
    ...(record.clients ?? []).map((c) => ({ cert: join(abs(dir, c.dir), "client.crt"), key: join(abs(dir, c.dir), "client.key"), from: `the fleet record's client ${c.name}` })),
  ];
  for (const c of candidates) {
    if (!existsSync(c.cert) || !existsSync(c.key)) continue;
    try {
      return await readPair(c.cert, c.from, c.key, c.from);
    } catch (err) {
      if (!(err instanceof SkycertError)) throw err;
    }
  }
  return undefined;
}

function hostConfig(dir: string, h: RecordHost): { path: string; require: boolean } | undefined {
  const path = join(abs(dir, h.dir), CONFIG_FILE);
  try {
    return { path, require: settingTrue(readSetting(readConfigFile(path, "config"), {}, REQUIRE_CLIENT_CERT)) };
  } catch {
    return undefined;
  }
}

/** The fleet host an address (or --name) names: by its name, its address or one of its SANs. */
function matchHost(record: FleetRecord, ...names: (string | undefined)[]): RecordHost | undefined {
  const sans = (h: RecordHost) => h.sans.map((s) => s.replace(/^(DNS|IP):/, "").toLowerCase());
  for (const want of names.filter(Boolean).map((n) => n!.toLowerCase())) {
    const h = record.hosts.find((x) => x.name.toLowerCase() === want) ?? record.hosts.find((x) => x.address.toLowerCase() === want) ?? record.hosts.find((x) => sans(x).includes(want));
    if (h) return h;
  }
  return undefined;
}

const apiOf = (port: number): Role | undefined => (port === AGENT_PORT ? "agent" : port === ANALYZER_PORT ? "analyzer" : undefined);

export async function buildTargets(o: TargetOptions): Promise<Target[]> {
  if (o.fleet && o.config) throw usageError("--fleet and --config both say what the servers run with", "pass one of them");
  if (Boolean(o.cert) !== Boolean(o.key)) throw usageError(`${o.cert ? "--cert" : "--key"} needs ${o.cert ? "--key" : "--cert"}: a client pair is a certificate and its key`);
  if (!o.fleet && o.addresses.length === 0) throw usageError("nothing to probe", "give ADDR[:PORT]..., or --fleet DIR to probe every host of a fleet");
  if (o.fleet && o.addresses.length === 0 && o.name) throw usageError("--name needs ADDR: with --fleet alone every host is dialed at its own address", "skycert probe --fleet DIR ADDR:PORT --name NAME");

  const flagClient = o.cert && o.key ? await readPair(resolve(o.cwd, o.cert), "--cert", resolve(o.cwd, o.key), "--key") : undefined;
  const flagTrust = o.ca ? readCert(resolve(o.cwd, o.ca), "--ca") : undefined;

  if (!o.fleet) {
    const cfg = o.config ? await fromConfig(resolve(o.cwd, o.config), o) : undefined;
    const common = {
      release: cfg?.release ?? o.skydive ?? "0.27",
      releaseFrom: cfg?.releaseFrom ?? (o.skydive ? "--skydive" : "the default (Skydive 0.27 and later; --skydive for older releases)"),
      client: flagClient ?? cfg?.client,
      trust: flagTrust ?? cfg?.trust,
      disk: cfg?.disk,
      expectRequire: cfg?.expectRequire,
      config: cfg?.config,
    };
    return o.addresses.map((a) => {
      const { host, port } = parseAddress(a);
      return { address: a, host, port, name: o.name ?? host, api: apiOf(port), ...common };
    });
  }

  const dir = resolve(o.cwd, o.fleet);
  const record = readRecord(dir);
  if (!record) throw usageError(`--fleet ${o.fleet}: no fleet record (${RECORD_FILE}) in it`, "pass the --out folder of skycert init ca");
  if (record.hosts.length === 0) {
    const legacy = record.skydive === "legacy";
    throw usageError(`--fleet ${o.fleet}: the record lists no hosts (${legacy ? "a folder of self-signed legacy pairs" : "none issued yet"})`, legacy ? "probe ADDR --config DIR/skydive.yml" : "issue them with skycert init analyzer agent --ca DIR");
  }
  const { release, from: releaseFrom } = releaseOf(undefined, {}, { flag: o.skydive, fleet: { dir, record } });
  const client = flagClient ?? (await fleetClient(dir, record));
  const trust = flagTrust ?? (record.ca ? readCert(abs(dir, record.ca), "the fleet record's CA") : undefined);
  const forHost = (h: RecordHost | undefined, address: string, host: string, port: number, name: string, api: Role | undefined): Target => {
    const cfg = h && hostConfig(dir, h);
    const analyzerDefault = { value: Boolean(h?.roles.includes("analyzer")) && api !== "agent", from: "skycert's analyzer settings" };
    return {
      address, host, port, name, api, release, releaseFrom, client, trust,
      fleetHost: h && { name: h.name, roles: h.roles, fleet: dir },
      disk: h && existsSync(abs(dir, h.cert)) ? diskCert(abs(dir, h.cert), `the fleet record's host ${h.name}`) : undefined,
      expectRequire: h && canRequireClientCert(release) ? (cfg ? requirement(cfg.require, cfg.require, cfg.path) : analyzerDefault) : undefined,
      config: cfg?.path,
    };
  };
  if (o.addresses.length) {
    return o.addresses.map((a) => {
      const { host, port } = parseAddress(a);
      const h = matchHost(record, o.name, host);
      return forHost(h, a, host, port, o.name ?? host, apiOf(port) ?? (h?.roles.length === 1 ? h.roles[0] : undefined));
    });
  }
  return record.hosts.flatMap((h) =>
    ROLES.filter((r) => h.roles.includes(r)).map((role) => {
      const port = role === "analyzer" ? ANALYZER_PORT : AGENT_PORT;
      const { host } = parseAddress(h.address);
      return forHost(h, dialEntry(host, port), host, port, host, role);
    }),
  );
}
