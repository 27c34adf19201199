/**
 * The cnf parser against OpenSSL itself: each snippet is given to `openssl req`
 * (the SANs it puts in a CSR are what OpenSSL parsed) and to skycert's parser.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CnfError, getEntry, parseCnf, printCnf } from "../src/pki/cnf.js";
import { SkycertError } from "../src/cli/errors.js";
import { readExtensionSection } from "../src/pki/extensions.js";
import { loadCnf } from "../src/pki/cnf.js";
import { SEED_CNF, ok, openssl, scratch } from "./helpers/run.js";

const dir = scratch("skycert-cnf-");
const key = join(dir, "k.pem");
ok(openssl(["genrsa", "-out", key, "2048"]), "genrsa");

const HEAD = "[req]\ndistinguished_name = dn\n[dn]\n";

/** What OpenSSL puts in subjectAltName for section [ext] of `text`, or its error. */
function opensslSans(name: string, text: string, files: Record<string, string> = {}, env: Record<string, string> = {}) {
  const case_ = join(dir, name.replace(/\W+/g, "_"));
  mkdirSync(case_, { recursive: true });
  for (const [f, body] of Object.entries(files)) {
    mkdirSync(join(case_, f, ".."), { recursive: true });
    writeFileSync(join(case_, f), body);
  }
  writeFileSync(join(case_, "t.cnf"), text);
  const r = openssl(["req", "-new", "-config", "t.cnf", "-key", key, "-subj", "/CN=x", "-reqexts", "ext", "-out", "r.csr"], { cwd: case_, env });
  if (r.code !== 0) return { error: r.stderr };
  const txt = ok(openssl(["req", "-in", "r.csr", "-noout", "-text"], { cwd: case_ })).stdout;
  const m = /X509v3 Subject Alternative Name:( critical)?\s*\n\s*(.*)\n/.exec(txt);
  return { sans: m ? m[2]!.trim() : "", critical: Boolean(m?.[1]), dir: case_ };
}

function skycertSans(caseDir: string, env: Record<string, string> = {}) {
  const saved = { ...process.env };
  const cwd = process.cwd();
  Object.assign(process.env, env);
  process.chdir(caseDir);
  try {
    const cnf = loadCnf("t.cnf");
    const exts = readExtensionSection(cnf, "ext", { file: "t.cnf", line: 0 });
    const san = exts.find((e) => e.kind === "subjectAltName");
    if (!san || san.kind !== "subjectAltName") return { sans: "", critical: false };
    const text = san.names
      .map((n) => (n.type === "IP" ? `IP Address:${openSslIp(n.value)}` : `${n.type}:${n.value}`))
      .join(", ");
    return { sans: text, critical: san.critical };
  } finally {
    process.chdir(cwd);
    process.env = saved;
  }
}

/** OpenSSL prints IPv6 SANs uncompressed, upper case, without leading zeros. */
function openSslIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  const [h, t] = ip.split("::");
  const head = h ? h.split(":") : [];
  const tail = t !== undefined ? (t ? t.split(":") : []) : [];
  const groups = t === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  return groups.map((g) => parseInt(g, 16).toString(16).toUpperCase()).join(":");
}

const cases: { name: string; text: string; files?: Record<string, string>; env?: Record<string, string> }[] = [
  { name: "trailing comments after values and headers", text: `${HEAD}[ext] # extensions\nsubjectAltName = @alt # the list\n[alt]# no space\nDNS.1 = a.example # trailing\nDNS.2 = b.example#tight\n` },
  { name: "header with inner spaces", text: `${HEAD}[  ext  ]\nsubjectAltName = @alt\n[ alt ]\nDNS.1 = spaced.example\n` },
  { name: "hash inside double quotes is kept", text: `${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nemail.1 = "x#y@example.com" # real comment\n` },
  { name: "single quotes and backquotes", text: `${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nemail.1 = 'p#q@example.com'\nURI.1 = \`https://a.example/#frag\`\n` },
  { name: "escapes outside quotes", text: `${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nemail.1 = x\\#y@example.com\nDNS.1 = a\\.example\n` },
  { name: "backslash line continuation", text: `${HEAD}[ext]\nsubjectAltName = DNS:one.example, \\\n   DNS:two.example\n` },
  { name: "dollar variables in every form", text: `host = node1\n${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nDNS.1 = $host.example\nDNS.2 = \${host}x.example\nDNS.3 = $(host)y.example\n` },
  { name: "section::variable references", text: `${HEAD}[names]\nh = n2\n[ext]\nsubjectAltName = @alt\n[alt]\nDNS.1 = $names::h.example\nDNS.2 = \${names::h}z.example\n` },
  { name: "ENV variables", text: `${HEAD}[ext]\nsubjectAltName = DNS:$ENV::SKYCERT_TEST_HOST.example\n`, env: { SKYCERT_TEST_HOST: "fromenv" } },
  { name: "default section fallback", text: `d = dflt\n${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nDNS.1 = $d.example\n` },
  { name: "last duplicate wins and moves last", text: `${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nDNS.1 = first.example\nDNS.2 = two.example\nDNS.1 = last.example\n` },
  { name: "repeated section header appends", text: `${HEAD}[alt]\nDNS.1 = a.example\n[ext]\nsubjectAltName = @alt\n[alt]\nDNS.2 = b.example\n` },
  { name: "section::name assignment", text: `alt::DNS.9 = nine.example\n${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nDNS.1 = one.example\n` },
  { name: "dotted section names", text: `${HEAD}[ext]\nsubjectAltName = @alt.names\n[alt.names]\nDNS.1 = dotted.example\n` },
  { name: "include of a file", text: `${HEAD}.include inc/extra.cnf\n[ext]\nsubjectAltName = @alt\n`, files: { "inc/extra.cnf": "[alt]\nDNS.1 = included.example\n" } },
  { name: "include of a folder", text: `${HEAD}.include = incdir\n[ext]\nsubjectAltName = @alt\n`, files: { "incdir/b.conf": "DNS.2 = b.example\n", "incdir/a.cnf": "[alt]\nDNS.1 = a.example\n", "incdir/ignored.txt": "junk\n" } },
  { name: "inline list with IPv6 email and URI", text: `${HEAD}[ext]\nsubjectAltName = DNS:a.example, IP:::1, IP:2001:db8::8:1, IP:10.0.0.4, email:ops@example.com, URI:https://a.example/p\n` },
  { name: "TYPE.n names and IPs in a section", text: `${HEAD}[ext]\nsubjectAltName = critical,@alt\n[alt]\nDNS = bare.example\nIP.1 = 192.168.1.1\nIP.x = fe80::1\nURI.2 = urn:skydive:agent\n` },
  { name: "semicolons are not comments", text: `${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nURI.1 = https://a.example/x;y;z=1\n` },
  { name: "CRLF line ends", text: `${HEAD}[ext]\r\nsubjectAltName = @alt\r\n[alt]\r\nDNS.1 = crlf.example\r\n` },
  { name: "pragma dollarid keeps dollars literal", text: `.pragma dollarid:on\n${HEAD}[ext]\nsubjectAltName = @alt\n[alt]\nURI.1 = https://a.example/$x\n` },
];

describe("cnf parser agrees with openssl req", () => {
  for (const c of cases) {
    it(c.name, () => {
      const theirs = opensslSans(c.name, c.text, c.files, c.env);
      expect(theirs.error, "openssl accepted the snippet").toBeUndefined();
      expect(theirs.sans).not.toBe("");
      expect(skycertSans(theirs.dir!, c.env)).toEqual({ sans: theirs.sans, critical: theirs.critical });
    });
  }
});

describe("syntax openssl rejects is an error naming file and line", () => {
  const bad: { name: string; text: string; line: number; message: RegExp }[] = [
    { name: "undefined variable", text: `${HEAD}[ext]\nsubjectAltName = DNS:$nope.example\n`, line: 5, message: /variable has no value: \$nope/ },
    { name: "undefined section variable", text: `${HEAD}[ext]\nsubjectAltName = DNS:\${s::v}.example\n`, line: 5, message: /variable has no value: \$s::v/ },
    { name: "unclosed header", text: `${HEAD}[ext\nsubjectAltName = DNS:a.example\n`, line: 4, message: /missing close square bracket/ },
    { name: "missing equal sign", text: `${HEAD}[ext]\nsubjectAltName DNS:a.example\n`, line: 5, message: /missing equal sign/ },
    { name: "unterminated brace", text: `v = x\n${HEAD}[ext]\nsubjectAltName = DNS:\${v.example\n`, line: 6, message: /no close brace/ },
  ];
  for (const b of bad) {
    it(b.name, () => {
      expect(opensslSans(b.name, b.text).error, "openssl should reject it too").toBeDefined();
      const file = join(dir, b.name.replace(/\W+/g, "_"), "t.cnf");
      let caught: unknown;
      try {
        readExtensionSection(loadCnf(file), "ext", { file, line: 0 });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CnfError);
      expect((caught as CnfError).message).toMatch(new RegExp(`^${file.replace(/[/.]/g, "\\$&")}:${b.line}: `));
      expect((caught as CnfError).message).toMatch(b.message);
      expect((caught as CnfError).exitCode).toBe(2);
    });
  }

  it("an include loop", () => {
    const a = join(dir, "loop-a.cnf");
    writeFileSync(a, `x = 1\n.include ${join(dir, "loop-b.cnf")}\n`);
    writeFileSync(join(dir, "loop-b.cnf"), `y = 2\n.include ${a}\n`);
    expect(() => loadCnf(a)).toThrow(/\.include loop: .*loop-a\.cnf -> .*loop-b\.cnf -> .*loop-a\.cnf/);
  });

  it("a missing include names the line (OpenSSL would skip it silently)", () => {
    const f = join(dir, "missing-inc.cnf");
    writeFileSync(f, "a = 1\n.include /nonexistent/x.cnf\n");
    expect(() => loadCnf(f)).toThrow(new RegExp(`${f}:2: \\.include "/nonexistent/x.cnf": no such file`));
  });

  it("binary and oversized files", () => {
    expect(() => parseCnf("a = 1\nb = \0\x01\x02\n", "bin.cnf")).toThrow(/^bin\.cnf:2: binary data/);
    expect(() => parseCnf(`a = ${"x".repeat(1024 * 1024)}\n`, "big.cnf")).toThrow(/^big\.cnf:1: file is too large/);
  });

  it("exponential variable expansion is cut off", () => {
    const lines = ["v0 = xxxxxxxxxxxxxxxx"];
    for (let i = 1; i < 20; i++) lines.push(`v${i} = $v${i - 1}$v${i - 1}`);
    expect(() => parseCnf(`${lines.join("\n")}\n`, "bomb.cnf")).toThrow(/bomb\.cnf:1\d: variable expansion too long/);
  });
});

describe("real configuration files", () => {
  it("parses the seed's skydive-openssl.cnf", () => {
    const cnf = loadCnf(SEED_CNF);
    expect([...cnf.sections.keys()]).toEqual(["default", "req", "req_distinguished_name", "v3_req", "alt_names"]);
    expect(getEntry(cnf, "req", "req_extensions")?.value).toBe("v3_req");
    expect(getEntry(cnf, "req_distinguished_name", "organizationalUnitName_default")?.value).toBe("Skydive Team");
    expect(getEntry(cnf, "v3_req", "keyUsage")).toMatchObject({ value: "digitalSignature, keyEncipherment, keyCertSign", where: { line: 20 } });
    expect(cnf.sections.get("alt_names")!.entries.map((e) => `${e.name}=${e.value}`)).toEqual([
      "DNS.1=agent.domain.com", "DNS.2=analyzer.domain.com", "DNS.3=localhost", "IP.1=192.168.1.1", "IP.2=192.168.69.14", "IP.3=127.0.0.1",
    ]);
  });

  it("parses Debian's /etc/ssl/openssl.cnf: $dir expansion, tab-separated trailing comments, numbered names", () => {
    const cnf = loadCnf("/etc/ssl/openssl.cnf");
    expect(getEntry(cnf, "CA_default", "dir")?.value).toBe("./demoCA");
    expect(getEntry(cnf, "CA_default", "certs")?.value).toBe("./demoCA/certs");
    expect(getEntry(cnf, "CA_default", "private_key")?.value).toBe("./demoCA/private/cakey.pem");
    expect(getEntry(cnf, "req", "x509_extensions")?.value).toBe("v3_ca");
    expect(getEntry(cnf, "req_distinguished_name", "0.organizationName_default")?.value).toBe("Internet Widgits Pty Ltd");
    expect(getEntry(cnf, "default", "HOME")?.value).toBe(".");
    const v3ca = readExtensionSection(cnf, "v3_ca", { file: "/etc/ssl/openssl.cnf", line: 0 });
    expect(v3ca.map((e) => e.kind)).toEqual(["subjectKeyIdentifier", "authorityKeyIdentifier", "basicConstraints"]);
    expect(v3ca[2]).toMatchObject({ kind: "basicConstraints", critical: true, ca: true });
  });

  it("printing and parsing again keeps every section and value", () => {
    for (const file of [SEED_CNF, "/etc/ssl/openssl.cnf"]) {
      const once = loadCnf(file);
      const twice = parseCnf(printCnf(once), "printed.cnf");
      const flat = (c: typeof once) => [...c.sections.values()].map((s) => [s.name, s.entries.map((e) => [e.name, e.value])]);
      expect(flat(twice)).toEqual(flat(once));
    }
  });

  it("only ever throws SkycertError", () => {
    const text = readFileSync(SEED_CNF, "utf8");
    for (let cut = 0; cut < text.length; cut += 7) {
      try {
        parseCnf(text.slice(0, cut) + "$" + text.slice(cut), "cut.cnf");
      } catch (err) {
        expect(err).toBeInstanceOf(SkycertError);
      }
    }
  });
});
