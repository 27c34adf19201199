/**
 * `skycert init agent --ca DIR --inventory FILE`: one key, CSR and CA-signed
 * certificate per host of the inventory's `agents` group (children included).
 *
 * Each host's folder `<out>/agents/<host>/` is one atomic set: its key (0400),
 * CSR and certificate (0444) and a `skydive.yml` stanza naming them and the CA
 * certificate (`--deploy-dir` says where they will be on the host; the CA
 * certificate is deployed beside them). The cnf is parsed and the CA loaded
 * once; keys come from a pool that
 * keeps every core busy while the main thread signs and the folders are
 * written. One host's failure leaves the others done; existing hosts are
 * skipped unless --force.
 */
import type { KeyObject } from "node:crypto";
import { existsSync, lstatSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Cnf } from "../core/cnf.js";
import { usageError } from "../core/errors.js";
import { type HostAddress, groupAddresses, parseInventory } from "../core/inventory.js";
import { makeCertificate, makeRequest, randomSerial } from "../core/issue.js";
import { privateKeyPem, publicKeyFingerprint, sha256Fingerprint } from "../core/keys.js";
import { toPem } from "../core/pem.js";
import { type RolePlan, planRole, validateCommonName } from "../core/profile.js";
import { formatSan, sanFromAddress } from "../core/san.js";
import { AGENTS_FOLDER, STANZA_FILE, type Schema, type Settings, roleSettings } from "../core/stanza.js";

export { AGENTS_FOLDER, STANZA_FILE };
import { editYaml } from "../core/yaml-edit.js";
import { loadCnf } from "../io/cnf-file.js";
import { CERT_MODE, type FileSpec, KEY_MODE, existing, readInput, recover, tidy, withLock, writeSet } from "../io/files.js";
import { type CaSummary, type LoadedCa, caSummary, loadCa } from "./ca.js";
import { type FileResult, type InitResult, type IssueOptions, chooseCnf, leafRequest } from "./init.js";
import type { KeyPool } from "./keypool.js";

export const FLEET_GROUP = "agents";

/** `cn`, when given, is every host's common name; by default each host's name. */
export interface FleetOptions extends IssueOptions {
  inventory: string;
  ca: string;
  /** Where the files will live on the hosts; the stanza names paths there. Default: where they are written. */
  deployDir?: string;
  onProgress?: (done: number, total: number, host: string) => void;
}

export type HostStatus = "issued" | "skipped" | "failed" | "planned";

export interface FleetHost {
  host: string;
  address: string;
  addressFrom: HostAddress["from"];
  /** Line of the inventory that lists the host. */
  line: number;
  status: HostStatus;
  reason?: string;
  dir: string;
  subject?: string;
  sans?: string[];
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  fingerprint?: string;
  /** SHA-256 of the public key, to tell keys apart without showing them. */
  keyFingerprint?: string;
  files?: FileResult[];
  config?: Settings;
}

export interface FleetResult {
  ok: boolean;
  kind: "fleet";
  dryRun: boolean;
  inventory: { path: string; format: string; group: string; hosts: number };
  cnf: InitResult["cnf"];
  ca: CaSummary;
  schema: Schema;
  out: string;
  agentsDir: string;
  keyBits: number;
  days: number;
  parallelism: number;
  hosts: FleetHost[];
  counts: Record<HostStatus, number>;
  elapsedMs: number;
  warnings?: string[];
}

const octal = (mode: number) => `0${mode.toString(8)}`;

/** A host name is a folder name: no separators, no dot names, no blanks or control characters. */
export function hostFolderProblem(host: string): string | undefined {
  if (host === "." || host === ".." || host.startsWith(".")) return "starts with a dot";
  if (host.length > 255) return "is longer than 255 characters";
  if (/[/\\\0]/.test(host)) return "contains a path separator";
  if (/[\s\x00-\x1f\x7f]/.test(host)) return "contains blanks or control characters";
  return undefined;
}

interface Pending {
  result: FleetHost;
  plan: RolePlan;
  paths: { key: string; csr: string; crt: string; config: string };
  settings: Settings;
  stanzaText: string;
}

export async function issueFleet(opts: FleetOptions, pool?: KeyPool): Promise<FleetResult> {
  const started = Date.now();
  const schema: Schema = opts.schema ?? "tls";
  if (schema !== "tls") {
    throw usageError("--inventory issues under a CA with the tls schema", "drop --schema legacy: legacy cross validation needs the analyzer to trust each agent certificate itself");
  }
  const cnfChoice = chooseCnf(opts.cwd, opts.cnf);
  const cnf: Cnf = loadCnf(cnfChoice.path, opts.cnf ? "--cnf" : "cnf");
  const inventoryPath = resolve(opts.cwd, opts.inventory);
  const inv = parseInventory(readInput(inventoryPath, "--inventory").text, inventoryPath);
  const hosts = groupAddresses(inv, FLEET_GROUP);
  const ca: LoadedCa = await loadCa(opts.ca, opts.cwd, { needKey: !opts.dryRun, passphrase: opts.passphrase });
  const caCertPath = ca.certPath;

  const out = resolve(opts.cwd, opts.out);
  const agentsDir = join(out, AGENTS_FOLDER);
  const results: FleetHost[] = [];
  const pending: Pending[] = [];
  /** Host folders left as they are: only what killed runs left in them is cleaned. */
  const skipped: string[] = [];
  const deploy = opts.deployDir;

  for (const h of hosts) {
    const result: FleetHost = { host: h.host, address: h.address, addressFrom: h.from, line: h.where.line, status: "planned", dir: join(agentsDir, h.host) };
    results.push(result);
    const failHost = (reason: string) => Object.assign(result, { status: "failed" as const, reason });
    const folderProblem = hostFolderProblem(h.host);
    if (folderProblem) {
      failHost(`host name ${folderProblem}, so it cannot name a folder (inventory line ${h.where.line})`);
      continue;
    }
    const { san, problem } = sanFromAddress(h.address);
    if (!san) {
      failHost(`${h.from === "ansible_host" ? "ansible_host" : "host name"} "${h.address}" ${problem} (inventory line ${h.where.line})`);
      continue;
    }
    const cn = opts.cn ?? h.host;
    if (opts.cn === undefined) {
      try {
        validateCommonName(cn, "common name");
      } catch (err) {
        failHost(`${(err as Error).message} (from the host name; pass --cn to choose one)`);
        continue;
      }
    }
    // A cnf or flag problem is the same for every host: it stops the run before anything is written.
    const plan = planRole(cnf, { role: "agent", cn, extraSans: [...opts.sans, san], extensionsSection: opts.extensions, stem: opts.stem, caSigned: true });
    const dir = result.dir;
    const paths = {
      key: join(dir, `${plan.stem}.key`),
      csr: join(dir, `${plan.stem}.csr`),
      crt: join(dir, `${plan.stem}.crt`),
      config: join(dir, STANZA_FILE),
    };
    if (plan.stem === "skydive") throw usageError(`--stem ${plan.stem}: the host files would collide with ${STANZA_FILE}`, "choose another --stem");
    const there = (p: string) => (deploy ? join(deploy, basename(p)) : p);
    const settings = roleSettings("agent", "tls", { cert: there(paths.crt), key: there(paths.key), ca: there(caCertPath) });
    Object.assign(result, {
      subject: `CN=${plan.cn}`,
      sans: plan.sans.map(formatSan),
      files: [
        { path: paths.key, kind: "key", mode: octal(KEY_MODE) },
        { path: paths.csr, kind: "csr", mode: octal(CERT_MODE) },
        { path: paths.crt, kind: "crt", mode: octal(CERT_MODE) },
      ],
      config: settings,
    });
    if (!opts.force) {
      const clash = existing([paths.key, paths.csr, paths.crt]);
      if (clash.length) {
        Object.assign(result, { status: "skipped" as const, reason: `already issued (${clash.map((c) => basename(c)).join(", ")}); --force re-issues` });
        skipped.push(dir);
        continue;
      }
    }
    let stanzaText = "";
    try {
      if (existsSync(paths.config) && lstatSync(paths.config).isFile()) stanzaText = readInput(paths.config, "stanza").text;
      stanzaText = editYaml(stanzaText, settings, paths.config);
    } catch (err) {
      failHost(err instanceof Error ? err.message : String(err));
      continue;
    }
    pending.push({ result, plan: { ...plan, requestExtensions: leafRequest(plan.certificateExtensions) }, paths, settings, stanzaText });
  }

  const counts = () => {
    const c: Record<HostStatus, number> = { issued: 0, skipped: 0, failed: 0, planned: 0 };
    for (const r of results) c[r.status]++;
    return c;
  };
  const base = {
    kind: "fleet" as const,
    inventory: { path: inventoryPath, format: inv.format, group: FLEET_GROUP, hosts: hosts.length },
    cnf: cnfChoice,
    ca: caSummary(ca),
    schema,
    out,
    agentsDir,
    keyBits: opts.bits,
    days: opts.days,
    parallelism: pool?.parallelism ?? 0,
  };
  const warnings: string[] = [];
  if (ca.info.notAfter && Date.now() + opts.days * 86_400_000 > ca.info.notAfter.getTime()) {
    warnings.push(`the certificates outlive their CA, which expires on ${ca.info.notAfter.toISOString()}: Go rejects them from then on`);
  }
  if (opts.dryRun) {
    const c = counts();
    return { ok: c.failed === 0, dryRun: true, ...base, hosts: results, counts: c, elapsedMs: Date.now() - started, ...(warnings.length ? { warnings } : {}) };
  }
  if (!pool) throw new Error("issueFleet: a key pool is required");
  pool.setDemand(pending.length);

  const total = results.length;
  let done = results.length - pending.length;
  const tick = (host: string) => opts.onProgress?.(++done, total, host);
  opts.onProgress?.(done, total, "");
  const issuer = { name: ca.subjectDer, serial: ca.serial, keyIdentifier: ca.keyIdentifier, privateKey: ca.privateKey! };

  for (const dir of skipped) await tidy(dir);
  // Nothing to write (every host skipped or failed): no folder or lock is made either.
  if (pending.length) {
    await withLock(out, async () => {
      recover(out);
      recover(agentsDir);
      const writes: Promise<void>[] = [];
      for (const p of pending) {
        const r = p.result;
        let key: KeyObject;
        try {
          key = await pool.take();
        } catch (err) {
          Object.assign(r, { status: "failed" as const, reason: `key generation failed: ${(err as Error).message}` });
          tick(r.host);
          continue;
        }
        let files: FileSpec[];
        try {
          files = issueHost(p, key, issuer, opts.days, r);
        } catch (err) {
          Object.assign(r, { status: "failed" as const, reason: err instanceof Error ? err.message : String(err) });
          tick(r.host);
          continue;
        }
        writes.push(
          writeSet(r.dir, files, { force: opts.force }).then(
            () => {
              r.status = "issued";
              tick(r.host);
            },
            (err: unknown) => {
              Object.assign(r, { status: "failed" as const, reason: err instanceof Error ? err.message : String(err) });
              for (const k of ["serial", "notBefore", "notAfter", "fingerprint", "keyFingerprint"] as const) delete r[k];
              tick(r.host);
            },
          ),
        );
      }
      await Promise.all(writes);
    });
  }
  const c = counts();
  return { ok: c.failed === 0, dryRun: false, ...base, hosts: results, counts: c, elapsedMs: Date.now() - started, ...(warnings.length ? { warnings } : {}) };
}

function issueHost(
  p: Pending,
  key: KeyObject,
  issuer: { name: Uint8Array; serial: Uint8Array; keyIdentifier: Uint8Array; privateKey: KeyObject },
  days: number,
  r: FleetHost,
): FileSpec[] {
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const serial = randomSerial();
  const csr = makeRequest({ subject: p.plan.subject, privateKey: key, extensions: p.plan.requestExtensions });
  const crt = makeCertificate({ subject: p.plan.subject, subjectKey: key, extensions: p.plan.certificateExtensions, serial, notBefore, notAfter, issuer });
  Object.assign(r, {
    serial: Buffer.from(serial).toString("hex").toUpperCase(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprint: sha256Fingerprint(crt),
    keyFingerprint: publicKeyFingerprint(key),
  });
  return [
    { path: p.paths.key, data: privateKeyPem(key), mode: KEY_MODE },
    { path: p.paths.csr, data: toPem("CERTIFICATE REQUEST", csr), mode: CERT_MODE },
    { path: p.paths.crt, data: toPem("CERTIFICATE", crt), mode: CERT_MODE },
    { path: p.paths.config, data: p.stanzaText, mode: 0o644 },
  ];
}
