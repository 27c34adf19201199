/**
 * `skycert init analyzer|agent` without a CA: the seed's OpenSSL recipe
 * (genrsa, chmod 400, req, x509 -extensions v3_req, chmod 444) for one or both
 * roles, plus the legacy stanza in `<out>/skydive.yml`, with nothing half-made
 * on failure. This is what Skydive up to 0.20 loads, on every host: the
 * analyzer pair serves every API (agents' too) and the agent pair dials.
 */
import { type KeyObject, X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { failure } from "../cli/errors.js";
import { CERT_MODE, KEY_MODE, ensureDir, existing, octal, recover, withLock, writeSet } from "../fs/files.js";
import { chooseCnf, loadCnf } from "../pki/cnf.js";
import { makeCertificate, makeRequest, randomSerial, validity } from "../pki/issue.js";
import { describeKey, generateKey, privateKeyPem } from "../pki/keys.js";
import { toPem } from "../pki/pem.js";
import { planSelfSigned } from "../pki/profile.js";
import { formatSan } from "../pki/san.js";
import { parseDocument } from "yaml";
import { commitConfigUpdate, lookup, prepareConfigUpdate } from "../skydive/config.js";
import { emptyRecord, readRecord, writeRecord } from "../skydive/record.js";
import type { Role } from "../skydive/release.js";
import { CONFIG_FILE, LEGACY_COST, LEGACY_WAY_OUT, type Pair, type Settings, legacySettings } from "../skydive/settings.js";
import type { CnfChoice, FileResult, IssueOptions } from "./result.js";

export interface SelfSignedOptions extends IssueOptions {
  config?: string;
  /** Keys the caller started making (one per role), so they are made while this module loads. */
  keys?: Promise<KeyObject>[];
}

export interface RoleResult {
  role: Role;
  subject: string;
  stem: string;
  extensionsSection: string;
  sans: string[];
  key: string;
  days: number;
  serial?: string;
  notAfter?: string;
  fingerprint?: string;
  files: FileResult[];
}

export interface SelfSignedResult {
  ok: true;
  kind: "self-signed";
  dryRun: boolean;
  skydive: "legacy";
  cnf: CnfChoice;
  roles: RoleResult[];
  config: { path: string; changed: boolean; settings: Settings };
  /** Roles whose pair the config still lacks, after this run. */
  missing: Role[];
  warnings: string[];
}

export async function initSelfSigned(opts: SelfSignedOptions): Promise<SelfSignedResult> {
  const cnfChoice = chooseCnf(opts.cwd, opts.cnf);
  const cnf = loadCnf(cnfChoice.path, opts.cnf ? "--cnf" : "cnf");
  const out = resolve(opts.cwd, opts.out);
  const configPath = resolve(opts.cwd, opts.config ?? join(opts.out, CONFIG_FILE));
  const plans = opts.roles.map((role) => ({ role, plan: planSelfSigned(cnf, { role, cn: opts.cn, extraSans: opts.sans, extensionsSection: opts.extensions, stem: opts.stem }) }));
  const paths = plans.map(({ role, plan }) => {
    const dir = join(out, role);
    return { dir, key: join(dir, `${plan.stem}.key`), csr: join(dir, `${plan.stem}.csr`), crt: join(dir, `${plan.stem}.crt`) };
  });
  const pairs: Partial<Record<Role, Pair>> = {};
  plans.forEach(({ role }, i) => (pairs[role] = { cert: paths[i]!.crt, key: paths[i]!.key }));
  const settings = legacySettings(pairs);

  if (!opts.force) {
    const clash = existing(paths.flatMap((p) => [p.key, p.csr, p.crt]));
    if (clash.length) throw failure(`${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""}`, "pass --force to replace them, or choose another --out");
  }
  const record = readRecord(out);
  if (record && record.skydive !== "legacy") {
    throw failure(`${out} holds a Skydive ${record.skydive} fleet (skycert.json); self-signed pairs are the legacy schema`, "use another --out, or issue under the fleet's CA with --ca");
  }
  const roles: RoleResult[] = plans.map(({ role, plan }, i) => ({
    role,
    subject: `CN=${plan.cn}`,
    stem: plan.stem,
    extensionsSection: plan.extensionsSection,
    sans: plan.sans.map(formatSan),
    key: opts.key.type === "ecdsa" ? "EC P-256" : `RSA ${opts.key.bits}`,
    days: opts.days,
    files: [
      { path: paths[i]!.key, kind: "key", mode: octal(KEY_MODE) },
      { path: paths[i]!.csr, kind: "csr", mode: octal(CERT_MODE) },
      { path: paths[i]!.crt, kind: "crt", mode: octal(CERT_MODE) },
    ],
  }));
  const warnings = [`${LEGACY_COST}; ${LEGACY_WAY_OUT}`];
  const base = { ok: true as const, kind: "self-signed" as const, skydive: "legacy" as const, cnf: cnfChoice, roles, warnings };
  const missing: Role[] = [];
  if (opts.dryRun) return { ...base, dryRun: true, config: { path: configPath, changed: false, settings }, missing: [] };

  // A config that cannot be edited is refused before --out is made; it is read again under the lock.
  // One inside an --out that is not a folder yet does not exist: ensureDir names that folder's problem.
  if (!isInside(configPath, out) || isFolder(out)) prepareConfigUpdate(configPath, settings, opts.force);
  // The keys are made in the thread pool while the config edit is prepared under the lock.
  const keys = opts.keys ?? plans.map(() => generateKey(opts.key));
  keys.forEach((k) => k.catch(() => undefined));
  await ensureDir(out);
  const changed = await withLock(out, async () => {
    recover(out);
    const update = prepareConfigUpdate(configPath, settings, opts.force);
    const data = parseDocument(update.text).toJS() ?? {};
    missing.push(...(["analyzer", "agent"] as const).filter((r) => !lookup(data, `${r}.X509_cert`)));
    const privateKeys = await Promise.all(keys);
    const { notBefore, notAfter } = validity(opts.days);
    await Promise.all(
      plans.map(({ plan }, i) => {
        const key = privateKeys[i]!;
        const csr = makeRequest({ subject: plan.subject, privateKey: key, extensions: plan.requestExtensions });
        const crt = makeCertificate({ subject: plan.subject, subjectKey: key, extensions: plan.certificateExtensions, serial: randomSerial(), notBefore, notAfter });
        const x509 = new X509Certificate(crt);
        Object.assign(roles[i]!, { key: describeKey(key), serial: x509.serialNumber, notAfter: notAfter.toISOString(), fingerprint: x509.fingerprint256 });
        return writeSet(paths[i]!.dir, [
          { path: paths[i]!.key, data: privateKeyPem(key), mode: KEY_MODE },
          { path: paths[i]!.csr, data: toPem("CERTIFICATE REQUEST", csr), mode: CERT_MODE },
          { path: paths[i]!.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
        ], { force: opts.force });
      }),
    );
    const changed = await commitConfigUpdate(update, opts.force);
    if (!record) await writeRecord(out, emptyRecord("legacy"));
    return changed;
  });
  return { ...base, dryRun: false, config: { path: configPath, changed, settings }, missing };
}

function isInside(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r !== ".." && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}
