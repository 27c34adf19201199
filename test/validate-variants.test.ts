/**
 * Each check id fails (or warns) on the broken variant operators actually make,
 * built with the seed's recipe and OpenSSL, with a remedy naming what to run.
 * Where a real Go TLS peer can judge the same files, it is asked too.
 */
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BASIC_CONSTRAINTS_OID, duplicateExtension, editCertificate, nonMinimalSerial } from "./helpers/der-surgery.js";
import { goHandshake } from "./helpers/go-peer.js";
import { ok, openssl, scratch } from "./helpers/run.js";
import { type Pair, caDeployment, checks, cnfWith, failedIds, initPair, legacyConfig, one, recipePair, resign, validate } from "./helpers/validate-fixtures.js";

/** Go's verdict on a legacy pair, dialing `dial`. */
function goLegacy(pair: Pair, dial = "127.0.0.1") {
  return goHandshake({
    serverCert: pair.analyzer.crt,
    serverKey: pair.analyzer.key,
    clientCa: pair.agent.crt,
    clientCert: pair.agent.crt,
    clientKey: pair.agent.key,
    rootCa: pair.analyzer.crt,
    dial,
  });
}

/** The seed's v3_req with one line changed, as an extensions section. */
const V3 = {
  basicConstraints: "basicConstraints = CA:TRUE",
  keyUsage: "keyUsage = digitalSignature, keyEncipherment, keyCertSign",
  extendedKeyUsage: "extendedKeyUsage = serverAuth,clientAuth",
  subjectAltName: "subjectAltName = @alt_names",
};
function section(name: string, changes: Partial<Record<keyof typeof V3, string | null>>): string {
  const lines = Object.entries({ ...V3, ...changes }).filter(([, v]) => v !== null).map(([, v]) => v);
  return `[ ${name} ]\n${lines.join("\n")}\n`;
}

describe("key-strength", () => {
  it("fails on the recipe with 1024-bit keys, with the init command that makes 2048-bit ones", () => {
    const pair = recipePair(scratch(), { bits: 1024 });
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toContain("key-strength");
    const c = one(run, "key-strength", "analyzer cert");
    expect(c).toMatchObject({ status: "fail", remedy: "skycert init analyzer --force" });
    expect(c.message).toBe("analyzer/analyzer.domain.com.crt: RSA 1024-bit key; at least 2048 bits are required");
    expect(one(run, "key-strength", "agent cert").remedy).toBe("skycert init agent --force");
  });
});

describe("signature-algorithm", () => {
  it("fails on the recipe with -sha1 although Go accepts it there (legacy: each certificate is its own anchor)", () => {
    const pair = recipePair(scratch(), { x509Flags: ["-sha1"] });
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toEqual(["signature-algorithm"]);
    const c = one(run, "signature-algorithm", "analyzer cert");
    expect(c.message).toMatch(/signed with sha1WithRSAEncryption; SHA-1 signatures are not acceptable \(Go accepts it here only because legacy cross validation/);
    expect(c.remedy).toBe("skycert init analyzer --force");
    // The handshake itself succeeds, with Node and with Go: the failure is policy, and says so.
    expect(one(run, "handshake", "127.0.0.1").status).toBe("pass");
    expect(goLegacy(pair).ok).toBe(true);
  });

  it("fails on an MD5-signed certificate", () => {
    const pair = recipePair(scratch());
    resign(pair.agent.crt, pair.agent.key, { flags: ["-md5"] });
    const run = validate([], { cwd: pair.dir });
    const c = one(run, "signature-algorithm", "agent cert");
    expect(c.status).toBe("fail");
    expect(c.message).toContain("md5WithRSAEncryption; MD5 signatures are not acceptable");
    expect(one(run, "signature-algorithm", "analyzer cert").status).toBe("pass");
  });

  it("in a CA chain: a SHA-1 leaf fails (and trust with Go's error), a SHA-1 self-signed root does not", () => {
    const ca = caDeployment(scratch(), { caFlags: "-sha1" });
    // Re-sign the server certificate with SHA-1 by the CA.
    ok(openssl(["x509", "-req", "-in", join(ca.dir, "server.csr"), "-CA", ca.ca, "-CAkey", join(ca.dir, "ca.key"), "-set_serial", "0x2001", "-days", "90", "-sha1", "-extfile", join(ca.dir, "ext.cnf"), "-extensions", "server", "-out", join(ca.dir, "server-sha1.crt")]));
    chmodSync(ca.server.crt, 0o644);
    copyFileSync(join(ca.dir, "server-sha1.crt"), ca.server.crt);
    chmodSync(ca.server.crt, 0o444);
    const run = validate(["--config", ca.config]);
    expect(one(run, "signature-algorithm", "CA cert")).toMatchObject({ status: "pass" });
    expect(one(run, "signature-algorithm", "CA cert").message).toContain("self-signature of a trust anchor, which Go never checks");
    const leaf = one(run, "signature-algorithm", "analyzer cert");
    expect(leaf.status).toBe("fail");
    expect(leaf.remedy).toBe("re-issue server.crt from its CA signed with SHA-256".replace("server.crt", ca.server.crt));
    expect(one(run, "trust", "analyzer cert").message).toContain("x509: cannot verify signature: insecure algorithm sha1WithRSAEncryption");
    const go = goHandshake({ serverCert: ca.server.crt, serverKey: ca.server.key, clientCa: ca.ca, clientCert: ca.client.crt, clientKey: ca.client.key, rootCa: ca.ca, dial: "10.0.0.4" });
    expect(go.ok).toBe(false);
    expect(go.error).toMatch(/insecure algorithm SHA1/);
  });
});

describe("validity", () => {
  it("fails an expired certificate (made with faketime), and trust and the handshake fail with it", () => {
    const pair = recipePair(scratch());
    resign(pair.analyzer.crt, pair.analyzer.key, { shift: "-400d", days: 30 });
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toEqual(["handshake", "trust", "validity"]);
    const c = one(run, "validity", "analyzer cert");
    expect(c.message).toMatch(/^analyzer\/analyzer\.domain\.com\.crt: expired on \d{4}-\d\d-\d\dT[\d:]+Z \(3\d\d days ago\)$/);
    expect(c.remedy).toBe("skycert init analyzer --force");
    expect(one(run, "trust", "analyzer cert")).toMatchObject({ remedy: "skycert init analyzer --force", message: expect.stringContaining("has expired") });
    expect(goLegacy(pair).ok).toBe(false);
  });

  it("fails a certificate that is not valid yet", () => {
    const pair = recipePair(scratch());
    resign(pair.agent.crt, pair.agent.key, { shift: "+10d" });
    const run = validate([], { cwd: pair.dir });
    expect(one(run, "validity", "agent cert").message).toMatch(/not valid until .* \((10|11) days from now; check this host's clock\)/);
    expect(one(run, "validity", "agent cert").status).toBe("fail");
    expect(one(run, "trust", "agent cert").message).toMatch(/x509: certificate "skydive-agent" is not valid before /);
  });

  it("warns within --warn-days (exit 0), and not below it", () => {
    const pair = recipePair(scratch(), { days: 10 });
    const run = validate([], { cwd: pair.dir });
    expect(run.code).toBe(0);
    expect(one(run, "validity", "analyzer cert")).toMatchObject({ status: "warn", remedy: "skycert init analyzer --force" });
    expect(one(run, "validity", "analyzer cert").message).toMatch(/in (9|10) days \(under --warn-days 30\)/);
    const quiet = validate(["--warn-days", "5"], { cwd: pair.dir });
    expect(checks(quiet, "validity").map((c) => c.status)).toEqual(["pass", "pass"]);
  });
});

describe("serial", () => {
  it("fails a negative serial (Go 1.23+ refuses to parse it)", () => {
    const pair = recipePair(scratch(), {}, { x509Flags: ["-set_serial", "-1234"] });
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toEqual(["serial"]);
    expect(one(run, "serial", "agent cert").message).toContain("is negative; Go (since 1.23) refuses to parse it: x509: negative serial number");
    expect(one(run, "serial", "agent cert").remedy).toBe("skycert init agent --force");
  });

  it("fails a serial over 20 octets, and zero", () => {
    const pair = recipePair(scratch(), { x509Flags: ["-set_serial", "0x0102030405060708090a0b0c0d0e0f101112131415"] }, { x509Flags: ["-set_serial", "0"] });
    const run = validate([], { cwd: pair.dir });
    expect(one(run, "serial", "analyzer cert").message).toContain("serial is 21 octets; RFC 5280 allows at most 20");
    expect(one(run, "serial", "agent cert").message).toContain("serial is zero");
    expect(failedIds(run)).toEqual(["serial"]);
  });

  it("passes high-bit serials that DER keeps positive with a leading zero octet, up to 20 octets", () => {
    // 19 value octets with the high bit set encode as 20; 20 such octets encode as 21.
    const pair = recipePair(scratch(), { x509Flags: ["-set_serial", "0x9c83563bf2856a4cfa0d0f54ee1b196728de1b"] }, { x509Flags: ["-set_serial", "0x9c83563bf2856a4cfa0d0f54ee1b196728de1b01"] });
    const run = validate([], { cwd: pair.dir });
    expect(one(run, "serial", "analyzer cert")).toMatchObject({ status: "pass", message: "analyzer/analyzer.domain.com.crt: 20 octets, positive" });
    expect(one(run, "serial", "agent cert").message).toContain("serial is 21 octets; RFC 5280 allows at most 20");
  });

  it("fails a serial with a needless leading zero octet (not DER)", () => {
    const pair = recipePair(scratch());
    editCertificate(pair.analyzer.crt, pair.analyzer.key, join(pair.dir, "odd.crt"), nonMinimalSerial);
    legacyConfig(pair.config, { analyzer: { crt: join(pair.dir, "odd.crt"), key: pair.analyzer.key }, agent: pair.agent });
    const run = validate([], { cwd: pair.dir });
    expect(one(run, "serial", "analyzer cert").message).toMatch(/^odd\.crt: serial 00[0-7][0-9a-f]+ is not minimally encoded/);
    expect(one(run, "pem-parse", "analyzer cert").status).toBe("pass");
  });
});

describe("pem-parse: what Go's parser refuses", () => {
  it("fails a certificate with a duplicated extension or a critical subjectKeyIdentifier", () => {
    const dir = scratch();
    const pair = recipePair(dir, { cnf: cnfWith(dir, section("v3_critskid", { subjectAltName: "subjectAltName = @alt_names\nsubjectKeyIdentifier = critical,hash" })), extensions: "v3_critskid" });
    editCertificate(pair.agent.crt, pair.agent.key, join(dir, "dup.crt"), duplicateExtension(BASIC_CONSTRAINTS_OID));
    legacyConfig(pair.config, { analyzer: pair.analyzer, agent: { crt: join(dir, "dup.crt"), key: pair.agent.key } });
    const run = validate([], { cwd: dir });
    expect(one(run, "pem-parse", "analyzer cert").message).toContain("is refused by Go's parser: x509: subject key identifier incorrectly marked critical");
    expect(one(run, "pem-parse", "agent cert").message).toContain("is refused by Go's parser: x509: certificate contains duplicate extensions (basicConstraints)");
    expect(one(run, "pem-parse", "agent cert").remedy).toBe("re-issue dup.crt with each extension once");
    expect(failedIds(run)).toContain("pem-parse");
  });

  it("fails an IP subjectAltName that is not 4 or 16 octets", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_badip", { subjectAltName: "subjectAltName = DER:30:0d:82:04:68:6f:73:74:87:05:0a:00:00:04:01" }));
    recipePair(dir, { cnf, extensions: "v3_badip" }, {});
    const run = validate([], { cwd: dir });
    const c = one(run, "pem-parse", "analyzer cert");
    expect(c.message).toContain("is refused by Go's parser: x509: cannot parse IP address: an IP subjectAltName is not 4 or 16 octets");
    expect(one(run, "key-match", "analyzer key").message).toBe("not checked: analyzer/analyzer.domain.com.crt could not be parsed (see pem-parse)");
  });
});

describe("basic-constraints and key-usage", () => {
  it("fail a legacy certificate without CA:TRUE and keyCertSign: each side is the other's trust anchor", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_leaf", { basicConstraints: "basicConstraints = CA:FALSE", keyUsage: "keyUsage = digitalSignature, keyEncipherment" }));
    const pair = recipePair(dir, { cnf, extensions: "v3_leaf" });
    const run = validate([], { cwd: dir });
    const bc = one(run, "basic-constraints", "analyzer cert");
    expect(bc.status).toBe("fail");
    expect(bc.message).toBe("analyzer/analyzer.domain.com.crt: has CA:FALSE, but it is used as its own trust anchor by legacy cross validation, which needs CA:TRUE");
    expect(bc.remedy).toBe("skycert init analyzer --force");
    expect(one(run, "key-usage", "agent cert").message).toContain("lacks keyCertSign (it is its own trust anchor by legacy cross validation)");
    expect(failedIds(run)).toEqual(["basic-constraints", "key-usage"]);
    void pair;
  });

  it("key-usage fails a leaf without digitalSignature (ECDHE signs with the certificate's key)", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_nosig", { keyUsage: "keyUsage = keyEncipherment, keyCertSign" }));
    recipePair(dir, {}, { cnf, extensions: "v3_nosig" });
    const run = validate([], { cwd: dir });
    const c = one(run, "key-usage", "agent cert");
    expect(c.status).toBe("fail");
    expect(c.message).toContain("keyUsage keyEncipherment, keyCertSign lacks digitalSignature (ECDHE suites sign with the key)");
    expect(one(run, "key-usage", "analyzer cert").status).toBe("pass");
  });

  it("trust fails when a CA without CA:TRUE signed the leaves (Go: the parent cannot sign)", () => {
    const ca = caDeployment(scratch(), { caExt: "basicConstraints = CA:FALSE" });
    const run = validate(["--config", ca.config]);
    expect(one(run, "basic-constraints", "CA cert")).toMatchObject({ status: "fail" });
    expect(one(run, "trust", "agent cert").message).toContain('x509: "skydive-ca" is not a CA (basicConstraints CA:TRUE missing), so it cannot sign "skydive-client"');
  });
});

describe("extended-key-usage", () => {
  it("fails an analyzer certificate without serverAuth; trust, the handshake and Go fail with it", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_client", { extendedKeyUsage: "extendedKeyUsage = clientAuth" }));
    const pair = recipePair(dir, { cnf, extensions: "v3_client" }, {});
    const run = validate([], { cwd: dir });
    expect(failedIds(run)).toEqual(["extended-key-usage", "handshake", "trust"]);
    const c = one(run, "extended-key-usage", "analyzer cert");
    expect(c.message).toContain("extendedKeyUsage clientAuth lacks serverAuth");
    expect(c.remedy).toBe("skycert init analyzer --force");
    expect(one(run, "trust", "analyzer cert").message).toContain("x509: certificate specifies an incompatible key usage");
    expect(goLegacy(pair).ok).toBe(false);
  });

  it("fails an agent certificate without clientAuth, and a CA whose EKU leaves out clientAuth", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_server", { extendedKeyUsage: "extendedKeyUsage = serverAuth" }));
    recipePair(dir, {}, { cnf, extensions: "v3_server" });
    const run = validate([], { cwd: dir });
    expect(one(run, "extended-key-usage", "agent cert").message).toContain("lacks clientAuth");
    const ca = caDeployment(scratch(), { caExt: "extendedKeyUsage = serverAuth" });
    const caRun = validate(["--config", ca.config]);
    expect(one(caRun, "extended-key-usage", "CA cert").message).toContain("lacks clientAuth (Go checks the usage on every certificate of the chain, the CA included)");
    expect(one(caRun, "trust", "agent cert").status).toBe("fail");
    expect(one(caRun, "trust", "analyzer cert").status).toBe("pass");
  });
});

describe("san-present and san-coverage", () => {
  it("no SAN: the analyzer fails (Go never uses the CN), the agent warns; Go's TLS fails too", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, section("v3_nosan", { subjectAltName: null }));
    const pair = recipePair(dir, { cnf, extensions: "v3_nosan" });
    const run = validate([], { cwd: dir });
    const a = one(run, "san-present", "analyzer cert");
    // One command fixes the certificate: the same remedy as the uncovered host's, SAN included.
    expect(a).toMatchObject({ status: "fail", remedy: "skycert init analyzer --san 127.0.0.1 --force" });
    expect(a.message).toContain("no DNS or IP subjectAltName; Go (since 1.15) never uses the Common Name (CN=skydive-analyzer)");
    expect(one(run, "san-present", "agent cert").status).toBe("warn");
    expect(one(run, "san-coverage", "127.0.0.1")).toMatchObject({ status: "fail", remedy: "skycert init analyzer --san 127.0.0.1 --force" });
    expect(one(run, "handshake", "127.0.0.1").message).toContain("x509: certificate is not valid for IP 127.0.0.1");
    const go = goLegacy(pair);
    expect(go.ok).toBe(false);
    expect(go.error).toMatch(/IP SANs|not valid for any names/);
  });

  it("each dialed address must be covered: the remedy is the exact init command", () => {
    const pair = initPair(scratch());
    const run = validate(["--host", "10.0.0.4", "--host", "analyzer.domain.com"], { cwd: pair.dir });
    const c = one(run, "san-coverage", "10.0.0.4");
    expect(c.status).toBe("fail");
    expect(c.remedy).toBe("skycert init analyzer --san 10.0.0.4 --force");
    expect(one(run, "san-coverage", "analyzer.domain.com").status).toBe("pass");
    expect(one(run, "handshake", "10.0.0.4").status).toBe("fail");
    expect(one(run, "handshake", "analyzer.domain.com").status).toBe("pass");
    // Run from elsewhere, the remedy names the folder and the config.
    const away = validate(["--config", pair.config, "--host", "10.0.0.4"], { cwd: scratch() });
    expect(one(away, "san-coverage", "10.0.0.4").remedy).toBe(`skycert init analyzer --san 10.0.0.4 --out ${pair.dir} --force`);
  });

  it("an IP is never matched by a DNS SAN spelling it, nor by the CN", () => {
    const dir = scratch();
    const cnf = cnfWith(dir, "[ v3_dnsip ]\nbasicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyEncipherment, keyCertSign\nextendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = DNS:10.0.0.4, IP:127.0.0.1\n");
    const pair = recipePair(dir, { cnf, extensions: "v3_dnsip" });
    const run = validate(["--host", "10.0.0.4", "--host", "skydive-analyzer"], { cwd: dir });
    expect(one(run, "san-coverage", "10.0.0.4").message).toContain("it has DNS:10.0.0.4, but Go matches an IP address against IP SANs only");
    expect(one(run, "san-coverage", "skydive-analyzer").message).toContain("only the Common Name matches, which Go never uses");
    expect(one(run, "handshake", "10.0.0.4").status).toBe("fail");
    expect(goLegacy(pair, "10.0.0.4").ok).toBe(false);
  });

  it("hosts come from the config's analyzers: entries (IPv6 in brackets), and agent.X509_servername replaces them", () => {
    const pair = initPair(scratch(), ["--san", "10.0.0.4,fd00::4,*.skydive.example"]);
    writeFileSync(pair.config, `${readFileSync(pair.config, "utf8")}analyzers:\n  - 10.0.0.4:8082\n  - "[fd00::4]:8082"\n  - a1.skydive.example:8082\n  - 10.0.0.5:8082\n`);
    const run = validate([], { cwd: pair.dir });
    expect(run.json.hosts.map((h) => h.name)).toEqual(["10.0.0.4", "fd00::4", "a1.skydive.example", "10.0.0.5"]);
    expect(checks(run, "san-coverage").map((c) => [c.host, c.status])).toEqual([
      ["10.0.0.4", "pass"],
      ["fd00::4", "pass"],
      ["a1.skydive.example", "pass"],
      ["10.0.0.5", "fail"],
    ]);
    expect(one(run, "san-coverage", "10.0.0.5").message).toContain("(analyzers: 10.0.0.5:8082)");
    expect(one(run, "san-coverage", "10.0.0.5").remedy).toBe("skycert init analyzer --san 10.0.0.5 --force");
    expect(checks(run, "handshake").map((c) => c.status)).toEqual(["pass", "pass", "pass", "fail"]);
  });

  it("agent.X509_servername is the name agents verify, whatever they dial", () => {
    const pair = initPair(scratch());
    const yml = (name: string) =>
      `analyzers: [10.9.9.9:8082]\nanalyzer:\n  X509_cert: ${pair.analyzer.crt}\n  X509_key: ${pair.analyzer.key}\nagent:\n  X509_cert: ${pair.agent.crt}\n  X509_key: ${pair.agent.key}\n  X509_servername: ${name}\n`;
    writeFileSync(pair.config, yml("analyzer.domain.com"));
    const run = validate([], { cwd: pair.dir });
    expect(run.code).toBe(0);
    expect(run.json.hosts).toEqual([{ name: "analyzer.domain.com", source: "agent.X509_servername; agents verify this name whatever they dial" }]);
    writeFileSync(pair.config, yml("skydive.example"));
    const wrong = validate([], { cwd: pair.dir });
    expect(one(wrong, "san-coverage", "skydive.example")).toMatchObject({ status: "fail", remedy: "skycert init analyzer --san skydive.example --force" });
  });
});

describe("trust", () => {
  it("fails an agent certificate signed by another CA than tls.ca_cert, as the handshake does", () => {
    const ca = caDeployment(scratch(), { foreignClient: true });
    const run = validate(["--config", ca.config]);
    expect(failedIds(run)).toEqual(["handshake", "trust"]);
    const c = one(run, "trust", "agent cert");
    expect(c.message).toContain('x509: certificate signed by unknown authority ("skydive-client" is issued by CN=other-ca, which is not in the pool)');
    expect(c.remedy).toMatch(/re-issue .*client\.crt from the CA in .*ca\.crt with clientAuth, or set tls\.ca_cert to the CA that signed it/);
    expect(one(run, "handshake", "10.0.0.4").message).toMatch(/analyzer rejected the agent/);
  });
});

describe("file-mode", () => {
  it("fails a private key readable by others, warns on a certificate writable by others", () => {
    const pair = recipePair(scratch());
    chmodSync(pair.analyzer.key, 0o644);
    chmodSync(pair.agent.crt, 0o666);
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toEqual(["file-mode"]);
    expect(one(run, "file-mode", "analyzer key")).toMatchObject({
      status: "fail",
      message: "analyzer/analyzer.domain.com.key: private key is mode 0644, readable by group and others",
      remedy: "chmod 400 analyzer/analyzer.domain.com.key",
    });
    expect(one(run, "file-mode", "agent cert")).toMatchObject({ status: "warn", remedy: "chmod 444 agent/agent.domain.com.crt" });
    chmodSync(pair.analyzer.key, 0o640);
    expect(one(validate([], { cwd: pair.dir }), "file-mode", "analyzer key").message).toBe("analyzer/analyzer.domain.com.key: private key is mode 0640, readable by group");
    chmodSync(pair.analyzer.key, 0o602);
    expect(one(validate([], { cwd: pair.dir }), "file-mode", "analyzer key").message).toBe("analyzer/analyzer.domain.com.key: private key is mode 0602, writable by others");
    chmodSync(pair.analyzer.key, 0o600);
    chmodSync(pair.agent.crt, 0o444);
    const fixed = validate([], { cwd: pair.dir });
    expect(fixed.code).toBe(0);
    expect(checks(fixed, "file-mode").map((c) => c.status)).toEqual(["pass", "pass", "pass", "pass"]);
  });
});

describe("key-match and the handshake", () => {
  it("swapped keys fail key-match for both roles and the handshake, naming the setting to fix", () => {
    const pair = recipePair(scratch());
    legacyConfig(pair.config, { analyzer: { crt: pair.analyzer.crt, key: pair.agent.key }, agent: { crt: pair.agent.crt, key: pair.analyzer.key } });
    const run = validate([], { cwd: pair.dir });
    expect(failedIds(run)).toEqual(["handshake", "key-match"]);
    const c = one(run, "key-match", "analyzer key");
    expect(c.message).toBe("agent/agent.domain.com.key is not the key of analyzer/analyzer.domain.com.crt (the public keys differ)");
    expect(c.remedy).toMatch(/^point analyzer\.X509_key at the key that made analyzer\/analyzer\.domain\.com\.crt \(keys may be swapped\)/);
    expect(one(run, "handshake", "127.0.0.1").message).toMatch(/key values mismatch/);
  });

  it("--role skips the handshake with the reason, and does not need the other side's key", () => {
    const pair = initPair(scratch());
    legacyConfig(pair.config, { analyzer: pair.analyzer, agent: { crt: pair.agent.crt, key: join(pair.dir, "not-on-this-host.key") } });
    expect(validate([], { cwd: pair.dir }).code).toBe(1);
    const run = validate(["--role", "analyzer"], { cwd: pair.dir });
    expect(run.code).toBe(0);
    expect(one(run, "handshake", "127.0.0.1")).toMatchObject({ status: "skip", message: "skipped: agent key is absent (--role analyzer does not need it)" });
    expect(checks(run, "file-readable").map((c) => c.subject)).toEqual(["analyzer cert", "analyzer key", "agent cert"]);
    // The agent certificate is still judged: it is the analyzer's trust pool.
    expect(one(run, "trust", "agent cert").status).toBe("pass");
  });
});
