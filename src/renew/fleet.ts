/**
 * `skycert renew --fleet DIR`: every host and client certificate of the fleet
 * record that expires within the window, renewed as `skycert renew CERT` would,
 * a few at a time (one failing does not stop the others). Never the CA: its
 * renewal is a decision of its own, so one expiring within the window is named.
 */
import { X509Certificate } from "node:crypto";
import { join, resolve } from "node:path";
import { usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import { readMaterial, recover, recoverUnder, withLock } from "../fs/files.js";
import { caSummary, loadCa } from "../pki/ca.js";
import { HOSTS_IN_FLIGHT } from "../pki/keys.js";
import { parsePem } from "../pki/pem.js";
import { abs, clientCert, readRecord } from "../skydive/record.js";
import { type RenewOptions, renewCertificate } from "./renew.js";

export type FleetOptions = Pick<RenewOptions, "cwd" | "rekey" | "keyType" | "bits" | "days" | "dryRun" | "passphrase"> & {
  fleet: string;
  withinDays: number;
  onProgress?: (done: number, total: number, label: string) => void;
};

export type FleetStatus = "renewed" | "due" | "not due" | "failed";

export interface FleetEntryResult {
  name: string;
  kind: "host" | "client";
  roles: string[];
  cert: string;
  status: FleetStatus;
  reason?: string;
  /** What fixes a failed host: a command to paste. */
  remedy?: string;
  before?: { serial: string; notAfter: string; keyFingerprint: string };
  after?: { serial?: string; notAfter: string; keyFingerprint?: string };
  key: "kept" | "new";
  sans: string[];
  warnings?: string[];
}

export type FleetRenewResult = Awaited<ReturnType<typeof renewFleet>>;

/** When a certificate expires, read with the platform's parser (a fleet's worth is read before any is renewed), or why it cannot be read. */
function expiry(path: string): Date | string {
  const read = readMaterial(path);
  if (!read.ok) return `${path}: ${read.problem}${read.detail ? ` (${read.detail})` : ""}`;
  const block = parsePem(read.bytes.toString("utf8")).blocks.find((b) => b.label === "CERTIFICATE");
  if (!block) return `${path}: no PEM certificate in it`;
  try {
    return new Date(new X509Certificate(block.der).validTo);
  } catch (err) {
    return `${path}: not a valid certificate (${(err as Error).message.split("\n")[0]})`;
  }
}

export async function renewFleet(opts: FleetOptions) {
  const { rekey = false, dryRun = false } = opts;
  const started = Date.now();
  const dir = resolve(opts.cwd, opts.fleet);
  const record = readRecord(dir);
  if (!record) throw usageError(`--fleet ${opts.fleet}: no fleet record (skycert.json) in ${dir}`, `pass the --out folder of ${command("init", "ca", "--out", "DIR")}`);
  if (!record.ca) throw usageError(`--fleet ${opts.fleet}: ${dir}/skycert.json names no CA (the legacy self-signed pairs have no fleet)`, `renew each certificate: ${command("renew", "CERT")}`);
  const deadline = new Date(Date.now() + opts.withinDays * 86_400_000);
  const warnings: string[] = [];
  // The folders whose sets a run swaps, as init recovers them under the fleet root's lock: a host folder a killed
  // run moved aside is put back before any certificate is read (else it reads as missing until an init --ca run).
  const folders = [dir, join(dir, "analyzers"), join(dir, "agents"), join(dir, "clients")];
  if (!dryRun) await recoverUnder(dir, folders);

  const entry = (name: string, kind: "host" | "client", roles: string[], cert: string, sans: string[]): FleetEntryResult => ({ name, kind, roles, cert, status: "not due", key: rekey ? "new" : "kept", sans });
  const entries = [...record.hosts.map((h) => entry(h.name, "host", [...h.roles], abs(dir, h.cert), h.sans)), ...(record.clients ?? []).map((c) => entry(c.name, "client", ["client"], clientCert(dir, c), []))];
  const due: FleetEntryResult[] = [];
  for (const e of entries) {
    const notAfter = expiry(e.cert);
    if (typeof notAfter === "string") Object.assign(e, { status: "failed", reason: notAfter });
    else if (notAfter <= deadline) due.push(e);
    else e.reason = `expires ${notAfter.toISOString().slice(0, 10)}, after the window`;
  }

  // The CA: loaded once, with its key when something is to be signed (its passphrase asked once).
  const caPath = abs(dir, record.ca);
  const ca = await loadCa(caPath, opts.cwd, { needKey: !dryRun && due.length > 0, passphrase: opts.passphrase });
  const caDue = ca.info.notAfter! <= deadline;
  if (caDue) {
    warnings.push(`the CA ${caPath} expires on ${ca.info.notAfter!.toISOString()}, within the window; renew --fleet never renews the CA: renew it on its own (its key is kept, so every certificate it signed stays valid): ${command("renew", caPath)}`);
  }

  const parallelism = Math.max(1, Math.min(due.length, HOSTS_IN_FLIGHT));
  const ctx = { fleetCa: ca, fleet: { dir, record }, lockedRoot: dryRun ? undefined : dir };
  let done = 0;
  const one = async (e: FleetEntryResult) => {
    try {
      const r = await renewCertificate({ cwd: opts.cwd, cert: e.cert, rekey, keyType: opts.keyType, bits: opts.bits, days: opts.days, dryRun, passphrase: opts.passphrase }, ctx);
      Object.assign(e, {
        status: dryRun ? "due" : "renewed",
        before: { serial: r.before.serial, notAfter: r.before.notAfter, keyFingerprint: r.key.previousFingerprint },
        after: { serial: r.after.serial, notAfter: r.after.notAfter, keyFingerprint: r.key.fingerprint },
        sans: r.sans.after,
        warnings: r.warnings.length ? r.warnings : undefined,
      });
    } catch (err) {
      Object.assign(e, { status: "failed", reason: err instanceof Error ? err.message : String(err), remedy: (err as { remedy?: string }).remedy });
    }
    opts.onProgress?.(++done, due.length, e.name);
  };
  const pool = async () => {
    if (!dryRun) for (const f of folders) recover(f);
    let next = 0;
    opts.onProgress?.(0, due.length, "");
    await Promise.all(Array.from({ length: parallelism }, async () => {
      while (next < due.length) await one(due[next++]!);
    }));
  };
  // Under the fleet root's lock, as init takes it: no re-issue of a host runs while its renewal does.
  if (dryRun) await pool();
  else if (due.length) await withLock(dir, pool);

  const outlives = entries.filter((e) => e.warnings?.some((w) => w.startsWith("the renewed certificate outlives its CA"))).length;
  if (outlives) {
    warnings.push(`${outlives} renewed certificate${outlives === 1 ? "" : "s"} outlive${outlives === 1 ? "s" : ""} the CA, which expires on ${ca.info.notAfter!.toISOString()}: Go rejects them from then on; renew the CA (${command("renew", caPath)}), then this fleet again`);
  }
  const counts: Record<FleetStatus, number> = { renewed: 0, due: 0, "not due": 0, failed: 0 };
  for (const e of entries) counts[e.status]++;
  return {
    ok: counts.failed === 0,
    kind: "fleet" as const,
    dryRun,
    fleet: dir,
    record: resolve(dir, "skycert.json"),
    skydive: record.skydive,
    withinDays: opts.withinDays,
    /** Certificates expiring before this are renewed. */
    deadline: deadline.toISOString(),
    rekey,
    ca: { ...caSummary(ca), expiresWithinWindow: caDue },
    hosts: entries,
    counts,
    parallelism,
    elapsedMs: Date.now() - started,
    warnings,
  };
}
