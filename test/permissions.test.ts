/**
 * Modes and symlinks: keys are 0400, requests and certificates 0444 and role
 * folders 0700 whatever the umask, a key is never readable by others for an
 * instant (created with its mode, never chmod'ed), and skycert never writes
 * through a symlink, at file or folder level: without --force it refuses, with
 * --force it replaces the link itself and leaves what the link points to as it was.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BIN, ok, oneLine, openssl, scratch, sh, skycert, tool } from "./helpers/run.js";
import { snapshot } from "./helpers/tree.js";

const mode = (p: string) => (lstatSync(p).mode & 0o777).toString(8);
const files = (dir: string) => ({
  key: join(dir, "agent", "agent.domain.com.key"),
  csr: join(dir, "agent", "agent.domain.com.csr"),
  crt: join(dir, "agent", "agent.domain.com.crt"),
});

/** The set in `dir` is complete, regular files, matching (openssl), with the documented modes. */
function expectSet(dir: string): void {
  const f = files(dir);
  expect(lstatSync(join(dir, "agent")).isDirectory()).toBe(true);
  expect([mode(join(dir, "agent")), mode(f.key), mode(f.csr), mode(f.crt)]).toEqual(["700", "400", "444", "444"]);
  for (const p of Object.values(f)) expect(lstatSync(p).isFile()).toBe(true);
  const pub = ok(openssl(["pkey", "-in", f.key, "-pubout"])).stdout;
  expect(ok(openssl(["x509", "-in", f.crt, "-noout", "-pubkey"])).stdout).toBe(pub);
  expect(ok(openssl(["req", "-in", f.csr, "-noout", "-pubkey"])).stdout).toBe(pub);
}

describe("modes whatever the umask", () => {
  for (const umask of ["000", "022", "077", "0377", "0777"]) {
    it(`umask ${umask}: key 0400, CSR and certificate 0444, role folder 0700, a new skydive.yml 0644`, () => {
      const dir = scratch();
      mkdirSync(join(dir, "out"), { mode: 0o755 });
      const run = (extra: string) => ok(sh(`umask ${umask} && exec "${process.execPath}" "${BIN}" init agent --out out ${extra}`, { cwd: dir }));
      run("");
      expectSet(join(dir, "out"));
      expect(mode(join(dir, "out", "skydive.yml"))).toBe("644");
      if (umask === "000" || umask === "0377") {
        // Replacing the set under the same umask keeps the modes too.
        const before = readFileSync(files(join(dir, "out")).crt, "utf8");
        run("--force");
        expectSet(join(dir, "out"));
        expect(readFileSync(files(join(dir, "out")).crt, "utf8")).not.toBe(before);
      }
    });
  }

  const STRACE = tool("strace", ["-f", "-qq", "-o", "/dev/null", "true"]).code === 0;
  it.skipIf(!STRACE)("a key is created 0400 with O_EXCL|O_NOFOLLOW and never chmod'ed; only a umask-narrowed certificate is (strace)", () => {
    const dir = scratch();
    const trace = join(dir, "trace");
    ok(sh(`umask 0377 && exec strace -f -qq -y -o "${trace}" -e trace=open,openat,chmod,fchmod,fchmodat "${process.execPath}" "${BIN}" init agent`, { cwd: dir }));
    const lines = readFileSync(trace, "utf8").split("\n");
    const creates = lines.filter((l) => /open(at)?\(.*O_CREAT/.test(l) && /agent\.domain\.com\.(key|csr|crt)"/.test(l));
    expect(creates).toHaveLength(3);
    for (const l of creates) {
      expect(l).toMatch(/O_WRONLY\|O_CREAT\|O_EXCL\|O_NOFOLLOW/);
      // (A call another thread interrupts is printed "<unfinished ...>" and resumed on a later line.)
      expect(l).toMatch(/\.key"/.test(l) ? /, 0400(\) = \d+| <unfinished)/ : /, 0444(\) = \d+| <unfinished)/);
    }
    const chmods = lines.filter((l) => /chmod/.test(l));
    expect(chmods.filter((l) => /\.key[>"]/.test(l))).toEqual([]);
    // umask 0377 narrowed the certificate and the request to 0400: fchmod puts back 0444, on the open file.
    expect(chmods.filter((l) => /^\d+ +fchmod\(\d+<.*agent\.domain\.com\.(crt|csr)>, 0444(\) = 0| <unfinished)/.test(l))).toHaveLength(2);
    expectSet(dir);
  });
});

describe("never through a symlink", () => {
  /** Three files outside the output folder the links point at, and their snapshot. */
  function targets(dir: string) {
    const outside = join(dir, "outside");
    mkdirSync(outside);
    for (const n of ["k", "c", "t"]) writeFileSync(join(outside, n), `precious ${n}\n`, { mode: 0o640 });
    return outside;
  }

  it("key, CSR and certificate links: refused without --force; --force replaces the links, never their targets", () => {
    const dir = scratch();
    const outside = targets(dir);
    const f = files(dir);
    mkdirSync(join(dir, "agent"), { mode: 0o700 });
    symlinkSync(join(outside, "k"), f.key);
    symlinkSync(join(outside, "c"), f.csr);
    symlinkSync(join(outside, "t"), f.crt);
    const before = snapshot(dir);
    const r = skycert(["init", "agent"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/agent\.domain\.com\.key, .*agent\.domain\.com\.csr, .*agent\.domain\.com\.crt already exist \(fix: pass --force/);
    expect(snapshot(dir)).toEqual(before);

    const outsideBefore = snapshot(outside);
    ok(skycert(["init", "agent", "--force"], { cwd: dir }));
    expectSet(dir);
    expect(snapshot(outside)).toEqual(outsideBefore);
  });

  it("a dangling link: --force replaces it and never creates what it points to", () => {
    const dir = scratch();
    mkdirSync(join(dir, "agent"), { mode: 0o700 });
    symlinkSync(join(dir, "would-be-created.key"), files(dir).key);
    const r = skycert(["init", "agent"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/agent\.domain\.com\.key already exists/);
    ok(skycert(["init", "agent", "--force"], { cwd: dir }));
    expectSet(dir);
    expect(readdirSync(dir).sort()).toEqual(["agent", "skydive.yml"]);
  });

  it("a role folder that is a link to another folder: refused without --force even with nothing to clash; --force replaces the link", () => {
    const dir = scratch();
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(join(elsewhere, "sub"), { recursive: true });
    writeFileSync(join(elsewhere, "sub", "f"), "keep\n");
    symlinkSync(elsewhere, join(dir, "agent"));
    const before = snapshot(dir);
    const r = skycert(["init", "agent"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`skycert: error: cannot write into ${dir}/agent: it is a symlink, and skycert never writes through one (fix: pass --force to replace the link itself)`);
    expect(snapshot(dir)).toEqual(before);

    const elsewhereBefore = snapshot(elsewhere);
    ok(skycert(["init", "agent", "--force"], { cwd: dir }));
    expectSet(dir);
    expect(snapshot(elsewhere)).toEqual(elsewhereBefore);
  });

  it("skydive.yml and skydive.yml.bak links: --force replaces skydive.yml's link, the backup's link is replaced, targets untouched", () => {
    const dir = scratch();
    const outside = join(dir, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "real.yml"), "# the operator's file\nanalyzer:\n  listen: 0.0.0.0:8082\n");
    writeFileSync(join(outside, "old.bak"), "an old backup\n");
    symlinkSync(join(outside, "real.yml"), join(dir, "skydive.yml"));
    const outsideBefore = snapshot(outside);
    ok(skycert(["init", "agent", "--force"], { cwd: dir }));
    expect(lstatSync(join(dir, "skydive.yml")).isFile()).toBe(true);
    const yml = readFileSync(join(dir, "skydive.yml"), "utf8");
    expect(yml).toContain("# the operator's file"); // read through the link, written beside it
    expect(yml).toContain("X509_cert");
    expect(snapshot(outside)).toEqual(outsideBefore);

    // A backup that is a link: skycert makes its .bak by linking and renaming, so the link is replaced.
    symlinkSync(join(outside, "old.bak"), join(dir, "skydive.yml.bak"));
    writeFileSync(join(dir, "skydive.yml"), `${yml}# changed by hand\n`);
    ok(skycert(["init", "agent", "--force", "--stem", "agent2"], { cwd: dir }));
    expect(lstatSync(join(dir, "skydive.yml.bak")).isFile()).toBe(true);
    expect(readFileSync(join(dir, "skydive.yml.bak"), "utf8")).toContain("# changed by hand");
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(statSync(join(dir, "agent", "agent2.key")).mode & 0o777).toBe(0o400);
  });
});

describe("a CA key that group or others can read is refused, with the chmod 400 remedy, and nothing is written", () => {
  const dir = scratch("skycert-ca-mode-");
  const caKey = join(dir, "pki", "ca", "skydive-ca.key");
  const leaf = join(dir, "pki", "agent", "agent.domain.com.crt");
  const commands: [string, string[]][] = [
    ["init analyzer --ca", ["init", "analyzer", "--ca", "pki", "--out", "out"]],
    ["init analyzer --ca --dry-run", ["init", "analyzer", "--ca", "pki", "--out", "out", "--dry-run"]],
    ["renew --ca", ["renew", leaf, "--ca", "pki"]],
    ["renew, the CA found beside the certificate", ["renew", leaf]],
    ["a fleet run", ["init", "agent", "--ca", "pki", "--inventory", "hosts.ini", "--out", "out", "--bits", "2048"]],
  ];

  beforeAll(() => {
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }));
    ok(skycert(["init", "agent", "--ca", "pki", "--out", "pki"], { cwd: dir }));
    writeFileSync(join(dir, "hosts.ini"), "[agents]\nh1 ansible_host=10.9.0.1\n");
  });

  it.each([0o440, 0o404, 0o444, 0o640, 0o604, 0o410].map((m) => [m.toString(8), m] as const))("mode 0%s", (_octal, m) => {
    chmodSync(caKey, m);
    try {
      for (const [name, args] of commands) {
        const before = snapshot(dir);
        const line = oneLine(skycert(args, { cwd: dir }), 1);
        expect(line, name).toBe(
          `skycert: error: CA key ${caKey} is ${m & 0o044 ? "readable" : "accessible"} by group or others (mode 0${m.toString(8)}); skycert refuses to use it (fix: chmod 400 ${caKey}, and check who may have copied it)`,
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
  // As root every folder is writable: run as nobody (setpriv), like test/hostile.test.ts.
  const asNobody = tool("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, "--version"]).code === 0;
  const nobody = (args: string[], cwd: string) => tool("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, ...args], { cwd, env: { NO_COLOR: "1" } });

  it.skipIf(!asNobody)("chmod 500: --force replaces the set, and nothing is left behind (the folder moved aside is made writable to be removed)", () => {
    const dir = scratch();
    chmodSync(dir, 0o777);
    ok(nobody(["init", "agent", "--out", "out"], dir));
    const before = readFileSync(files(join(dir, "out")).crt, "utf8");
    chmodSync(join(dir, "out", "agent"), 0o500);
    ok(nobody(["init", "agent", "--out", "out", "--force"], dir));
    expect(readFileSync(files(join(dir, "out")).crt, "utf8")).not.toBe(before);
    expect(readdirSync(join(dir, "out")).sort()).toEqual(["agent", "skydive.yml"]);
    expectSet(join(dir, "out"));
  });
});
