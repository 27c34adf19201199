/**
 * Hostile input for the commands other than `init` (hostile.test.ts covers init
 * and the cnf parser): validate, renew, inspect, export k8s/ansible and `init
 * --inventory`. PEM inputs that are garbage, truncated, of the wrong type (a key
 * for a certificate, a CSR for a certificate, a certificate for a key),
 * encrypted, empty, a directory, /dev/zero, a FIFO nobody writes to, or huge;
 * YAML configs that are malformed or have the wrong types; inventories with bad
 * INI lines or bad YAML, and hosts whose names would leave the output folder.
 *
 * Each is ONE line on stderr naming the file, flag or path (with the line where
 * there is one), the documented exit code (2 for an input that cannot be used,
 * 1 for a failure; validate reports a hostile certificate or key as a failing
 * check, exit 1, as its README section says), no stack trace, and nothing
 * created or changed: the working folder and the shared inputs are snapshotted
 * before and after every run.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type Run, SHARED, ok, oneLine, openssl, scratch, skycert, tool } from "./helpers/run.js";
import { registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const PASSPHRASE = registerSecret("hostile-inputs-passphrase-7");

/** Shared inputs, made once; no run may change them. */
const fx = scratch("skycert-hostile-inputs-");
const H = join(fx, "h");
const P = {
  crt: join(fx, "pki", "agent", "agent.domain.com.crt"),
  key: join(fx, "pki", "agent", "agent.domain.com.key"),
  csr: join(fx, "pki", "agent", "agent.domain.com.csr"),
  analyzerCrt: join(fx, "pki", "analyzer", "analyzer.domain.com.crt"),
  analyzerKey: join(fx, "pki", "analyzer", "analyzer.domain.com.key"),
  garbage: join(H, "garbage.pem"),
  binary: join(H, "binary.pem"),
  truncated: join(H, "truncated.crt"),
  badBase64: join(H, "bad-base64.crt"),
  empty: join(H, "empty.pem"),
  dir: join(H, "a-folder"),
  fifo: join(H, "fifo"),
  huge: join(H, "huge.pem"),
  encrypted: join(H, "encrypted.key"),
};

beforeAll(() => {
  ok(skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--out", "pki"], { cwd: fx }));
  ok(skycert(["init", "ca", "--out", "capki", "--bits", "2048"], { cwd: fx }));
  ok(skycert(["init", "agent", "--ca", "capki", "--out", "capki"], { cwd: fx }));
  mkdirSync(P.dir, { recursive: true });
  const pem = readFileSync(P.crt, "utf8");
  writeFileSync(P.garbage, "this is not a certificate\nnor anything else\n");
  writeFileSync(P.binary, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)));
  writeFileSync(P.truncated, pem.split("\n").slice(0, 8).join("\n"));
  writeFileSync(P.badBase64, pem.replace(/\n[A-Za-z0-9+/]{64}\n/, "\n!!!! not base64 !!!!\n"));
  writeFileSync(P.empty, "");
  tool("mkfifo", [P.fifo]);
  // Over every limit (renew 4 MiB, keys 1 MiB, inspect 16 MiB), and looking like PEM.
  writeFileSync(P.huge, `-----BEGIN CERTIFICATE-----\n${"QUFB\n".repeat(3.5 * 1024 * 1024)}-----END CERTIFICATE-----\n`);
  ok(openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc", "-pass", `pass:${PASSPHRASE}`, "-out", P.encrypted]));
  chmodSync(P.encrypted, 0o400);
  writeFileSync(join(fx, "pass.txt"), `${PASSPHRASE}\n`);
});

interface Case {
  name: string;
  /** Arguments; `W` is the working folder (a copy of fx/pki and fx/capki is there as pki/ and capki/). */
  args: (W: string) => string[];
  code: 1 | 2;
  line: RegExp | ((W: string) => RegExp);
  /** validate, inspect and fleet runs print their table or listing on stdout too. */
  stdout?: "any";
  /** Files to write in the working folder first. */
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

function check(c: Case): Run {
  const W = scratch();
  cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
  cpSync(join(fx, "capki"), join(W, "capki"), { recursive: true });
  for (const [name, body] of Object.entries(c.files ?? {})) {
    mkdirSync(join(W, name, ".."), { recursive: true });
    writeFileSync(join(W, name), body);
  }
  const before = snapshot(W);
  const inputs = snapshot(fx);
  const r = skycert(c.args(W), { cwd: W, env: c.env });
  const line = oneLine(r, c.code);
  expect(line).toMatch(typeof c.line === "function" ? c.line(W) : c.line);
  expect(line).toMatch(/^skycert: error: /);
  expect(line.length).toBeLessThan(2000);
  if (c.stdout !== "any") expect(r.stdout).toBe("");
  expect(snapshot(W), "the working folder changed").toEqual(before);
  expect(snapshot(fx), "the inputs changed").toEqual(inputs);
  return r;
}

const run = (cases: Case[]) => {
  for (const c of cases) it(c.name, () => void check(c));
};
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("validate: a hostile certificate or key is a failing check (exit 1) naming the file", () => {
  const files = (W: string, agent: { crt?: string; key?: string }) => [
    "validate",
    "--analyzer-cert", P.analyzerCrt, "--analyzer-key", P.analyzerKey,
    "--agent-cert", agent.crt ?? join(W, "pki", "agent", "agent.domain.com.crt"),
    "--agent-key", agent.key ?? join(W, "pki", "agent", "agent.domain.com.key"),
  ];
  const failing = (name: string, agent: { crt?: string; key?: string }, ids: RegExp, file: string): Case => ({
    name,
    args: (W) => files(W, agent),
    code: 1,
    stdout: "any",
    line: new RegExp(`^skycert: error: \\d+ checks? failed \\(${ids.source}\\); first: .*${esc(file)}`),
  });
  run([
    failing("garbage as the certificate", { crt: P.garbage }, /pem-parse/, "garbage.pem"),
    failing("binary bytes as the certificate", { crt: P.binary }, /pem-parse/, "binary.pem"),
    failing("a truncated certificate", { crt: P.truncated }, /pem-parse/, "truncated.crt"),
    failing("a certificate with corrupted base64", { crt: P.badBase64 }, /pem-parse/, "bad-base64.crt"),
    failing("an empty certificate", { crt: P.empty }, /file-readable/, "empty.pem"),
    failing("a folder as the certificate", { crt: P.dir }, /config, file-readable/, "a-folder"),
    failing("/dev/zero as the certificate (never read)", { crt: "/dev/zero" }, /file-readable/, "/dev/zero"),
    failing("a FIFO as the certificate (never opened)", { crt: P.fifo }, /file-readable/, "fifo"),
    failing("a huge certificate", { crt: P.huge }, /file-readable/, "huge.pem"),
    failing("the key as the certificate", { crt: P.key }, /config, pem-parse/, "agent.domain.com.key"),
    failing("the CSR as the certificate", { crt: P.csr }, /pem-parse/, "agent.domain.com.csr"),
    failing("the certificate as the key", { key: P.crt }, /config, pem-parse.*/, "agent.domain.com.crt"),
    failing("an encrypted key", { key: P.encrypted }, /pem-parse.*/, "encrypted.key"),
    failing("/dev/zero as the key", { key: "/dev/zero" }, /file-readable/, "/dev/zero"),
  ]);
});

describe("validate: YAML configs that are malformed or have the wrong types", () => {
  run([
    { name: "malformed YAML: file:line, exit 2", args: () => ["validate"], files: { "skydive.yml": "analyzer:\n  X509_cert: [unclosed\n  X509_key: x\n" }, code: 2, line: /skydive\.yml:\d+: malformed YAML/ },
    { name: "a list at the top level, exit 2", args: () => ["validate"], files: { "skydive.yml": "- analyzer\n- agent\n" }, code: 2, line: /skydive\.yml: the top level is not a mapping of keys/ },
    { name: "binary bytes, exit 2", args: () => ["validate", "--config", P.binary], code: 2, line: /binary\.pem:\d+: not a YAML text file/ },
    { name: "--config a folder, exit 2", args: () => ["validate", "--config", P.dir], code: 2, line: /--config .*a-folder: is a directory, not a file/ },
    { name: "--config /dev/zero, exit 2", args: () => ["validate", "--config", "/dev/zero"], code: 2, line: /--config \/dev\/zero: too large/ },
    { name: "--config huge, exit 2", args: () => ["validate", "--config", P.huge], code: 2, line: /--config .*huge\.pem: too large/ },
    {
      name: "settings of the wrong type fail the config check (exit 1), naming the setting",
      args: () => ["validate"],
      files: { "skydive.yml": "analyzer:\n  X509_cert: [1, 2]\n  X509_key: 5\nagent:\n  X509_cert: {a: b}\n  X509_key: true\n" },
      code: 1,
      stdout: "any",
      line: /checks? failed \(config\); first: skydive\.yml: analyzer\.X509_cert is a list, not a file path$/,
    },
  ]);
});

describe("renew: hostile CERT, --key, --ca, --cnf and --passphrase-file (exit 2, nothing replaced)", () => {
  const self = (W: string) => join(W, "pki", "agent", "agent.domain.com.crt");
  const signed = (W: string) => join(W, "capki", "agent", "agent.domain.com.crt");
  run([
    { name: "CERT is garbage", args: () => ["renew", P.garbage], code: 2, line: /garbage\.pem: no PEM certificate in it \(fix: pass the \.crt file to renew\)$/ },
    { name: "CERT is binary", args: () => ["renew", P.binary], code: 2, line: /binary\.pem: no PEM certificate in it/ },
    { name: "CERT is truncated", args: () => ["renew", P.truncated], code: 2, line: /truncated\.crt: no PEM certificate in it \(line 1: the CERTIFICATE block has no END line \(truncated\)\)/ },
    { name: "CERT has corrupted base64", args: () => ["renew", P.badBase64], code: 2, line: /bad-base64\.crt: no PEM certificate in it \(line 1: the CERTIFICATE block is not valid base64\)/ },
    { name: "CERT is empty", args: () => ["renew", P.empty], code: 2, line: /empty\.pem: the file is empty/ },
    { name: "CERT is a folder", args: () => ["renew", P.dir], code: 2, line: /certificate .*a-folder: is a directory, not a file$/ },
    { name: "CERT is /dev/zero", args: () => ["renew", "/dev/zero"], code: 2, line: /certificate \/dev\/zero: too large \(more than \d+ bytes; limit \d+\)$/ },
    { name: "CERT is a FIFO nobody writes to", args: () => ["renew", P.fifo], code: 2, line: /fifo: the file is empty/ },
    { name: "CERT is huge", args: () => ["renew", P.huge], code: 2, line: /certificate .*huge\.pem: too large \(\d+ bytes; limit \d+\)$/ },
    { name: "CERT is the key", args: () => ["renew", P.key], code: 2, line: /agent\.domain\.com\.key: no PEM certificate in it \(found PRIVATE KEY\)/ },
    { name: "CERT is the CSR", args: () => ["renew", P.csr], code: 2, line: /agent\.domain\.com\.csr: no PEM certificate in it \(found CERTIFICATE REQUEST\)/ },
    { name: "CERT is an encrypted key", args: () => ["renew", P.encrypted], code: 2, line: /encrypted\.key: no PEM certificate in it \(found ENCRYPTED PRIVATE KEY\)/ },
    { name: "CERT does not exist", args: () => ["renew", join(H, "nope.crt")], code: 2, line: /certificate .*nope\.crt: no such file/ },
    // --key: named as what it is, before any mode check ("chmod 400" is no fix for a certificate or a folder).
    { name: "--key garbage", args: (W) => ["renew", self(W), "--key", P.garbage], code: 2, line: /--key .*garbage\.pem: no PEM private key in it$/ },
    { name: "--key truncated", args: (W) => ["renew", self(W), "--key", P.truncated], code: 2, line: /--key .*truncated\.crt: no PEM private key in it \(line 1: the CERTIFICATE block has no END line \(truncated\)\)/ },
    { name: "--key the certificate", args: (W) => ["renew", self(W), "--key", P.crt], code: 2, line: /--key .*agent\.domain\.com\.crt: no PEM private key in it \(found CERTIFICATE\)$/ },
    { name: "--key the CSR", args: (W) => ["renew", self(W), "--key", P.csr], code: 2, line: /--key .*agent\.domain\.com\.csr: no PEM private key in it \(found CERTIFICATE REQUEST\)$/ },
    { name: "--key empty", args: (W) => ["renew", self(W), "--key", P.empty], code: 2, line: /--key .*empty\.pem: the file is empty$/ },
    { name: "--key a folder", args: (W) => ["renew", self(W), "--key", P.dir], code: 2, line: /--key .*a-folder: is a directory, not a file$/ },
    { name: "--key /dev/zero", args: (W) => ["renew", self(W), "--key", "/dev/zero"], code: 2, line: /--key \/dev\/zero: too large/ },
    { name: "--key a FIFO", args: (W) => ["renew", self(W), "--key", P.fifo], code: 2, line: /--key .*fifo: the file is empty$/ },
    { name: "--key huge", args: (W) => ["renew", self(W), "--key", P.huge], code: 2, line: /--key .*huge\.pem: too large/ },
    { name: "--key encrypted, no terminal to ask", args: (W) => ["renew", self(W), "--key", P.encrypted], code: 2, line: /--key .*encrypted\.key is encrypted, and there is no terminal to ask for its passphrase \(fix: pass --passphrase-file FILE/ },
    { name: "--key another key", args: (W) => ["renew", self(W), "--key", P.analyzerKey], code: 1, line: /analyzer\.domain\.com\.key is not the key of .*agent\.domain\.com\.crt/ },
    // --ca
    { name: "--ca garbage", args: (W) => ["renew", signed(W), "--ca", P.garbage], code: 2, line: /--ca .*garbage\.pem: no PEM certificate in it$/ },
    { name: "--ca truncated", args: (W) => ["renew", signed(W), "--ca", P.truncated], code: 2, line: /--ca .*truncated\.crt: no PEM certificate in it \(line 1: .*truncated\)\)$/ },
    { name: "--ca empty", args: (W) => ["renew", signed(W), "--ca", P.empty], code: 2, line: /--ca .*empty\.pem: the file is empty$/ },
    { name: "--ca a folder without a CA", args: (W) => ["renew", signed(W), "--ca", P.dir], code: 2, line: /--ca .*a-folder: no CA certificate in .*a-folder/ },
    { name: "--ca /dev/zero", args: (W) => ["renew", signed(W), "--ca", "/dev/zero"], code: 2, line: /--ca \/dev\/zero: a device, socket or FIFO, not a CA certificate or folder/ },
    { name: "--ca a FIFO", args: (W) => ["renew", signed(W), "--ca", P.fifo], code: 2, line: /--ca .*fifo: a device, socket or FIFO/ },
    { name: "--ca huge", args: (W) => ["renew", signed(W), "--ca", P.huge], code: 2, line: /--ca certificate .*huge\.pem: too large/ },
    { name: "--ca a leaf certificate", args: (W) => ["renew", signed(W), "--ca", join(fx, "capki", "agent", "agent.domain.com.crt")], code: 2, line: /--ca .*capki\/agent\/agent\.domain\.com\.crt: not a CA certificate \(basicConstraints CA:FALSE\)/ },
    { name: "--ca the CSR", args: (W) => ["renew", signed(W), "--ca", P.csr], code: 2, line: /--ca .*agent\.domain\.com\.csr: no PEM certificate in it \(found CERTIFICATE REQUEST\)/ },
    // --cnf
    { name: "--cnf garbage, with its line", args: (W) => ["renew", self(W), "--cnf", P.garbage], code: 2, line: /garbage\.pem:1: missing equal sign/ },
    { name: "--cnf a certificate, with its line", args: (W) => ["renew", self(W), "--cnf", P.crt], code: 2, line: /agent\.domain\.com\.crt:1: missing equal sign/ },
    { name: "--cnf a folder", args: (W) => ["renew", self(W), "--cnf", P.dir], code: 2, line: /--cnf .*a-folder: is a directory, not a file$/ },
    { name: "--cnf /dev/zero", args: (W) => ["renew", self(W), "--cnf", "/dev/zero"], code: 2, line: /--cnf \/dev\/zero: too large/ },
    { name: "--cnf huge", args: (W) => ["renew", self(W), "--cnf", P.huge], code: 2, line: /--cnf .*huge\.pem: too large/ },
  ]);

  describe("--passphrase-file for an encrypted CA key", () => {
    const encCa = (W: string) => {
      ok(skycert(["init", "ca", "--out", "encpki", "--bits", "2048", "--encrypt", "--passphrase-file", join(fx, "pass.txt")], { cwd: W }));
      ok(skycert(["init", "agent", "--ca", "encpki", "--passphrase-file", join(fx, "pass.txt"), "--out", "encpki"], { cwd: W }));
      return join(W, "encpki", "agent", "agent.domain.com.crt");
    };
    for (const [name, file, line] of [
      ["empty", P.empty, /--passphrase-file .*empty\.pem: the first line is empty/],
      ["a folder", P.dir, /--passphrase-file .*a-folder: is a directory, not a file$/],
      ["/dev/zero", "/dev/zero", /--passphrase-file \/dev\/zero: too large/],
      ["missing", join(H, "nope.txt"), /--passphrase-file .*nope\.txt: no such file$/],
      ["wrong", P.garbage, /cannot decrypt CA key .*skydive-ca\.key: wrong passphrase/],
    ] as const) {
      it(`${name}: one line, nothing replaced, and the passphrase never shown`, () => {
        const W = scratch();
        const crt = encCa(W);
        const before = snapshot(W);
        const r = skycert(["renew", crt, "--ca", "encpki", "--passphrase-file", file], { cwd: W });
        expect(oneLine(r, name === "wrong" ? 1 : 2)).toMatch(line);
        expect(r.stdout).toBe("");
        expect(snapshot(W)).toEqual(before);
      });
    }
  });
});

describe("inspect: exit 1 for a file with nothing readable (listed on stdout), 2 for one that cannot be opened", () => {
  const c = (name: string, file: string, code: 1 | 2, line: RegExp): Case => ({ name, args: () => ["inspect", file], code, line, stdout: code === 1 ? "any" : undefined });
  run([
    c("garbage", P.garbage, 1, /garbage\.pem: no PEM block, and not a DER certificate, request or key$/),
    c("binary", P.binary, 1, /binary\.pem: no PEM block, and not a DER certificate, request or key$/),
    c("truncated", P.truncated, 1, /truncated\.crt: line 1: a PEM block has no END line$/),
    c("corrupted base64", P.badBase64, 1, /bad-base64\.crt: line 1: a PEM block is not valid base64$/),
    c("empty", P.empty, 1, /empty\.pem: the file is empty$/),
    c("a FIFO nobody writes to: read as empty, no hang", P.fifo, 1, /fifo: the file is empty$/),
    c("a folder", P.dir, 2, /a-folder: is a directory, not a file$/),
    c("/dev/zero", "/dev/zero", 2, /\/dev\/zero: too large \(more than 16777216 bytes; limit 16777216\)$/),
    c("huge", P.huge, 2, /huge\.pem: too large \(\d+ bytes; limit 16777216\)$/),
    c("missing", join(H, "nope.pem"), 2, /nope\.pem: no such file$/),
  ]);

  it("an encrypted key is reported as encrypted, not an error, and not opened", () => {
    const r = JSON.parse(ok(skycert(["inspect", P.encrypted, "--json"])).stdout);
    expect(r.files[0].items).toEqual([expect.objectContaining({ kind: "private-key", encrypted: true })]);
    expect(r.files[0].items[0].publicKey).toBeUndefined();
  });
});

describe("export: hostile manifests, source configs and inventories (exit 2, nothing written)", () => {
  const k8s = (W: string, extra: string[] = []) => ["export", "k8s", "--manifest", MANIFEST, "--out", join(W, "overlay"), "--from", join(W, "pki"), ...extra];
  const ansible = (W: string, inventory: string) => ["export", "ansible", "--inventory", inventory, "--out", join(W, "deploy"), "--from", join(W, "pki")];
  const withManifest = (W: string, m: string) => ["export", "k8s", "--manifest", m, "--out", join(W, "overlay"), "--from", join(W, "pki")];
  run([
    { name: "--manifest garbage", args: (W) => withManifest(W, P.garbage), code: 2, line: /--manifest .*garbage\.pem:1: a document that is not a Kubernetes object \(a mapping\)$/ },
    { name: "--manifest malformed YAML, with its line", args: (W) => withManifest(W, join(W, "m.yaml")), files: { "m.yaml": "kind: Service\nmetadata: {name: [\n" }, code: 2, line: /--manifest .*m\.yaml:\d+: malformed YAML/ },
    { name: "--manifest with the wrong types", args: (W) => withManifest(W, join(W, "m.yaml")), files: { "m.yaml": "kind: Service\nmetadata: 5\nspec: [1]\n" }, code: 2, line: /--manifest .*m\.yaml.*no Service skydive-analyzer/ },
    { name: "--manifest empty", args: (W) => withManifest(W, P.empty), code: 2, line: /--manifest .*empty\.pem: no Service skydive-analyzer/ },
    { name: "--manifest a folder", args: (W) => withManifest(W, P.dir), code: 2, line: /--manifest .*a-folder: is a directory, not a file$/ },
    { name: "--manifest /dev/zero", args: (W) => withManifest(W, "/dev/zero"), code: 2, line: /--manifest \/dev\/zero: too large/ },
    { name: "--manifest a FIFO", args: (W) => withManifest(W, P.fifo), code: 2, line: /--manifest .*fifo: no Service skydive-analyzer/ },
    { name: "--manifest huge", args: (W) => withManifest(W, P.huge), code: 2, line: /--manifest .*huge\.pem: too large/ },
    // The source config.
    { name: "--config malformed YAML, with its line", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "analyzer: [unclosed\n" }, code: 2, line: /bad\.yml:\d+: malformed YAML \([^)]*\]\) \(fix: / },
    { name: "--config with a setting of the wrong type", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "analyzer:\n  X509_cert: 5\n  X509_key: [a]\n" }, code: 2, line: /bad\.yml: analyzer\.X509_cert is not a file path/ },
    { name: "--config a list", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "- a\n- b\n" }, code: 2, line: /bad\.yml: the top level is not a mapping of keys$/ },
    { name: "--config a folder", args: (W) => k8s(W, ["--config", P.dir]), code: 2, line: /--config .*a-folder: is a directory, not a file$/ },
    { name: "--config /dev/zero", args: (W) => k8s(W, ["--config", "/dev/zero"]), code: 2, line: /--config \/dev\/zero: too large/ },
    { name: "--config huge", args: (W) => k8s(W, ["--config", P.huge]), code: 2, line: /--config .*huge\.pem: too large/ },
    // A source naming hostile files fails skycert validate: exit 1, the check and the file named.
    {
      name: "a source whose agent certificate is garbage",
      args: (W) => k8s(W, ["--config", join(W, "src.yml")]),
      files: { "src.yml": `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${P.garbage}\n  X509_key: ${P.key}\n` },
      code: 1,
      line: /fails skycert validate \(pem-parse\): .*garbage\.pem: no PEM certificate found/,
    },
    {
      name: "a source whose agent key is the certificate",
      args: (W) => k8s(W, ["--config", join(W, "src.yml")]),
      files: { "src.yml": `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${P.crt}\n  X509_key: ${P.crt}\n` },
      code: 1,
      line: /fails skycert validate \(config, pem-parse.*\): .*agent\.domain\.com\.crt/,
    },
    {
      name: "a source whose agent key is /dev/zero",
      args: (W) => k8s(W, ["--config", join(W, "src.yml")]),
      files: { "src.yml": `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${P.crt}\n  X509_key: /dev/zero\n` },
      code: 1,
      line: /fails skycert validate \(file-readable\): \/dev\/zero .*is not a regular file/,
    },
    // Inventories.
    { name: "an INI group header without ]", args: (W) => ansible(W, join(W, "inv")), files: { inv: "[analyzers]\nlocalhost\n[agents\nh1\n" }, code: 2, line: /inv:3: host range in "\[agents" has no closing "\]"$/ },
    { name: "an INI host line with an unclosed quote", args: (W) => ansible(W, join(W, "inv")), files: { inv: '[analyzers]\nlocalhost\n[agents]\nh1 ansible_host="10.0.0.1\n' }, code: 2, line: /inv:4: no closing quotation/ },
    { name: "an INI host variable without a value", args: (W) => ansible(W, join(W, "inv")), files: { inv: "[analyzers]\nlocalhost\n[agents]\nh1 ansible_host\n" }, code: 2, line: /inv:4: expected key=value host variable, got "ansible_host"/ },
    { name: "malformed YAML, with its line", args: (W) => ansible(W, join(W, "inv.yml")), files: { "inv.yml": "all:\n  children:\n    agents:\n      hosts: [unclosed\n" }, code: 2, line: /inv\.yml:\d+: malformed YAML/ },
    { name: "YAML with the wrong types", args: (W) => ansible(W, join(W, "inv.yml")), files: { "inv.yml": "all:\n  children:\n    analyzers:\n      hosts: 5\n" }, code: 2, line: /inv\.yml:4: hosts of group "analyzers" must be a mapping$/ },
    { name: "--inventory a folder", args: (W) => ansible(W, P.dir), code: 2, line: /--inventory .*a-folder: is a directory, not a file$/ },
    { name: "--inventory /dev/zero", args: (W) => ansible(W, "/dev/zero"), code: 2, line: /--inventory \/dev\/zero: too large/ },
    { name: "--inventory a FIFO: read as empty", args: (W) => ansible(W, P.fifo), code: 2, line: /fifo: no "analyzers" group \(fix: Skydive's inventories list analyzers under \[analyzers\]/ },
    {
      name: "a host whose host_vars file would leave --out (../x)",
      args: (W) => ansible(W, join(W, "inv")),
      files: { inv: `[analyzers]\nlocalhost\n[agents]\nh1\n../x skydive_extra_config="{'logging': {'level': 'DEBUG'}}"\n` },
      code: 2,
      line: /inv:5: host "\.\.\/x" needs a host_vars file, but its name starts with a dot/,
    },
    {
      name: "a host whose host_vars file would be /etc",
      args: (W) => ansible(W, join(W, "inv")),
      files: { inv: `[analyzers]\nlocalhost\n[agents]\n/etc skydive_extra_config="{'logging': {'level': 'DEBUG'}}"\n` },
      code: 2,
      line: /inv:4: host "\/etc" needs a host_vars file, but its name contains a path separator/,
    },
  ]);
});

describe("init --inventory: hostile inventories (nothing created)", () => {
  const fleet = (W: string, inventory: string) => ["init", "agent", "--ca", join(W, "capki"), "--inventory", inventory, "--out", join(W, "fleet"), "--bits", "2048"];
  run([
    { name: "an INI group header without ]", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents\nh1\n" }, code: 2, line: /inv:1: host range in "\[agents" has no closing "\]"$/ },
    { name: "an undeclared child group", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents:children]\nnowhere\n" }, code: 2, line: /inv:2: / },
    { name: "a host range without an end", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents]\nnode[1:]\n" }, code: 2, line: /inv:2: host range \[1:\] has no end value$/ },
    { name: "a host range with a zero step", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents]\nnode[1:3:0]\n" }, code: 2, line: /inv:2: host range \[1:3:0\] has a bad step "0"$/ },
    { name: "malformed YAML, with its line", args: (W) => fleet(W, join(W, "inv.yml")), files: { "inv.yml": "agents:\n  hosts: [unclosed\n" }, code: 2, line: /inv\.yml:\d+: malformed YAML/ },
    { name: "YAML hosts of the wrong type", args: (W) => fleet(W, join(W, "inv.yml")), files: { "inv.yml": "all:\n  children:\n    agents:\n      hosts: 5\n" }, code: 2, line: /inv\.yml:4: hosts of group "agents" must be a mapping$/ },
    { name: "YAML that is a list", args: (W) => fleet(W, join(W, "inv.yml")), files: { "inv.yml": "- a\n- b\n" }, code: 2, line: /inv\.yml:1: a YAML inventory must be a mapping of groups/ },
    { name: "--inventory a folder", args: (W) => fleet(W, P.dir), code: 2, line: /--inventory .*a-folder: is a directory, not a file$/ },
    { name: "--inventory /dev/zero", args: (W) => fleet(W, "/dev/zero"), code: 2, line: /--inventory \/dev\/zero: too large/ },
    { name: "--inventory huge", args: (W) => fleet(W, P.huge), code: 2, line: /--inventory .*huge\.pem: too large/ },
    { name: "--inventory a FIFO: read as empty", args: (W) => fleet(W, P.fifo), code: 2, line: /fifo: no "agents" group/ },
    { name: "--inventory empty", args: (W) => fleet(W, P.empty), code: 2, line: /empty\.pem: no "agents" group/ },
    // A host name that cannot be a folder fails that host (exit 1, the summary on stdout): here every host, so nothing at all is created.
    { name: "a host ../x, which would leave the output folder", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents]\n../x ansible_host=10.0.0.1\n" }, code: 1, stdout: "any", line: /1 of 1 hosts of .*inv failed; \.\.\/x: host name starts with a dot, so it cannot name a folder \(inventory line 2\)/ },
    { name: "a host /etc", args: (W) => fleet(W, join(W, "inv")), files: { inv: "[agents]\n/etc ansible_host=10.0.0.1\n" }, code: 1, stdout: "any", line: /1 of 1 hosts of .*inv failed; \/etc: host name contains a path separator, so it cannot name a folder \(inventory line 2\)/ },
    { name: "hosts .. and .hidden in YAML", args: (W) => fleet(W, join(W, "inv.yml")), files: { "inv.yml": "agents:\n  hosts:\n    '..':\n      ansible_host: 10.0.0.1\n    .hidden:\n      ansible_host: 10.0.0.2\n" }, code: 1, stdout: "any", line: /2 of 2 hosts of .*inv\.yml failed; \.\.: host name starts with a dot.*\(inventory line 3\) \(and 1 more, listed above\)/ },
    // init analyzer --inventory reads the analyzers group the same way, before any key is made.
    { name: "init analyzer --inventory: a bad line", args: (W) => ["init", "analyzer", "--ca", join(W, "capki"), "--inventory", join(W, "inv"), "--out", join(W, "a")], files: { inv: "[analyzers]\nh1 ansible_host='x\n" }, code: 2, line: /inv:2: no closing quotation/ },
    { name: "init analyzer --inventory: no analyzers group", args: (W) => ["init", "analyzer", "--ca", join(W, "capki"), "--inventory", join(W, "inv"), "--out", join(W, "a")], files: { inv: "[agents]\nh1\n" }, code: 2, line: /inv: no "analyzers" group/ },
  ]);
});

describe("failure paths with --debug and --json: a stack trace only with --debug, and never key material", () => {
  /** No PEM private key, no PEM body line, nor any 64-character base64 run of the keys involved. */
  const noKeyMaterial = (r: Run, keys: string[]) => {
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain("PRIVATE KEY");
      for (const k of keys) for (const line of readFileSync(k, "utf8").split("\n").filter((l) => l.length > 40)) expect(out).not.toContain(line);
    }
  };
  const traced = (r: Run) => {
    const [, ...trace] = r.stderr.trim().split("\n");
    expect(trace.join("\n")).toMatch(/^\s+at /m);
  };

  it("renew with another key (after both keys were read), --debug --json", () => {
    const W = scratch();
    cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
    const before = snapshot(W);
    const r = skycert(["renew", join(W, "pki", "agent", "agent.domain.com.crt"), "--key", join(W, "pki", "analyzer", "analyzer.domain.com.key"), "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toMatch(/is not the key of/);
    traced(r);
    noKeyMaterial(r, [P.key, P.analyzerKey]);
    expect(snapshot(W)).toEqual(before);
  });

  it("renew with an encrypted CA key and a wrong passphrase, SKYCERT_DEBUG=1", () => {
    const W = scratch();
    ok(skycert(["init", "ca", "--out", "encpki", "--bits", "2048", "--encrypt", "--passphrase-file", join(fx, "pass.txt")], { cwd: W }));
    ok(skycert(["init", "agent", "--ca", "encpki", "--passphrase-file", join(fx, "pass.txt"), "--out", "encpki"], { cwd: W }));
    writeFileSync(join(W, "wrong.txt"), `${registerSecret("not-the-passphrase-9")}\n`);
    const before = snapshot(W);
    const r = skycert(["renew", "encpki/agent/agent.domain.com.crt", "--ca", "encpki", "--passphrase-file", "wrong.txt", "--json"], { cwd: W, env: { SKYCERT_DEBUG: "1" } });
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toMatch(/cannot decrypt CA key .*: wrong passphrase/);
    traced(r);
    noKeyMaterial(r, [join(W, "encpki", "agent", "agent.domain.com.key")]);
    expect(snapshot(W)).toEqual(before);
  });

  it("inspect of keys beside an unreadable file, --debug --json", () => {
    const r = skycert(["inspect", P.key, P.analyzerKey, P.encrypted, P.garbage, "--json", "--debug"]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.files.map((f: { error?: string }) => Boolean(f.error))).toEqual([false, false, false, true]);
    expect(r.stderr.split("\n")[0]).toMatch(/garbage\.pem: no PEM block/);
    traced(r);
    noKeyMaterial(r, [P.key, P.analyzerKey, P.encrypted]);
  });

  it("export k8s refused by validate after reading every key, --debug --json", () => {
    const W = scratch();
    cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
    // The agent key is the analyzer's: every file reads, and key-match fails.
    writeFileSync(join(W, "src.yml"), `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${P.crt}\n  X509_key: ${P.analyzerKey}\n`);
    const before = snapshot(W);
    const r = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--config", "src.yml", "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toMatch(/fails skycert validate \(.*key-match.*\)/);
    traced(r);
    noKeyMaterial(r, [P.key, P.analyzerKey]);
    expect(snapshot(W)).toEqual(before);
  });

  it("export ansible over a differing bundle without --force, --debug --json", () => {
    const W = scratch();
    ok(skycert(["init", "analyzer", "agent", "--out", "pki"], { cwd: W }));
    writeFileSync(join(W, "inv"), "[analyzers]\nlocalhost\n[agents]\nagent1 ansible_host=127.0.0.1\n");
    ok(skycert(["export", "ansible", "--inventory", "inv", "--out", "deploy", "--from", "pki"], { cwd: W }));
    ok(skycert(["renew", "pki/agent/agent.domain.com.crt"], { cwd: W }));
    const before = snapshot(W);
    const r = skycert(["export", "ansible", "--inventory", "inv", "--out", "deploy", "--from", "pki", "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toMatch(/2 files exist and differ \(deploy\/files\/analyzer\/agent\.crt, deploy\/files\/agent\/agent\.crt\) .*\(fix: pass --force/);
    traced(r);
    noKeyMaterial(r, [join(W, "pki", "agent", "agent.domain.com.key"), join(W, "pki", "analyzer", "analyzer.domain.com.key")]);
    expect(snapshot(W)).toEqual(before);
  });

  it("without --debug the same failures carry no trace", () => {
    const r = skycert(["inspect", P.garbage, "--json"]);
    oneLine(r, 1);
  });
});
