/**
 * The Skydive emulator (test/peers/skydive-emulator) proved on hand-made OpenSSL
 * certificates, before other tests trust it with skycert's output: per release
 * family, what starts, what serves TLS, who connects to whom, and which name is
 * verified, as ../shared/skydive-tls.md reads Skydive's source.
 *
 * Hosts (addresses are nominal; every connection really goes to loopback):
 *   a1  analyzer 10.0.0.4  analyzer1.example      a2  analyzer 10.0.0.5
 *   g1  agent    10.0.0.10 agent1.example         g2  agent    10.0.0.11
 *   dnsonly  an analyzer certificate with DNS:analyzer.example only
 *   rogue    an agent certificate that also names the analyzer (the impersonation hazard)
 *   stranger a certificate from another CA
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type Settings, checkStartup, dialAnalyzer, envObject, flattenSkydiveYaml, pairHandshake, serveApi } from "./helpers/emulator.js";
import { ok, openssl, scratch } from "./helpers/run.js";

const dir = scratch("skycert-emulator-");
const pki = join(dir, "pki");
/** Where every config says the files are; the emulator reads them from `pki`. */
const TLS = "/etc/skydive/tls";
const mounts = { [TLS]: pki };
const ANALYZERS = ["10.0.0.4:8082", "10.0.0.5:8082"];

function ext(name: string, lines: string[]): string {
  const path = join(pki, `${name}.cnf`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function makeCa(name: string): void {
  const cnf = ext(name, ["[req]", "distinguished_name = dn", "prompt = no", "x509_extensions = v3", "[dn]", `CN = ${name}`, "[v3]", "basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign", "subjectKeyIdentifier = hash"]);
  ok(openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-config", cnf], { cwd: pki }), `CA ${name}`);
}

/** A CA-signed leaf for one host: serverAuth + clientAuth, its own SANs. */
function makeLeaf(name: string, sans: string, ca = "ca"): void {
  const cnf = ext(`${name}-ext`, ["basicConstraints = CA:FALSE", "keyUsage = critical, digitalSignature", "extendedKeyUsage = serverAuth, clientAuth", `subjectAltName = ${sans}`]);
  ok(openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], { cwd: pki }), `CSR ${name}`);
  ok(openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-CAserial", `${ca}.srl`, "-days", "30", "-extfile", cnf, "-out", `${name}.crt`], { cwd: pki }), `leaf ${name}`);
}

/** The seed's legacy self-signed pair: CA:TRUE, keyCertSign, both usages, SANs; RSA like the recipe. */
function makeLegacy(role: "analyzer" | "agent", sans: string): void {
  const cnf = ext(`legacy-${role}`, ["[req]", "distinguished_name = dn", "prompt = no", "x509_extensions = v3_req", "[dn]", `CN = skydive-${role}`, "[v3_req]", "basicConstraints = CA:TRUE", "keyUsage = digitalSignature, keyEncipherment, keyCertSign", "extendedKeyUsage = serverAuth, clientAuth", `subjectAltName = ${sans}`, "subjectKeyIdentifier = hash"]);
  ok(openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `legacy-${role}.key`, "-out", `legacy-${role}.crt`, "-days", "30", "-config", cnf], { cwd: pki }), `legacy ${role}`);
}

beforeAll(() => {
  mkdirSync(pki, { recursive: true });
  makeCa("ca");
  makeCa("other-ca");
  makeLeaf("a1", "IP:10.0.0.4, DNS:analyzer1.example");
  makeLeaf("a2", "IP:10.0.0.5, DNS:analyzer2.example");
  makeLeaf("g1", "IP:10.0.0.10, DNS:agent1.example");
  makeLeaf("g2", "IP:10.0.0.11, DNS:agent2.example");
  makeLeaf("dnsonly", "DNS:analyzer.example");
  makeLeaf("rogue", "DNS:agent3.example, DNS:analyzer.example, IP:10.0.0.4");
  makeLeaf("stranger", "IP:10.0.0.12, DNS:agent4.example", "other-ca");
  makeLegacy("analyzer", "DNS:analyzer.example, IP:10.0.0.4, IP:10.0.0.5, IP:127.0.0.1");
  makeLegacy("agent", "DNS:agent1.example, IP:10.0.0.10");
});

type Role = "agent" | "analyzer";
type Family = "legacy" | "0.21" | "0.27";
const FAMILIES: Family[] = ["legacy", "0.21", "0.27"];

const MODERN_KEYS = ["tls.client_cert", "tls.client_key", "tls.server_cert", "tls.server_key", "tls.ca_cert"] as const;
const LEGACY_KEYS = ["analyzer.X509_cert", "analyzer.X509_key", "agent.X509_cert", "agent.X509_key"] as const;

/** tls.*: the host's own certificate as both pairs, the CA; analyzers require client certificates. */
function modern(host: string, role: Role, opts: { drop?: string[]; analyzers?: string[]; ca?: string } = {}): Settings {
  const s: Settings = {
    "tls.client_cert": `${TLS}/${host}.crt`,
    "tls.client_key": `${TLS}/${host}.key`,
    "tls.server_cert": `${TLS}/${host}.crt`,
    "tls.server_key": `${TLS}/${host}.key`,
    "tls.ca_cert": `${TLS}/${opts.ca ?? "ca"}.crt`,
    analyzers: opts.analyzers ?? ANALYZERS,
  };
  if (role === "analyzer") s["tls.require_client_cert"] = true;
  for (const k of opts.drop ?? []) delete s[k];
  return s;
}

/** Legacy: every host holds both self-signed pairs (keys spelled as the v0.20 code spells them). */
function legacy(opts: { drop?: string[]; analyzers?: string[]; set?: Settings } = {}): Settings {
  const s: Settings = {
    "analyzer.X509_cert": `${TLS}/legacy-analyzer.crt`,
    "analyzer.X509_key": `${TLS}/legacy-analyzer.key`,
    "agent.X509_cert": `${TLS}/legacy-agent.crt`,
    "agent.X509_key": `${TLS}/legacy-agent.key`,
    analyzers: opts.analyzers ?? ANALYZERS,
    ...opts.set,
  };
  for (const k of opts.drop ?? []) delete s[k];
  return s;
}

/** The complete setup's hosts of a family. */
function host(family: Family, name: "a1" | "a2" | "g1" | "g2", opts: { drop?: string[] } = {}): { role: Role; settings: Settings } {
  const role: Role = name.startsWith("a") ? "analyzer" : "agent";
  return { role, settings: family === "legacy" ? legacy(opts) : modern(name, role, opts) };
}

describe("settings read as viper reads them", () => {
  it("flattens a skydive.yml: nested maps to dotted lower-cased keys, lists kept", () => {
    const yml = ["tls:", "  client_cert: /etc/skydive/tls/g1.crt", "  CA_Cert: /etc/skydive/tls/ca.crt", "  require_client_cert: true", "analyzers:", "  - 10.0.0.4:8082", "  - 10.0.0.5:8082", "analyzer:", "  X509_cert: /x/a.crt", "agent:", "  topology:", "    probes: [ovsdb, docker]"].join("\n");
    expect(flattenSkydiveYaml(yml)).toEqual({
      "tls.client_cert": "/etc/skydive/tls/g1.crt",
      "tls.ca_cert": "/etc/skydive/tls/ca.crt",
      "tls.require_client_cert": true,
      analyzers: ["10.0.0.4:8082", "10.0.0.5:8082"],
      "analyzer.x509_cert": "/x/a.crt",
      "agent.topology.probes": ["ovsdb", "docker"],
    });
  });

  it("takes a Kubernetes env list; entries without a value are left out", () => {
    expect(envObject([{ name: "SKYDIVE_TLS_CA_CERT", value: "/c" }, { name: "FROM_FIELD" }])).toEqual({ SKYDIVE_TLS_CA_CERT: "/c" });
  });

  it("SKYDIVE_* variables override the file and fill what it lacks", () => {
    const settings = modern("g1", "agent", { drop: ["tls.ca_cert", "analyzers"] });
    const without = checkStartup({ release: "0.21", mounts, role: "agent", settings });
    expect(without).toMatchObject({ started: true, tlsEnabled: false, analyzers: [] });
    const env = [
      { name: "SKYDIVE_TLS_CA_CERT", value: `${TLS}/ca.crt` },
      // an env value is one string: viper's GetStringSlice splits it on white space
      { name: "SKYDIVE_ANALYZERS", value: "10.0.0.4:8082 10.0.0.5:8082" },
    ];
    const withEnv = checkStartup({ release: "0.21", mounts, role: "agent", settings, env });
    expect(withEnv).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true });
    expect(withEnv.analyzers.map((a) => a.entry)).toEqual(ANALYZERS);
    // the environment wins over the file
    const overridden = checkStartup({ release: "0.21", mounts, role: "agent", settings: modern("g1", "agent"), env: { SKYDIVE_TLS_SERVER_CERT: `${TLS}/missing.crt` } });
    expect(overridden.startError).toContain(`Can't read X509 key pair set in config : cert '${TLS}/missing.crt'`);
  });

  it("GetBool of an env string: tls.require_client_cert from SKYDIVE_TLS_REQUIRE_CLIENT_CERT", () => {
    const settings = modern("a1", "analyzer", { drop: ["tls.require_client_cert"] });
    expect(checkStartup({ release: "0.27", mounts, role: "analyzer", settings }).requireClientCert).toBe(false);
    for (const value of ["true", "1"]) {
      expect(checkStartup({ release: "0.27", mounts, role: "analyzer", settings, env: { SKYDIVE_TLS_REQUIRE_CLIENT_CERT: value } }).requireClientCert).toBe(true);
    }
  });

  it("names release numbers by family", () => {
    const settings = modern("g1", "agent");
    expect(checkStartup({ release: "v0.24.0", mounts, role: "agent", settings }).family).toBe("0.21");
    expect(checkStartup({ release: "0.28", mounts, role: "agent", settings }).family).toBe("0.27");
    expect(checkStartup({ release: "v0.20.0", mounts, role: "agent", settings: legacy() }).family).toBe("legacy");
  });
});

describe.each(FAMILIES)("release family %s: a complete setup", (release) => {
  it("starts every process with TLS on, server and client side", () => {
    for (const name of ["a1", "a2", "g1", "g2"] as const) {
      const st = checkStartup({ release, mounts, ...host(release, name) });
      expect(st, name).toMatchObject({ started: true, startError: "", tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true, clientError: "" });
      expect(st.analyzers.map((a) => a.url), name).toEqual(ANALYZERS.map((e) => expect.stringMatching(new RegExp(`^wss://${e.replace(/\./g, "\\.")}/ws/`))));
    }
  });

  it("connects agent → analyzer with mutual TLS", () => {
    const r = pairHandshake({ release, mounts, server: host(release, "a1"), client: host(release, "g1"), analyzer: "10.0.0.4:8082" });
    expect(r.dial.error).toBe("");
    expect(r).toMatchObject({ ok: true, dial: { tls: true, ok: true, serverName: "10.0.0.4", version: "TLSv1.3", status: 200 } });
    const [server, client] = release === "legacy" ? ["CN=skydive-analyzer", "CN=skydive-agent"] : ["CN=a1", "CN=g1"];
    expect(r.dial.serverSubject).toBe(server);
    expect(r.dial.clientCertSent).toBe(client);
    expect(r.serverConn).toEqual({ tls: true, peer: client });
  });

  it("connects analyzer → analyzer (replication)", () => {
    const r = pairHandshake({ release, mounts, server: host(release, "a1"), client: host(release, "a2"), analyzer: "10.0.0.4:8082" });
    expect(r.dial.error).toBe("");
    expect(r.ok).toBe(true);
    expect(r.serverConn?.peer).toBe(release === "legacy" ? "CN=skydive-agent" : "CN=a2");
  });

  it("serves from one process and is dialed from another", async () => {
    const api = await serveApi({ release, mounts, ...host(release, "a1") });
    try {
      expect(api).toMatchObject({ started: true, tls: true, requireClientCert: release === "0.27" });
      const d = dialAnalyzer({ release, mounts, ...host(release, "g1"), analyzer: "10.0.0.4:8082", connect: api.addr });
      expect(d.error).toBe("");
      expect(d).toMatchObject({ ok: true, tls: true, status: 200 });
    } finally {
      const conns = await api.stop();
      expect(conns).toEqual([{ tls: true, peer: release === "legacy" ? "CN=skydive-agent" : "CN=g1" }]);
    }
  });
});

describe("a missing key gives the failure the source predicts", () => {
  describe("0.21: any one of the five keys missing turns TLS off, silently", () => {
    it.each(MODERN_KEYS)("an analyzer without %s starts and serves plaintext; TLS agents cannot connect", (key) => {
      const r = pairHandshake({ release: "0.21", mounts, server: host("0.21", "a1", { drop: [key] }), client: host("0.21", "g1"), analyzer: "10.0.0.4:8082" });
      expect(r.server).toMatchObject({ started: true, tlsEnabled: false, serverTLS: false });
      expect(r.ok).toBe(false);
      expect(r.dial.tls).toBe(true);
      expect(r.dial.error).toContain("first record does not look like a TLS handshake");
      expect(r.serverConn?.tls).toBe(false);
    });

    // The agent loads its client config at start-up (NewAnalyzerStructClientPool → NewWSClient → GetTLSClientConfig):
    // a set client pair with no ca_cert makes SetupTLSLoadCA("") fail, and the agent with it.
    it.each([
      ["tls.client_cert", { started: true, clientTLS: false }],
      ["tls.client_key", { started: true, clientTLS: false }],
      ["tls.server_cert", { started: true, clientTLS: false }],
      ["tls.server_key", { started: true, clientTLS: false }],
      ["tls.ca_cert", { started: false, startError: "Failed to open root certificate '' : open : no such file or directory" }],
    ] as const)("an agent without %s", (key, expected) => {
      const r = pairHandshake({ release: "0.21", mounts, server: host("0.21", "a1"), client: host("0.21", "g1", { drop: [key] }), analyzer: "10.0.0.4:8082" });
      expect(r.client).toMatchObject({ tlsEnabled: false, serverTLS: false, ...expected });
      expect(r.ok).toBe(false);
      if (expected.started) {
        // ws:// to a TLS analyzer: Go's HTTP server answers 400
        expect(r.dial).toMatchObject({ tls: false, status: 400 });
        expect(r.dial.error).toContain("Client sent an HTTP request to an HTTPS server");
        expect(r.serverConn?.error).toContain("first record does not look like a TLS handshake");
      } else {
        expect(r.serverConn).toBeNull();
      }
    });

    it("an analyzer's bad client pair does not stop it (logged at connect), an agent's does", () => {
      const badPair = (role: Role, name: string) => ({ role, settings: { ...modern(name, role), "tls.client_key": `${TLS}/missing.key` } });
      const analyzer = checkStartup({ release: "0.21", mounts, ...badPair("analyzer", "a2") });
      expect(analyzer).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientLoadedAtStart: false });
      expect(analyzer.clientError).toMatch(/^Failed to create client: Can't read X509 key pair set in config : cert '.*a2\.crt' key '.*missing\.key' : open .*missing\.key: no such file or directory$/);
      const replication = dialAnalyzer({ release: "0.21", mounts, ...badPair("analyzer", "a2"), analyzer: "10.0.0.4:8082", connect: "127.0.0.1:9" });
      expect(replication).toMatchObject({ started: true, ok: false });
      expect(replication.error).toContain("Failed to create client: Can't read X509 key pair");
      const agent = checkStartup({ release: "0.21", mounts, ...badPair("agent", "g1") });
      expect(agent).toMatchObject({ started: false, clientLoadedAtStart: true });
      expect(agent.startError).toContain("Can't read X509 key pair set in config");
      // a standalone agent (no analyzers) never loads it
      expect(checkStartup({ release: "0.21", mounts, role: "agent", settings: { ...badPair("agent", "g1").settings, analyzers: [] } })).toMatchObject({ started: true, clientLoadedAtStart: false });
    });
  });

  describe("0.27: IsTLSEnabled is (ca && client pair) || server pair", () => {
    it("an agent with only the client pair and the CA fails at start", () => {
      const st = checkStartup({ release: "0.27", mounts, ...host("0.27", "g1", { drop: ["tls.server_cert", "tls.server_key"] }) });
      expect(st).toMatchObject({ tlsEnabled: true, started: false, serverTLS: false });
      expect(st.startError).toContain("Can't read X509 key pair set in config : cert '' key ''");
    });

    it.each(["agent", "analyzer"] as const)("a server pair without ca_cert turns TLS on, then stops the %s", (role) => {
      const st = checkStartup({ release: "0.27", mounts, role, settings: modern(role === "agent" ? "g1" : "a1", role, { drop: ["tls.ca_cert"] }) });
      expect(st).toMatchObject({ tlsEnabled: true, started: false });
      expect(st.startError).toContain("Failed to open root certificate ''");
    });

    it("a client pair without ca_cert: TLS off, and the client config still stops the agent", () => {
      const st = checkStartup({ release: "0.27", mounts, ...host("0.27", "g1", { drop: ["tls.server_cert", "tls.server_key", "tls.ca_cert"] }) });
      expect(st).toMatchObject({ tlsEnabled: false, started: false, clientLoadedAtStart: true });
      expect(st.startError).toContain("Failed to open root certificate ''");
    });

    it("an agent without a client pair serves TLS but dials plaintext (the scheme follows the client config)", () => {
      const r = pairHandshake({ release: "0.27", mounts, server: host("0.27", "a1"), client: host("0.27", "g1", { drop: ["tls.client_cert", "tls.client_key"] }), analyzer: "10.0.0.4:8082" });
      expect(r.client).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: false });
      expect(r.dial).toMatchObject({ tls: false, ok: false, status: 400, url: "ws://10.0.0.4:8082/ws/agent/topology" });
    });

    it("a bad client pair stops an analyzer too", () => {
      const st = checkStartup({ release: "0.27", mounts, role: "analyzer", settings: { ...modern("a2", "analyzer"), "tls.client_key": `${TLS}/missing.key` } });
      expect(st).toMatchObject({ started: false, clientLoadedAtStart: true });
      expect(st.startError).toContain("Can't read X509 key pair set in config");
    });

    it("a standalone agent loads its client config all the same", () => {
      const st = checkStartup({ release: "0.27", mounts, role: "agent", settings: { ...modern("g1", "agent"), analyzers: [], "tls.client_key": `${TLS}/missing.key` } });
      expect(st).toMatchObject({ started: false, clientLoadedAtStart: true });
    });
  });

  describe("legacy: IsTLSEnabled is analyzer.X509_cert && analyzer.X509_key", () => {
    it("an agent without the analyzer.X509_key setting: TLS off, dials plaintext", () => {
      const r = pairHandshake({ release: "legacy", mounts, server: host("legacy", "a1"), client: host("legacy", "g1", { drop: ["analyzer.X509_key"] }), analyzer: "10.0.0.4:8082" });
      expect(r.client).toMatchObject({ started: true, tlsEnabled: false, serverTLS: false, clientTLS: false });
      expect(r.dial).toMatchObject({ tls: false, ok: false, status: 400 });
    });

    it("an agent host with the analyzer.X509_key setting but not the file fails to start", () => {
      const st = checkStartup({ release: "legacy", mounts, role: "agent", settings: legacy({ set: { "analyzer.X509_key": `${TLS}/absent-analyzer.key` } }) });
      expect(st).toMatchObject({ tlsEnabled: true, started: false });
      expect(st.startError).toContain(`Can't read X509 key pair set in config : cert '${TLS}/legacy-analyzer.crt' key '${TLS}/absent-analyzer.key' : open ${TLS}/absent-analyzer.key: no such file or directory`);
    });

    it("an analyzer host without agent.X509_cert fails to start (it is the ClientCAs)", () => {
      const st = checkStartup({ release: "legacy", mounts, ...host("legacy", "a1", { drop: ["agent.X509_cert"] }) });
      expect(st).toMatchObject({ tlsEnabled: true, started: false });
      expect(st.startError).toContain("Failed to open root certificate ''");
    });

    it("an agent with the agent pair but no analyzer.X509_cert fails to start (its RootCAs)", () => {
      const st = checkStartup({ release: "legacy", mounts, ...host("legacy", "g1", { drop: ["analyzer.X509_cert"] }) });
      expect(st).toMatchObject({ tlsEnabled: false, started: false, clientLoadedAtStart: true });
      expect(st.startError).toContain("Failed to open root certificate ''");
    });

    it("an agent without agent.X509_cert fails to start: it is its own API server's ClientCAs too", () => {
      const st = checkStartup({ release: "legacy", mounts, ...host("legacy", "g1", { drop: ["agent.X509_cert"] }) });
      expect(st).toMatchObject({ tlsEnabled: true, started: false });
      expect(st.startError).toContain("Failed to open root certificate ''");
    });

    it("an agent without agent.X509_key dials wss:// with no certificate and the system's trust", () => {
      const r = pairHandshake({ release: "legacy", mounts, server: host("legacy", "a1"), client: host("legacy", "g1", { drop: ["agent.X509_key"] }), analyzer: "10.0.0.4:8082" });
      expect(r.client).toMatchObject({ started: true, tlsEnabled: true, clientTLS: true, clientCert: false });
      expect(r.dial.ok).toBe(false);
      expect(r.dial.error).toContain("certificate signed by unknown authority");
    });

    it.each(LEGACY_KEYS)("a host without %s cannot both serve and dial with TLS", (key) => {
      const asAgent = pairHandshake({ release: "legacy", mounts, server: host("legacy", "a1"), client: host("legacy", "g1", { drop: [key] }), analyzer: "10.0.0.4:8082" });
      const asAnalyzer = pairHandshake({ release: "legacy", mounts, server: host("legacy", "a1", { drop: [key] }), client: host("legacy", "g1"), analyzer: "10.0.0.4:8082" });
      expect(asAgent.ok && asAnalyzer.ok).toBe(false);
    });
  });
});

describe("a client without a certificate", () => {
  it.each(["legacy", "0.21"] as const)("is accepted on %s (VerifyClientCertIfGiven)", (release) => {
    const r = pairHandshake({ release, mounts, server: host(release, "a1"), client: host(release, "g1"), analyzer: "10.0.0.4:8082", noClientCert: true });
    expect(r.dial.error).toBe("");
    expect(r).toMatchObject({ ok: true, dial: { clientCertRequested: true, clientCertSent: "" }, serverConn: { tls: true, peer: null } });
  });

  it("is refused on 0.27 with tls.require_client_cert", () => {
    const r = pairHandshake({ release: "0.27", mounts, server: host("0.27", "a1"), client: host("0.27", "g1"), analyzer: "10.0.0.4:8082", noClientCert: true });
    expect(r.server.requireClientCert).toBe(true);
    expect(r.ok).toBe(false);
    // TLS 1.3: the handshake completes on the client, the refusal comes on its first read
    expect(r.dial.version).toBe("TLSv1.3");
    expect(r.dial.error).toContain("bad certificate");
    expect(r.serverConn?.error).toContain("client didn't provide a certificate");
  });

  it("is accepted on 0.27 without tls.require_client_cert", () => {
    const server = { role: "analyzer" as const, settings: modern("a1", "analyzer", { drop: ["tls.require_client_cert"] }) };
    const r = pairHandshake({ release: "0.27", mounts, server, client: host("0.27", "g1"), analyzer: "10.0.0.4:8082", noClientCert: true });
    expect(r).toMatchObject({ ok: true, serverConn: { peer: null } });
  });

  it("is what an agent certified by another CA becomes: Go sends no certificate the server's CA list does not name", () => {
    const client = { role: "agent" as const, settings: { ...modern("stranger", "agent"), "tls.ca_cert": `${TLS}/ca.crt` } };
    const r21 = pairHandshake({ release: "0.21", mounts, server: host("0.21", "a1"), client, analyzer: "10.0.0.4:8082" });
    expect(r21).toMatchObject({ ok: true, dial: { clientCertRequested: true, clientCertSent: "" }, serverConn: { peer: null } });
    const r27 = pairHandshake({ release: "0.27", mounts, server: host("0.27", "a1"), client, analyzer: "10.0.0.4:8082" });
    expect(r27.ok).toBe(false);
    expect(r27.serverConn?.error).toContain("client didn't provide a certificate");
  });
});

describe("the name the dialer verifies", () => {
  const dnsOnlyAnalyzer = { role: "analyzer" as const, settings: modern("dnsonly", "analyzer") };
  const agent = { role: "agent" as const, settings: modern("g1", "agent", { analyzers: ["analyzer.example:8082"] }) };
  const resolve = { "analyzer.example": "10.0.0.4" };

  it("up to v0.26 is the IP the entry resolves to: a DNS-only analyzer certificate fails", () => {
    const r = pairHandshake({ release: "0.21", mounts, resolve, server: dnsOnlyAnalyzer, client: agent });
    expect(r.client.analyzers).toEqual([{ entry: "analyzer.example:8082", url: "wss://10.0.0.4:8082/ws/agent", serverName: "10.0.0.4" }]);
    expect(r.dial).toMatchObject({ ok: false, serverName: "10.0.0.4" });
    expect(r.dial.error).toContain("doesn't contain any IP SANs");
    expect(r.serverConn?.error).toContain("bad certificate");
  });

  it("from v0.27 is the name as written: the same certificate works", () => {
    const r = pairHandshake({ release: "0.27", mounts, resolve, server: dnsOnlyAnalyzer, client: agent });
    expect(r.dial.error).toBe("");
    expect(r).toMatchObject({ ok: true, dial: { serverName: "analyzer.example", url: "wss://analyzer.example:8082/ws/agent/topology" } });
  });

  it("up to v0.26 an entry that does not resolve stops the process at start", () => {
    const st = checkStartup({ release: "0.21", mounts, role: "agent", settings: modern("g1", "agent", { analyzers: ["analyzer.invalid:8082"] }) });
    expect(st.started).toBe(false);
    expect(st.startError).toContain("Unable to get the analyzers list: lookup analyzer.invalid");
    // v0.27 keeps the name, and looks nothing up at start
    expect(checkStartup({ release: "0.27", mounts, role: "agent", settings: modern("g1", "agent", { analyzers: ["analyzer.invalid:8082"] }) }).started).toBe(true);
  });
});

describe("another host's certificate served as the analyzer (impersonation)", () => {
  const asAnalyzer = (name: string) => ({ role: "analyzer" as const, settings: modern(name, "analyzer") });
  const cases = [
    { release: "0.21", entry: "10.0.0.4:8082", mismatch: "certificate is valid for 10.0.0.11, not 10.0.0.4" },
    { release: "0.27", entry: "analyzer.example:8082", mismatch: "certificate is valid for agent2.example, not analyzer.example" },
  ] as const;

  it.each(cases)("$release: an agent's certificate without the analyzer's names is refused", ({ release, entry, mismatch }) => {
    const client = { role: "agent" as const, settings: modern("g1", "agent", { analyzers: [entry] }) };
    const r = pairHandshake({ release, mounts, resolve: { "analyzer.example": "10.0.0.4" }, server: asAnalyzer("g2"), client });
    expect(r.ok).toBe(false);
    expect(r.dial.error).toContain(mismatch);
  });

  it.each(cases)("$release: an agent's certificate that carries them is accepted", ({ release, entry }) => {
    const client = { role: "agent" as const, settings: modern("g1", "agent", { analyzers: [entry] }) };
    const r = pairHandshake({ release, mounts, resolve: { "analyzer.example": "10.0.0.4" }, server: asAnalyzer("rogue"), client });
    expect(r.dial.error).toBe("");
    expect(r).toMatchObject({ ok: true, dial: { serverSubject: "CN=rogue" }, serverConn: { peer: "CN=g1" } });
  });
});

describe("the emulator's own output", () => {
  it("withholds a private key that Skydive's error would print (ca_cert naming a key file)", () => {
    const st = checkStartup({ release: "0.21", mounts, role: "agent", settings: { ...modern("g1", "agent"), "tls.ca_cert": `${TLS}/g1.key` } });
    expect(st.started).toBe(false);
    expect(st.startError).toMatch(/^Failed to parse root certificate '\[file content withheld/);
    expect(JSON.stringify(st)).not.toContain("PRIVATE KEY");
  });

  it("reports a process that does not start instead of serving", async () => {
    const api = await serveApi({ release: "0.27", mounts, ...host("0.27", "g1", { drop: ["tls.server_cert", "tls.server_key"] }) });
    expect(api.started).toBe(false);
    expect(api.startError).toContain("Can't read X509 key pair set in config : cert '' key ''");
  });
});
