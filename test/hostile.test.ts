/**
 * Hostile inputs for every command that reads files a user names: init (its
 * cnf, its Skydive config, a CA), init --inventory, validate, renew, inspect,
 * export k8s and ansible, probe and config set. PEM inputs that are garbage,
 * truncated, of the wrong type, encrypted, empty, a folder, /dev/zero, a FIFO
 * nobody writes to, or huge; YAML that is malformed or holds the wrong types;
 * inventories Ansible refuses and host names that are paths; failures with
 * --debug and --json.
 *
 * Each is ONE line on stderr (test/helpers/run.ts oneLine) naming the file
 * (with its line where there is one), flag or path; the documented exit code
 * (2 for an input that cannot be used, 1 for a failure; validate reports a
 * hostile certificate or key as a failing check, exit 1); no stack trace
 * without --debug; no private key in any output (and every stream is scanned
 * for one by the suite's teardown); and nothing created or changed: the working
 * folder and the shared inputs are snapshotted before and after every run.
 *
 * Then the permissions: modes under any umask, never writing through a
 * symlink (--force replaces the link itself), and a CA key that group or
 * others can read refused with the chmod 400 remedy.
 */
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BIN, type Run, SEED_CNF, SHARED, ok, oneLine, openssl, scratch, sh, skycert, tool } from "./helpers/run.js";
import { registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const EC = ["--key-type", "ecdsa"];
const PASSPHRASE = registerSecret("hostile-inputs-passphrase-7");
/** Control characters and line breaks that would forge or split the one line. */
const UNPRINTABLE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const mode = (p: string) => (lstatSync(p).mode & 0o777).toString(8);

/** Shared inputs, made once; no run may change them. */
const fx = scratch("skycert-hostile-");
const H = join(fx, "h");
const P = {
  crt: join(fx, "pki", "agent", "agent.domain.com.crt"),
  key: join(fx, "pki", "agent", "agent.domain.com.key"),
  csr: join(fx, "pki", "agent", "agent.domain.com.csr"),
  analyzerCrt: join(fx, "pki", "analyzer", "analyzer.domain.com.crt"),
  analyzerKey: join(fx, "pki", "analyzer", "analyzer.domain.com.key"),
  hostCrt: join(fx, "capki", "agents", "h1", "agent.crt"),
  hostCsr: join(fx, "capki", "agents", "h1", "agent.csr"),
  garbage: join(H, "garbage.pem"),
  binary: join(H, "binary.pem"),
  truncated: join(H, "truncated.crt"),
  badBase64: join(H, "bad-base64.crt"),
  empty: join(H, "empty.pem"),
  dir: join(H, "a-folder"),
  fifo: join(H, "fifo"),
  huge: join(H, "huge.pem"),
  encrypted: join(H, "encrypted.key"),
  pass: join(fx, "pass.txt"),
};

beforeAll(() => {
  ok(skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--san", "10.96.0.50", "--out", "pki", ...EC], { cwd: fx }));
  ok(skycert(["init", "ca", "--out", "capki", ...EC], { cwd: fx }));
  ok(skycert(["init", "agent", "--ca", "capki", "--hosts", "h1=10.9.0.1", "--out", "capki", ...EC], { cwd: fx }));
  mkdirSync(P.dir, { recursive: true });
  const pem = readFileSync(P.crt, "utf8");
  writeFileSync(P.garbage, "this is not a certificate\nnor anything else\n");
  writeFileSync(P.binary, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)));
  writeFileSync(P.truncated, pem.split("\n").slice(0, 6).join("\n"));
  writeFileSync(P.badBase64, pem.replace(/\n([A-Za-z0-9+/]{64})\n/, "\n!!!! not base64 !!!!\n"));
  writeFileSync(P.empty, "");
  tool("mkfifo", [P.fifo]);
  // Over every limit (certificates and keys 1 MiB, configs and manifests 4 MiB, inspect 16 MiB), and looking like PEM.
  writeFileSync(P.huge, `-----BEGIN CERTIFICATE-----\n${"QUFB\n".repeat(3.5 * 1024 * 1024)}-----END CERTIFICATE-----\n`);
  ok(openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", `pass:${PASSPHRASE}`, "-out", P.encrypted]));
  chmodSync(P.encrypted, 0o400);
  writeFileSync(P.pass, `${PASSPHRASE}\n`);
});

interface Case {
  name: string;
  /** Arguments; `W` is the working folder, which holds a copy of the shared pki/ and capki/. */
  args: (W: string) => string[];
  code: 1 | 2;
  line: RegExp | ((W: string) => RegExp);
  /** validate, inspect, probe and fleet runs print their table or listing on stdout too. */
  stdout?: "any";
  /** Files to write in the working folder first. */
  files?: Record<string, string | Buffer>;
  setup?: (W: string) => void;
  env?: NodeJS.ProcessEnv;
  /** A run that must not hang: killed after this many seconds. */
  timeout?: number;
}

/** The one-line contract, and nothing changed anywhere. */
function check(c: Case): Run {
  const W = scratch();
  cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
  cpSync(join(fx, "capki"), join(W, "capki"), { recursive: true });
  for (const [name, body] of Object.entries(c.files ?? {})) {
    mkdirSync(join(W, name, ".."), { recursive: true });
    writeFileSync(join(W, name), body);
  }
  c.setup?.(W);
  const before = snapshot(W);
  const inputs = snapshot(fx);
  const r = c.timeout
    ? tool(process.execPath, [BIN, ...c.args(W)], { cwd: W, env: c.env, timeout: c.timeout * 1000 })
    : skycert(c.args(W), { cwd: W, env: c.env });
  const line = oneLine(r, c.code);
  expect(line).toMatch(typeof c.line === "function" ? c.line(W) : c.line);
  expect(line).toMatch(/^skycert: (error: |option |unknown |missing |too many )/);
  expect(line).not.toMatch(UNPRINTABLE);
  expect(line.length).toBeLessThan(2000);
  if (c.stdout !== "any") expect(r.stdout).toBe("");
  // (A message may name a block's label, "found PRIVATE KEY"; never a PEM key.)
  for (const out of [r.stdout, r.stderr]) expect(out).not.toContain("PRIVATE KEY-----");
  expect(snapshot(W), "the working folder changed").toEqual(before);
  expect(snapshot(fx), "the shared inputs changed").toEqual(inputs);
  return r;
}

const run = (cases: Case[]) => {
  for (const c of cases) it(c.name, () => void check(c));
};

// The same hostile files, offered as each kind of input.
const HOSTILE_PEM: [string, () => string][] = [
  ["garbage", () => P.garbage],
  ["binary bytes", () => P.binary],
  ["a truncated PEM", () => P.truncated],
  ["corrupted base64", () => P.badBase64],
  ["an empty file", () => P.empty],
  ["a folder", () => P.dir],
  ["/dev/zero", () => "/dev/zero"],
  ["a FIFO nobody writes to", () => P.fifo],
  ["a huge file", () => P.huge],
  ["an encrypted key", () => P.encrypted],
];

// ---------------------------------------------------------------------------
// init

describe("init: a hostile cnf (--cnf), Skydive config (--config) or CA (--ca) is refused before anything is written", () => {
  const selfSigned = (...extra: string[]) => ["init", "agent", ...EC, ...extra];
  run([
    { name: "--cnf garbage, with its line", args: () => selfSigned("--cnf", P.garbage), code: 2, line: /garbage\.pem:1: missing equal sign/ },
    { name: "--cnf binary bytes", args: () => selfSigned("--cnf", P.binary), code: 2, line: /binary\.pem:1: binary data \(NUL byte\): this is not an OpenSSL config file$/ },
    { name: "--cnf a certificate, with its line", args: () => selfSigned("--cnf", P.crt), code: 2, line: /agent\.domain\.com\.crt:1: missing equal sign/ },
    { name: "--cnf empty", args: () => selfSigned("--cnf", P.empty), code: 2, line: /empty\.pem: no \[v3_req\] section/ },
    { name: "--cnf a folder", args: () => selfSigned("--cnf", P.dir), code: 2, line: /--cnf .*a-folder: is a directory, not a file$/ },
    { name: "--cnf /dev/zero: cut at the limit", args: () => selfSigned("--cnf", "/dev/zero"), code: 2, line: /--cnf \/dev\/zero: too large \(more than 1048576 bytes; limit 1048576\)$/ },
    { name: "--cnf a FIFO nobody writes to: read as empty, no hang", args: () => selfSigned("--cnf", P.fifo), code: 2, line: /fifo: no \[v3_req\] section/, timeout: 60 },
    { name: "--cnf huge", args: () => selfSigned("--cnf", P.huge), code: 2, line: /--cnf .*huge\.pem: too large \(\d+ bytes; limit 1048576\)$/ },
    { name: "--cnf missing", args: (W) => selfSigned("--cnf", join(W, "nope.cnf")), code: 2, line: /--cnf .*nope\.cnf: no such file/ },
    // The Skydive config init edits.
    { name: "skydive.yml malformed, with its line", args: () => selfSigned(), files: { "skydive.yml": "agent: [unclosed\n  x: 1\n" }, code: 2, line: /skydive\.yml:\d: malformed YAML .*\(fix: fix the file by hand; skycert does not overwrite a file it cannot read\)$/ },
    { name: "skydive.yml with duplicate keys", args: () => selfSigned(), files: { "skydive.yml": "agent: {}\nagent: {}\n" }, code: 2, line: /skydive\.yml(:2: malformed YAML \(Map keys must be unique\)|: cannot update it without changing other keys)/ },
    { name: "skydive.yml a list", args: () => selfSigned(), files: { "skydive.yml": "- a\n- b\n" }, code: 2, line: /skydive\.yml: the top level is not a mapping of keys/ },
    { name: "skydive.yml with the wrong types", args: () => selfSigned(), files: { "skydive.yml": "agent:\n  X509_cert: {a: b}\n" }, code: 2, line: /skydive\.yml: agent\.X509_cert is a mapping, not a value \(fix: fix agent\.X509_cert by hand\)$/ },
    { name: "--config binary bytes", args: () => selfSigned("--config", P.binary), code: 2, line: /binary\.pem(:1)?: (malformed YAML|not a YAML text file|the top level is not a mapping of keys)/ },
    { name: "--config huge", args: () => selfSigned("--config", P.huge), code: 2, line: /huge\.pem: too large \(\d+ bytes; limit 4194304\)$/ },
    { name: "--config a folder", args: () => selfSigned("--config", P.dir), code: 1, line: /cannot write .*a-folder: it is not a regular file$/ },
    { name: "--config /dev/zero", args: () => selfSigned("--config", "/dev/zero"), code: 1, line: /cannot write \/dev\/zero: it is not a regular file$/ },
    { name: "--config a FIFO", args: () => selfSigned("--config", P.fifo), code: 1, line: /cannot write .*fifo: it is not a regular file$/, timeout: 60 },
    // The CA.
    ...HOSTILE_PEM.filter(([n]) => n !== "binary bytes").map(([what, file]): Case => ({
      name: `--ca ${what}`,
      args: () => ["init", "agent", "--ca", file(), "--hosts", "h9=10.9.0.9", "--out", "fleet", ...EC],
      code: 2,
      timeout: 60,
      line: {
        garbage: /--ca .*garbage\.pem: no PEM certificate in it$/,
        "a truncated PEM": /--ca .*truncated\.crt: no PEM certificate in it \(line 1: the CERTIFICATE block has no END line \(truncated\)\)$/,
        "corrupted base64": /--ca .*bad-base64\.crt: no PEM certificate in it/,
        "an empty file": /--ca .*empty\.pem: the file is empty$/,
        "a folder": /--ca .*a-folder: no CA certificate in .*a-folder \(fix: /,
        "/dev/zero": /--ca \/dev\/zero: a device, socket or FIFO, not a CA certificate or folder/,
        "a FIFO nobody writes to": /--ca .*fifo: a device, socket or FIFO, not a CA certificate or folder/,
        "a huge file": /--ca certificate .*huge\.pem: too large \(\d+ bytes; limit \d+\)$/,
        "an encrypted key": /--ca .*encrypted\.key: no PEM certificate in it \(found ENCRYPTED PRIVATE KEY\)$/,
      }[what]!,
    })),
    { name: "--ca a leaf certificate", args: () => ["init", "agent", "--ca", P.hostCrt, "--hosts", "h9=10.9.0.9", "--out", "fleet", ...EC], code: 2, line: /--ca .*agent\.crt: not a CA certificate \(basicConstraints CA:FALSE\)/ },
  ]);

  it("a refused run leaves no --out folder behind", () => {
    check({ name: "", args: () => ["init", "agent", "--out", "new-out", "--config", "bad.yml", ...EC], files: { "bad.yml": "agent: [unclosed\n" }, code: 2, line: /bad\.yml:\d: malformed YAML/ });
  });

  it("--cnf a socket", async () => {
    const W = scratch();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(W, "sock"), resolve));
    try {
      const before = snapshot(W);
      expect(oneLine(skycert(["init", "agent", "--cnf", "sock", ...EC], { cwd: W }), 2)).toMatch(new RegExp(`--cnf ${esc(W)}/sock: a socket, not a file$`));
      expect(snapshot(W)).toEqual(before);
    } finally {
      server.close();
    }
  });
});

describe("init: hostile cnf files (./skydive-openssl.cnf), through the CLI", () => {
  const seed = () => readFileSync(SEED_CNF, "utf8");
  const CNF = "skydive-openssl.cnf";
  /** The seed with `[alt_names]` replaced by `alt`. */
  const withAltNames = (alt: string) => seed().replace(/\[alt_names\][\s\S]*$/, `[alt_names]\n${alt}\n`);
  const cnf = (name: string, files: () => Record<string, string | Buffer>, line: RegExp, setup?: (W: string) => void): Case => ({
    name,
    args: () => ["init", "agent", ...EC],
    setup: (W) => {
      for (const [f, body] of Object.entries(files())) {
        mkdirSync(join(W, f, ".."), { recursive: true });
        writeFileSync(join(W, f), body);
      }
      setup?.(W);
    },
    code: 2,
    line,
    timeout: 60,
  });
  run([
    cnf("an executable", () => ({ [CNF]: readFileSync("/bin/true") }), /skydive-openssl\.cnf:1: binary data \(NUL byte\): this is not an OpenSSL config file$/),
    cnf("escape sequences and invalid UTF-8 are shown escaped", () => ({ [CNF]: Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x0d, 0x07, 0x41, 0x0a]) }), /skydive-openssl\.cnf:1: missing equal sign near "\\u001b\[2J\ufffd\ufffd\\r\\u0007A"/),
    cnf("over 1 MiB", () => ({ [CNF]: `${seed()}\n# ${"x".repeat(1024 * 1024)}\n` }), /cnf .*skydive-openssl\.cnf: too large \(\d+ bytes; limit 1048576\)$/),
    cnf("an unclosed header in an included file", () => ({ [CNF]: `.include inc.cnf\n${seed()}`, "inc.cnf": "a = 1\n[ broken\n" }), /inc\.cnf:2: missing close square bracket in section header/),
    cnf("an undefined variable in an included file", () => ({ [CNF]: `.include inc.cnf\n${seed()}`, "inc.cnf": "a = 1\nb = ${nothere}\n" }), /inc\.cnf:2: variable has no value: \$nothere/),
    cnf("an .include loop", () => ({ [CNF]: `.include a.cnf\n${seed()}`, "a.cnf": "x = 1\n.include b.cnf\n", "b.cnf": "y = 2\n.include a.cnf\n" }), /b\.cnf:2: \.include loop: .*a\.cnf -> .*b\.cnf -> .*a\.cnf/),
    cnf("an .include of /dev/zero: cut at the limit", () => ({ [CNF]: `.include /dev/zero\n${seed()}` }), /skydive-openssl\.cnf:1: \.include \/dev\/zero: too large \(more than 1048576 bytes; limit 1048576\)$/),
    cnf("an .include of a FIFO nobody writes to: read as empty, no hang", () => ({ [CNF]: `${seed()}\n.include fifo\nx = $nothere\n` }), /skydive-openssl\.cnf:\d+: variable has no value: \$nothere/, (W) => void tool("mkfifo", [join(W, "fifo")])),
    cnf("an .include of a folder of 70 files", () => ({ [CNF]: `.include many\n${seed()}`, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`many/${i}.cnf`, `a${i} = 1\n`])) }), /skydive-openssl\.cnf:1: \.include many: 70 config files in one folder \(at most 64\)$/),
    cnf("an exponential variable expansion", () => ({ [CNF]: `v0 = ${"x".repeat(64)}\n${Array.from({ length: 16 }, (_, i) => `v${i + 1} = $v${i}$v${i}`).join("\n")}\n${seed()}` }), /skydive-openssl\.cnf:1\d: variable expansion too long \(over 65536 characters\)/),
    cnf("req_extensions names a missing section", () => ({ [CNF]: seed().replace("req_extensions = v3_req", "req_extensions = v3_nowhere") }), /skydive-openssl\.cnf:\d+: extension section \[v3_nowhere\] is not defined/),
    cnf("an unknown extension", () => ({ [CNF]: seed().replace("[ v3_req ]", "[ v3_req ]\nfrobnicate = yes") }), /skydive-openssl\.cnf:\d+: unknown extension name "frobnicate"/),
    cnf("a raw DER: value", () => ({ [CNF]: seed().replace(/keyUsage = .*/, "keyUsage = DER:03:02:05:a0") }), /skydive-openssl\.cnf:\d+: keyUsage: raw DER: values are not supported/),
    cnf("an IPv6 SAN with a zone", () => ({ [CNF]: withAltNames("IP.1 = fe80::1%eth0") }), /skydive-openssl\.cnf:\d+: subjectAltName: IP "fe80::1%eth0" has an IPv6 zone/),
    cnf("a value of 70000 characters", () => ({ [CNF]: withAltNames(`URI.1 = https://a.example/${"p".repeat(70_000)}`) }), /skydive-openssl\.cnf:\d+: the value of URI\.1 is 70018 characters long \(at most 65536\)$/),
    cnf("a bidi override in a SAN is shown escaped", () => ({ [CNF]: withAltNames('DNS.1 = "evil\u202egro.example"') }), /DNS name "evil\\u202egro\.example" has a label/),
  ]);
});

describe("init --inventory: inventories Ansible refuses, and host names that are paths", () => {
  const fleet = (inventory: string) => ["init", "agent", "--ca", "capki", "--inventory", inventory, "--out", "fleet", ...EC];
  const refused = /--inventory .*: .* \(fix: fix the inventory; ansible-playbook would refuse it too\)$/;
  run([
    { name: "an INI group header without ]", args: () => fleet("inv"), files: { inv: "[agents\nh1\n" }, code: 2, line: refused },
    { name: "a child group never declared", args: () => fleet("inv"), files: { inv: "[agents:children]\nnowhere\n" }, code: 2, line: /--inventory .*inv: .*inv:2/ },
    { name: "a host range without an end", args: () => fleet("inv"), files: { inv: "[agents]\nnode[1:]\n" }, code: 2, line: refused },
    { name: "a host range with a zero step", args: () => fleet("inv"), files: { inv: "[agents]\nnode[1:3:0]\n" }, code: 2, line: refused },
    { name: "a host variable without a value", args: () => fleet("inv"), files: { inv: "[agents]\nh1 ansible_host\n" }, code: 2, line: /--inventory .*inv: .*inv:2/ },
    { name: "an unclosed quote", args: () => fleet("inv"), files: { inv: '[agents]\nh1 ansible_host="10.0.0.1\n' }, code: 2, line: /--inventory .*inv: .*inv:2/ },
    { name: "malformed YAML", args: () => fleet("inv.yml"), files: { "inv.yml": "agents:\n  hosts: [unclosed\n" }, code: 2, line: refused },
    { name: "YAML hosts of the wrong type", args: () => fleet("inv.yml"), files: { "inv.yml": "all:\n  children:\n    agents:\n      hosts: 5\n" }, code: 2, line: refused },
    { name: "YAML that is a list", args: () => fleet("inv.yml"), files: { "inv.yml": "- a\n- b\n" }, code: 2, line: refused },
    { name: "binary bytes", args: () => fleet(P.binary), code: 2, line: refused },
    { name: "an empty inventory", args: () => fleet(P.empty), code: 2, line: /--inventory .*empty\.pem: no host in groups analyzers or agents/ },
    { name: "a folder with no inventory in it", args: () => fleet(P.dir), code: 2, line: refused },
    { name: "a missing inventory", args: (W) => fleet(join(W, "nope")), code: 2, line: /--inventory .*nope/ },
    { name: "a FIFO nobody writes to: refused, no hang", args: () => fleet(P.fifo), code: 2, line: /--inventory .*fifo/, timeout: 15 },
    { name: "/dev/zero: refused, no hang", args: () => fleet("/dev/zero"), code: 2, line: /--inventory \/dev\/zero/, timeout: 15 },
    // A host name that cannot be a folder fails that host (exit 1, the summary on stdout); here every host, so nothing is written.
    { name: "a host ../x, which would leave the output folder", args: () => fleet("inv"), files: { inv: "[agents]\n../x ansible_host=10.0.0.1\n" }, code: 1, stdout: "any", line: /1 of 1 hosts failed; \.\.\/x: host name starts with a dot, so it cannot name a folder/ },
    { name: "a host /etc", args: () => fleet("inv"), files: { inv: "[agents]\n/etc ansible_host=10.0.0.1\n" }, code: 1, stdout: "any", line: /1 of 1 hosts failed; \/etc: host name contains a path separator, so it cannot name a folder/ },
    { name: "hosts .. and .hidden in YAML", args: () => fleet("inv.yml"), files: { "inv.yml": "agents:\n  hosts:\n    '..':\n      ansible_host: 10.0.0.1\n    .hidden:\n      ansible_host: 10.0.0.2\n" }, code: 1, stdout: "any", line: /2 of 2 hosts failed; \.\.: host name starts with a dot.* \(and 1 more, listed above\)/ },
    { name: "an ansible_host with a shell command in it", args: () => fleet("inv"), files: { inv: '[agents]\nh2 ansible_host="10.0.0.2 ; rm -rf /"\n' }, code: 1, stdout: "any", line: /1 of 1 hosts failed; h2: ansible_host "10\.0\.0\.2 ; rm -rf \/" contains whitespace/ },
    { name: "init analyzer --inventory: no analyzers group", args: () => ["init", "analyzer", "--ca", "capki", "--inventory", "inv", "--out", "fleet", ...EC], files: { inv: "[agents]\nh1\n" }, code: 2, line: /--inventory .*inv: no host in analyzers/ },
  ]);

  it("a bad host among good ones: the good are issued, the bad one's folder is never made, nothing is written outside --out", () => {
    const W = scratch();
    cpSync(join(fx, "capki"), join(W, "capki"), { recursive: true });
    writeFileSync(join(W, "inv"), "[agents]\nh1 ansible_host=10.0.0.1\nx/y ansible_host=10.0.0.3\n../escape ansible_host=10.0.0.4\n");
    const r = skycert(["init", "agent", "--ca", "capki", "--inventory", "inv", "--out", "fleet", "--json", ...EC], { cwd: W });
    expect(oneLine(r, 1)).toMatch(/2 of 3 hosts failed; x\/y: host name contains a path separator/);
    expect(JSON.parse(r.stdout).hosts.map((h: { name: string; status: string }) => `${h.name} ${h.status}`)).toEqual(["h1 issued", "x/y failed", "../escape failed"]);
    expect(readdirSync(join(W, "fleet", "agents"))).toEqual(["h1"]);
    expect(readdirSync(W).sort()).toEqual(["capki", "fleet", "inv"]);
    expect(existsSync(join(W, "escape"))).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// validate

describe("validate: a hostile certificate or key is a failing check (exit 1) naming the file", () => {
  const flags = (W: string, agent: { crt?: string; key?: string }) => [
    "validate",
    "--analyzer-cert", P.analyzerCrt, "--analyzer-key", P.analyzerKey,
    "--agent-cert", agent.crt ?? join(W, "pki", "agent", "agent.domain.com.crt"),
    "--agent-key", agent.key ?? join(W, "pki", "agent", "agent.domain.com.key"),
  ];
  const failing = (name: string, agent: { crt?: string; key?: string }, ids: RegExp, text: RegExp): Case => ({
    name,
    args: (W) => flags(W, agent),
    code: 1,
    stdout: "any",
    line: new RegExp(`^skycert: error: \\d+ checks? failed \\(${ids.source}\\); first: ${text.source}`),
    timeout: 60,
  });
  run([
    failing("garbage as the certificate", { crt: P.garbage }, /pem-parse/, /.*garbage\.pem: no PEM certificate found/),
    failing("binary bytes as the certificate", { crt: P.binary }, /pem-parse/, /.*binary\.pem: no PEM certificate found/),
    failing("a truncated certificate", { crt: P.truncated }, /pem-parse/, /.*truncated\.crt: line 1: the CERTIFICATE block has no END line \(truncated\)/),
    failing("a certificate with corrupted base64", { crt: P.badBase64 }, /pem-parse/, /.*bad-base64\.crt: /),
    failing("an empty certificate", { crt: P.empty }, /file-readable/, /.*empty\.pem \(--agent-cert\) is empty \(0 bytes\)/),
    failing("a folder as the certificate", { crt: P.dir }, /file-readable/, /.*a-folder \(--agent-cert\) is a directory, not a file/),
    failing("/dev/zero as the certificate (never read)", { crt: "/dev/zero" }, /file-readable/, /\/dev\/zero \(--agent-cert\) is not a regular file/),
    failing("a FIFO as the certificate (never opened for reading)", { crt: P.fifo }, /file-readable/, /.*fifo \(--agent-cert\) is not a regular file/),
    failing("a huge certificate", { crt: P.huge }, /file-readable/, /.*huge\.pem \(--agent-cert\) is too large for a certificate or key/),
    failing("the key as the certificate", { crt: P.key }, /pem-parse/, /.*agent\.domain\.com\.key: holds a private key where a certificate should be/),
    failing("the CSR as the certificate", { crt: P.csr }, /pem-parse/, /.*agent\.domain\.com\.csr: holds a certificate request \(CSR\), not a certificate/),
    failing("an encrypted key", { key: P.encrypted }, /pem-parse/, /.*encrypted\.key: private key is encrypted/),
    failing("/dev/zero as the key", { key: "/dev/zero" }, /file-readable/, /\/dev\/zero \(--agent-key\) is not a regular file/),
    failing("the certificate as the key", { key: P.crt }, /[a-z-, ]*pem-parse[a-z-, ]*/, /.*agent\.domain\.com\.crt/),
    // (Go's LoadX509KeyPair reads a key from the certificate's own file too: that file must then hold one.)
    { ...failing("the certificate's own file as its key, holding no key", {}, /[a-z-, ]*pem-parse[a-z-, ]*/, /.*agent\.domain\.com\.crt/), args: (W) => flags(W, { crt: join(W, "pki", "agent", "agent.domain.com.crt"), key: join(W, "pki", "agent", "agent.domain.com.crt") }) },
    failing("another pair's key", { key: P.analyzerKey }, /[a-z-, ]*key-match[a-z-, ]*/, /.*/),
  ]);
});

describe("validate: configs that cannot be read, malformed or of the wrong types", () => {
  run([
    { name: "malformed YAML, with its line (exit 2)", args: () => ["validate"], files: { "skydive.yml": "analyzer:\n  X509_cert: [unclosed\n  X509_key: x\n" }, code: 2, line: /skydive\.yml:\d+: malformed YAML .*\(fix: fix the YAML; Skydive refuses it too\)$/ },
    { name: "duplicate keys (exit 2)", args: () => ["validate"], files: { "skydive.yml": "agent: {}\nagent: {}\n" }, code: 2, line: /skydive\.yml:2: malformed YAML \(Map keys must be unique\)/ },
    { name: "a list at the top level (exit 2)", args: () => ["validate"], files: { "skydive.yml": "- analyzer\n- agent\n" }, code: 2, line: /skydive\.yml: the top level is not a mapping of keys/ },
    { name: "binary bytes (exit 2)", args: () => ["validate", "--config", P.binary], code: 2, line: /binary\.pem:1: not a YAML text file/ },
    { name: "--config a folder (exit 2)", args: () => ["validate", "--config", P.dir], code: 2, line: /--config .*a-folder: is a directory, not a file$/ },
    { name: "--config /dev/zero (exit 2)", args: () => ["validate", "--config", "/dev/zero"], code: 2, line: /--config \/dev\/zero: too large \(more than \d+ bytes; limit \d+\)$/ },
    { name: "--config huge (exit 2)", args: () => ["validate", "--config", P.huge], code: 2, line: /--config .*huge\.pem: too large/ },
    { name: "--config missing (exit 2)", args: () => ["validate", "--config", "nope.yml"], code: 2, line: /--config .*nope\.yml: no such file/ },
    {
      name: "settings of the wrong type fail the config check (exit 1), naming the setting",
      args: () => ["validate"],
      files: { "skydive.yml": "analyzer:\n  X509_cert: [1, 2]\n  X509_key: 5\nagent:\n  X509_cert: {a: b}\n  X509_key: true\n" },
      code: 1,
      stdout: "any",
      line: /checks? failed \(config[a-z-, ]*\); first: skydive\.yml: analyzer\.X509_cert is a list, not a file path$/,
    },
    { name: "a damaged fleet record (exit 2)", args: () => ["validate", "--fleet", "f"], files: { "f/skycert.json": "{bad" }, code: 2, line: /f\/skycert\.json: not JSON/ },
    { name: "--fleet a folder without a record (exit 2)", args: () => ["validate", "--fleet", P.dir], code: 2, line: /--fleet .*a-folder/ },
  ]);
});

// ---------------------------------------------------------------------------
// renew

describe("renew: a hostile CERT, --key, --ca, --cnf or --passphrase-file (nothing replaced)", () => {
  const self = (W: string) => join(W, "pki", "agent", "agent.domain.com.crt");
  const signed = (W: string) => join(W, "capki", "agents", "h1", "agent.crt");
  run([
    ...HOSTILE_PEM.map(([what, file]): Case => ({
      name: `CERT ${what}`,
      args: () => ["renew", file()],
      code: 2,
      timeout: 60,
      line: {
        garbage: /certificate .*garbage\.pem: no PEM certificate in it \(fix: pass the \.crt file to renew\)$/,
        "binary bytes": /certificate .*binary\.pem: no PEM certificate in it/,
        "a truncated PEM": /certificate .*truncated\.crt: no PEM certificate in it \(line 1: the CERTIFICATE block has no END line \(truncated\)\)/,
        "corrupted base64": /certificate .*bad-base64\.crt: no PEM certificate in it \(line 1: the CERTIFICATE block is not valid base64\)/,
        "an empty file": /certificate .*empty\.pem: the file is empty/,
        "a folder": /certificate .*a-folder: is a directory, not a file$/,
        "/dev/zero": /certificate \/dev\/zero: too large \(more than \d+ bytes; limit \d+\)$/,
        "a FIFO nobody writes to": /certificate .*fifo: the file is empty/,
        "a huge file": /certificate .*huge\.pem: too large \(\d+ bytes; limit \d+\)$/,
        "an encrypted key": /certificate .*encrypted\.key: no PEM certificate in it \(found ENCRYPTED PRIVATE KEY\)/,
      }[what]!,
    })),
    { name: "CERT the key", args: () => ["renew", P.key], code: 2, line: /agent\.domain\.com\.key: no PEM certificate in it \(found PRIVATE KEY\)/ },
    { name: "CERT the CSR", args: () => ["renew", P.csr], code: 2, line: /agent\.domain\.com\.csr: no PEM certificate in it \(found CERTIFICATE REQUEST\)/ },
    { name: "CERT missing", args: () => ["renew", join(H, "nope.crt")], code: 2, line: /certificate .*nope\.crt: no such file$/ },
    // --key: named as what it is, before any mode check ("chmod 400" is no fix for a certificate or a folder).
    { name: "--key garbage", args: (W) => ["renew", self(W), "--key", P.garbage], code: 2, line: /--key .*garbage\.pem: no PEM private key in it$/ },
    { name: "--key truncated", args: (W) => ["renew", self(W), "--key", P.truncated], code: 2, line: /--key .*truncated\.crt: no PEM private key in it \(line 1: the CERTIFICATE block has no END line \(truncated\)\)/ },
    { name: "--key the certificate", args: (W) => ["renew", self(W), "--key", P.crt], code: 2, line: /--key .*agent\.domain\.com\.crt: no PEM private key in it \(found CERTIFICATE\)$/ },
    { name: "--key the CSR", args: (W) => ["renew", self(W), "--key", P.csr], code: 2, line: /--key .*agent\.domain\.com\.csr: no PEM private key in it \(found CERTIFICATE REQUEST\)$/ },
    { name: "--key empty", args: (W) => ["renew", self(W), "--key", P.empty], code: 2, line: /--key .*empty\.pem: the file is empty$/ },
    { name: "--key a folder", args: (W) => ["renew", self(W), "--key", P.dir], code: 2, line: /--key .*a-folder: is a directory, not a file$/ },
    { name: "--key /dev/zero", args: (W) => ["renew", self(W), "--key", "/dev/zero"], code: 2, line: /--key \/dev\/zero: too large/ },
    { name: "--key a FIFO", args: (W) => ["renew", self(W), "--key", P.fifo], code: 2, line: /--key .*fifo: the file is empty$/, timeout: 60 },
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
    { name: "--ca a leaf certificate", args: (W) => ["renew", signed(W), "--ca", P.hostCrt], code: 2, line: /--ca .*agents\/h1\/agent\.crt: not a CA certificate \(basicConstraints CA:FALSE\)/ },
    { name: "--ca the CSR", args: (W) => ["renew", signed(W), "--ca", P.hostCsr], code: 2, line: /--ca .*agent\.csr: no PEM certificate in it \(found CERTIFICATE REQUEST\)/ },
    // --cnf
    { name: "--cnf garbage, with its line", args: (W) => ["renew", self(W), "--cnf", P.garbage], code: 2, line: /garbage\.pem:1: missing equal sign/ },
    { name: "--cnf a certificate, with its line", args: (W) => ["renew", self(W), "--cnf", P.crt], code: 2, line: /agent\.domain\.com\.crt:1: missing equal sign/ },
    { name: "--cnf a folder", args: (W) => ["renew", self(W), "--cnf", P.dir], code: 2, line: /--cnf .*a-folder: is a directory, not a file$/ },
    { name: "--cnf /dev/zero", args: (W) => ["renew", self(W), "--cnf", "/dev/zero"], code: 2, line: /--cnf \/dev\/zero: too large/ },
    { name: "--cnf huge", args: (W) => ["renew", self(W), "--cnf", P.huge], code: 2, line: /--cnf .*huge\.pem: too large/ },
  ]);

  describe("init ca --encrypt with a hostile --passphrase-file (no CA made)", () => {
    run([
      { name: "empty", args: () => ["init", "ca", "--out", "newca", "--encrypt", "--passphrase-file", P.empty, ...EC], code: 2, line: /--passphrase-file .*empty\.pem: the first line is empty/ },
      { name: "a folder", args: () => ["init", "ca", "--out", "newca", "--encrypt", "--passphrase-file", P.dir, ...EC], code: 2, line: /--passphrase-file .*a-folder: is a directory, not a file$/ },
      { name: "/dev/zero", args: () => ["init", "ca", "--out", "newca", "--encrypt", "--passphrase-file", "/dev/zero", ...EC], code: 2, line: /--passphrase-file \/dev\/zero: too large/ },
      { name: "a FIFO nobody writes to", args: () => ["init", "ca", "--out", "newca", "--encrypt", "--passphrase-file", P.fifo, ...EC], code: 2, line: /--passphrase-file .*fifo: the first line is empty/, timeout: 60 },
    ]);
  });

  describe("--passphrase-file for an encrypted CA key", () => {
    const encCa = (W: string) => {
      ok(skycert(["init", "ca", "--out", "encpki", "--encrypt", "--passphrase-file", P.pass, ...EC], { cwd: W }));
      ok(skycert(["init", "agent", "--ca", "encpki", "--hosts", "h1=10.9.0.1", "--passphrase-file", P.pass, "--out", "encpki", ...EC], { cwd: W }));
    };
    const cases: [string, () => string, 1 | 2, RegExp][] = [
      ["empty", () => P.empty, 2, /--passphrase-file .*empty\.pem: the first line is empty/],
      ["a folder", () => P.dir, 2, /--passphrase-file .*a-folder: is a directory, not a file$/],
      ["/dev/zero", () => "/dev/zero", 2, /--passphrase-file \/dev\/zero: too large/],
      ["missing", () => join(H, "nope.txt"), 2, /--passphrase-file .*nope\.txt: no such file$/],
      ["the wrong passphrase", () => P.garbage, 1, /cannot decrypt CA key .*skydive-ca\.key: wrong passphrase/],
    ];
    for (const [name, file, code, line] of cases) {
      it(`${name}: one line, nothing replaced, and the passphrase never shown`, () => {
        const r = check({ name, args: (W) => ["renew", join(W, "encpki", "agents", "h1", "agent.crt"), "--passphrase-file", file()], setup: encCa, code, line });
        expect(r.stderr).not.toContain(PASSPHRASE);
      });
    }
  });
});

// ---------------------------------------------------------------------------
// inspect

describe("inspect: exit 1 for a file with nothing readable (listed on stdout), 2 for one that cannot be opened", () => {
  const c = (name: string, file: () => string, code: 1 | 2, line: RegExp): Case => ({ name, args: () => ["inspect", file()], code, line, stdout: code === 1 ? "any" : undefined, timeout: 60 });
  run([
    c("garbage", () => P.garbage, 1, /garbage\.pem: no PEM block, and not a DER certificate, request or key/),
    c("binary", () => P.binary, 1, /binary\.pem: no PEM block, and not a DER certificate, request or key/),
    c("truncated", () => P.truncated, 1, /truncated\.crt: line 1: a PEM block has no END line$/),
    c("corrupted base64", () => P.badBase64, 1, /bad-base64\.crt: line 1: a PEM block is not valid base64$/),
    c("empty", () => P.empty, 1, /empty\.pem: the file is empty$/),
    c("a FIFO nobody writes to: read as empty, no hang", () => P.fifo, 1, /fifo: the file is empty$/),
    c("a folder", () => P.dir, 2, /a-folder: is a directory, not a file$/),
    c("/dev/zero", () => "/dev/zero", 2, /\/dev\/zero: too large \(more than 16777216 bytes; limit 16777216\)$/),
    c("missing", () => join(H, "nope.pem"), 2, /nope\.pem: no such file$/),
    { name: "malformed YAML", args: () => ["inspect", "skydive.yml"], files: { "skydive.yml": "analyzer:\n  X509_cert: [unclosed\n" }, code: 1, stdout: "any", line: /skydive\.yml: / },
    { name: "a config whose settings are of the wrong type", args: () => ["inspect", "skydive.yml"], files: { "skydive.yml": "analyzer:\n  X509_cert: [1, 2]\n" }, code: 1, stdout: "any", line: /skydive\.yml: / },
    { name: "a config naming hostile files", args: () => ["inspect", "skydive.yml"], files: { "skydive.yml": `agent:\n  X509_cert: ${P.garbage}\n  X509_key: /dev/zero\n` }, code: 1, stdout: "any", line: /garbage\.pem|\/dev\/zero/ },
  ]);

  it("huge: refused without reading it", () => {
    // Over inspect's own limit (16 MiB).
    const W = scratch();
    writeFileSync(join(W, "huge.pem"), Buffer.alloc(17 * 1024 * 1024, 0x41));
    check({ name: "", args: () => ["inspect", join(W, "huge.pem")], code: 2, line: /huge\.pem: too large \(\d+ bytes; limit 16777216\)$/ });
  });

  it("an encrypted key is reported as encrypted, and not opened", () => {
    const r = JSON.parse(ok(skycert(["inspect", P.encrypted, "--json"])).stdout);
    expect(r.files[0].items).toEqual([expect.objectContaining({ kind: "private-key", encrypted: true })]);
    expect(JSON.stringify(r)).not.toContain(PASSPHRASE);
  });
});

// ---------------------------------------------------------------------------
// export

describe("export: hostile manifests, source configs and inventories (nothing written)", () => {
  const k8s = (W: string, extra: string[] = []) => ["export", "k8s", "--manifest", MANIFEST, "--cluster-ip", "10.96.0.50", "--out", join(W, "overlay"), "--from", join(W, "pki"), ...extra];
  const ansible = (W: string, inventory: string) => ["export", "ansible", "--inventory", inventory, "--out", join(W, "deploy"), "--from", join(W, "pki")];
  const withManifest = (W: string, m: string) => ["export", "k8s", "--manifest", m, "--cluster-ip", "10.96.0.50", "--out", join(W, "overlay"), "--from", join(W, "pki")];
  const source = (agent: { crt?: string; key?: string }) =>
    `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${agent.crt ?? P.crt}\n  X509_key: ${agent.key ?? P.key}\n`;
  const refused = /--inventory .*: .* \(fix: fix the inventory; ansible-playbook would refuse it too\)$/;
  run([
    { name: "--manifest garbage", args: (W) => withManifest(W, P.garbage), code: 2, line: /--manifest .*garbage\.pem:1: a document that is not a Kubernetes object \(a mapping\)$/ },
    { name: "--manifest malformed YAML, with its line", args: (W) => withManifest(W, join(W, "m.yaml")), files: { "m.yaml": "kind: Service\nmetadata: {name: [\n" }, code: 2, line: /--manifest .*m\.yaml:\d+: malformed YAML/ },
    { name: "--manifest with the wrong types", args: (W) => withManifest(W, join(W, "m.yaml")), files: { "m.yaml": "kind: Service\nmetadata: 5\nspec: [1]\n" }, code: 2, line: /--manifest .*m\.yaml: no Service skydive-analyzer/ },
    { name: "--manifest binary", args: (W) => withManifest(W, P.binary), code: 2, line: /--manifest .*binary\.pem:\d+: / },
    { name: "--manifest empty", args: (W) => withManifest(W, P.empty), code: 2, line: /--manifest .*empty\.pem: no Service skydive-analyzer/ },
    { name: "--manifest a folder", args: (W) => withManifest(W, P.dir), code: 2, line: /--manifest .*a-folder: is a directory, not a file$/ },
    { name: "--manifest /dev/zero", args: (W) => withManifest(W, "/dev/zero"), code: 2, line: /--manifest \/dev\/zero: too large/ },
    { name: "--manifest a FIFO", args: (W) => withManifest(W, P.fifo), code: 2, line: /--manifest .*fifo: no Service skydive-analyzer/, timeout: 60 },
    { name: "--manifest huge", args: (W) => withManifest(W, P.huge), code: 2, line: /--manifest .*huge\.pem: too large/ },
    // The source config.
    { name: "--config malformed YAML, with its line", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "analyzer: [unclosed\n" }, code: 2, line: /bad\.yml:\d+: malformed YAML \([^)]*\]\) \(fix: / },
    { name: "--config with a setting of the wrong type", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "analyzer:\n  X509_cert: 5\n  X509_key: [a]\n" }, code: 2, line: /bad\.yml: analyzer\.X509_cert is a number, not a file path/ },
    { name: "--config a list", args: (W) => k8s(W, ["--config", join(W, "bad.yml")]), files: { "bad.yml": "- a\n- b\n" }, code: 2, line: /bad\.yml: the top level is not a mapping of keys/ },
    { name: "--config a folder", args: (W) => k8s(W, ["--config", P.dir]), code: 2, line: /--config .*a-folder: is a directory, not a file$/ },
    { name: "--config /dev/zero", args: (W) => k8s(W, ["--config", "/dev/zero"]), code: 2, line: /--config \/dev\/zero: too large/ },
    { name: "--config huge", args: (W) => k8s(W, ["--config", P.huge]), code: 2, line: /--config .*huge\.pem: too large/ },
    // A source naming hostile files fails skycert validate: exit 1, the check and the file named.
    { name: "a source whose agent key is the certificate's own file", args: (W) => k8s(W, ["--config", join(W, "src.yml")]), files: { "src.yml": source({ key: P.crt }) }, code: 1, line: /skycert validate fails on the certificates to export, .*agent\.domain\.com\.crt/ },
    { name: "a source whose agent key is another pair's", args: (W) => k8s(W, ["--config", join(W, "src.yml")]), files: { "src.yml": source({ key: P.analyzerKey }) }, code: 1, line: /skycert validate fails on the certificates to export, .*key-match/ },
    ...HOSTILE_PEM.map(([what, file]): Case => ({
      name: `a source whose agent certificate is ${what}`,
      args: (W) => k8s(W, ["--config", join(W, "src.yml")]),
      setup: (W) => writeFileSync(join(W, "src.yml"), source({ crt: file() })),
      code: 1,
      timeout: 60,
      line: /skycert validate fails on the certificates to export, .*\((file-readable|pem-parse)[a-z-, ]*\): /,
    })),
    ...HOSTILE_PEM.filter(([what]) => what !== "an encrypted key").map(([what, file]): Case => ({
      name: `a source whose agent key is ${what}`,
      args: (W) => k8s(W, ["--config", join(W, "src.yml")]),
      setup: (W) => writeFileSync(join(W, "src.yml"), source({ key: file() })),
      code: 1,
      timeout: 60,
      line: /skycert validate fails on the certificates to export, .*\((file-readable|pem-parse|file-mode)[a-z-, ]*\): /,
    })),
    { name: "a source whose agent key is encrypted", args: (W) => k8s(W, ["--config", join(W, "src.yml")]), files: { "src.yml": source({ key: P.encrypted }) }, code: 1, line: /skycert validate fails on the certificates to export, .*\(pem-parse[a-z-, ]*\): .*encrypted\.key: private key is encrypted/ },
    // Inventories.
    { name: "an INI group header without ]", args: (W) => ansible(W, join(W, "inv")), files: { inv: "[analyzers]\nlocalhost\n[agents\nh1\n" }, code: 2, line: refused },
    { name: "an INI host line with an unclosed quote, with its line", args: (W) => ansible(W, join(W, "inv")), files: { inv: '[analyzers]\nlocalhost\n[agents]\nh1 ansible_host="10.0.0.1\n' }, code: 2, line: /--inventory .*inv: .*inv:4/ },
    { name: "an INI host variable without a value, with its line", args: (W) => ansible(W, join(W, "inv")), files: { inv: "[analyzers]\nlocalhost\n[agents]\nh1 ansible_host\n" }, code: 2, line: /--inventory .*inv: .*inv:4/ },
    { name: "malformed YAML", args: (W) => ansible(W, join(W, "inv.yml")), files: { "inv.yml": "all:\n  children:\n    agents:\n      hosts: [unclosed\n" }, code: 2, line: refused },
    { name: "YAML with the wrong types", args: (W) => ansible(W, join(W, "inv.yml")), files: { "inv.yml": "all:\n  children:\n    analyzers:\n      hosts: 5\n" }, code: 2, line: refused },
    { name: "--inventory a folder", args: (W) => ansible(W, P.dir), code: 2, line: refused },
    { name: "--inventory empty", args: (W) => ansible(W, P.empty), code: 2, line: /--inventory .*empty\.pem: no host in groups analyzers or agents/ },
    { name: "--inventory a FIFO nobody writes to: refused, no hang", args: (W) => ansible(W, P.fifo), code: 2, line: /--inventory .*fifo/, timeout: 15 },
    { name: "--inventory /dev/zero: refused, no hang", args: (W) => ansible(W, "/dev/zero"), code: 2, line: /--inventory \/dev\/zero/, timeout: 15 },
  ]);

  it("a host named like a path (../x, /etc) is only a name in the playbook: nothing is written outside --out", () => {
    const W = scratch();
    cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
    writeFileSync(join(W, "inv"), `[analyzers]\nlocalhost\n[agents]\n../x skydive_extra_config="{'logging': {'level': 'DEBUG'}}"\n/etc\n`);
    ok(skycert(["export", "ansible", "--inventory", "inv", "--out", "deploy", "--from", "pki"], { cwd: W }));
    expect(readdirSync(W).sort()).toEqual(["deploy", "inv", "pki"]);
    expect(readdirSync(join(W, "deploy")).sort()).toEqual(["files", "skydive-tls.yml"]);
    expect(existsSync(join(W, "x"))).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// probe

describe("probe: a hostile --cert, --key, --ca, --config or --fleet (exit 2, no connection made)", () => {
  const base = (W: string) => ["probe", "127.0.0.1:1", "--cert", join(W, "pki", "agent", "agent.domain.com.crt"), "--key", join(W, "pki", "agent", "agent.domain.com.key"), "--ca", P.analyzerCrt];
  const swap = (args: string[], flag: string, value: string) => args.map((a, i) => (args[i - 1] === flag ? value : a));
  const pemCases = (flag: string, lines: Record<string, RegExp>): Case[] =>
    HOSTILE_PEM.filter(([what]) => lines[what]).map(([what, file]) => ({ name: `${flag} ${what}`, args: (W: string) => swap(base(W), flag, file()), code: 2, line: lines[what]!, timeout: 60 }));
  run([
    ...pemCases("--cert", {
      garbage: /--cert .*garbage\.pem: no PEM certificate in it$/,
      "a truncated PEM": /--cert .*truncated\.crt: no PEM certificate in it/,
      "an empty file": /--cert .*empty\.pem: no PEM certificate in it$/,
      "a folder": /--cert .*a-folder: is a directory, not a file$/,
      "/dev/zero": /--cert \/dev\/zero: too large/,
      "a FIFO nobody writes to": /--cert .*fifo: no PEM certificate in it$/,
      "a huge file": /--cert .*huge\.pem: too large/,
      "an encrypted key": /--cert .*encrypted\.key: no PEM certificate in it$/,
    }),
    ...pemCases("--key", {
      garbage: /--key .*garbage\.pem: no PEM private key in it$/,
      "a truncated PEM": /--key .*truncated\.crt: no PEM private key in it/,
      "an empty file": /--key .*empty\.pem: the file is empty$/,
      "a folder": /--key .*a-folder: is a directory, not a file$/,
      "/dev/zero": /--key \/dev\/zero: too large/,
      "a FIFO nobody writes to": /--key .*fifo: the file is empty$/,
      "a huge file": /--key .*huge\.pem: too large/,
      "an encrypted key": /--key .*encrypted\.key: the key is encrypted, and Skydive \(like skycert probe\) reads unencrypted keys only$/,
    }),
    ...pemCases("--ca", {
      garbage: /--ca .*garbage\.pem: no PEM certificate in it$/,
      "an empty file": /--ca .*empty\.pem: no PEM certificate in it$/,
      "a folder": /--ca .*a-folder: is a directory, not a file$/,
      "/dev/zero": /--ca \/dev\/zero: too large/,
      "a FIFO nobody writes to": /--ca .*fifo: no PEM certificate in it$/,
      "a huge file": /--ca .*huge\.pem: too large/,
    }),
    { name: "--key the certificate", args: (W) => swap(base(W), "--key", P.crt), code: 2, line: /--key .*agent\.domain\.com\.crt: no PEM private key in it/ },
    { name: "--config malformed YAML, with its line", args: () => ["probe", "127.0.0.1:1", "--config", "bad.yml"], files: { "bad.yml": "analyzer:\n  X509_cert: [unclosed\n" }, code: 2, line: /bad\.yml:\d+: malformed YAML/ },
    { name: "--config a list", args: () => ["probe", "127.0.0.1:1", "--config", "bad.yml"], files: { "bad.yml": "- a\n" }, code: 2, line: /bad\.yml: the top level is not a mapping of keys/ },
    { name: "--config binary", args: () => ["probe", "127.0.0.1:1", "--config", P.binary], code: 2, line: /binary\.pem:1: not a YAML text file/ },
    { name: "--config a folder", args: () => ["probe", "127.0.0.1:1", "--config", P.dir], code: 2, line: /--config .*a-folder: is a directory, not a file$/ },
    { name: "--config huge", args: () => ["probe", "127.0.0.1:1", "--config", P.huge], code: 2, line: /--config .*huge\.pem: too large/ },
    { name: "--config with settings of the wrong type, naming the setting", args: () => ["probe", "127.0.0.1:1", "--config", "bad.yml"], files: { "bad.yml": "analyzer:\n  X509_cert: [1, 2]\n  X509_key: 5\n" }, code: 2, line: /bad\.yml: analyzer\.X509_cert is (a list, )?not a file path/ },
    { name: "--fleet a folder without a record", args: () => ["probe", "--fleet", P.dir], code: 2, line: /--fleet .*a-folder: no fleet record \(skycert\.json\) in it/ },
    { name: "--fleet a damaged record", args: () => ["probe", "--fleet", "f"], files: { "f/skycert.json": "{bad" }, code: 2, line: /f\/skycert\.json: not JSON/ },
    { name: "an address with a space", args: () => ["probe", "bad host"], code: 2, line: /address "bad host": not an IP address or a DNS name/ },
  ]);
});

// ---------------------------------------------------------------------------
// config set

describe("config set: a hostile FILE or assignment (the file untouched, no backup made)", () => {
  const set = (file: string, ...kv: string[]) => ["config", "set", file, ...(kv.length ? kv : ["agent.listen=10.0.0.1:8081"])];
  run([
    { name: "malformed YAML, with its line", args: () => set("skydive.yml"), files: { "skydive.yml": "analyzer:\n  X509_cert: [unclosed\n" }, code: 2, line: /skydive\.yml:\d+: malformed YAML .*\(fix: fix the file by hand; skycert does not overwrite a file it cannot read\)$/ },
    { name: "duplicate keys, which Skydive refuses", args: () => set("skydive.yml"), files: { "skydive.yml": "agent: {}\nagent: {}\n" }, code: 2, line: /skydive\.yml(:2: malformed YAML \(Map keys must be unique\)|: cannot update it without changing other keys)/ },
    { name: "a list", args: () => set("skydive.yml"), files: { "skydive.yml": "- a\n" }, code: 2, line: /skydive\.yml: the top level is not a mapping of keys$/ },
    { name: "a setting that is a list where a mapping is needed", args: () => set("skydive.yml", "analyzer.X509_cert.x=1"), files: { "skydive.yml": "analyzer:\n  X509_cert: [1, 2]\n" }, code: 2, line: /skydive\.yml: analyzer\.X509_cert is a list, not a mapping/ },
    { name: "binary bytes", args: () => set(P.binary), code: 2, line: /binary\.pem(:1)?: (malformed YAML|not a YAML text file|the top level is not a mapping of keys)/ },
    { name: "huge", args: () => set(P.huge), code: 2, line: /huge\.pem: too large/ },
    { name: "a folder", args: () => set(P.dir), code: 1, line: /cannot write .*a-folder: it is not a regular file$/ },
    { name: "/dev/zero", args: () => set("/dev/zero"), code: 1, line: /cannot write \/dev\/zero: it is not a regular file$/ },
    { name: "a FIFO: no hang", args: () => set(P.fifo), code: 1, line: /cannot write .*fifo: it is not a regular file$/, timeout: 60 },
    { name: "a path under a regular file", args: () => set(join(P.empty, "skydive.yml")), code: 1, line: /cannot use .*empty\.pem as a folder: it is a regular file/ },
    { name: "not KEY=VALUE", args: () => set("skydive.yml", "nokey"), files: { "skydive.yml": "agent: {}\n" }, code: 2, line: /"nokey" is not KEY=VALUE/ },
    { name: "a key with a space", args: () => set("skydive.yml", "a b=1"), files: { "skydive.yml": "agent: {}\n" }, code: 2, line: /"a b" is not a setting name/ },
  ]);
});

// ---------------------------------------------------------------------------
// flags, and failures with --debug and --json

describe("hostile flags and environment", () => {
  run([
    { name: "--days above 100 years", args: () => ["init", "agent", ...EC, "--days", "36501"], code: 2, line: /--days.*36501.*invalid/ },
    { name: "--days with a fraction", args: () => ["init", "agent", ...EC, "--days", "1.5"], code: 2, line: /--days.*1\.5.*invalid/ },
    { name: "--days in hex", args: () => ["init", "agent", ...EC, "--days", "0x10"], code: 2, line: /--days.*0x10.*invalid/ },
    { name: "--bits 2047", args: () => ["init", "agent", "--bits", "2047"], code: 2, line: /--bits.*2047.*invalid/ },
    { name: "--bits with --key-type ecdsa", args: () => ["init", "agent", ...EC, "--bits", "4096"], code: 2, line: /--bits is for RSA keys/ },
    { name: "a role in the wrong case", args: () => ["init", "Analyzer", ...EC], code: 2, line: /unknown init target "Analyzer"/ },
    { name: "roles joined with a comma", args: () => ["init", "analyzer,agent", ...EC], code: 2, line: /unknown init target "analyzer,agent"/ },
    { name: "--cn too long", args: () => ["init", "agent", ...EC, "--cn", "c".repeat(65)], code: 2, line: /--cn/ },
    { name: "--stem with a path", args: () => ["init", "agent", ...EC, "--stem", "../../etc/x"], code: 2, line: /--stem.*not a usable file name stem/ },
    { name: "--san with a space", args: () => ["init", "agent", ...EC, "--san", "bad host"], code: 2, line: /--san.*bad host/ },
    { name: "--san with a zone", args: () => ["init", "agent", ...EC, "--san", "fe80::1%eth0"], code: 2, line: /fe80::1%eth0.*IPv6 zone/ },
    { name: "a control character in --san is shown escaped", args: () => ["init", "agent", ...EC, "--san", "evil\u001b[31m.example"], code: 2, line: /evil\\u001b\[31m\.example/ },
    { name: "SKYCERT_LOCK_WAIT_MS not a number", args: () => ["init", "agent", ...EC], env: { SKYCERT_LOCK_WAIT_MS: "soon" }, code: 2, line: /SKYCERT_LOCK_WAIT_MS="soon": not a whole number of milliseconds$/ },
    { name: "--out a regular file", args: () => ["init", "agent", ...EC, "--out", "afile"], files: { afile: "x" }, code: 1, line: /cannot use .*afile as a folder: it is a regular file \(fix: choose another path\)$/ },
    { name: "--out a device", args: () => ["init", "agent", ...EC, "--out", "/dev/null"], code: 1, line: /cannot use \/dev\/null as a folder: it is a device/ },
    { name: "--out under /proc (no endless mkdir)", args: () => ["init", "agent", ...EC, "--out", "/proc/skycert-test/out"], code: 1, line: /cannot create folder \/proc\/skycert-test\/out: no such file or directory/, timeout: 60 },
    { name: "--out under a dangling symlink", args: () => ["init", "agent", ...EC, "--out", "dangling/out"], setup: (W) => symlinkSync(join(W, "nowhere"), join(W, "dangling")), code: 1, line: /cannot create folder .*dangling\/out: no such file or directory/ },
  ]);
});

describe("failures with --debug and --json: a stack trace only with --debug, and never key material", () => {
  /** No PEM private key, and no line of any key involved. */
  const noKeyMaterial = (r: Run, keys: string[]) => {
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain("PRIVATE KEY-----");
      for (const k of keys) for (const line of readFileSync(k, "utf8").split("\n").filter((l) => l.length > 40)) expect(out).not.toContain(line);
    }
  };
  const traced = (r: Run, first: RegExp) => {
    const [line, ...trace] = r.stderr.trim().split("\n");
    expect(line).toMatch(first);
    expect(trace.join("\n")).toMatch(/^\s+at /m);
  };
  const copy = () => {
    const W = scratch();
    cpSync(join(fx, "pki"), join(W, "pki"), { recursive: true });
    cpSync(join(fx, "capki"), join(W, "capki"), { recursive: true });
    return W;
  };

  it("renew with another key (after both keys were read), --debug --json", () => {
    const W = copy();
    const before = snapshot(W);
    const r = skycert(["renew", join(W, "pki", "agent", "agent.domain.com.crt"), "--key", join(W, "pki", "analyzer", "analyzer.domain.com.key"), "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    traced(r, /is not the key of/);
    noKeyMaterial(r, [P.key, P.analyzerKey]);
    expect(snapshot(W)).toEqual(before);
  });

  it("renew with an encrypted CA key and a wrong passphrase, SKYCERT_DEBUG=1", () => {
    const W = scratch();
    ok(skycert(["init", "ca", "--out", "encpki", "--encrypt", "--passphrase-file", P.pass, ...EC], { cwd: W }));
    ok(skycert(["init", "agent", "--ca", "encpki", "--hosts", "h1=10.9.0.1", "--passphrase-file", P.pass, "--out", "encpki", ...EC], { cwd: W }));
    writeFileSync(join(W, "wrong.txt"), `${registerSecret("not-the-passphrase-9")}\n`);
    const before = snapshot(W);
    const r = skycert(["renew", "encpki/agents/h1/agent.crt", "--passphrase-file", "wrong.txt", "--json"], { cwd: W, env: { SKYCERT_DEBUG: "1" } });
    expect(r.code).toBe(1);
    traced(r, /cannot decrypt CA key .*: wrong passphrase/);
    noKeyMaterial(r, [join(W, "encpki", "agents", "h1", "agent.key")]);
    expect(snapshot(W)).toEqual(before);
  });

  it("init whose write fails after the keys were made, --debug", () => {
    const W = scratch();
    writeFileSync(join(W, "afile"), "x");
    const before = snapshot(W);
    const r = skycert(["init", "analyzer", "agent", "--out", "afile/out", "--debug", ...EC], { cwd: W });
    expect(r.code).toBe(1);
    traced(r, /afile/);
    expect(r.stdout).not.toContain("PRIVATE KEY-----");
    expect(r.stderr).not.toContain("PRIVATE KEY-----");
    expect(snapshot(W)).toEqual(before);
  });

  it("init over files that exist, without --force, --json --debug", () => {
    const W = copy();
    const before = snapshot(W);
    const r = skycert(["init", "agent", "--out", "pki", "--json", "--debug", ...EC], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    traced(r, /already exist/);
    noKeyMaterial(r, [join(W, "pki", "agent", "agent.domain.com.key")]);
    expect(snapshot(W)).toEqual(before);
  });

  it("inspect of keys beside an unreadable file, --debug --json", () => {
    const r = skycert(["inspect", P.key, P.analyzerKey, P.encrypted, P.garbage, "--json", "--debug"]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.files.map((f: { error?: string }) => Boolean(f.error))).toEqual([false, false, false, true]);
    traced(r, /garbage\.pem: no PEM block/);
    noKeyMaterial(r, [P.key, P.analyzerKey, P.encrypted]);
  });

  it("export k8s refused by validate after reading every key, --debug --json", () => {
    const W = copy();
    // The agent key is the analyzer's: every file reads, and key-match fails.
    writeFileSync(join(W, "src.yml"), `analyzer:\n  X509_cert: ${P.analyzerCrt}\n  X509_key: ${P.analyzerKey}\nagent:\n  X509_cert: ${P.crt}\n  X509_key: ${P.analyzerKey}\n`);
    const before = snapshot(W);
    const r = skycert(["export", "k8s", "--manifest", MANIFEST, "--cluster-ip", "10.96.0.50", "--out", "overlay", "--config", "src.yml", "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    traced(r, /skycert validate fails on the certificates to export/);
    noKeyMaterial(r, [P.key, P.analyzerKey]);
    expect(snapshot(W)).toEqual(before);
  });

  it("export ansible over a bundle that differs, without --force, --debug --json", () => {
    const W = scratch();
    ok(skycert(["init", "analyzer", "agent", "--out", "pki", ...EC], { cwd: W }));
    writeFileSync(join(W, "inv"), "[analyzers]\nlocalhost\n[agents]\nagent1 ansible_host=127.0.0.1\n");
    ok(skycert(["export", "ansible", "--inventory", "inv", "--out", "deploy", "--from", "pki"], { cwd: W }));
    ok(skycert(["renew", "pki/agent/agent.domain.com.crt"], { cwd: W }));
    const before = snapshot(W);
    const r = skycert(["export", "ansible", "--inventory", "inv", "--out", "deploy", "--from", "pki", "--debug", "--json"], { cwd: W });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    traced(r, /exist and differ .*\(fix: pass --force/);
    noKeyMaterial(r, [join(W, "pki", "agent", "agent.domain.com.key"), join(W, "pki", "analyzer", "analyzer.domain.com.key")]);
    expect(snapshot(W)).toEqual(before);
  });

  it("validate --json of a failing pair prints the result, one line on stderr, and no key", () => {
    const W = copy();
    const r = skycert(["validate", "--analyzer-cert", P.analyzerCrt, "--analyzer-key", P.key, "--agent-cert", P.crt, "--agent-key", P.key, "--json"], { cwd: W });
    oneLine(r, 1);
    expect(JSON.parse(r.stdout).checks.some((c: { id: string; status: string }) => c.id === "key-match" && c.status === "fail")).toBe(true);
    noKeyMaterial(r, [P.key, P.analyzerKey]);
  });

  it("without --debug the same failures carry no trace", () => {
    oneLine(skycert(["inspect", P.garbage, "--json"]), 1);
    oneLine(skycert(["renew", P.garbage, "--json"]), 2);
  });
});

// ---------------------------------------------------------------------------
// Permissions

const setFiles = (dir: string, stem: string) => ({ key: join(dir, `${stem}.key`), csr: join(dir, `${stem}.csr`), crt: join(dir, `${stem}.crt`) });

/** A complete set: regular files, one public key (openssl), modes 0700 / 0400 / 0444 / 0444. */
function expectSet(dir: string, stem: string, csr = true): void {
  const f = setFiles(dir, stem);
  expect(lstatSync(dir).isDirectory()).toBe(true);
  expect([mode(dir), mode(f.key), ...(csr ? [mode(f.csr)] : []), mode(f.crt)]).toEqual(["700", "400", ...(csr ? ["444"] : []), "444"]);
  const pub = ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout;
  expect(ok(openssl(["x509", "-in", f.crt, "-noout", "-pubkey"])).stdout).toBe(pub);
  if (csr) expect(ok(openssl(["req", "-in", f.csr, "-noout", "-pubkey"])).stdout).toBe(pub);
}

describe("modes whatever the umask", () => {
  for (const umask of ["0377", "0000", "0077"]) {
    it(`umask ${umask}: keys 0400, requests and certificates 0444, set folders 0700, a new skydive.yml 0644, in every writer`, () => {
      const W = scratch();
      const sk = (args: string) => ok(sh(`umask ${umask} && exec "${process.execPath}" "${BIN}" ${args} --key-type ecdsa`, { cwd: W }), args);
      sk("init analyzer agent --out out");
      expectSet(join(W, "out", "agent"), "agent.domain.com");
      expectSet(join(W, "out", "analyzer"), "analyzer.domain.com");
      expect(mode(join(W, "out", "skydive.yml"))).toBe("644");
      sk("init ca --out pki");
      expectSet(join(W, "pki", "ca"), "skydive-ca", false);
      sk("init agent --ca pki --hosts h1=10.9.0.1,h2=10.9.0.2 --out pki");
      for (const h of ["h1", "h2"]) {
        expectSet(join(W, "pki", "agents", h), "agent");
        expect(mode(join(W, "pki", "agents", h, "skydive.yml"))).toBe("644");
      }
      // Replacing under the same umask keeps the modes: --force, renew --rekey, an export.
      sk("init analyzer agent --out out --force");
      expectSet(join(W, "out", "agent"), "agent.domain.com");
      ok(sh(`umask ${umask} && exec "${process.execPath}" "${BIN}" renew pki/agents/h1/agent.crt --rekey`, { cwd: W }));
      expect([mode(join(W, "pki", "agents", "h1")), mode(join(W, "pki", "agents", "h1", "agent.key")), mode(join(W, "pki", "agents", "h1", "agent.crt"))]).toEqual(["700", "400", "444"]);
    });
  }

  const STRACE = tool("strace", ["-f", "-qq", "-o", "/dev/null", "true"]).code === 0;
  it.skipIf(!STRACE)("a key is created 0400 with O_EXCL|O_NOFOLLOW and never chmod'ed; only a certificate a umask narrowed is (strace)", () => {
    const W = scratch();
    const trace = join(W, "trace");
    ok(sh(`umask 0377 && exec strace -f -qq -y -o "${trace}" -e trace=open,openat,chmod,fchmod,fchmodat "${process.execPath}" "${BIN}" init agent --key-type ecdsa`, { cwd: W }));
    const lines = readFileSync(trace, "utf8").split("\n");
    const creates = lines.filter((l) => /open(at)?\(.*O_CREAT/.test(l) && /agent\.domain\.com\.(key|csr|crt)"/.test(l));
    expect(creates).toHaveLength(3);
    for (const l of creates) {
      expect(l).toMatch(/O_WRONLY\|O_CREAT\|O_EXCL\|O_NOFOLLOW/);
      expect(l).toMatch(/\.key"/.test(l) ? /, 0400(\) = \d+| <unfinished)/ : /, 0444(\) = \d+| <unfinished)/);
    }
    const chmods = lines.filter((l) => /chmod/.test(l));
    expect(chmods.filter((l) => /\.key[>"]/.test(l))).toEqual([]);
    expect(chmods.filter((l) => /fchmod\(\d+<.*agent\.domain\.com\.(crt|csr)>, 0444/.test(l))).toHaveLength(2);
    expectSet(join(W, "agent"), "agent.domain.com");
  });
});

describe("never through a symlink", () => {
  /** Files outside the output folder that links point at, and their snapshot. */
  function outside(W: string) {
    const dir = join(W, "outside");
    mkdirSync(dir);
    for (const n of ["k", "c", "t"]) writeFileSync(join(dir, n), `precious ${n}\n`, { mode: 0o640 });
    return dir;
  }

  it("key, CSR and certificate links: refused without --force; --force replaces the links, never their targets", () => {
    const W = scratch();
    const out = outside(W);
    const f = setFiles(join(W, "agent"), "agent.domain.com");
    mkdirSync(join(W, "agent"), { mode: 0o700 });
    symlinkSync(join(out, "k"), f.key);
    symlinkSync(join(out, "c"), f.csr);
    symlinkSync(join(out, "t"), f.crt);
    const before = snapshot(W);
    expect(oneLine(skycert(["init", "agent", ...EC], { cwd: W }), 1)).toMatch(/agent\.domain\.com\.key, .*agent\.domain\.com\.csr, .*agent\.domain\.com\.crt already exist \(fix: pass --force/);
    expect(snapshot(W)).toEqual(before);
    const outBefore = snapshot(out);
    ok(skycert(["init", "agent", "--force", ...EC], { cwd: W }));
    expectSet(join(W, "agent"), "agent.domain.com");
    expect(snapshot(out)).toEqual(outBefore);
  });

  it("a dangling link: --force replaces it and never creates what it points to", () => {
    const W = scratch();
    mkdirSync(join(W, "agent"), { mode: 0o700 });
    symlinkSync(join(W, "would-be-created.key"), join(W, "agent", "agent.domain.com.key"));
    expect(oneLine(skycert(["init", "agent", ...EC], { cwd: W }), 1)).toMatch(/agent\.domain\.com\.key already exists/);
    ok(skycert(["init", "agent", "--force", ...EC], { cwd: W }));
    expectSet(join(W, "agent"), "agent.domain.com");
    expect(existsSync(join(W, "would-be-created.key"))).toBe(false);
  });

  it("a set folder that is a link to another folder: refused without --force; --force replaces the link itself", () => {
    const W = scratch();
    const elsewhere = join(W, "elsewhere");
    mkdirSync(join(elsewhere, "sub"), { recursive: true });
    writeFileSync(join(elsewhere, "sub", "f"), "keep\n");
    symlinkSync(elsewhere, join(W, "agent"));
    const before = snapshot(W);
    expect(oneLine(skycert(["init", "agent", ...EC], { cwd: W }), 1)).toBe(
      `skycert: error: cannot write into ${W}/agent: it is a symlink, and skycert never writes through one (fix: pass --force to replace the link itself)`,
    );
    expect(snapshot(W)).toEqual(before);
    const elsewhereBefore = snapshot(elsewhere);
    ok(skycert(["init", "agent", "--force", ...EC], { cwd: W }));
    expect(lstatSync(join(W, "agent")).isSymbolicLink()).toBe(false);
    expectSet(join(W, "agent"), "agent.domain.com");
    expect(snapshot(elsewhere)).toEqual(elsewhereBefore);
  });

  it("a fleet host's folder that is a link: --force replaces the link, the target is untouched", () => {
    const W = scratch();
    cpSync(join(fx, "capki"), join(W, "capki"), { recursive: true });
    const elsewhere = join(W, "elsewhere");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "agent.key"), "not a key\n");
    mkdirSync(join(W, "capki", "agents"), { recursive: true });
    symlinkSync(elsewhere, join(W, "capki", "agents", "h7"));
    const elsewhereBefore = snapshot(elsewhere);
    ok(skycert(["init", "agent", "--ca", "capki", "--hosts", "h7=10.9.0.7", "--out", "capki", "--force", ...EC], { cwd: W }));
    expectSet(join(W, "capki", "agents", "h7"), "agent");
    expect(snapshot(elsewhere)).toEqual(elsewhereBefore);
  });

  it("skydive.yml and skydive.yml.bak links: the config is read through its link and written beside it, targets untouched", () => {
    const W = scratch();
    const out = join(W, "outside");
    mkdirSync(out);
    writeFileSync(join(out, "real.yml"), "# the operator's file\nanalyzer:\n  listen: 0.0.0.0:8082\n");
    writeFileSync(join(out, "old.bak"), "an old backup\n");
    symlinkSync(join(out, "real.yml"), join(W, "skydive.yml"));
    const outBefore = snapshot(out);
    expect(oneLine(skycert(["init", "agent", ...EC], { cwd: W }), 1)).toMatch(/skydive\.yml is a symlink, and skycert never writes through one \(fix: pass --force to replace the link itself\)/);
    expect(existsSync(join(W, "agent"))).toBe(false);
    ok(skycert(["init", "agent", "--force", ...EC], { cwd: W }));
    expect(lstatSync(join(W, "skydive.yml")).isFile()).toBe(true);
    const yml = readFileSync(join(W, "skydive.yml"), "utf8");
    expect(yml).toContain("# the operator's file");
    expect(yml).toContain("X509_cert");
    expect(snapshot(out)).toEqual(outBefore);
    // A backup that is a link: the backup is made by linking and renaming, so the link is replaced.
    symlinkSync(join(out, "old.bak"), join(W, "skydive.yml.bak"));
    writeFileSync(join(W, "skydive.yml"), `${yml}# changed by hand\n`);
    ok(skycert(["config", "set", "skydive.yml", "agent.listen=127.0.0.1:8081"], { cwd: W }));
    expect(lstatSync(join(W, "skydive.yml.bak")).isFile()).toBe(true);
    expect(readFileSync(join(W, "skydive.yml.bak"), "utf8")).toContain("# changed by hand");
    expect(snapshot(out)).toEqual(outBefore);
  });

  it("renew of a certificate that is a link: refused without --force, --force replaces the link and never its target", () => {
    const W = scratch();
    ok(skycert(["init", "agent", ...EC], { cwd: W }));
    const crt = join(W, "agent", "agent.domain.com.crt");
    const target = join(W, "target.crt");
    cpSync(crt, target);
    // The folder is the owner's: make the link where the certificate was.
    tool("rm", ["-f", crt]);
    symlinkSync(target, crt);
    const before = snapshot(W);
    expect(oneLine(skycert(["renew", crt], { cwd: W }), 1)).toMatch(/agent\.domain\.com\.crt is a symlink, and skycert never writes through one \(fix: pass --force/);
    expect(snapshot(W)).toEqual(before);
    const targetBytes = readFileSync(target);
    ok(skycert(["renew", crt, "--force"], { cwd: W }));
    expect(lstatSync(crt).isFile()).toBe(true);
    expect(readFileSync(target).equals(targetBytes)).toBe(true);
    expect(mode(crt)).toBe("444");
  });

  it("config set on a link: refused, the link's target untouched", () => {
    const W = scratch();
    writeFileSync(join(W, "real.yml"), "agent: {}\n");
    symlinkSync(join(W, "real.yml"), join(W, "skydive.yml"));
    const before = snapshot(W);
    expect(oneLine(skycert(["config", "set", "skydive.yml", "agent.listen=1.2.3.4:8081"], { cwd: W }), 1)).toMatch(/skydive\.yml is a symlink, and skycert never writes through one/);
    expect(snapshot(W)).toEqual(before);
  });
});

describe("a CA key that group or others can read is refused, with the chmod 400 remedy, and nothing is written", () => {
  const dir = scratch("skycert-ca-mode-");
  const caKey = join(dir, "pki", "ca", "skydive-ca.key");
  const leaf = join(dir, "pki", "agents", "h1", "agent.crt");
  const commands: [string, string[]][] = [
    ["init analyzer --ca", ["init", "analyzer", "--ca", "pki", "--hosts", "a1=10.9.0.10", "--out", "out", ...EC]],
    ["a fleet run with --inventory", ["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "out", ...EC]],
    ["init client", ["init", "client", "alice", "--ca", "pki", "--out", "out", ...EC]],
    ["renew --ca", ["renew", leaf, "--ca", "pki"]],
    ["renew, the CA found by the fleet record", ["renew", leaf]],
    ["renew --fleet", ["renew", "--fleet", "pki", "--within", "4000d"]],
  ];

  beforeAll(() => {
    ok(skycert(["init", "ca", "--out", "pki", ...EC], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--hosts", "h1=10.9.0.1", "--out", "pki", ...EC], { cwd: dir }));
    writeFileSync(join(dir, "hosts.ini"), "[agents]\nh2 ansible_host=10.9.0.2\n");
  });

  // Readable by group, readable by others, accessible (execute only) by group.
  it.each([0o440, 0o404, 0o410].map((m) => [m.toString(8), m] as const))("mode 0%s", (_octal, m) => {
    chmodSync(caKey, m);
    try {
      for (const [name, args] of commands) {
        const before = snapshot(dir);
        const line = oneLine(skycert(args, { cwd: dir }), 1);
        expect(line, name).toMatch(
          new RegExp(`CA key ${esc(caKey)} is ${m & 0o044 ? "readable" : "accessible"} by group or others \\(mode 0${m.toString(8)}\\); skycert refuses to use it \\(fix: chmod 400 ${esc(caKey)}, and check who may have copied it\\)$`),
        );
        expect(snapshot(dir), name).toEqual(before);
      }
    } finally {
      chmodSync(caKey, 0o400);
    }
  });

  it("0400 and 0600 are accepted", () => {
    for (const m of [0o400, 0o600]) {
      chmodSync(caKey, m);
      ok(skycert(["renew", leaf, "--ca", "pki"], { cwd: dir }), `mode ${m.toString(8)}`);
    }
    chmodSync(caKey, 0o400);
  });
});

describe("a set folder its owner made read-only", () => {
  // As root every folder is writable: run as nobody (setpriv).
  const asNobody = tool("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, "--version"]).code === 0;
  const nobody = (args: string[], cwd: string) => tool("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, ...args], { cwd, env: { NO_COLOR: "1" } });

  it.skipIf(!asNobody)("chmod 500: --force replaces the set, and nothing is left behind", () => {
    const W = scratch();
    chmodSync(W, 0o777);
    ok(nobody(["init", "agent", "--out", "out", ...EC], W));
    const before = readFileSync(join(W, "out", "agent", "agent.domain.com.crt"), "utf8");
    chmodSync(join(W, "out", "agent"), 0o500);
    ok(nobody(["init", "agent", "--out", "out", "--force", ...EC], W));
    expect(readFileSync(join(W, "out", "agent", "agent.domain.com.crt"), "utf8")).not.toBe(before);
    expect(readdirSync(join(W, "out")).sort()).toEqual(["agent", "skycert.json", "skydive.yml"]);
    expectSet(join(W, "out", "agent"), "agent.domain.com");
  });

  it.skipIf(!asNobody)("a folder the user cannot write: one line naming it, nothing created", () => {
    const W = scratch();
    chmodSync(W, 0o755);
    mkdirSync(join(W, "out"), { mode: 0o755 });
    const before = snapshot(W);
    expect(oneLine(nobody(["init", "agent", "--out", "out", ...EC], W), 1)).toMatch(new RegExp(`${esc(W)}/out.*(permission denied|EACCES)`));
    expect(oneLine(nobody(["init", "agent", "--out", "out/sub", ...EC], W), 1)).toMatch(new RegExp(`cannot create folder ${esc(W)}/out/sub: permission denied`));
    expect(snapshot(W)).toEqual(before);
  });
});
