/**
 * Go's own crypto/x509 and crypto/tls, as Skydive uses them, compiled to
 * WebAssembly (go/skydive-tls, built by scripts/build-wasm.sh; both artifacts
 * are committed). Every verdict and error text here is Go's, verbatim.
 *
 * The module is compiled and instantiated once per process (loadGoTls is
 * memoised). Loading prints nothing; Go's runtime keeps no Node handle alive
 * while idle, so the process exits normally afterwards.
 */
import { readFileSync, existsSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type Release = "legacy" | "0.21" | "0.27";
export type Usage = "serverAuth" | "clientAuth" | "any";

/** A CERTIFICATE block that x509.ParseCertificate accepted. */
export interface ParsedCertificateOk {
  ok: true;
  /** 1-based line of the block's BEGIN line. */
  line: number;
  /** The block has PEM headers: x509.CertPool.AppendCertsFromPEM skips it. */
  pemHeaders: boolean;
  /** pkix.Name.String(), e.g. "CN=skydive-analyzer,O=Example". */
  subject: string;
  issuer: string;
  /** big.Int.Text(16): lower-case hex, "-" first when negative. */
  serialHex: string;
  serialNegative: boolean;
  /** RFC 3339, UTC, seconds. */
  notBefore: string;
  notAfter: string;
  version: number;
  /** x509.SignatureAlgorithm.String(), e.g. "SHA256-RSA", "ECDSA-SHA256", "SHA1-RSA". */
  signatureAlgorithm: string;
  /** x509.PublicKeyAlgorithm.String(): "RSA", "ECDSA", "Ed25519", "DSA". */
  publicKeyAlgorithm: string;
  /** RSA modulus bits, or the curve's size; absent for keys Go does not size. */
  keyBits?: number;
  /** "P-256", "P-384", "P-521" for ECDSA keys. */
  curve?: string;
  isCA: boolean;
  basicConstraintsValid: boolean;
  maxPathLen: number;
  maxPathLenZero: boolean;
  /** RFC 5280 names: digitalSignature, contentCommitment, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly. */
  keyUsage: string[];
  /** serverAuth, clientAuth, any, codeSigning, emailProtection, timeStamping, OCSPSigning, ... */
  extKeyUsage: string[];
  /** Dotted OIDs of extended key usages Go does not name. */
  unknownExtKeyUsage: string[];
  dnsNames: string[];
  /** net.IP.String(): canonical text. */
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
  /** Hex, "" when absent. */
  subjectKeyId: string;
  authorityKeyId: string;
  /** RawIssuer equals RawSubject. */
  selfSigned: boolean;
  /** Hex SHA-256 of the DER. */
  rawSha256: string;
  /** Hex SHA-256 of the SubjectPublicKeyInfo: two certificates with it equal hold one key. */
  publicKeySha256: string;
  extensions: { oid: string; critical: boolean }[];
  /** Critical extensions Go does not handle: Verify fails with "x509: unhandled critical extension". */
  unhandledCriticalExtensions: string[];
}

/** A CERTIFICATE block that x509.ParseCertificate refused. */
export interface ParsedCertificateError {
  ok: false;
  line: number;
  /** Go's err.Error(), verbatim, e.g. "x509: certificate contains duplicate extensions". */
  error: string;
}

export type ParsedCertificate = ParsedCertificateOk | ParsedCertificateError;

export interface ParseResult {
  /** One per CERTIFICATE block, in order. */
  certificates: ParsedCertificate[];
  /** Blocks of other types (keys, CSRs, ...), skipped. */
  skipped: number;
  /** x509.NewCertPool().AppendCertsFromPEM(text): Skydive refuses a ca_cert file where this is false. */
  appendCertsOk: boolean;
}

/** The step that refused: "verify" is Go's Verify/VerifyHostname; the others refuse the input before. */
export type FailureKind = "parse" | "chain" | "roots" | "usage" | "time" | "verify";

export interface GoFailure {
  ok: false;
  kind: FailureKind;
  /** Go's err.Error(), verbatim (for "roots", "chain", "usage": skycert's own text). */
  error: string;
  /** Go's error type, when it is one of x509's. */
  errorType?: "CertificateInvalidError" | "HostnameError" | "UnknownAuthorityError" | "ConstraintViolationError" | "UnhandledCriticalExtension" | "SystemRootsError" | "InsecureAlgorithmError";
  /** x509.InvalidReason of a CertificateInvalidError, e.g. "Expired", "IncompatibleUsage", "NotAuthorizedToSign". */
  reason?: string;
  /** With kind "parse": the BEGIN line of the block that did not parse. */
  line?: number;
}

export type VerifyResult = { ok: true; chains: string[][] } | GoFailure;
export type HostnameResult = { ok: true } | GoFailure;
export type KeyPairResult =
  | { ok: true; keyType: "RSA" | "ECDSA" | "Ed25519"; keyBits: number; curve?: string; chainLength: number }
  | { ok: false; kind: "keyPair"; error: string };

export interface VerifyOptions {
  /** PEM: the leaf first, then intermediates. Non-CERTIFICATE blocks are ignored. */
  chain: string;
  /** PEM trust pool, loaded with AppendCertsFromPEM exactly as Skydive's SetupTLSLoadCA. */
  roots: string;
  /** DNS name or IP address (VerifyOptions.DNSName; Go checks IPs against IP SANs). */
  name?: string;
  /** Empty or absent: Go's default, serverAuth. */
  usages?: Usage[];
  /** Verification time; absent: now. */
  time?: Date | string;
}

export interface HandshakeOptions {
  release: Release;
  server: {
    cert: string;
    key: string;
    /** PEM trust pool for client certificates (ClientCAs). */
    clientCAs: string;
    /** tls.require_client_cert: honoured by release "0.27" only, as in Skydive. */
    requireClientCert?: boolean;
  };
  client: {
    cert?: string;
    key?: string;
    /** PEM trust pool (RootCAs). */
    roots: string;
    /** Not a Skydive setting: caps the client's version, to exercise TLS 1.2 suites. */
    maxVersion?: "TLS1.2" | "TLS1.3";
  };
  /** The host the client dials (a name or an IP): Go's http/websocket client sets it as ServerName. */
  serverName: string;
  /** Both sides' clock (tls.Config.Time); absent: now. */
  time?: Date | string;
  /** Read deadline on the in-memory connection; default 10000. */
  timeoutMs?: number;
}

export interface HandshakeResult {
  /** Both sides completed the handshake and exchanged a byte. */
  ok: boolean;
  /** "TLS1.2" or "TLS1.3", when the client's handshake completed. */
  version?: string;
  /** tls.CipherSuiteName of the negotiated suite. */
  cipher?: string;
  /** Go's error on the server (Skydive's API server) side, verbatim. */
  serverError?: string;
  /** Go's error on the client (agent, analyzer peer) side, verbatim. */
  clientError?: string;
  /** The client sent a certificate (crypto/tls sends none that the server's CA list does not name). */
  clientCertPresented: boolean;
  /** The server's tls.ClientAuthType for this release and requireClientCert. */
  clientAuth?: "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert";
  /** The handshake did not start: which input Go refused (Skydive would fail at start-up). */
  setup?: "release" | "serverKeyPair" | "clientCAs" | "roots" | "clientKeyPair" | "maxVersion" | "time" | "request";
  setupError?: string;
}

export interface GoTls {
  /** runtime.Version() of the Go that built the module, e.g. "go1.19.8". */
  version(): string;
  parse(pem: string): ParseResult;
  /** tls.X509KeyPair: what Skydive's tls.LoadX509KeyPair does after reading the files. */
  keyPair(certPem: string, keyPem: string): KeyPairResult;
  /** x509.Certificate.Verify with Roots, Intermediates, DNSName, KeyUsages, CurrentTime. */
  verify(options: VerifyOptions): VerifyResult;
  /** x509.Certificate.VerifyHostname on the first certificate of the PEM. */
  verifyHostname(certPem: string, name: string): HostnameResult;
  /** A real tls.Server and tls.Client, configured as Skydive's release family, over an in-memory connection. */
  handshake(options: HandshakeOptions): Promise<HandshakeResult>;
}

/** The functions go/skydive-tls sets on globalThis.skydiveTls: strings in, JSON text out. */
interface RawApi {
  version(): string;
  parse(pem: string): string;
  keyPair(cert: string, key: string): string;
  verify(chain: string, roots: string, name: string, usages: string, time: string): string;
  verifyHostname(cert: string, name: string): string;
  handshake(request: string): Promise<string>;
}

/** Opaque WebAssembly objects: the project's lib (ES2022, no DOM) does not type WebAssembly. */
type WasmModule = { readonly __wasmModule: unique symbol };
type WasmInstance = { readonly __wasmInstance: unique symbol };
interface Wasm {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}

/** wasm_exec.js's Go class. */
interface GoInstance {
  importObject: object;
  argv: string[];
  env: Record<string, string>;
  run(instance: WasmInstance): Promise<void>;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const GO_TLS_DIR = join(packageRoot(), "go", "skydive-tls");

function rfc3339(t: Date | string | undefined): string {
  if (t === undefined) return "";
  if (typeof t === "string") return t;
  if (Number.isNaN(t.getTime())) throw new RangeError("go-tls: invalid Date");
  return t.toISOString();
}

async function instantiate(): Promise<GoTls> {
  const g = globalThis as Record<string, unknown>;
  const hadFs = "fs" in g;
  // wasm_exec.js is a classic script: it defines globalThis.Go (and, without a
  // globalThis.fs, a stand-in whose writes go to console.log).
  createRequire(import.meta.url)(join(GO_TLS_DIR, "wasm_exec.js"));
  if (!hadFs) {
    // Go writes only when it panics: to stderr, never stdout.
    (g.fs as { writeSync(fd: number, buf: Uint8Array): number }).writeSync = (_fd, buf) => writeSync(2, buf);
  }
  const GoClass = g.Go as new () => GoInstance;
  const go = new GoClass();
  go.argv = ["skydive-tls"];
  go.env = {}; // this process's GODEBUG and friends are not Skydive's
  const instance = await (g.WebAssembly as Wasm).instantiate(await goTlsModule(), go.importObject);
  let exited = false;
  void go.run(instance).then(() => {
    exited = true;
  });
  // main sets the global and blocks before go.run returns its promise; wait a
  // few turns anyway, in case the runtime yields first.
  for (let i = 0; i < 1000 && g.skydiveTls === undefined && !exited; i++) await new Promise((r) => setImmediate(r));
  const raw = g.skydiveTls as RawApi | undefined;
  if (raw === undefined) throw new Error(exited ? "go-tls: the Go module exited before it was ready" : "go-tls: the Go module never set globalThis.skydiveTls");
  delete g.skydiveTls;
  const call = <T>(text: string): T => JSON.parse(text) as T;
  return {
    version: () => raw.version(),
    parse: (pem) => call<ParseResult>(raw.parse(pem)),
    keyPair: (certPem, keyPem) => call<KeyPairResult>(raw.keyPair(certPem, keyPem)),
    verify: (o) => call<VerifyResult>(raw.verify(o.chain, o.roots, o.name ?? "", (o.usages ?? []).join(","), rfc3339(o.time))),
    verifyHostname: (certPem, name) => call<HostnameResult>(raw.verifyHostname(certPem, name)),
    handshake: async (o) => {
      const request = { ...o, time: rfc3339(o.time) };
      return call<HandshakeResult>(await raw.handshake(JSON.stringify(request)));
    },
  };
}

let compiled: Promise<WasmModule> | undefined;

/**
 * The compiled module. Worker threads are handed it (a WebAssembly.Module
 * crosses threads), so they share its machine code, optimised tiers included,
 * instead of compiling 6 MB again.
 */
export function goTlsModule(given?: unknown): Promise<WasmModule> {
  if (given) compiled ??= Promise.resolve(given as WasmModule);
  compiled ??= ((globalThis as Record<string, unknown>).WebAssembly as Wasm).compile(readFileSync(join(GO_TLS_DIR, "skydive-tls.wasm")));
  return compiled;
}

let loading: Promise<GoTls> | undefined;

/** Go's crypto/x509 and crypto/tls, instantiated once per process. */
export function loadGoTls(): Promise<GoTls> {
  loading ??= instantiate().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
