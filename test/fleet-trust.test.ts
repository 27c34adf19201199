/**
 * validate --fleet judges each host's certificate with its DER walker and
 * go-verify.ts, not with OpenSSL's parser. Its verdict must be Go's: for every
 * variant below (made with the openssl CLI and faketime), the host passes
 * pem-parse, validity and trust exactly when Skydive's analyzer, played by the
 * Go peer (test/peers/skydive-handshake.go), accepts that agent in a real
 * mutual-TLS handshake.
 */
import { chmodSync, copyFileSync, cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { goHandshake } from "./helpers/go-peer.js";
import { ok, openssl, scratch, sh, skycert } from "./helpers/run.js";
import { sortByName } from "../src/ops/validate-fleet.js";

const dir = scratch("skycert-fleet-trust-");
const FLEET = join(dir, "fleet");
const TEMPLATE = "10.0.0.9";
const LEAF_EXT = "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nsubjectAltName = IP:10.0.0.9\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
const CA_EXT = "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Variant {
  name: string;
  /** Extensions of the leaf (extendedKeyUsage and any extra). */
  ext?: string;
  /** openssl x509 -req flags: digest, -sigopt... */
  flags?: string[];
  /** A faketime offset for issuing (`-400d`, `+10d`). */
  shift?: string;
  /** Another CA, made with these `openssl req` arguments and extensions, signs the leaf and is the host's tls.ca_cert. */
  ca?: { key: string; ext: string };
  /** Signed by a different key whose CA certificate carries the fleet CA's very name; the host still trusts the fleet CA. */
  impostor?: boolean;
}

const VARIANTS: Variant[] = [
  { name: "good", ext: "extendedKeyUsage = serverAuth, clientAuth\n" },
  { name: "no-eku", ext: "" },
  { name: "server-only", ext: "extendedKeyUsage = serverAuth\n" },
  { name: "any-eku", ext: "extendedKeyUsage = anyExtendedKeyUsage\n" },
  { name: "sha1", ext: "extendedKeyUsage = clientAuth\n", flags: ["-sha1"] },
  { name: "sha384", ext: "extendedKeyUsage = clientAuth\n", flags: ["-sha384"] },
  { name: "pss-digest", ext: "extendedKeyUsage = clientAuth\n", flags: ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"] },
  { name: "pss-max-salt", ext: "extendedKeyUsage = clientAuth\n", flags: ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:max"] },
  { name: "unknown-critical", ext: "extendedKeyUsage = clientAuth\n1.3.6.1.4.1.55555.1 = critical, ASN1:NULL\n" },
  { name: "expired", ext: "extendedKeyUsage = clientAuth\n", shift: "-400d" },
  { name: "not-yet-valid", ext: "extendedKeyUsage = clientAuth\n", shift: "+10d" },
  { name: "impostor-ca", ext: "extendedKeyUsage = clientAuth\n", impostor: true },
  { name: "ca-without-certsign", ext: "extendedKeyUsage = clientAuth\n", ca: { key: "rsa:2048", ext: "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature\n" } },
  { name: "ca-not-a-ca", ext: "extendedKeyUsage = clientAuth\n", ca: { key: "rsa:2048", ext: "basicConstraints = critical, CA:FALSE\n" } },
  { name: "ca-serveronly-eku", ext: "extendedKeyUsage = clientAuth\n", ca: { key: "rsa:2048", ext: `${CA_EXT}extendedKeyUsage = serverAuth\n` } },
  { name: "ecdsa-ca", ext: "extendedKeyUsage = clientAuth\n", ca: { key: "ec -pkeyopt ec_paramgen_curve:P-256", ext: CA_EXT } },
];

const host = (v: Variant) => join(FLEET, "agents", `v-${v.name}`);
const fleetCa = () => ({ crt: join(FLEET, "ca", "skydive-ca.crt"), key: join(FLEET, "ca", "skydive-ca.key") });

/** The variant's signer: the fleet CA, or a CA of its own made here. */
function signer(v: Variant): { crt: string; key: string } {
  if (!v.ca && !v.impostor) return fleetCa();
  const crt = join(dir, `${v.name}-ca.crt`);
  const key = join(dir, `${v.name}-ca.key`);
  const ext = join(dir, `${v.name}-ca.ext`);
  writeFileSync(ext, v.ca?.ext ?? CA_EXT);
  const subject = v.impostor ? "/CN=skydive-ca" : `/CN=${v.name}-ca`;
  ok(sh(`openssl req -x509 -newkey ${v.ca?.key ?? "rsa:2048"} -nodes -keyout ${key} -out ${crt} -days 30 -subj ${subject} -extensions ext -config <(printf '[req]\\ndistinguished_name=dn\\n[dn]\\n[ext]\\n'; cat ${ext}) 2>/dev/null`), `${v.name} CA`);
  return { crt, key };
}

function makeVariant(v: Variant): void {
  const h = host(v);
  cpSync(join(FLEET, "agents", TEMPLATE), h, { recursive: true });
  const cfg = join(h, "skydive.yml");
  const s = signer(v);
  // The host keeps its key and request; only its certificate (and maybe the CA it trusts) changes.
  writeFileSync(cfg, readFileSync(cfg, "utf8").replaceAll(join(FLEET, "agents", TEMPLATE), h).replace(/ca_cert: .*/, `ca_cert: ${v.ca ? s.crt : fleetCa().crt}`));
  const ext = join(dir, `${v.name}.ext`);
  writeFileSync(ext, LEAF_EXT + (v.ext ?? ""));
  const out = join(dir, `${v.name}.crt`);
  const faketime = v.shift ? `faketime -f '${v.shift}' ` : "";
  ok(
    sh(`${faketime}openssl x509 -req -in ${join(h, "agent.domain.com.csr")} -CA ${s.crt} -CAkey ${s.key} -set_serial 0x${(VARIANTS.indexOf(v) + 0x1000).toString(16)} -days 30 -extfile ${ext} ${(v.flags ?? []).join(" ")} -out ${out} 2>&1`),
    `${v.name} certificate`,
  );
  const crt = join(h, "agent.domain.com.crt");
  rmSync(crt, { force: true });
  copyFileSync(out, crt);
  chmodSync(crt, 0o444);
}

let fleet: Json;

beforeAll(() => {
  ok(skycert(["init", "ca", "--out", "fleet", "--bits", "2048"], { cwd: dir }));
  writeFileSync(join(dir, "hosts.ini"), `[analyzers]\n127.0.0.1\n\n[agents]\n${TEMPLATE}\n`);
  ok(skycert(["init", "analyzer", "--ca", "fleet", "--inventory", "hosts.ini", "--out", "fleet"], { cwd: dir }));
  ok(skycert(["init", "agent", "--ca", "fleet", "--inventory", "hosts.ini", "--out", "fleet"], { cwd: dir }));
  for (const v of VARIANTS) makeVariant(v);
  const r = skycert(["validate", "--fleet", "fleet", "--host", "127.0.0.1", "--json"], { cwd: dir });
  fleet = JSON.parse(r.stdout);
}, 120_000);

describe("validate --fleet trusts what Go trusts", () => {
  it.each(VARIANTS.map((v) => [v.name, v] as const))("%s: the verdict is the Go analyzer's", (_name, v) => {
    const h = host(v);
    const result = fleet.hosts.find((x: Json) => x.host === `v-${v.name}`);
    expect(result, `no result for ${v.name}`).toBeDefined();
    const judged = result.checks.filter((c: Json) => ["pem-parse", "validity", "trust"].includes(c.id) && c.subject === "agent cert");
    expect(judged.map((c: Json) => c.id).sort()).toEqual(["pem-parse", "trust", "validity"]);
    const skycertAccepts = judged.every((c: Json) => c.status !== "fail");
    const cfg = readFileSync(join(h, "skydive.yml"), "utf8");
    const trusted = /ca_cert: (.*)/.exec(cfg)![1]!;
    const analyzer = join(FLEET, "analyzer", "analyzer.domain.com");
    const go = goHandshake({
      serverCert: `${analyzer}.crt`,
      serverKey: `${analyzer}.key`,
      clientCa: trusted,
      clientCert: join(h, "agent.domain.com.crt"),
      clientKey: join(h, "agent.domain.com.key"),
      rootCa: fleetCa().crt,
      dial: "127.0.0.1",
    });
    // A refusal must be the analyzer's verdict on the agent's certificate, not a set-up problem.
    if (!go.ok) expect(`${go.side}: ${go.error}`).toMatch(/^analyzer: tls: .*client certificate/);
    expect(skycertAccepts, `skycert: ${judged.map((c: Json) => `${c.id} ${c.status}: ${c.message}`).join("; ")} / Go: ${go.ok ? "accepted" : go.error}`).toBe(go.ok);
  });

  it("the variants exercise both verdicts, and the good one passes whole", () => {
    const verdicts = new Set(fleet.hosts.filter((h: Json) => h.host.startsWith("v-")).map((h: Json) => h.ok));
    expect(verdicts).toEqual(new Set([true, false]));
    expect(fleet.hosts.find((h: Json) => h.host === "v-good").ok).toBe(true);
    expect(fleet.hosts.find((h: Json) => h.host === TEMPLATE).ok).toBe(true);
  });

  it("a certificate that is not DER as Go reads it fails pem-parse: trailing bytes, a long-form short length", () => {
    ok(openssl(["x509", "-in", join(dir, "good.crt"), "-outform", "DER", "-out", join(dir, "good.der")]));
    const der = readFileSync(join(dir, "good.der"));
    expect(der.length).toBeGreaterThan(0);
    const trailing = Buffer.concat([der, Buffer.from([0x00, 0x00])]);
    // The version field [0] { INTEGER 2 } re-encoded with a needless long-form length (0x81 0x03).
    const at = der.indexOf(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]));
    expect(at).toBeGreaterThan(0);
    const bloated = Buffer.concat([der.subarray(0, at), Buffer.from([0xa0, 0x81, 0x03]), der.subarray(at + 2)]);
    // The Certificate and TBSCertificate SEQUENCEs (30 82 LL LL each) grow by that octet.
    expect([bloated[0], bloated[1], bloated[4], bloated[5]]).toEqual([0x30, 0x82, 0x30, 0x82]);
    bloated.writeUInt16BE(bloated.readUInt16BE(2) + 1, 2);
    bloated.writeUInt16BE(bloated.readUInt16BE(6) + 1, 6);
    for (const [name, bytes] of [["trailing", trailing], ["long-form", bloated]] as const) {
      const h = join(FLEET, "agents", `der-${name}`);
      cpSync(join(FLEET, "agents", TEMPLATE), h, { recursive: true });
      const cfg = join(h, "skydive.yml");
      writeFileSync(cfg, readFileSync(cfg, "utf8").replaceAll(join(FLEET, "agents", TEMPLATE), h));
      const crt = join(h, "agent.domain.com.crt");
      rmSync(crt, { force: true });
      writeFileSync(crt, `-----BEGIN CERTIFICATE-----\n${bytes.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`, { mode: 0o444 });
    }
    const r = JSON.parse(skycert(["validate", "--fleet", "fleet", "--json"], { cwd: dir }).stdout);
    for (const name of ["trailing", "long-form"]) {
      const pem = r.hosts.find((x: Json) => x.host === `der-${name}`).checks.find((c: Json) => c.id === "pem-parse" && c.subject === "agent cert");
      expect(pem.status, name).toBe("fail");
      expect(pem.message).toMatch(name === "trailing" ? /trailing bytes/ : /shortest form/);
    }
  });
});

describe("host folders are listed in natural order", () => {
  it("numbers compare as numbers, names as text", () => {
    expect(sortByName(["10.0.0.10", "node-b", "10.0.0.9", "10.0.1.2", "node-a", "10.0.0.100"])).toEqual(["10.0.0.9", "10.0.0.10", "10.0.0.100", "10.0.1.2", "node-a", "node-b"]);
  });
});
