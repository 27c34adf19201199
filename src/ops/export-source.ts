/**
 * What both exports start from and how they write: the certificates and keys
 * `skycert init` left (its `skydive.yml` names them, in either schema; a
 * fleet's `agents/<host>/skydive.yml`), checked with skycert validate before
 * anything ships; and the output bundle, written so that nothing existing is
 * replaced without --force, keys are 0400 from creation and nothing is
 * written through a symlink (io/files).
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { type CertInfo, readCertificate } from "../core/certinfo.js";
import { goMatches, initCommand, lookup } from "../core/checks.js";
import { failure, usageError } from "../core/errors.js";
import type { TlsFileName } from "../core/export-layout.js";
import { parsePem } from "../core/pem.js";
import { formatSan } from "../core/san.js";
import { LEGACY_KEYS, type Role, type Schema, TLS_KEYS } from "../core/stanza.js";
import { parseYamlDocument } from "../core/yaml-edit.js";
import { type FileSpec, ensureDir, readInput, recover, sameContent, tidy, withLock, writeFileAtomic, writeSet } from "../io/files.js";
import { loadCnf } from "../io/cnf-file.js";
import { planRole } from "../core/profile.js";
import { AGENTS_FOLDER, STANZA_FILE } from "./fleet.js";
import { chooseCnf } from "./init.js";
import { validate } from "./validate.js";

export interface Pair {
  cert: string;
  key: string;
}

export interface FleetPair extends Pair {
  host: string;
  /** Its skydive.yml. */
  config: string;
  ca: string | undefined;
}

export interface ExportSource {
  from: string;
  config: string;
  schema: Schema;
  analyzer: Pair;
  /** The shared agent pair named by the config (legacy: always). */
  agent: Pair | undefined;
  /** tls.ca_cert (tls schema). */
  ca: string | undefined;
  /** `<from>/agents/<host>/` folders with their stanza, from `init agent --ca --inventory`. */
  fleet: FleetPair[];
  warnings: string[];
}

/** Paths under the working directory are shown relative to it. */
export function shown(cwd: string, p: string): string {
  const rel = relative(cwd, p);
  return rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? p : rel;
}

function readYaml(path: string, label: string): unknown {
  const { text } = readInput(path, label);
  return parseYamlDocument(text, path).toJS({ maxAliasCount: 100 }) ?? {};
}

/** A setting naming a file, resolved against the config's folder (as validate and viper read it). */
function pathSetting(data: unknown, key: string, config: string): string | undefined {
  const v = lookup(data, key);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw usageError(`${config}: ${key} is not a file path`, `set ${key} to the path of the file`);
  return resolve(dirname(config), v);
}

/** `--from DIR` (default: the folder of --config, else .) and `--config FILE` (default: DIR/skydive.yml). */
export function readSource(opts: { cwd: string; from?: string; config?: string }): ExportSource {
  const from = resolve(opts.cwd, opts.from ?? (opts.config ? dirname(opts.config) : "."));
  const config = resolve(opts.cwd, opts.config ?? join(from, STANZA_FILE));
  const show = (p: string) => shown(opts.cwd, p);
  if (!existsSync(config)) {
    throw usageError(
      `${opts.config ? "--config " : ""}${show(config)}: no such file, so no certificates to export`,
      `make them first (skycert init analyzer agent --out ${show(from)}, or init ca then init analyzer/agent --ca), or pass --from DIR or --config FILE`,
    );
  }
  const data = readYaml(config, "--config");
  const get = (key: string) => pathSetting(data, key, show(config));
  const warnings: string[] = [];
  const tlsSet = [TLS_KEYS.analyzer.cert, TLS_KEYS.analyzer.key, TLS_KEYS.agent.cert, TLS_KEYS.agent.key, TLS_KEYS.ca].some((k) => get(k));
  const legacySet = [LEGACY_KEYS.analyzer.cert, LEGACY_KEYS.analyzer.key, LEGACY_KEYS.agent.cert, LEGACY_KEYS.agent.key].some((k) => get(k));
  if (!tlsSet && !legacySet) {
    throw usageError(`${show(config)}: names no certificates (neither analyzer.X509_* / agent.X509_* nor tls.*)`, `run skycert init analyzer agent --out ${show(from)} first`);
  }
  const schema: Schema = tlsSet ? "tls" : "legacy";
  if (tlsSet && legacySet) warnings.push(`${show(config)} sets both legacy and tls.* keys; exporting the tls.* ones (as skycert validate reads it)`);
  const keys = schema === "tls" ? TLS_KEYS : LEGACY_KEYS;
  const need = (key: string, role: Role) => {
    const p = get(key);
    if (!p) throw usageError(`${show(config)}: ${key} is not set`, `run skycert init ${role}${schema === "tls" ? " --ca DIR" : ""} --out ${show(from)} first`);
    return p;
  };
  const analyzer = { cert: need(keys.analyzer.cert, "analyzer"), key: need(keys.analyzer.key, "analyzer") };
  let agent: Pair | undefined;
  if (schema === "legacy") agent = { cert: need(keys.agent.cert, "agent"), key: need(keys.agent.key, "agent") };
  else {
    const cert = get(keys.agent.cert);
    const key = get(keys.agent.key);
    if (cert && key) agent = { cert, key };
    else if (cert || key) throw usageError(`${show(config)}: ${cert ? keys.agent.key : keys.agent.cert} is not set, but ${cert ? keys.agent.cert : keys.agent.key} is`, "set both, or neither");
  }
  let ca: string | undefined;
  if (schema === "tls") {
    ca = get(TLS_KEYS.ca);
    if (!ca) throw usageError(`${show(config)}: ${TLS_KEYS.ca} is not set`, "it names the CA certificate both sides trust: run skycert init analyzer --ca DIR again");
  }
  return { from, config, schema, analyzer, agent, ca, fleet: readFleet(from, show), warnings };
}

function readFleet(from: string, show: (p: string) => string): FleetPair[] {
  const dir = join(from, AGENTS_FOLDER);
  let names: string[];
  try {
    if (!lstatSync(dir).isDirectory()) return [];
    names = readdirSync(dir).filter((n) => !n.startsWith(".")).sort();
  } catch {
    return [];
  }
  const out: FleetPair[] = [];
  for (const host of names) {
    const config = join(dir, host, STANZA_FILE);
    if (!existsSync(config)) continue;
    const data = readYaml(config, "fleet stanza");
    const cert = pathSetting(data, TLS_KEYS.agent.cert, show(config));
    const key = pathSetting(data, TLS_KEYS.agent.key, show(config));
    if (!cert || !key) throw usageError(`${show(config)}: ${TLS_KEYS.agent.cert} and ${TLS_KEYS.agent.key} must both be set`, `re-issue the host: skycert init agent --ca DIR --inventory FILE --out ${show(from)} --force`);
    out.push({ host, config, cert, key, ca: pathSetting(data, TLS_KEYS.ca, show(config)) });
  }
  return out;
}

/** The analyzer certificate, when it parses (validate reports it when it does not). */
export function readAnalyzerCert(src: ExportSource): CertInfo | undefined {
  try {
    const block = parsePem(readInput(src.analyzer.cert, "analyzer certificate", 1024 * 1024).text).blocks.find((b) => b.label === "CERTIFICATE");
    return block ? readCertificate(block.der) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The exact command that re-makes the analyzer certificate with `add` besides
 * the names it has: `--san` lists the names the cnf init would read (the one in
 * the working directory, else the bundled seed) does not give it, so nothing
 * the certificate carries is lost.
 */
export function reissueAnalyzer(src: ExportSource, cwd: string, cert: CertInfo, add: string[]): string {
  const current = cert.subjectAltNames.filter((s) => s.type === "DNS" || s.type === "IP").map((s) => s.value);
  let fromCnf = new Set<string>();
  try {
    const plan = planRole(loadCnf(chooseCnf(cwd).path), { role: "analyzer", extraSans: [], caSigned: src.schema === "tls" });
    fromCnf = new Set(plan.sans.map((s) => s.value.toLowerCase()));
  } catch {
    /* an unreadable cnf: name every SAN */
  }
  const sans = [...new Set([...current, ...add])].filter((n) => !fromCnf.has(n.toLowerCase()));
  const cmd = initCommand({ cwd, config: src.config, schema: src.schema }, "analyzer", src.analyzer.cert, sans);
  if (src.schema === "legacy" || !src.ca) return cmd;
  const caDir = shown(cwd, dirname(src.ca));
  return cmd.replace(/^skycert init analyzer /, `skycert init analyzer --ca ${/^[A-Za-z0-9_@%+=:,./-]+$/.test(caDir) ? caDir : `'${caDir.replace(/'/g, `'\\''`)}'`} `);
}

/**
 * Refuse when the analyzer certificate does not carry every name agents dial:
 * one line naming the certificate, the names, and the exact init command.
 */
export function requireCoverage(src: ExportSource, cwd: string, cert: CertInfo | undefined, dialed: { name: string; why: string }[]): void {
  if (!cert) return;
  const missing = dialed.filter((d) => !goMatches(cert, d.name));
  if (!missing.length) return;
  const has = cert.subjectAltNames.filter((s) => s.type === "DNS" || s.type === "IP").map(formatSan).join(", ") || "no DNS or IP SANs";
  throw failure(
    `the analyzer certificate ${shown(cwd, src.analyzer.cert)} does not carry ${missing.map((m) => `${m.name} (${m.why})`).join(", ")}; it has ${has}`,
    `run ${reissueAnalyzer(src, cwd, cert, missing.map((m) => m.name))}, then export again`,
  );
}

/**
 * skycert validate on the source (the same checks, environment ignored): a
 * failing check stops the export, naming the config, the failed ids and the
 * first remedy. Returns the warnings.
 */
export async function validateSource(opts: { cwd: string; config: string; role?: Role; hosts: string[]; what: string }): Promise<string[]> {
  const r = await validate({ cwd: opts.cwd, config: opts.config, files: {}, hosts: opts.hosts, role: opts.role, warnDays: 30, env: {} });
  const failed = r.checks.filter((c) => c.status === "fail");
  const show = shown(opts.cwd, opts.config);
  if (failed.length) {
    const first = failed[0]!;
    const ids = [...new Set(failed.map((c) => c.id))].join(", ");
    throw failure(
      `${opts.what} (${show}) fails skycert validate (${ids}): ${first.message}`,
      `${first.remedy ? `${first.remedy}; ` : ""}skycert validate --config ${show}${opts.role ? ` --role ${opts.role}` : ""} lists every problem`,
    );
  }
  return r.checks.filter((c) => c.status === "warn").map((c) => `${opts.what}: ${c.message}`);
}

/** The source file behind each shipped file name. */
export function sourceOf(src: ExportSource, name: TlsFileName, agent: Pair | undefined = src.agent): string {
  switch (name) {
    case "analyzer.crt":
      return src.analyzer.cert;
    case "analyzer.key":
      return src.analyzer.key;
    case "agent.crt":
    case "agent.key": {
      if (!agent) throw new Error(`sourceOf: no agent pair for ${name}`);
      return name === "agent.crt" ? agent.cert : agent.key;
    }
    case "ca.crt":
      if (!src.ca) throw new Error("sourceOf: no CA certificate");
      return src.ca;
  }
}

// ---------------------------------------------------------------------------
// Writing the bundle

export interface OutSet {
  /** A folder whose files appear together (writeSet): certificates and keys. */
  dir: string;
  files: FileSpec[];
}

export interface OutDoc {
  path: string;
  data: string;
}

export interface WrittenFile {
  path: string;
  mode: string;
  kind: "key" | "crt" | "yaml";
  status: "written" | "replaced" | "unchanged";
}

const octal = (mode: number) => `0${mode.toString(8)}`;

function sameFile(path: string, data: string | Uint8Array, mode: number | undefined): "none" | "same" | "differs" {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "none";
  }
  if (!st.isFile()) return "differs";
  if (mode !== undefined && (st.mode & 0o777) !== mode) return "differs";
  return sameContent(path, typeof data === "string" ? Buffer.from(data) : data) ? "same" : "differs";
}

/**
 * Write the sets and documents under `out`: files that exist with other
 * content (or mode, for certificates and keys) are replaced only with --force;
 * identical ones are left alone, so a second run changes nothing.
 */
export async function writeBundle(cwd: string, out: string, sets: OutSet[], docs: OutDoc[], force: boolean): Promise<WrittenFile[]> {
  const setState = sets.map((s) => s.files.map((f) => sameFile(f.path, f.data, f.mode)));
  const docState = docs.map((d) => sameFile(d.path, d.data, undefined));
  const differing = [...sets.flatMap((s, i) => s.files.filter((_, j) => setState[i]![j] === "differs").map((f) => f.path)), ...docs.filter((_, i) => docState[i] === "differs").map((d) => d.path)];
  if (differing.length && !force) {
    const list = differing.slice(0, 4).map((p) => shown(cwd, p)).join(", ");
    throw failure(
      `${differing.length === 1 ? `${list} exists and differs` : `${differing.length} files exist and differ (${list}${differing.length > 4 ? ", ..." : ""})`} from what the export writes`,
      "pass --force to replace them (renewed certificates need it), or choose another --out",
    );
  }
  await ensureDir(out);
  await withLock(out, async () => {
    // What killed runs left: in every folder the bundle writes in, whether or not it changes this time.
    for (const dir of new Set([out, ...sets.map((s) => dirname(s.dir)), ...docs.map((d) => dirname(d.path))])) recover(dir);
    for (const [i, s] of sets.entries()) {
      if (setState[i]!.every((st) => st === "same")) {
        await tidy(s.dir);
        continue;
      }
      await writeSet(s.dir, s.files, { force: true });
    }
    for (const [i, d] of docs.entries()) {
      if (docState[i] === "same") continue;
      await writeFileAtomic(d.path, d.data, { mode: 0o644, force: true });
    }
  });
  const status = (st: "none" | "same" | "differs") => (st === "none" ? "written" : st === "same" ? "unchanged" : "replaced");
  return [
    ...docs.map((d, i): WrittenFile => ({ path: d.path, mode: octal(0o644), kind: "yaml", status: status(docState[i]!) })),
    ...sets.flatMap((s, i) => s.files.map((f, j): WrittenFile => ({ path: f.path, mode: octal(f.mode), kind: f.path.endsWith(".key") ? "key" : "crt", status: status(setState[i]![j]!) }))),
  ];
}

/** The bytes of a source file (a key stays in memory, never printed). */
export function material(path: string, label: string): Uint8Array {
  return readInput(path, label, 1024 * 1024).bytes;
}
