/**
 * validate --fleet, host by host: each folder `DIR/agents/<host>/` checked from
 * its own skydive.yml as an agent host, with what the fleet-level checks need
 * from it. (A second thread was measured: on two cores its start-up costs more
 * than it saves on a 200-host fleet.)
 */
import { join } from "node:path";
import { type Check, type FileInput, type FileRead, type ItemName, type Status, checkConfigFiles, checkFileMode, checkReadable, latin1, planDeployment, sortChecks } from "../core/checks.js";
import { SkycertError } from "../core/errors.js";
import { type Anchor, checkHostPair } from "../core/fleet-host.js";
import { sha256Fingerprint } from "../core/keys.js";
import { parsePem } from "../core/pem.js";
import { STANZA_FILE } from "../core/stanza.js";
import { type RawCertificate, certIdentity, walkCertificate } from "../core/x509-raw.js";
import { readConfig, readMaterial, shower } from "../io/material.js";

/** What checking the hosts needs. */
export interface HostJob {
  cwd: string;
  fleet: string;
  agentsDir: string;
  names: string[];
  warnDays: number;
  /** The run's clock: every host is judged at the same instant. */
  now: Date;
  deep: boolean;
}

export interface FleetHostResult {
  host: string;
  dir: string;
  ok: boolean;
  summary: Record<Status, number>;
  checks: Check[];
  serial?: string;
}

/** One host's result, and what the fleet-level checks need from it. */
export interface HostOutcome {
  result: FleetHostResult;
  /** Its certificate's issuer (hex), serial and key (base64 SPKI), when it parsed. */
  identity?: { issuer: string; serial: string; key: string };
  /** The CA its tls.ca_cert names. */
  ca?: { path: string; fingerprint: string | undefined; der: Uint8Array | undefined };
  /** Its three files, for the sample handshake. */
  files?: { cert: string; key: string; ca: string };
}

export const zero = (): Record<Status, number> => ({ pass: 0, warn: 0, fail: 0, skip: 0 });
export const firstCertDer = (bytes: Uint8Array): Uint8Array | undefined => parsePem(latin1(bytes)).blocks.find((b) => b.label === "CERTIFICATE")?.der;

/** Every host's outcome, in `job.names` order. Files the hosts share (their CA) are read, parsed and hashed once. */
export async function checkHosts(job: HostJob): Promise<HostOutcome[]> {
  const { now } = job;
  const show = shower(job.cwd);
  // Only the CA is kept: a host's own files are dropped once it is checked (fewer survivors for the GC to copy).
  const caReads = new Map<string, FileRead>();
  const readCa = (path: string) => {
    let read = caReads.get(path);
    if (!read) caReads.set(path, (read = readMaterial(path)));
    return read;
  };
  const cas = new Map<string, { der: Uint8Array; fingerprint: string; anchor: Anchor | undefined } | undefined>();
  const caOf = (f: FileInput) => {
    if (!cas.has(f.path)) {
      const der = f.read.ok ? firstCertDer(f.read.bytes) : undefined;
      let cert: RawCertificate | undefined;
      try {
        cert = der ? walkCertificate(der) : undefined;
      } catch {
        cert = undefined;
      }
      cas.set(f.path, der ? { der, fingerprint: sha256Fingerprint(der), anchor: cert ? { cert, shown: f.shown } : undefined } : undefined);
    }
    return cas.get(f.path);
  };
  const reissue = `re-issue this host: skycert init agent --ca CA_DIR --inventory FILE --out ${show(job.fleet)} --force`;

  const checkHost = async (name: string): Promise<HostOutcome> => {
    const dir = join(job.agentsDir, name);
    const configPath = join(dir, STANZA_FILE);
    const outcome: Omit<HostOutcome, "result"> = {};
    let checks: Check[];
    try {
      const config = await readConfig({ cwd: job.cwd, config: configPath, files: {} }, show);
      const plan = planDeployment({ config, env: {}, flags: {}, hosts: [], role: "agent", cwd: job.cwd });
      const inputs: Partial<Record<ItemName, FileInput>> = {};
      for (const spec of Object.values(plan.items)) {
        inputs[spec.item] = { item: spec.item, label: spec.label, setting: spec.setting, path: spec.path, shown: show(spec.path), read: spec.item === "ca" ? readCa(spec.path) : readMaterial(spec.path), optional: spec.optional };
      }
      const ca = inputs.ca ? caOf(inputs.ca) : undefined;
      checks = checkConfigFiles(plan, Object.values(inputs), config, undefined);
      let cert: Uint8Array | undefined;
      if (job.deep) {
        const { validatePair } = await import("./validate.js");
        checks.push(...(await validatePair({ schema: plan.schema, role: "agent", inputs, hosts: [], now, warnDays: job.warnDays, ctx: { cwd: job.cwd, config: config?.path, schema: plan.schema }, handshake: false })));
        cert = inputs.agentCert?.read.ok ? firstCertDer(inputs.agentCert.read.bytes) : undefined;
      } else {
        for (const f of Object.values(inputs)) {
          checks.push(checkReadable(f));
          const mode = checkFileMode(f);
          if (mode) checks.push(mode);
        }
        if (inputs.agentCert && inputs.agentKey) {
          const r = checkHostPair({ cert: inputs.agentCert, key: inputs.agentKey, ca: ca?.anchor }, now, job.warnDays, reissue);
          checks.push(...r.checks);
          cert = r.cert?.der;
        }
      }
      // What the fleet-level checks need, read cheaply from the bytes already in memory.
      if (cert) {
        try {
          const id = certIdentity(cert);
          outcome.identity = { serial: id.serial, issuer: Buffer.from(id.issuer).toString("hex"), key: Buffer.from(id.spki).toString("base64") };
        } catch {
          /* pem-parse already failed it */
        }
      }
      if (inputs.ca) outcome.ca = { path: inputs.ca.path, fingerprint: ca?.fingerprint, der: ca?.der };
      if (inputs.agentCert && inputs.agentKey && inputs.ca) outcome.files = { cert: inputs.agentCert.path, key: inputs.agentKey.path, ca: inputs.ca.path };
    } catch (err) {
      if (!(err instanceof SkycertError)) throw err;
      checks = [{ id: "config", status: "fail", subject: show(configPath), message: err.message, remedy: err.remedy ?? `re-issue the host: skycert init agent --ca ... --inventory ... --out ${show(job.fleet)} --force` }];
    }
    const sorted = sortChecks(checks);
    const summary = zero();
    for (const c of sorted) summary[c.status]++;
    const serial = outcome.identity?.serial;
    return { ...outcome, result: { host: name, dir, ok: summary.fail === 0, summary, checks: sorted, ...(serial ? { serial } : {}) } };
  };

  const outcomes: HostOutcome[] = [];
  for (const name of job.names) outcomes.push(await checkHost(name));
  return outcomes;
}
