/**
 * `skycert renew --fleet DIR`: every host certificate of the fleet record (and
 * the clients it lists) that expires within the window is renewed as
 * `skycert renew CERT` renews it, keeping its key and SANs (a new key with
 * --rekey), by the fleet's CA. The CA itself is never renewed here: its
 * renewal is a decision of its own, so a CA that expires within the window is
 * named, with the command that renews it. Hosts run a few at a time; one
 * failing host does not stop the others.
 */
import { X509Certificate } from "node:crypto";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { usageError } from "../cli/errors.js";
import { command } from "../cli/invocation.js";
import type { PassphraseSource } from "../cli/passphrase.js";
import { readMaterial, recover, withLock } from "../fs/files.js";
import { type CaSummary, caSummary, loadCa } from "../pki/ca.js";
import type { KeyType } from "../pki/keys.js";
import { parsePem } from "../pki/pem.js";
import { abs, readRecord } from "../skydive/record.js";
import type { Release } from "../skydive/release.js";
import { clientCert } from "./record.js";
import { type RenewResult, renewCertificate } from "./renew.js";

const DAY_MS = 86_400_000;

export interface FleetOptions {
  cwd: string;
  fleet: string;
  withinDays: number;
  rekey: boolean;
  keyType?: KeyType;
  bits?: number;
  days?: number;
  dryRun: boolean;
  passphrase?: PassphraseSource;
  onProgress?: (done: number, total: number, label: string) => void;
}

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

export interface FleetRenewResult {
  ok: boolean;
  kind: "fleet";
  dryRun: boolean;
  fleet: string;
  record: string;
  skydive: Release;
  withinDays: number;
  /** Certificates expiring before this are renewed. */
  deadline: string;
  rekey: boolean;
  ca: CaSummary & { expiresWithinWindow: boolean };
  hosts: FleetEntryResult[];
  counts: Record<FleetStatus, number>;
  parallelism: number;
  elapsedMs: number;
  warnings: string[];
}

interface Target {
  entry: FleetEntryResult;
  notAfter?: Date;
}

/** When a certificate expires, read with the platform's parser: a fleet's worth is read before any is renewed. */
function expiry(path: string): { notAfter?: Date; problem?: string } {
  const read = readMaterial(path);
  if (!read.ok) return { problem: `${path}: ${read.problem}${read.detail ? ` (${read.detail})` : ""}` };
  const block = parsePem(read.bytes.toString("utf8")).blocks.find((b) => b.label === "CERTIFICATE");
  if (!block) return { problem: `${path}: no PEM certificate in it` };
  try {
    return { notAfter: new Date(new X509Certificate(block.der).validTo) };
  } catch (err) {
    return { problem: `${path}: not a valid certificate (${(err as Error).message.split("\n")[0]})` };
  }
}

export async function renewFleet(opts: FleetOptions): Promise<FleetRenewResult> {
  const started = Date.now();
  const dir = resolve(opts.cwd, opts.fleet);
  const record = readRecord(dir);
  if (!record) throw usageError(`--fleet ${opts.fleet}: no fleet record (skycert.json) in ${dir}`, `pass the --out folder of ${command("init", "ca", "--out", "DIR")}`);
  if (!record.ca) {
    throw usageError(`--fleet ${opts.fleet}: ${dir}/skycert.json names no CA (the legacy self-signed pairs have no fleet)`, `renew each certificate: ${command("renew", "CERT")}`);
  }
  const now = new Date();
  const deadline = new Date(now.getTime() + opts.withinDays * DAY_MS);
  const warnings: string[] = [];

  const targets: Target[] = [
    ...record.hosts.map((h) => ({ name: h.name, kind: "host" as const, roles: [...h.roles] as string[], cert: abs(dir, h.cert), sans: h.sans })),
    ...(record.clients ?? []).map((c) => ({ name: c.name, kind: "client" as const, roles: ["client"], cert: clientCert(dir, c), sans: [] as string[] })),
  ].map((t) => {
    const entry: FleetEntryResult = { name: t.name, kind: t.kind, roles: t.roles, cert: t.cert, status: "not due", key: opts.rekey ? "new" : "kept", sans: t.sans };
    const { notAfter, problem } = expiry(t.cert);
    if (problem) Object.assign(entry, { status: "failed", reason: problem });
    return { entry, notAfter };
  });
  const due = targets.filter((t) => t.entry.status !== "failed" && t.notAfter! <= deadline);
  for (const t of targets) {
    if (t.entry.status === "not due") t.entry.reason = `expires ${t.notAfter!.toISOString().slice(0, 10)}, after the window`;
  }

  // The CA: loaded once, with its key when something is to be signed (its passphrase asked once).
  const caPath = abs(dir, record.ca);
  const ca = await loadCa(caPath, opts.cwd, { needKey: !opts.dryRun && due.length > 0, passphrase: opts.passphrase });
  const caDue = ca.info.notAfter !== undefined && ca.info.notAfter <= deadline;
  if (caDue) {
    warnings.push(`the CA ${caPath} expires on ${ca.info.notAfter!.toISOString()}, within the window; renew --fleet never renews the CA: renew it on its own (its key is kept, so every certificate it signed stays valid): ${command("renew", caPath)}`);
  }

  const parallelism = Math.max(1, Math.min(due.length, Math.max(2, availableParallelism())));
  const ctx = { fleetCa: ca, fleet: { dir, record }, now };
  let done = 0;
  const one = async (t: Target) => {
    const e = t.entry;
    try {
      const r: RenewResult = await renewCertificate(
        { cwd: opts.cwd, cert: e.cert, changeCa: false, sans: [], dropSans: [], profile: false, rekey: opts.rekey, keyType: opts.keyType, bits: opts.bits, days: opts.days, force: false, dryRun: opts.dryRun, passphrase: opts.passphrase },
        opts.dryRun ? ctx : { ...ctx, lockedRoot: dir },
      );
      Object.assign(e, {
        status: opts.dryRun ? "due" : "renewed",
        before: { serial: r.before.serial, notAfter: r.before.notAfter, keyFingerprint: r.key.previousFingerprint },
        after: { ...(r.after.serial ? { serial: r.after.serial } : {}), notAfter: r.after.notAfter, ...(r.key.fingerprint ? { keyFingerprint: r.key.fingerprint } : {}) },
        sans: r.sans.after,
        ...(r.warnings.length ? { warnings: r.warnings } : {}),
      });
      delete e.reason;
    } catch (err) {
      const remedy = (err as { remedy?: string }).remedy;
      Object.assign(e, { status: "failed", reason: err instanceof Error ? err.message : String(err), ...(remedy ? { remedy } : {}) });
    }
    opts.onProgress?.(++done, due.length, e.name);
  };
  const pool = async (list: Target[]) => {
    let next = 0;
    opts.onProgress?.(0, list.length, "");
    await Promise.all(Array.from({ length: parallelism }, async () => {
      while (next < list.length) await one(list[next++]!);
    }));
  };
  if (opts.dryRun) await pool(due);
  else if (due.length) {
    // The fleet root's lock, as init takes it: no re-issue of a host runs while its renewal does.
    await withLock(dir, async () => {
      recover(dir);
      await pool(due);
    });
  }

  const outlives = targets.filter((t) => t.entry.warnings?.some((w) => w.startsWith("the renewed certificate outlives its CA")));
  if (outlives.length) {
    warnings.push(`${outlives.length} renewed certificate${outlives.length === 1 ? "" : "s"} outlive${outlives.length === 1 ? "s" : ""} the CA, which expires on ${ca.info.notAfter!.toISOString()}: Go rejects them from then on; renew the CA (${command("renew", caPath)}), then this fleet again`);
  }
  const counts: Record<FleetStatus, number> = { renewed: 0, due: 0, "not due": 0, failed: 0 };
  for (const t of targets) counts[t.entry.status]++;
  return {
    ok: counts.failed === 0,
    kind: "fleet",
    dryRun: opts.dryRun,
    fleet: dir,
    record: resolve(dir, "skycert.json"),
    skydive: record.skydive,
    withinDays: opts.withinDays,
    deadline: deadline.toISOString(),
    rekey: opts.rekey,
    ca: { ...caSummary(ca), expiresWithinWindow: caDue },
    hosts: targets.map((t) => t.entry),
    counts,
    parallelism,
    elapsedMs: Date.now() - started,
    warnings,
  };
}
