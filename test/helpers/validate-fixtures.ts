/**
 * Deployments for `skycert validate`, made at test time by real tools: the seed's
 * OpenSSL recipe, `skycert init`, an OpenSSL CA for the tls.* schema, and the
 * variants operators get wrong (faketime, -sha1, 1024 bits, odd serials...).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { recipe } from "./recipe.js";
import { SEED_CNF, ok, openssl, sh, skycert } from "./run.js";

export interface Pair {
  dir: string;
  config: string;
  analyzer: { crt: string; key: string };
  agent: { crt: string; key: string };
}

export interface CheckJson {
  id: string;
  status: "pass" | "warn" | "fail" | "skip";
  subject: string;
  message: string;
  remedy?: string;
  file?: string;
  host?: string;
}

export interface ValidateJson {
  ok: boolean;
  checks: CheckJson[];
  schema: string;
  hosts: { name: string; source: string }[];
}

export interface ValidateRun {
  code: number;
  json: ValidateJson;
  stdout: string;
  stderr: string;
}

/** A legacy (analyzer.X509_* / agent.X509_*) config naming the files. */
export function legacyConfig(path: string, files: { analyzer?: { crt: string; key: string }; agent?: { crt: string; key: string } }, extra = ""): string {
  const lines: string[] = [];
  if (files.analyzer) lines.push("analyzer:", `  X509_cert: ${files.analyzer.crt}`, `  X509_key: ${files.analyzer.key}`);
  if (files.agent) lines.push("agent:", `  X509_cert: ${files.agent.crt}`, `  X509_key: ${files.agent.key}`);
  writeFileSync(path, `${lines.join("\n")}\n${extra}`);
  return path;
}

/** The seed's recipe for both roles in `dir`, and a legacy skydive.yml naming the files. */
export function recipePair(dir: string, opts: Parameters<typeof recipe>[2] = {}, agentOpts: Parameters<typeof recipe>[2] = opts): Pair {
  const analyzer = recipe(dir, "analyzer", opts);
  const agent = recipe(dir, "agent", agentOpts);
  const config = legacyConfig(join(dir, "skydive.yml"), { analyzer, agent });
  return { dir, config, analyzer, agent };
}

/** `skycert init analyzer agent` in `dir`. */
export function initPair(dir: string, args: string[] = []): Pair {
  mkdirSync(dir, { recursive: true });
  ok(skycert(["init", "analyzer", "agent", ...args], { cwd: dir }), "skycert init");
  return {
    dir,
    config: join(dir, "skydive.yml"),
    analyzer: { crt: join(dir, "analyzer/analyzer.domain.com.crt"), key: join(dir, "analyzer/analyzer.domain.com.key") },
    agent: { crt: join(dir, "agent/agent.domain.com.crt"), key: join(dir, "agent/agent.domain.com.key") },
  };
}

/** The seed's cnf with extra extension sections appended (for -extensions variants). */
export function cnfWith(dir: string, sections: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "variant.cnf");
  writeFileSync(path, `${readFileSync(SEED_CNF, "utf8")}\n${sections}\n`);
  return path;
}

/** Re-sign a self-signed certificate in place with openssl x509 -signkey (new validity), with the clock shifted by faketime (`shift` like "-400d"). */
export function resign(crt: string, key: string, opts: { days?: number; shift?: string; flags?: string[] } = {}): void {
  chmodSync(crt, 0o644);
  const time = opts.shift ? `faketime -f ${quote(opts.shift)} ` : "";
  ok(sh(`${time}openssl x509 -in ${quote(crt)} -signkey ${quote(key)} -days ${opts.days ?? 365} ${(opts.flags ?? []).join(" ")} -out ${quote(crt)}.new && mv ${quote(crt)}.new ${quote(crt)}`), "openssl x509 -signkey");
  chmodSync(crt, 0o444);
}

/** An OpenSSL CA in `dir/ca.{key,crt}` and leaves signed by it; returns a tls.* config. */
export function caDeployment(
  dir: string,
  opts: { caExt?: string; serverExt?: string; clientExt?: string; requireClientCert?: boolean; caFlags?: string; foreignClient?: boolean } = {},
): { dir: string; config: string; ca: string; server: { crt: string; key: string }; client: { crt: string; key: string } } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "ext.cnf"),
    `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
${opts.caExt ?? ""}
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:10.0.0.4,DNS:analyzer.example.com,IP:127.0.0.1
authorityKeyIdentifier = keyid
${opts.serverExt ?? ""}
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:agent1.example.com
authorityKeyIdentifier = keyid
${opts.clientExt ?? ""}
`,
  );
  const script = `
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=skydive-ca -days 3650 -config ext.cnf -extensions ca ${opts.caFlags ?? ""} 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -subj /CN=other-ca -days 3650 -config ext.cnf -extensions ca 2>/dev/null
for r in server client; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $r.key -out $r.csr -subj /CN=skydive-$r 2>/dev/null
done
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 0x1001 -days 90 -extfile ext.cnf -extensions server -out server.crt 2>/dev/null
openssl x509 -req -in client.csr -CA ${opts.foreignClient ? "other-ca" : "ca"}.crt -CAkey ${opts.foreignClient ? "other-ca" : "ca"}.key -set_serial 0x1002 -days 90 -extfile ext.cnf -extensions client -out client.crt 2>/dev/null
chmod 400 *.key && chmod 444 *.crt`;
  ok(sh(script, { cwd: dir }), "CA deployment");
  const config = join(dir, "skydive.yml");
  writeFileSync(
    config,
    `# modern schema, relative paths resolve against this folder
analyzers:
  - 10.0.0.4:8082
tls:
  server_cert: server.crt
  server_key: server.key
  client_cert: client.crt
  client_key: client.key
  ca_cert: ca.crt
${opts.requireClientCert === false ? "" : "  require_client_cert: true\n"}`,
  );
  return { dir, config, ca: join(dir, "ca.crt"), server: { crt: join(dir, "server.crt"), key: join(dir, "server.key") }, client: { crt: join(dir, "client.crt"), key: join(dir, "client.key") } };
}

/** `skycert validate --json ...`; the JSON must be all of stdout. */
export function validate(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ValidateRun {
  const r = skycert(["validate", "--json", ...args], opts);
  let json: ValidateJson;
  try {
    json = JSON.parse(r.stdout) as ValidateJson;
  } catch {
    throw new Error(`validate did not print JSON (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
  expect(r.code, `exit code vs ok\n${r.stderr}`).toBe(json.ok ? 0 : 1);
  return { ...r, json };
}

/** The checks with `id` (and whose subject includes `subject`, if given). */
export function checks(run: ValidateRun, id: string, subject?: string): CheckJson[] {
  return run.json.checks.filter((c) => c.id === id && (subject === undefined || c.subject.includes(subject)));
}

/** The one check with `id` and `subject`; fails the test when there is not exactly one. */
export function one(run: ValidateRun, id: string, subject: string): CheckJson {
  const found = checks(run, id, subject);
  expect(found, `${id} ${subject} in ${JSON.stringify(run.json.checks.map((c) => `${c.id}/${c.subject}`))}`).toHaveLength(1);
  return found[0]!;
}

/** Every warn and fail carries a one-line remedy; returns the failed ids. */
export function failedIds(run: ValidateRun): string[] {
  for (const c of run.json.checks) {
    if (c.status === "warn" || c.status === "fail") {
      expect(c.remedy, `${c.id} ${c.subject} has no remedy`).toBeTruthy();
      expect(c.remedy).not.toContain("\n");
    }
    expect(c.message).not.toContain("\n");
  }
  return [...new Set(run.json.checks.filter((c) => c.status === "fail").map((c) => c.id))].sort();
}

export function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export { openssl };
