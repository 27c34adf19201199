/**
 * Hostile input for `init` and the cnf parser: each is refused with ONE line on
 * stderr that names the input at fault, the documented exit code (2 for usage
 * and unreadable or invalid inputs, 1 for failures), and no file created or
 * changed anywhere under the working folder (a snapshot of the tree, modes and
 * contents before and after). Classes test/init.test.ts already covers (a cnf
 * syntax error, --days 0/-5/abc, --bits 1024, unknown role "router", bad --san
 * with a space, empty, double wildcard or a 64-character label, --out under a
 * regular file) are not repeated here.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, SEED_CNF, type Run, scratch, skycert, tool } from "./helpers/run.js";
import { snapshot } from "./helpers/tree.js";

/** Control characters and line breaks that would forge or split the one line. */
const UNPRINTABLE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;

function expectOneLine(r: Run, code: number, line: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr.endsWith("\n")).toBe(true);
  const lines = r.stderr.slice(0, -1).split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(lines[0]).not.toMatch(UNPRINTABLE);
  expect(lines[0]!.length).toBeLessThan(2000);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

interface Case {
  name: string;
  args: string[];
  /** Files to write in the working folder before the run (a Buffer for binary content). */
  files?: Record<string, string | Buffer>;
  setup?: (dir: string) => void;
  code: 1 | 2;
  line: RegExp | ((dir: string) => RegExp);
  env?: NodeJS.ProcessEnv;
}

function check(c: Case): void {
  const dir = scratch();
  for (const [name, body] of Object.entries(c.files ?? {})) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  c.setup?.(dir);
  const before = snapshot(dir);
  const r = skycert(c.args, { cwd: dir, env: c.env });
  expectOneLine(r, c.code, typeof c.line === "function" ? c.line(dir) : c.line);
  expect(snapshot(dir)).toEqual(before);
}

const seed = readFileSync(SEED_CNF, "utf8");
const CNF = "skydive-openssl.cnf";
/** The seed with `[alt_names]` replaced by `alt`. */
const withAltNames = (alt: string) => {
  const text = seed.replace(/\[alt_names\][\s\S]*$/, `[alt_names]\n${alt}\n`);
  if (text === seed) throw new Error("the seed has no [alt_names] section");
  return text;
};

describe("hostile cnf files", () => {
  const cases: Case[] = [
    // Binary, huge, unclosed headers
    { name: "a binary file (an ELF executable)", args: ["init", "agent"], setup: (d) => copyFileSync("/bin/true", join(d, CNF)), code: 2, line: /skydive-openssl\.cnf:1: binary data \(NUL byte\): this is not an OpenSSL config file$/ },
    { name: "a binary file with a NUL byte", args: ["init", "agent"], files: { [CNF]: Buffer.concat([Buffer.from("[req]\n"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00])]) }, code: 2, line: /skydive-openssl\.cnf:2: binary data \(NUL byte\)/ },
    { name: "binary without NUL: escape sequences and invalid UTF-8 are shown escaped", args: ["init", "agent"], files: { [CNF]: Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x0d, 0x07, 0x41, 0x0a]) }, code: 2, line: /skydive-openssl\.cnf:1: missing equal sign near "\\u001b\[2J\ufffd\ufffd\\r\\u0007A"/ },
    { name: "over 1 MiB", args: ["init", "agent"], files: { [CNF]: `${seed}\n# ${"x".repeat(1024 * 1024)}\n` }, code: 2, line: /^skycert: error: cnf \/.*skydive-openssl\.cnf: too large \(\d+ bytes; limit 1048576\)$/ },
    { name: "--cnf /dev/zero: endless input is cut at the limit", args: ["init", "agent", "--cnf", "/dev/zero"], code: 2, line: /--cnf \/dev\/zero: too large \(more than 1048576 bytes; limit 1048576\)/ },
    { name: "--cnf a FIFO nobody writes to: read as empty, no hang", args: ["init", "agent", "--cnf", "fifo"], setup: (d) => tool("mkfifo", [join(d, "fifo")]), code: 2, line: /fifo: no \[v3_req\] section/ },
    { name: "--cnf a folder", args: ["init", "agent", "--cnf", "d"], setup: (d) => mkdirSync(join(d, "d")), code: 2, line: /--cnf .*\/d: is a directory, not a file/ },
    { name: "--cnf missing", args: ["init", "agent", "--cnf", "nope.cnf"], code: 2, line: /--cnf .*nope\.cnf: no such file/ },
    { name: "an unclosed header in an included file", args: ["init", "agent"], files: { [CNF]: `.include inc.cnf\n${seed}`, "inc.cnf": "a = 1\n[ broken\n" }, code: 2, line: /inc\.cnf:2: missing close square bracket in section header/ },
    { name: "an unclosed header on the last line, without a line end", args: ["init", "agent"], files: { [CNF]: `${seed}\n[ v3_extra` }, code: 2, line: /skydive-openssl\.cnf:\d+: missing close square bracket/ },
    // Undefined variables and .include loops
    { name: "an undefined variable in an included file", args: ["init", "agent"], files: { [CNF]: `.include inc.cnf\n${seed}`, "inc.cnf": "a = 1\nb = ${nothere}\n" }, code: 2, line: /inc\.cnf:2: variable has no value: \$nothere/ },
    { name: "an undefined section variable", args: ["init", "agent"], files: { [CNF]: withAltNames("DNS.1 = $nosection::host.example") }, code: 2, line: /skydive-openssl\.cnf:\d+: variable has no value: \$nosection::host/ },
    { name: "an undefined $ENV variable", args: ["init", "agent"], files: { [CNF]: withAltNames("DNS.1 = ${ENV::SKYCERT_SURELY_UNSET}.example") }, code: 2, line: /variable has no value: \$ENV::SKYCERT_SURELY_UNSET/ },
    { name: "an .include loop", args: ["init", "agent"], files: { [CNF]: `.include a.cnf\n${seed}`, "a.cnf": "x = 1\n.include b.cnf\n", "b.cnf": "y = 2\n.include a.cnf\n" }, code: 2, line: /b\.cnf:2: \.include loop: .*a\.cnf -> .*b\.cnf -> .*a\.cnf/ },
    { name: "a file that includes itself", args: ["init", "agent"], files: { [CNF]: `.include ${CNF}\n${seed}` }, code: 2, line: /skydive-openssl\.cnf:1: \.include loop/ },
    { name: "an .include of a missing file", args: ["init", "agent"], files: { [CNF]: `${seed}\n.include missing.cnf\n` }, code: 2, line: /skydive-openssl\.cnf:\d+: \.include "missing\.cnf": no such file or directory/ },
    { name: "an .include of /dev/zero: cut at the limit, not the memory", args: ["init", "agent"], files: { [CNF]: `.include /dev/zero\n${seed}` }, code: 2, line: /skydive-openssl\.cnf:1: \.include \/dev\/zero: too large \(more than 1048576 bytes; limit 1048576\)$/ },
    { name: "an .include of a FIFO nobody writes to: read as empty, no hang", args: ["init", "agent"], files: { [CNF]: `${seed}\n.include fifo\nx = $nothere\n` }, setup: (d) => tool("mkfifo", [join(d, "fifo")]), code: 2, line: /skydive-openssl\.cnf:\d+: variable has no value: \$nothere/ },
    { name: "an .include of a folder of 70 config files", args: ["init", "agent"], files: { [CNF]: `.include many\n${seed}`, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`many/${i}.cnf`, `a${i} = 1\n`])) }, code: 2, line: /skydive-openssl\.cnf:1: \.include many: 70 config files in one folder \(at most 64\)$/ },
    { name: "an exponential variable expansion", args: ["init", "agent"], files: { [CNF]: `v0 = ${"x".repeat(64)}\n${Array.from({ length: 16 }, (_, i) => `v${i + 1} = $v${i}$v${i}`).join("\n")}\n${seed}` }, code: 2, line: /skydive-openssl\.cnf:1[0-9]: variable expansion too long \(over 65536 characters\)/ },
    // Missing @sections and unknown extensions
    { name: "req_extensions names a missing section", args: ["init", "agent"], files: { [CNF]: seed.replace("req_extensions = v3_req", "req_extensions = v3_nowhere") }, code: 2, line: /skydive-openssl\.cnf:\d+: extension section \[v3_nowhere\] is not defined/ },
    { name: "extendedKeyUsage = @section is a list, and a missing one is named", args: ["init", "agent"], files: { [CNF]: seed.replace(/extendedKeyUsage = .*/, "extendedKeyUsage = @ekus") }, code: 2, line: /skydive-openssl\.cnf:\d+: extendedKeyUsage refers to section \[ekus\], which is not defined/ },
    { name: "an @section that is empty", args: ["init", "agent"], files: { [CNF]: withAltNames("").replace("[alt_names]\n", "[alt_names]\n[ other ]\nx = 1\n") }, code: 2, line: /skydive-openssl\.cnf:\d+: section \[alt_names\] used by subjectAltName is empty/ },
    { name: "an unknown extension", args: ["init", "agent"], files: { [CNF]: seed.replace("[ v3_req ]", "[ v3_req ]\nfrobnicate = yes") }, code: 2, line: /skydive-openssl\.cnf:\d+: unknown extension name "frobnicate"/ },
    { name: "an extension skycert does not issue", args: ["init", "agent"], files: { [CNF]: seed.replace("[ v3_req ]", "[ v3_req ]\nnsComment = hello") }, code: 2, line: /skydive-openssl\.cnf:\d+: extension nsComment is not supported by skycert/ },
    { name: "a raw DER: value", args: ["init", "agent"], files: { [CNF]: seed.replace(/keyUsage = .*/, "keyUsage = DER:03:02:05:a0") }, code: 2, line: /skydive-openssl\.cnf:\d+: keyUsage: raw DER: values are not supported/ },
    { name: "an unknown SAN type", args: ["init", "agent"], files: { [CNF]: withAltNames("otherName.1 = 1.2.3;UTF8:x") }, code: 2, line: /skydive-openssl\.cnf:\d+: subjectAltName: otherName names are not supported/ },
    // Bad IPs in [alt_names] and oversized values
    { name: "an IPv6 SAN with a zone", args: ["init", "agent"], files: { [CNF]: withAltNames("IP.1 = fe80::1%eth0") }, code: 2, line: /skydive-openssl\.cnf:\d+: subjectAltName: IP "fe80::1%eth0" has an IPv6 zone/ },
    { name: "an IP SAN with a prefix length", args: ["init", "agent"], files: { [CNF]: withAltNames("IP.1 = 10.0.0.0/8") }, code: 2, line: /subjectAltName: IP "10\.0\.0\.0\/8" is not an IPv4 or IPv6 address/ },
    { name: "an IP SAN in inet_aton hex form", args: ["init", "agent"], files: { [CNF]: withAltNames("IP.1 = 0x7f.1") }, code: 2, line: /subjectAltName: IP "0x7f\.1" is not an IPv4 or IPv6 address/ },
    { name: "an IPv4-mapped IPv6 SAN with a bad IPv4 part", args: ["init", "agent"], files: { [CNF]: withAltNames("IP.1 = ::ffff:1.2.3.999") }, code: 2, line: /subjectAltName: IP "::ffff:1\.2\.3\.999" is not an IPv4 or IPv6 address/ },
    { name: "a DNS SAN of 300 characters", args: ["init", "agent"], files: { [CNF]: withAltNames(`DNS.1 = ${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(56)}.example`) }, code: 2, line: /subjectAltName: DNS name "a{60}\.b{60}\.c{60}\.d{60}\.e{56}\.example" is 308 characters long \(at most 253\)$/ },
    { name: "a value of 70000 characters", args: ["init", "agent"], files: { [CNF]: withAltNames(`URI.1 = https://a.example/${"p".repeat(70_000)}`) }, code: 2, line: /skydive-openssl\.cnf:\d+: the value of URI\.1 is 70018 characters long \(at most 65536\)$/ },
    { name: "a CR and an escape sequence in a SAN are shown escaped", args: ["init", "agent"], files: { [CNF]: withAltNames('DNS.1 = "bad\rname\x1b[31m.example"') }, code: 2, line: /subjectAltName: DNS name "bad\\rname\\u001b\[31m\.example" contains whitespace/ },
    { name: "a \\n escape in a SAN stays on the one line", args: ["init", "agent"], files: { [CNF]: withAltNames("DNS.1 = two\\nlines.example") }, code: 2, line: /subjectAltName: DNS name "two\\nlines\.example" contains whitespace/ },
    { name: "a bidi override in a SAN is shown escaped", args: ["init", "agent"], files: { [CNF]: withAltNames('DNS.1 = "evil\u202egro.example"') }, code: 2, line: /DNS name "evil\\u202egro\.example" has a label/ },
  ];
  for (const c of cases) it(c.name, () => check(c));

  it("--cnf a socket", async () => {
    const dir = scratch();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, "sock"), resolve));
    try {
      const before = snapshot(dir);
      expectOneLine(skycert(["init", "agent", "--cnf", "sock"], { cwd: dir }), 2, new RegExp(`--cnf ${dir}/sock: a socket, not a file$`));
      expect(snapshot(dir)).toEqual(before);
    } finally {
      server.close();
    }
  });
});

describe("hostile flags", () => {
  const cases: Case[] = [
    { name: "--days above 100 years", args: ["init", "agent", "--days", "36501"], code: 2, line: /'--days <n>' argument '36501' is invalid\. Days must be at most 36500/ },
    { name: "--days with a fraction", args: ["init", "agent", "--days", "1.5"], code: 2, line: /'--days <n>' argument '1\.5' is invalid\. Days must be a whole number/ },
    { name: "--days empty", args: ["init", "agent", "--days", ""], code: 2, line: /'--days <n>' argument '' is invalid/ },
    { name: "--days in hex", args: ["init", "agent", "--days", "0x10"], code: 2, line: /argument '0x10' is invalid\. Days must be a whole number/ },
    { name: "--bits 2047", args: ["init", "agent", "--bits", "2047"], code: 2, line: /'--bits <n>' argument '2047' is invalid\. RSA keys below 2048 bits are refused/ },
    { name: "--bits negative", args: ["init", "agent", "--bits", "-4096"], code: 2, line: /--bits/ },
    { name: "--bits not a multiple of 8", args: ["init", "agent", "--bits", "4100"], code: 2, line: /argument '4100' is invalid\. Bits must be a multiple of 8/ },
    { name: "--bits huge", args: ["init", "agent", "--bits", "99999999999999999999"], code: 2, line: /argument '99999999999999999999' is invalid\. At most 16384 bits/ },
    { name: "--bits non-numeric", args: ["init", "agent", "--bits", "lots"], code: 2, line: /argument 'lots' is invalid\. Bits must be a whole number/ },
    { name: "a role in the wrong case", args: ["init", "Analyzer"], code: 2, line: /'Analyzer' is invalid for argument 'role'\. Allowed choices are analyzer, agent/ },
    { name: "roles given with a comma", args: ["init", "analyzer,agent"], code: 2, line: /'analyzer,agent' is invalid for argument 'role'/ },
    { name: "an empty role", args: ["init", ""], code: 2, line: /'' is invalid for argument 'role'/ },
    { name: "no role", args: ["init"], code: 2, line: /missing required argument 'role'/ },
    { name: "--cn too long", args: ["init", "agent", "--cn", "c".repeat(65)], code: 2, line: /--cn: "c{20}\.\.\." is 65 characters \(a common name is at most 64\)/ },
    { name: "--cn empty", args: ["init", "agent", "--cn", " "], code: 2, line: /--cn: empty common name/ },
    { name: "--stem with a path", args: ["init", "agent", "--stem", "../../etc/x"], code: 2, line: /--stem: "\.\.\/\.\.\/etc\/x" is not a usable file name stem/ },
    { name: "--extensions naming no section", args: ["init", "agent", "--extensions", "v3_none"], code: 2, line: /--extensions v3_none: .*skydive-openssl\.cnf has no section \[v3_none\]/ },
    { name: "SKYCERT_LOCK_WAIT_MS not a number", args: ["init", "agent"], env: { SKYCERT_LOCK_WAIT_MS: "-1" }, code: 2, line: /SKYCERT_LOCK_WAIT_MS="-1": not a whole number of milliseconds/ },
  ];
  for (const c of cases) it(c.name, () => check(c));
});

describe("hostile --san values", () => {
  const san = (value: string, line: RegExp): Case => ({ name: `--san ${JSON.stringify(value).slice(0, 40)}`, args: ["init", "agent", "--san", value], code: 2, line });
  const cases: Case[] = [
    san(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(60)}.example`, /is 260 characters long \(at most 253\)/),
    san("a,,b.example", /argument 'a,,b\.example' is invalid\. "" is empty/),
    san("*.com", /"\*\.com" has a wildcard directly above a top-level domain/),
    san("foo.*.example.com", /has a wildcard that is not the whole leftmost label/),
    san("-lead.example", /"-lead\.example" has a label "-lead" that starts or ends with a hyphen/),
    san("under_score.example", /has a label "under_score" with characters other than letters, digits and hyphens/),
    san("trailing.dot.", /has an empty label \(leading, trailing or double dot\)/),
    san("bücher.example", /has a label "bücher" with characters other than letters, digits and hyphens/),
    san("fe80::1%eth0", /"fe80::1%eth0" has an IPv6 zone, which a certificate cannot carry/),
    san("1.2.3.256", /"1\.2\.3\.256" looks like an IP address but is not a valid one/),
    san("0x7f.1", /"0x7f\.1" looks like an IP address but is not a valid one/),
    san("10.0.0.1/24", /"10\.0\.0\.1\/24" has a label "1\/24"/),
  ];
  for (const c of cases) it(c.name, () => check(c));
});

describe("hostile output paths", () => {
  const cases: Case[] = [
    { name: "--out is a regular file", args: ["init", "agent", "--out", "afile"], files: { afile: "x" }, code: 1, line: (d) => new RegExp(`cannot use ${d}/afile as a folder: it is a regular file \\(fix: choose another path\\)$`) },
    { name: "--out is a device", args: ["init", "agent", "--out", "/dev/null"], code: 1, line: /cannot use \/dev\/null as a folder: it is a device/ },
    { name: "--out under /proc (mkdir says ENOENT under an existing parent; Node's recursive mkdir would spin forever)", args: ["init", "agent", "--out", "/proc/skycert-test/out"], code: 1, line: /cannot create folder \/proc\/skycert-test\/out: no such file or directory/ },
    { name: "--out under /sys", args: ["init", "agent", "--out", "/sys/skycert-test"], code: 1, line: /cannot create folder \/sys\/skycert-test: (operation not permitted|permission denied|read-only file system)/ },
    { name: "--out under a dangling symlink", args: ["init", "agent", "--out", "dangling/out"], setup: (d) => symlinkSync(join(d, "nowhere"), join(d, "dangling")), code: 1, line: /cannot create folder .*\/dangling\/out: no such file or directory/ },
    { name: "--out whose role folder is a regular file", args: ["init", "agent"], files: { agent: "not a folder\n" }, code: 1, line: /cannot write into .*\/agent: it is not a folder|agent: a parent of this path is a regular file/ },
  ];
  for (const c of cases) it(c.name, () => check(c));

  const asNobody = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, "--version"], { encoding: "utf8" }).status === 0;
  const nobody = (args: string[], cwd: string) => tool("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, ...args], { cwd, env: { NO_COLOR: "1" } });

  it.skipIf(!asNobody)("a folder the user cannot write (run as nobody with setpriv)", () => {
    const dir = scratch();
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "out"), { mode: 0o755 });
    const before = snapshot(dir);
    expectOneLine(nobody(["init", "agent", "--out", "out"], dir), 1, new RegExp(`cannot create lock ${dir}/out/\\.skycert\\.lock: permission denied \\(fix: check the folder's owner and mode, or choose another --out\\)`));
    expectOneLine(nobody(["init", "agent", "--out", "out/sub"], dir), 1, new RegExp(`cannot create folder ${dir}/out/sub: permission denied`));
    expect(snapshot(dir)).toEqual(before);
  });

  it.skipIf(!asNobody)("a cnf the user cannot read (run as nobody)", () => {
    const dir = scratch();
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, "secret.cnf"), seed, { mode: 0o600 });
    const before = snapshot(dir);
    expectOneLine(nobody(["init", "agent", "--cnf", "secret.cnf"], dir), 2, new RegExp(`--cnf ${dir}/secret\\.cnf: permission denied`));
    expect(snapshot(dir)).toEqual(before);
  });

  const roBind = tool("unshare", ["-m", "sh", "-c", "mount --bind -o ro /tmp /tmp"]).code === 0;
  it.skipIf(!roBind)("a read-only file system (a read-only bind mount in a private mount namespace)", () => {
    const dir = scratch();
    mkdirSync(join(dir, "out"));
    const before = snapshot(dir);
    const r = tool("unshare", ["-m", "sh", "-c", `mount --bind -o ro "$1" "$1" && exec "$2" "$3" init agent --out "$1"`, "sh", join(dir, "out"), process.execPath, BIN], { env: { NO_COLOR: "1" } });
    expectOneLine(r, 1, new RegExp(`cannot create lock ${dir}/out/\\.skycert\\.lock: read-only file system \\(fix: choose another --out\\)`));
    expect(snapshot(dir)).toEqual(before);
  });

  it("a malformed skydive.yml is refused before any key is written", () =>
    check({ name: "", args: ["init", "agent"], files: { "skydive.yml": "agent: [unclosed\n  x: 1\n" }, code: 2, line: /skydive\.yml:1: malformed YAML/ }));

  // The config's path is checked before any key is written, so nothing is left behind.
  const configCases: Case[] = [
    { name: "--config under a regular file", args: ["init", "agent", "--config", "afile/sky.yml"], files: { afile: "x" }, code: 1, line: /afile/ },
    { name: "skydive.yml is a symlink (without --force)", args: ["init", "agent"], setup: (d) => { writeFileSync(join(d, "target.yml"), "agent: {}\n"); symlinkSync(join(d, "target.yml"), join(d, "skydive.yml")); }, code: 1, line: /skydive\.yml is a symlink, and skycert never writes through one/ },
  ];
  for (const c of configCases) it(`refused before any key is written: ${c.name}`, () => check(c));
});

describe("--debug and SKYCERT_DEBUG=1 print a stack trace, and still no key material", () => {
  // The whole suite's streams are also checked for PEM private keys (global-setup); here each
  // failure path that runs after keys exist is checked directly, with the debug trace on.
  const paths: Case[] = [
    { name: "a write that fails after key generation", args: ["init", "analyzer", "agent", "--out", "afile/out", "--debug"], files: { afile: "x" }, code: 1, line: /afile/ },
    { name: "a lock held by another run", args: ["init", "agent", "--debug"], setup: (d) => writeFileSync(join(d, ".skycert.lock"), `${process.pid}\n`), env: { SKYCERT_LOCK_WAIT_MS: "0" }, code: 1, line: /another skycert run/ },
    { name: "files that exist without --force", args: ["init", "agent"], setup: (d) => { mkdirSync(join(d, "agent")); writeFileSync(join(d, "agent", "agent.domain.com.key"), "old\n"); }, env: { SKYCERT_DEBUG: "1" }, code: 1, line: /already exist/ },
    { name: "a cnf error", args: ["init", "agent", "--debug"], files: { [CNF]: "[ v3_req\n" }, code: 2, line: /missing close square bracket/ },
  ];
  for (const c of paths) {
    it(c.name, () => {
      const dir = scratch();
      for (const [name, body] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), body);
      c.setup?.(dir);
      const before = snapshot(dir);
      const r = skycert(c.args, { cwd: dir, env: c.env });
      expect(r.code).toBe(c.code);
      const [first, ...trace] = r.stderr.trim().split("\n");
      expect(first).toMatch(c.line as RegExp);
      expect(trace.length).toBeGreaterThan(0);
      expect(trace.join("\n")).toMatch(/^\s+at /m);
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain("PRIVATE KEY");
        expect(out).not.toMatch(/[A-Za-z0-9+/]{64}/); // no PEM body line, nor a long base64 run
      }
      expect(snapshot(dir)).toEqual(before);
    });
  }

  it("--json on success holds no key material", () => {
    const dir = scratch();
    const r = skycert(["init", "agent", "--json", "--debug"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).not.toContain("PRIVATE KEY");
    expect(r.stdout).not.toMatch(/[A-Za-z0-9+/]{64}/);
    const key = readFileSync(join(dir, "agent", "agent.domain.com.key"), "utf8").split("\n")[1]!;
    expect(r.stdout).not.toContain(key.slice(0, 32));
  });
});
