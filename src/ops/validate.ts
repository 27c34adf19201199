/**
 * `skycert validate`: read the Skydive config and the files it names, run the
 * pure checks (core/checks.ts) and a real mutual-TLS handshake with Skydive's
 * settings, and gather the results. `validatePair` judges one analyzer/agent
 * pair and is what a fleet run repeats per host.
 */
import {
  type Check,
  type CheckId,
  type FileFlags,
  type FileInput,
  type Host,
  type ItemName,
  type ItemSpec,
  type ParsedCertFile,
  type ParsedKeyFile,
  type Plan,
  type RemedyContext,
  type Status,
  certUses,
  checkBasicConstraints,
  checkConfigFiles,
  checkExtendedKeyUsage,
  checkFileMode,
  checkKeyMatch,
  checkKeyStrength,
  checkKeyUsage,
  checkReadable,
  checkSanCoverage,
  checkSanPresent,
  checkSerial,
  checkSignatureAlgorithm,
  checkTrust,
  checkValidity,
  initCommand,
  parseCertFile,
  parseKeyFile,
  planDeployment,
  sortChecks,
} from "../core/checks.js";
import { readCertificate } from "../core/certinfo.js";
import { MAX_PEM_BYTES, readConfig, readMaterial, shower } from "../io/material.js";

export { MAX_PEM_BYTES, readConfig, readMaterial, shower };
import type { Role, Schema } from "../core/stanza.js";
import { skydiveHandshake } from "../io/handshake.js";

/** Certificates and keys are a few kilobytes; anything this large is not one. */
export interface ValidateOptions {
  cwd: string;
  /** --config; undefined means ./skydive.yml, which may then be absent if file flags are given. */
  config?: string;
  files: FileFlags;
  hosts: string[];
  role?: Role;
  warnDays: number;
  env: Record<string, string | undefined>;
  now?: Date;
}

export interface ValidateResult {
  ok: boolean;
  checks: Check[];
  schema: Schema;
  role: Role | "both";
  config: string | null;
  hosts: Host[];
  summary: Record<Status, number>;
}

/** Messages show paths under the working directory relative to it. */

function toInput(spec: ItemSpec, show: (p: string) => string): FileInput {
  return { item: spec.item, label: spec.label, setting: spec.setting, path: spec.path, shown: show(spec.path), read: readMaterial(spec.path), optional: spec.optional };
}

export interface PairInput {
  /** Run the loopback handshake (default true); a fleet may judge many pairs without it. */
  handshake?: boolean;
  schema: Schema;
  role: Role | undefined;
  inputs: Partial<Record<ItemName, FileInput>>;
  hosts: Host[];
  now: Date;
  warnDays: number;
  ctx: RemedyContext;
}

const skip = (id: CheckId, subject: string, message: string, extra: Partial<Check> = {}): Check => ({ id, status: "skip", subject, message, ...extra });

/**
 * Every check of one analyzer/agent pair (or the half of it one role needs):
 * the files, each certificate, key matches, trust both ways, name coverage
 * and the handshake for each host.
 */
export async function validatePair(pair: PairInput): Promise<Check[]> {
  const { inputs, schema, ctx, now, warnDays } = pair;
  const checks: Check[] = [];
  const certs: Partial<Record<ItemName, ParsedCertFile>> = {};
  const keys: Partial<Record<ItemName, ParsedKeyFile>> = {};

  for (const input of Object.values(inputs)) {
    checks.push(checkReadable(input));
    if (!input.read.ok) continue;
    const mode = checkFileMode(input);
    if (mode) checks.push(mode);
    if (input.item.endsWith("Key")) {
      const r = parseKeyFile(input);
      checks.push(r.check);
      if (r.parsed) keys[input.item] = r.parsed;
    } else {
      const r = parseCertFile(input, readCertificate);
      checks.push(r.check);
      if (r.parsed) certs[input.item] = r.parsed;
    }
  }

  // Each certificate, in the parts it plays.
  for (const file of Object.values(certs)) {
    for (const use of certUses(file, schema)) {
      checks.push(
        checkKeyStrength(use, ctx),
        checkSignatureAlgorithm(use, ctx),
        checkValidity(use, now, warnDays, ctx),
        checkSerial(use, ctx),
        checkBasicConstraints(use, ctx),
        checkKeyUsage(use, ctx),
        checkExtendedKeyUsage(use, ctx),
      );
      if (use.leaf) checks.push(checkSanPresent(use, ctx));
      if (use.leaf && use.role === "analyzer") for (const host of pair.hosts) checks.push(checkSanCoverage(use, host, ctx));
    }
  }
  const why = (item: ItemName) => {
    const input = inputs[item];
    if (!input) return `${labelOf(item)} is not configured`;
    if (!input.read.ok && input.read.problem === "missing" && input.optional) return `${input.shown} is not on this host`;
    return input.read.ok ? `${input.shown} could not be parsed (see pem-parse)` : `${input.shown} could not be read (see file-readable)`;
  };
  if (!certs.analyzerCert && !(inputs.analyzerCert?.optional && !inputs.analyzerCert.read.ok)) {
    for (const host of pair.hosts) checks.push(skip("san-coverage", `analyzer cert for ${host.name}`, `not checked: ${why("analyzerCert")}`, { host: host.name }));
  }

  // key-match
  for (const role of ["analyzer", "agent"] as const) {
    const cert = certs[`${role}Cert`];
    const key = keys[`${role}Key`];
    if (cert && key) checks.push(checkKeyMatch(cert, key, role, ctx));
    else if (inputs[`${role}Key`]) checks.push(skip("key-match", `${role} key`, `not checked: ${why(cert ? `${role}Key` : `${role}Cert`)}`));
  }

  // trust, both ways, with the pools Skydive loads
  const pools = trustPools(schema, certs);
  for (const role of ["analyzer", "agent"] as const) {
    const presented = certs[`${role}Cert`];
    const pool = pools[role];
    const input = inputs[`${role}Cert`];
    if (!input || (input.optional && !input.read.ok)) continue;
    if (presented && pool.files) checks.push(checkTrust({ role, presented, pool: pool.files, poolSetting: pool.setting }, now, ctx));
    else checks.push(skip("trust", `${role} cert`, `not checked: ${presented ? pool.why : why(`${role}Cert`)}`));
  }

  if (pair.handshake !== false) checks.push(...(await handshakes(pair, certs, keys, pools, checks.some((c) => c.status === "fail"))));
  return mergeInitRemedies(checks, certs, ctx);
}

/**
 * One `skycert init <role> ... --force` per role fixes everything wrong with its
 * self-signed certificate: give every check the same command, with all the SANs
 * the hosts need, so the human view shows it once.
 */
function mergeInitRemedies(checks: Check[], certs: Partial<Record<ItemName, ParsedCertFile>>, ctx: RemedyContext): Check[] {
  for (const role of ["analyzer", "agent"] as const) {
    const file = certs[`${role}Cert`];
    if (!file) continue;
    const base = initCommand(ctx, role, file.input.path);
    const sans = checks.filter((c) => c.id === "san-coverage" && c.status === "fail" && c.host && c.remedy?.startsWith(`skycert init ${role} `)).map((c) => c.host!);
    const merged = initCommand(ctx, role, file.input.path, [...new Set(sans)]);
    const sanRemedies = new Set(sans.map((h) => initCommand(ctx, role, file.input.path, [h])));
    for (const c of checks) if (c.remedy === base || (c.remedy && sanRemedies.has(c.remedy))) c.remedy = merged;
  }
  return checks;
}

function labelOf(item: ItemName): string {
  return { analyzerCert: "the analyzer cert", analyzerKey: "the analyzer key", agentCert: "the agent cert", agentKey: "the agent key", ca: "the CA cert" }[item];
}

interface Pool {
  files: ParsedCertFile[] | undefined;
  setting: string;
  why: string;
}

/** What each side's presented certificate is verified against: legacy cross validation, or tls.ca_cert. */
function trustPools(schema: Schema, certs: Partial<Record<ItemName, ParsedCertFile>>): Record<Role, Pool> {
  if (schema === "tls") {
    const ca = certs.ca;
    const p: Pool = { files: ca ? [ca] : undefined, setting: "tls.ca_cert", why: "the CA cert could not be read" };
    return { analyzer: p, agent: p };
  }
  // The agents trust analyzer.X509_cert; the analyzer trusts agent.X509_cert.
  return {
    analyzer: { files: certs.analyzerCert ? [certs.analyzerCert] : undefined, setting: certs.analyzerCert?.input.setting ?? "analyzer.X509_cert", why: "the analyzer cert could not be read" },
    agent: { files: certs.agentCert ? [certs.agentCert] : undefined, setting: certs.agentCert?.input.setting ?? "agent.X509_cert", why: "the agent cert could not be read" },
  };
}

async function handshakes(
  pair: PairInput,
  certs: Partial<Record<ItemName, ParsedCertFile>>,
  keys: Partial<Record<ItemName, ParsedKeyFile>>,
  pools: Record<Role, Pool>,
  otherFailures: boolean,
): Promise<Check[]> {
  const subject = (host: Host) => `agent -> analyzer ${host.name}`;
  const missing: string[] = [];
  for (const item of ["analyzerCert", "analyzerKey", "agentCert", "agentKey"] as const) {
    const input = pair.inputs[item];
    const have = item.endsWith("Key") ? keys[item] : certs[item];
    if (have) continue;
    const mine = pair.role === undefined || item.startsWith(pair.role);
    if (!input) missing.push(`${labelOf(item).replace(/^the /, "")} ${mine ? "is not configured" : `is absent (--role ${pair.role} does not need it)`}`);
    else missing.push(`${input.shown} ${input.read.ok ? "could not be parsed" : input.optional && input.read.problem === "missing" ? "is not on this host" : "could not be read"}`);
  }
  if (!missing.length && (!pools.analyzer.files || !pools.agent.files)) missing.push(pools.analyzer.files ? pools.agent.why : pools.analyzer.why);
  if (missing.length) {
    return pair.hosts.map((host) => skip("handshake", subject(host), `skipped: ${[...new Set(missing)].join("; ")}`, { host: host.name }));
  }
  const pems = (files: ParsedCertFile[]) => files.flatMap((f) => f.pem);
  const analyzer = { cert: certs.analyzerCert!.pem.join(""), key: keys.analyzerKey!.pem, trust: pems(pools.agent.files!) };
  const agent = { cert: certs.agentCert!.pem.join(""), key: keys.agentKey!.pem, trust: pems(pools.analyzer.files!) };
  const out: Check[] = [];
  for (const host of pair.hosts) {
    let r: Awaited<ReturnType<typeof skydiveHandshake>>;
    try {
      r = await skydiveHandshake(analyzer, agent, host.name);
    } catch (err) {
      r = { ok: false, side: "analyzer", error: (err as Error).message.split("\n")[0]! };
    }
    if (r.ok) {
      out.push({ id: "handshake", status: "pass", subject: subject(host), message: `mutual TLS with Skydive's settings, dialing ${host.name}: ${r.protocol}, ${r.cipher}`, host: host.name });
    } else {
      out.push({
        id: "handshake",
        status: "fail",
        subject: subject(host),
        message: `mutual TLS with Skydive's settings, dialing ${host.name}, failed: ${/rejected the/.test(r.error) ? r.error : `${r.side} side: ${r.error}`}`,
        remedy: otherFailures
          ? "fix the other failed checks; the handshake shows their effect with a real TLS stack"
          : "no other check explains it: re-make both pairs (skycert init analyzer agent --force) and compare, or reproduce it with openssl s_server/s_client on these files",
        host: host.name,
      });
    }
  }
  return out;
}

/** Read the config and files, run every check, and say whether the deployment will connect. */
export async function validate(opts: ValidateOptions): Promise<ValidateResult> {
  const show = shower(opts.cwd);
  const config = await readConfig(opts, show);
  const plan: Plan = planDeployment({ config, env: opts.env, flags: opts.files, hosts: opts.hosts, role: opts.role, cwd: opts.cwd });
  const inputs: Partial<Record<ItemName, FileInput>> = {};
  for (const spec of Object.values(plan.items)) inputs[spec.item] = toInput(spec, show);
  const ctx: RemedyContext = { cwd: opts.cwd, config: config?.path, schema: plan.schema };
  const strayRead = plan.strayAnalyzerKey ? readMaterial(plan.strayAnalyzerKey.path) : undefined;
  const stray = plan.strayAnalyzerKey && strayRead ? { path: show(plan.strayAnalyzerKey.path), exists: strayRead.ok || strayRead.problem !== "missing" } : undefined;
  const checks = [
    ...checkConfigFiles(plan, Object.values(inputs), config, stray),
    ...(await validatePair({ schema: plan.schema, role: opts.role, inputs, hosts: plan.hosts, now: opts.now ?? new Date(), warnDays: opts.warnDays, ctx })),
  ];
  const sorted = sortChecks(checks);
  const summary: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of sorted) summary[c.status]++;
  return {
    ok: summary.fail === 0,
    checks: sorted,
    schema: plan.schema,
    role: opts.role ?? "both",
    config: config?.path ?? null,
    hosts: plan.hosts,
    summary,
  };
}
