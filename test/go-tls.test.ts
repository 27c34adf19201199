/**
 * Go's crypto/x509 and crypto/tls in WebAssembly (go/skydive-tls, loaded by
 * src/skydive/go-tls.ts): the committed artifacts are what the pinned build
 * makes, and the verdicts are Go's, on certificates openssl makes here.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GO_TLS_DIR, type GoTls, type HandshakeOptions, loadGoTls } from "../src/skydive/go-tls.js";

/** The Go the committed skydive-tls.wasm was built with. */
const EXPECTED_GO = "go1.19.8";
const ROOT = resolve(import.meta.dirname, "..");

const dir = mkdtempSync(join(tmpdir(), "skycert-go-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** openssl, unrecorded; its output is never printed (it may not hold keys anyway, but stays quiet). */
function openssl(args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} exited ${r.status}: ${(r.stderr ?? "").replace(/-----BEGIN[^]*?-----END[^-]*-----/g, "[PEM]")}`);
}

const read = (name: string) => readFileSync(join(dir, name), "utf8");

/** A key: RSA 2048 (PKCS#8) or EC P-256 in SEC1 ("EC PRIVATE KEY"). */
function key(name: string, type: "rsa" | "ec"): void {
  if (type === "rsa") openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`]);
  else openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`]);
}

function ca(name: string, type: "rsa" | "ec"): void {
  key(name, type);
  openssl(["req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", `${name}.crt`]);
}

/** A leaf signed by `issuer`, with the extensions given as openssl extension lines. */
function leaf(name: string, issuer: string, type: "rsa" | "ec", ext: string[]): void {
  key(name, type);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), ext.join("\n") + "\n");
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.crt`, "-CAkey", `${issuer}.key`, "-set_serial", String(Math.floor(Math.random() * 1e9) + 1), "-days", "10", "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
}

const BOTH = "extendedKeyUsage=serverAuth,clientAuth";
const SAN = "subjectAltName=DNS:analyzer.example,IP:10.0.0.4";

// --- a little DER, to make what openssl refuses to: a duplicate extension ---
interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}
function tlvAt(der: Buffer, at: number): Tlv {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let contentStart = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
    contentStart += n;
  }
  return { tag, start: at, contentStart, end: contentStart + len };
}
function childrenOf(der: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.contentStart; at < t.end; ) {
    const c = tlvAt(der, at);
    out.push(c);
    at = c.end;
  }
  return out;
}
function encode(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
/** The certificate with its first extension repeated (the signature no longer matches; Go's parser fails first). */
function withDuplicateExtension(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const cert = tlvAt(der, 0);
  const [tbs, sigAlg, sig] = childrenOf(der, cert) as [Tlv, Tlv, Tlv];
  const fields = childrenOf(der, tbs).map((f) => {
    if (f.tag !== 0xa3) return der.subarray(f.start, f.end);
    const seq = childrenOf(der, f)[0]!;
    const exts = childrenOf(der, seq);
    const first = der.subarray(exts[0]!.start, exts[0]!.end);
    return encode(0xa3, encode(0x30, Buffer.concat([first, der.subarray(seq.contentStart, seq.end)])));
  });
  const out = encode(0x30, Buffer.concat([encode(0x30, Buffer.concat(fields)), der.subarray(sigAlg.start, sig.end)]));
  return `-----BEGIN CERTIFICATE-----\n${out.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`.replace("\n\n", "\n");
}

let go: GoTls;

beforeAll(async () => {
  ca("ca", "rsa");
  leaf("analyzer", "ca", "rsa", [SAN, BOTH, "basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment"]);
  leaf("agent", "ca", "rsa", ["subjectAltName=DNS:agent.example", BOTH]);
  leaf("wildcard", "ca", "rsa", ["subjectAltName=DNS:*.example", BOTH]);
  leaf("serveronly", "ca", "rsa", [SAN, "extendedKeyUsage=serverAuth"]);
  ca("otherca", "rsa");
  leaf("stranger", "otherca", "rsa", ["subjectAltName=DNS:stranger.example", BOTH]);
  ca("ecca", "ec");
  leaf("ecanalyzer", "ecca", "ec", [SAN, BOTH]);
  // Legacy: one self-signed certificate per side, each the other's anchor (the seed's v3_req).
  key("legacy", "rsa");
  openssl(["req", "-x509", "-new", "-key", "legacy.key", "-subj", "/CN=skydive-analyzer", "-days", "365", "-addext", "basicConstraints=CA:TRUE", "-addext", "keyUsage=digitalSignature,keyEncipherment,keyCertSign", "-addext", BOTH, "-addext", SAN, "-out", "legacy.crt"]);
  go = await loadGoTls();
});

describe("the committed WebAssembly artifacts", () => {
  test(`are what scripts/build-wasm.sh makes with ${EXPECTED_GO}`, () => {
    const v = spawnSync("go", ["version"], { encoding: "utf8" });
    const found = v.error ? `no go (${v.error.message})` : (/go version (\S+)/.exec(v.stdout)?.[1] ?? v.stdout.trim());
    if (found !== EXPECTED_GO) {
      throw new Error(`go/skydive-tls/skydive-tls.wasm was built with ${EXPECTED_GO}, but \`go version\` here says ${found}: the rebuild cannot be compared. Install ${EXPECTED_GO}, or rebuild with scripts/build-wasm.sh, commit the artifacts and change EXPECTED_GO in this test.`);
    }
    const out = mkdtempSync(join(tmpdir(), "skycert-wasm-build-"));
    try {
      const r = spawnSync("bash", [join(ROOT, "scripts", "build-wasm.sh"), out], { encoding: "utf8", timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      for (const file of ["skydive-tls.wasm", "wasm_exec.js"]) {
        const fresh = readFileSync(join(out, file));
        const committed = readFileSync(join(GO_TLS_DIR, file));
        expect(fresh.equals(committed), `${file}: a fresh build (${fresh.length} bytes) differs from the committed one (${committed.length} bytes); run scripts/build-wasm.sh and commit`).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  test("the module reports the Go it was built with", () => {
    expect(go.version()).toBe(EXPECTED_GO);
  });
});

describe("parse", () => {
  test("reports Go's view of each certificate, the blocks it skipped, and AppendCertsFromPEM", () => {
    const csr = read("analyzer.csr");
    const text = csr + read("analyzer.crt") + read("ca.crt") + "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
    const r = go.parse(text);
    expect(r.skipped).toBe(2);
    expect(r.appendCertsOk).toBe(true);
    expect(r.certificates).toHaveLength(2);
    const [a, c] = r.certificates;
    if (!a?.ok || !c?.ok) throw new Error("both certificates parse");
    const csrLines = csr.split("\n").length - 1;
    expect(a.line).toBe(csrLines + 1);
    expect(c.line).toBe(csrLines + read("analyzer.crt").split("\n").length);
    expect(a).toMatchObject({ subject: "CN=analyzer", issuer: "CN=ca", version: 3, signatureAlgorithm: "SHA256-RSA", publicKeyAlgorithm: "RSA", keyBits: 2048, isCA: false, basicConstraintsValid: true, selfSigned: false, serialNegative: false });
    expect(a.dnsNames).toEqual(["analyzer.example"]);
    expect(a.ipAddresses).toEqual(["10.0.0.4"]);
    expect(a.extKeyUsage).toEqual(["serverAuth", "clientAuth"]);
    expect(a.keyUsage).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(a.rawSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.notAfter).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(c).toMatchObject({ subject: "CN=ca", isCA: true, selfSigned: true, keyUsage: ["keyCertSign", "cRLSign"] });
    expect(c.subjectKeyId).toBe(a.authorityKeyId);
  });

  test("ECDSA keys report their curve", () => {
    const [c] = go.parse(read("ecanalyzer.crt")).certificates;
    expect(c).toMatchObject({ ok: true, publicKeyAlgorithm: "ECDSA", curve: "P-256", keyBits: 256, signatureAlgorithm: "ECDSA-SHA256" });
  });

  test("a duplicate extension is Go's parse error, verbatim, with its BEGIN line", () => {
    const bad = withDuplicateExtension(read("analyzer.crt"));
    const r = go.parse(read("ca.crt") + bad);
    expect(r.certificates[1]).toEqual({ ok: false, line: read("ca.crt").split("\n").length, error: "x509: certificate contains duplicate extensions" });
    expect(go.parse(bad).appendCertsOk).toBe(false);
    expect(go.verify({ chain: bad, roots: read("ca.crt") })).toMatchObject({ ok: false, kind: "parse", error: "x509: certificate contains duplicate extensions", line: 1 });
  });

  test("text without a certificate: nothing parsed, AppendCertsFromPEM false", () => {
    expect(go.parse("not a certificate\n")).toEqual({ certificates: [], skipped: 0, appendCertsOk: false });
  });
});

describe("keyPair (tls.X509KeyPair)", () => {
  test("a matching RSA pair loads", () => {
    expect(go.keyPair(read("analyzer.crt"), read("analyzer.key"))).toEqual({ ok: true, keyType: "RSA", keyBits: 2048, chainLength: 1 });
  });
  test("a SEC1 EC PRIVATE KEY loads", () => {
    expect(read("ecanalyzer.key")).toContain("-----BEGIN EC PRIVATE KEY-----");
    expect(go.keyPair(read("ecanalyzer.crt"), read("ecanalyzer.key"))).toEqual({ ok: true, keyType: "ECDSA", keyBits: 256, curve: "P-256", chainLength: 1 });
  });
  test("a key of another certificate is Go's error", () => {
    expect(go.keyPair(read("analyzer.crt"), read("agent.key"))).toMatchObject({ ok: false, error: "tls: private key does not match public key" });
    expect(go.keyPair(read("analyzer.crt"), read("ecanalyzer.key"))).toMatchObject({ ok: false, error: "tls: private key type does not match public key type" });
    expect(go.keyPair(read("analyzer.key"), read("analyzer.crt"))).toMatchObject({ ok: false, error: "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched" });
  });
});

describe("verify (x509.Certificate.Verify)", () => {
  const opts = () => ({ chain: read("analyzer.crt"), roots: read("ca.crt") });

  test("the analyzer's certificate is valid for its DNS name and its IP, for both usages", () => {
    for (const name of ["analyzer.example", "10.0.0.4"]) {
      expect(go.verify({ ...opts(), name, usages: ["serverAuth", "clientAuth"] })).toEqual({ ok: true, chains: [["CN=analyzer", "CN=ca"]] });
    }
  });

  test("another address fails with Go's message", () => {
    expect(go.verify({ ...opts(), name: "10.0.0.5" })).toEqual({ ok: false, kind: "verify", errorType: "HostnameError", error: "x509: certificate is valid for 10.0.0.4, not 10.0.0.5" });
    expect(go.verify({ ...opts(), name: "other.example" })).toMatchObject({ ok: false, error: "x509: certificate is valid for analyzer.example, not other.example" });
    expect(go.verifyHostname(read("analyzer.crt"), "10.0.0.5")).toMatchObject({ ok: false, error: "x509: certificate is valid for 10.0.0.4, not 10.0.0.5" });
    expect(go.verifyHostname(read("analyzer.crt"), "analyzer.example")).toEqual({ ok: true });
  });

  test("a wildcard SAN *.example covers analyzer.example", () => {
    expect(go.verify({ chain: read("wildcard.crt"), roots: read("ca.crt"), name: "analyzer.example" })).toMatchObject({ ok: true });
    expect(go.verifyHostname(read("wildcard.crt"), "a.b.example")).toMatchObject({ ok: false, errorType: "HostnameError" });
  });

  test("after its notAfter, the leaf has expired", () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    const r = go.verify({ ...opts(), name: "analyzer.example", time: later });
    expect(r).toMatchObject({ ok: false, kind: "verify", errorType: "CertificateInvalidError", reason: "Expired" });
    if (r.ok) return;
    expect(r.error).toMatch(/^x509: certificate has expired or is not yet valid: current time \S+ is after \S+$/);
  });

  test("a leaf without clientAuth fails for clientAuth, passes for serverAuth", () => {
    const chain = read("serveronly.crt");
    expect(go.verify({ chain, roots: read("ca.crt"), usages: ["clientAuth"] })).toEqual({ ok: false, kind: "verify", errorType: "CertificateInvalidError", reason: "IncompatibleUsage", error: "x509: certificate specifies an incompatible key usage" });
    expect(go.verify({ chain, roots: read("ca.crt"), usages: ["serverAuth"] })).toMatchObject({ ok: true });
    expect(go.verify({ chain, roots: read("ca.crt"), usages: ["any"] })).toMatchObject({ ok: true });
  });

  test("another CA's certificate: unknown authority", () => {
    expect(go.verify({ chain: read("stranger.crt"), roots: read("ca.crt") })).toMatchObject({ ok: false, errorType: "UnknownAuthorityError", error: expect.stringMatching(/^x509: certificate signed by unknown authority/) });
  });

  test("roots with nothing parseable are refused on their own", () => {
    expect(go.verify({ chain: read("analyzer.crt"), roots: "garbage\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" })).toMatchObject({ ok: false, kind: "roots" });
  });

  test("a chain asked about again is judged the same (Go keeps the last chain parsed)", () => {
    const chain = read("analyzer.crt"), roots = read("ca.crt");
    for (let i = 0; i < 3; i++) {
      expect(go.verify({ chain, roots, name: "analyzer.example" }).ok).toBe(true);
      expect(go.verify({ chain, roots, name: "nobody.example" }).ok).toBe(false);
      expect(go.verify({ chain: read("stranger.crt"), roots, name: "stranger.example" }).ok).toBe(false);
    }
  });
});

describe("handshake (Skydive's tls.Config, both sides)", () => {
  const analyzer = () => ({ cert: read("analyzer.crt"), key: read("analyzer.key"), clientCAs: read("ca.crt") });
  const agent = () => ({ cert: read("agent.crt"), key: read("agent.key"), roots: read("ca.crt") });

  test("0.27 with require_client_cert: a client without a certificate is refused by the server", async () => {
    const r = await go.handshake({ release: "0.27", server: { ...analyzer(), requireClientCert: true }, client: { roots: read("ca.crt") }, serverName: "analyzer.example" });
    expect(r).toMatchObject({ ok: false, clientCertPresented: false, clientAuth: "RequireAndVerifyClientCert", serverError: "tls: client didn't provide a certificate" });
    expect(r.clientError).toBe("remote error: tls: bad certificate");
  });

  test("0.27 with require_client_cert: the agent's certificate completes TLS 1.3", async () => {
    const r = await go.handshake({ release: "0.27", server: { ...analyzer(), requireClientCert: true }, client: agent(), serverName: "analyzer.example" });
    expect(r).toMatchObject({ ok: true, clientCertPresented: true, version: "TLS1.3" });
    expect(r.cipher).toMatch(/^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
    expect(r.serverError).toBeUndefined();
    expect(r.clientError).toBeUndefined();
    const byIp = await go.handshake({ release: "0.27", server: { ...analyzer(), requireClientCert: true }, client: agent(), serverName: "10.0.0.4" });
    expect(byIp).toMatchObject({ ok: true, clientCertPresented: true });
  });

  test("0.21 (and 0.27 without require_client_cert): a client without a certificate is accepted", async () => {
    const r = await go.handshake({ release: "0.21", server: { ...analyzer(), requireClientCert: true }, client: { roots: read("ca.crt") }, serverName: "10.0.0.4" });
    expect(r).toMatchObject({ ok: true, clientCertPresented: false, clientAuth: "VerifyClientCertIfGiven" });
    const r27 = await go.handshake({ release: "0.27", server: analyzer(), client: { roots: read("ca.crt") }, serverName: "10.0.0.4" });
    expect(r27).toMatchObject({ ok: true, clientAuth: "VerifyClientCertIfGiven" });
  });

  test("0.21: an agent whose certificate comes from another CA sends none, and is accepted anonymously", async () => {
    const r = await go.handshake({ release: "0.21", server: analyzer(), client: { cert: read("stranger.crt"), key: read("stranger.key"), roots: read("ca.crt") }, serverName: "analyzer.example" });
    expect(r).toMatchObject({ ok: true, clientCertPresented: false });
    const r27 = await go.handshake({ release: "0.27", server: { ...analyzer(), requireClientCert: true }, client: { cert: read("stranger.crt"), key: read("stranger.key"), roots: read("ca.crt") }, serverName: "analyzer.example" });
    expect(r27).toMatchObject({ ok: false, clientCertPresented: false, serverError: "tls: client didn't provide a certificate" });
  });

  test("a serverName the certificate does not carry fails on the client with Go's error", async () => {
    const r = await go.handshake({ release: "0.27", server: analyzer(), client: agent(), serverName: "10.0.0.5" });
    expect(r).toMatchObject({ ok: false, clientError: "x509: certificate is valid for 10.0.0.4, not 10.0.0.5", serverError: "remote error: tls: bad certificate" });
    expect(r.version).toBeUndefined();
  });

  test("a client certificate without clientAuth is refused by the server", async () => {
    const r = await go.handshake({ release: "0.27", server: { ...analyzer(), requireClientCert: true }, client: { cert: read("serveronly.crt"), key: read("serveronly.key"), roots: read("ca.crt") }, serverName: "analyzer.example" });
    expect(r).toMatchObject({ ok: false, clientCertPresented: true, serverError: "tls: failed to verify client certificate: x509: certificate specifies an incompatible key usage" });
  });

  test("the handshake's clock: an expired server certificate", async () => {
    const r = await go.handshake({ release: "0.27", server: analyzer(), client: agent(), serverName: "analyzer.example", time: new Date(Date.now() + 400 * 86_400_000) });
    expect(r.ok).toBe(false);
    expect(r.clientError).toMatch(/^x509: certificate has expired or is not yet valid: current time \S+ is after \S+$/);
  });

  test("ECDSA certificates: TLS 1.3, and TLS 1.2 with an ECDHE-ECDSA suite of Skydive's", async () => {
    const base: HandshakeOptions = {
      release: "0.27",
      server: { cert: read("ecanalyzer.crt"), key: read("ecanalyzer.key"), clientCAs: read("ecca.crt"), requireClientCert: true },
      client: { cert: read("ecanalyzer.crt"), key: read("ecanalyzer.key"), roots: read("ecca.crt") },
      serverName: "analyzer.example",
    };
    expect(await go.handshake(base)).toMatchObject({ ok: true, version: "TLS1.3", clientCertPresented: true });
    const r12 = await go.handshake({ ...base, client: { ...base.client, maxVersion: "TLS1.2" } });
    expect(r12).toMatchObject({ ok: true, version: "TLS1.2", clientCertPresented: true });
    expect(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]).toContain(r12.cipher);
  });

  test("legacy: the self-signed pair is its own anchor on both sides", async () => {
    const r = await go.handshake({ release: "legacy", server: { cert: read("legacy.crt"), key: read("legacy.key"), clientCAs: read("legacy.crt") }, client: { cert: read("legacy.crt"), key: read("legacy.key"), roots: read("legacy.crt") }, serverName: "10.0.0.4" });
    expect(r).toMatchObject({ ok: true, clientCertPresented: true, clientAuth: "VerifyClientCertIfGiven" });
  });

  test("what Skydive refuses at start-up is a setup verdict", async () => {
    expect(await go.handshake({ release: "0.27", server: { ...analyzer(), key: read("agent.key") }, client: agent(), serverName: "analyzer.example" })).toMatchObject({ ok: false, setup: "serverKeyPair", setupError: "tls: private key does not match public key" });
    expect(await go.handshake({ release: "0.27", server: { ...analyzer(), clientCAs: "" }, client: agent(), serverName: "analyzer.example" })).toMatchObject({ ok: false, setup: "clientCAs" });
  });
});

describe("loading", () => {
  test("is memoised, leaves no global API behind, and lets node exit", async () => {
    expect(await loadGoTls()).toBe(go);
    expect((globalThis as Record<string, unknown>).skydiveTls).toBeUndefined();
    // Node 20 cannot import .ts: bundle the loader as scripts/build.mjs bundles dist/ (CommonJS, import.meta.url defined).
    const bundle = join(dir, "loader.cjs");
    buildSync({ entryPoints: [join(ROOT, "src", "skydive", "go-tls.ts")], bundle: true, platform: "node", format: "cjs", outfile: bundle, logLevel: "warning", define: { "import.meta.url": JSON.stringify(pathToFileURL(join(ROOT, "src", "skydive", "go-tls.ts")).href) } });
    // A handshake too: its read deadlines are Go timers, which must not keep node alive once it is over.
    const f = (name: string) => `require("node:fs").readFileSync(${JSON.stringify(join(dir, name))}, "utf8")`;
    const script = `require(${JSON.stringify(bundle)}).loadGoTls()
      .then((g) => g.handshake({ release: "0.27", server: { cert: ${f("analyzer.crt")}, key: ${f("analyzer.key")}, clientCAs: ${f("ca.crt")} }, client: { roots: ${f("ca.crt")} }, serverName: "analyzer.example" }))
      .then((v) => process.stderr.write(JSON.stringify(v) + "\\n"))`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(r.signal, "node -e did not exit by itself").toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(JSON.parse(r.stderr)).toMatchObject({ ok: true });
  });
});
