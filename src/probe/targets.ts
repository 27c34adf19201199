/**
 * What to probe and with what: the addresses, the client pair to dial with,
 * the trust file to judge the served chain by, the Skydive release whose
 * client rules apply, and what is on disk to compare with. They come from the
 * flags, a host's Skydive config (--config), or a fleet record (--fleet).
 */
import { existsSync, readdirSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import { isIP } from "node:net";
import { basename, extname, join, resolve } from "node:path";
import { SkycertError, usageError } from "../cli/errors.js";
import { readInput } from "../fs/files.js";
import { sha256Fingerprint } from "../pki/keys.js";
import { parsePem } from "../pki/pem.js";
import { dialEntry, splitAddress } from "../skydive/address.js";
import { lookup, readConfigFile, readSetting, releaseOf, settingPath, settingTrue } from "../skydive/config.js";
import { type FleetRecord, type RecordHost, abs, readRecord } from "../skydive/record.js";
import { REQUIRE_CLIENT_CERT, type Release, type Role, canRequireClientCert, keysOf } from "../skydive/release.js";
import { AGENT_PORT, ANALYZER_PORT, CONFIG_FILE } from "../skydive/settings.js";

export interface PemFile {
  path: string;
  text: string;
  /** Where it was named: a flag, a config key, the fleet record. */
  from: string;
}

export interface ClientPair {
  cert: PemFile;
  key: PemFile;
}

export interface Target {
  /** As given, or `address:port` for a fleet host. */
  address: string;
  host: string;
  port: number;
  /** The name a Skydive client dials and verifies (--name, else the address's host). */
  name: string;
  /** Which API the port is: 8082 analyzer, 8081 agent. */
  api?: Role;
  fleetHost?: { name: string; roles: Role[]; fleet: string; config?: string };
  release: Release;
  releaseFrom: string;
  client?: ClientPair;
  trust?: PemFile;
  /** The certificate this server should serve: the record's host certificate, or the config's server certificate. */
  disk?: { path: string; fingerprint: string; from: string; pem: string };
  /** The server's config sets tls.require_client_cert (honoured from Skydive 0.27). */
  expectRequire?: { value: boolean; from: string };
  /** The Skydive config the server runs with, for remedies. */
  config?: string;
}

export interface TargetOptions {
  cwd: string;
  addresses: string[];
  fleet?: string;
  config?: string;
  cert?: string;
  key?: string;
  ca?: string;
  name?: string;
  skydive?: Release;
  env: Record<string, string | undefined>;
}

/** An address to probe, checked: its host and port (the analyzer's by default). */
export function parseAddress(value: string, defaultPort = ANALYZER_PORT): { host: string; port: number } {
  const bad = (why: string) => usageError(`address "${value}": ${why}`, "give ADDR or ADDR:PORT, e.g. 10.0.0.4, 10.0.0.4:8082, [fd00::4]:8082, analyzer.example:8082");
  const { host, port } = splitAddress(value);
  if (host === "") throw bad("no host");
  if (isIP(host) === 0 && !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(host)) throw bad("not an IP address or a DNS name");
  if (port === undefined) return { host, port: defaultPort };
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw bad("the port must be 1 to 65535");
  return { host, port: Number(port) };
}

function readPem(path: string, from: string, what: "certificate" | "key" | "trust"): PemFile {
  const input = readInput(path, from, 1024 * 1024);
  const { blocks } = parsePem(input.text);
  if (what === "key") {
    if (!blocks.some((b) => /PRIVATE KEY$/.test(b.label))) throw usageError(`${from} ${path}: no PEM private key in it`);
    if (blocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(b.headers["Proc-Type"] ?? ""))) {
      throw usageError(`${from} ${path}: the key is encrypted, and Skydive (like skycert probe) reads unencrypted keys only`);
    }
    try {
      createPrivateKey(input.text);
    } catch (err) {
      throw usageError(`${from} ${path}: not a usable private key (${(err as Error).message.split("\n")[0]})`);
    }
  } else if (!blocks.some((b) => b.label === "CERTIFICATE")) {
    throw usageError(`${from} ${path}: no PEM certificate in it`);
  }
  return { path, text: input.text, from };
}

function diskCert(path: string, from: string): Target["disk"] {
  const file = readPem(path, from, "certificate");
  const der = parsePem(file.text).blocks.find((b) => b.label === "CERTIFICATE")!.der;
  return { path, fingerprint: sha256Fingerprint(der), from, pem: file.text };
}

/** What a host's config says: release, client pair, trust file, server certificate, require_client_cert. */
function fromConfig(path: string, o: TargetOptions) {
  const config = readConfigFile(path, "--config");
  const get = (key: string) => readSetting(config, o.env, key);
  const { release, from: releaseFrom } = releaseOf(config, o.env, { flag: o.skydive });
  const k = keysOf(release);
  const file = (key: string) => {
    const s = get(key);
    return s && typeof s.value === "string" && s.value !== "" ? { path: settingPath(config, { value: s.value, fromEnv: s.fromEnv }, o.cwd), from: `${s.source} in ${path}` } : undefined;
  };
  const clientCert = file(k.client.cert);
  const clientKey = file(k.client.key);
  const trust = file(k.rootCAs);
  const server = file(k.server.cert);
  const requireSet = lookup(config.data, REQUIRE_CLIENT_CERT) !== undefined || get(REQUIRE_CLIENT_CERT)?.fromEnv;
  return {
    config: config.path,
    release,
    releaseFrom,
    client: clientCert && clientKey ? { cert: readPem(clientCert.path, clientCert.from, "certificate"), key: readPem(clientKey.path, clientKey.from, "key") } : undefined,
    trust: trust ? readPem(trust.path, trust.from, "trust") : undefined,
    disk: server ? diskCert(server.path, server.from) : undefined,
    expectRequire: canRequireClientCert(release) ? { value: settingTrue(get(REQUIRE_CLIENT_CERT)), from: requireSet ? `${REQUIRE_CLIENT_CERT} in ${path}` : `${path} (no ${REQUIRE_CLIENT_CERT})` } : undefined,
  };
}

/** The certificate and key in a client's folder (skycert init client writes client.crt and client.key). */
function pairIn(dir: string): { cert: string; key: string } | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const crt of names.filter((n) => extname(n) === ".crt").sort()) {
    const key = `${basename(crt, ".crt")}.key`;
    if (names.includes(key)) return { cert: join(dir, crt), key: join(dir, key) };
  }
  return undefined;
}

/**
 * The pair the fleet probes with, as an agent dials its analyzers: an agent
 * host's own certificate and key; else any host's; else a client certificate
 * the record lists. A pair whose files are missing here (shipped away) is
 * passed over.
 */
function fleetClient(dir: string, record: FleetRecord): ClientPair | undefined {
  const hosts = [...record.hosts.filter((h) => !h.roles.includes("analyzer")), ...record.hosts.filter((h) => h.roles.includes("analyzer"))];
  const candidates: { cert: string; key: string; from: string }[] = [
    ...hosts.map((h) => ({ cert: abs(dir, h.cert), key: abs(dir, h.key), from: `the fleet record's ${h.roles.includes("analyzer") ? "analyzer" : "agent"} ${h.name}` })),
    ...(record.clients ?? []).flatMap((c) => {
      const p = pairIn(abs(dir, c.dir));
      return p ? [{ ...p, from: `the fleet record's client ${c.name}` }] : [];
    }),
  ];
  for (const c of candidates) {
    if (!existsSync(c.cert) || !existsSync(c.key)) continue;
    try {
      return { cert: readPem(c.cert, c.from, "certificate"), key: readPem(c.key, c.from, "key") };
    } catch (err) {
      if (!(err instanceof SkycertError)) throw err;
    }
  }
  return undefined;
}

function hostConfig(dir: string, h: RecordHost): { path: string; require: boolean } | undefined {
  const path = join(abs(dir, h.dir), CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const config = readConfigFile(path, "config");
    return { path, require: settingTrue(readSetting(config, {}, REQUIRE_CLIENT_CERT)) };
  } catch {
    return undefined;
  }
}

const sanValues = (h: RecordHost) => h.sans.map((s) => s.replace(/^(DNS|IP):/, "").toLowerCase());

/** The fleet host an address (or --name) names: by its name, its address or one of its SANs. */
function matchHost(record: FleetRecord, ...names: (string | undefined)[]): RecordHost | undefined {
  for (const n of names) {
    if (!n) continue;
    const want = n.toLowerCase();
    const h = record.hosts.find((x) => x.name.toLowerCase() === want) ?? record.hosts.find((x) => x.address.toLowerCase() === want) ?? record.hosts.find((x) => sanValues(x).includes(want));
    if (h) return h;
  }
  return undefined;
}

export function buildTargets(o: TargetOptions): Target[] {
  if (o.fleet && o.config) throw usageError("--fleet and --config both say what the servers run with", "pass one of them");
  if (Boolean(o.cert) !== Boolean(o.key)) throw usageError(`${o.cert ? "--cert" : "--key"} needs ${o.cert ? "--key" : "--cert"}: a client pair is a certificate and its key`);
  if (!o.fleet && o.addresses.length === 0) throw usageError("nothing to probe", "give ADDR[:PORT]..., or --fleet DIR to probe every host of a fleet");
  if (o.fleet && o.addresses.length === 0 && o.name) throw usageError("--name needs ADDR: with --fleet alone every host is dialed at its own address", "skycert probe --fleet DIR ADDR:PORT --name NAME");

  const flagClient = o.cert && o.key ? { cert: readPem(resolve(o.cwd, o.cert), "--cert", "certificate"), key: readPem(resolve(o.cwd, o.key), "--key", "key") } : undefined;
  const flagTrust = o.ca ? readPem(resolve(o.cwd, o.ca), "--ca", "trust") : undefined;

  if (o.fleet) {
    const dir = resolve(o.cwd, o.fleet);
    const record = readRecord(dir);
    if (!record) throw usageError(`--fleet ${o.fleet}: no fleet record (skycert.json) in it`, "pass the --out folder of skycert init ca");
    if (record.hosts.length === 0) {
      throw usageError(`--fleet ${o.fleet}: the record lists no hosts (${record.skydive === "legacy" ? "a folder of self-signed legacy pairs" : "none issued yet"})`, record.skydive === "legacy" ? "probe ADDR --config DIR/skydive.yml" : "issue them with skycert init analyzer agent --ca DIR");
    }
    const release = o.skydive ?? record.skydive;
    const releaseFrom = o.skydive ? "--skydive" : `the fleet record ${join(dir, "skycert.json")}`;
    const client = flagClient ?? fleetClient(dir, record);
    const trust = flagTrust ?? (record.ca ? readPem(abs(dir, record.ca), "the fleet record's CA", "trust") : undefined);
    const forHost = (h: RecordHost | undefined, address: string, host: string, port: number, name: string, api: Role | undefined): Target => {
      const cfg = h ? hostConfig(dir, h) : undefined;
      return {
        address,
        host,
        port,
        name,
        ...(api ? { api } : {}),
        release,
        releaseFrom,
        ...(client ? { client } : {}),
        ...(trust ? { trust } : {}),
        ...(h ? { fleetHost: { name: h.name, roles: h.roles, fleet: dir, ...(cfg ? { config: cfg.path } : {}) } } : {}),
        ...(h && existsSync(abs(dir, h.cert)) ? { disk: diskCert(abs(dir, h.cert), `the fleet record's host ${h.name}`) } : {}),
        ...(h && canRequireClientCert(release) ? { expectRequire: cfg ? { value: cfg.require, from: cfg.require ? `${REQUIRE_CLIENT_CERT} in ${cfg.path}` : `${cfg.path} (no ${REQUIRE_CLIENT_CERT})` } : { value: h.roles.includes("analyzer") && api !== "agent", from: "skycert's analyzer settings" } } : {}),
        ...(cfg ? { config: cfg.path } : {}),
      };
    };
    if (o.addresses.length) {
      return o.addresses.map((a) => {
        const { host, port } = parseAddress(a);
        const h = matchHost(record, o.name, host);
        const api = port === AGENT_PORT ? "agent" : port === ANALYZER_PORT ? "analyzer" : h?.roles.length === 1 ? h.roles[0] : undefined;
        return forHost(h, a, host, port, o.name ?? host, api);
      });
    }
    const out: Target[] = [];
    for (const h of record.hosts) {
      for (const role of (["analyzer", "agent"] as const).filter((r) => h.roles.includes(r))) {
        const port = role === "analyzer" ? ANALYZER_PORT : AGENT_PORT;
        const { host } = parseAddress(h.address);
        out.push(forHost(h, dialEntry(host, port), host, port, host, role));
      }
    }
    return out;
  }

  const cfg = o.config ? fromConfig(resolve(o.cwd, o.config), o) : undefined;
  const release = o.skydive ?? cfg?.release ?? "0.27";
  const releaseFrom = o.skydive ? "--skydive" : (cfg?.releaseFrom ?? "the default (Skydive 0.27 and later; --skydive for older releases)");
  const client = flagClient ?? cfg?.client;
  const trust = flagTrust ?? cfg?.trust;
  return o.addresses.map((a) => {
    const { host, port } = parseAddress(a);
    return {
      address: a,
      host,
      port,
      name: o.name ?? host,
      ...(port === AGENT_PORT ? { api: "agent" as const } : port === ANALYZER_PORT ? { api: "analyzer" as const } : {}),
      release,
      releaseFrom,
      ...(client ? { client } : {}),
      ...(trust ? { trust } : {}),
      ...(cfg?.disk ? { disk: cfg.disk } : {}),
      ...(cfg?.expectRequire && release === cfg.release ? { expectRequire: cfg.expectRequire } : {}),
      ...(cfg ? { config: cfg.config } : {}),
    };
  });
}
