/**
 * The fleet record, `<out>/skycert.json`: which Skydive release the folder's
 * files are for, and for a CA fleet every host's roles, address, names and
 * files, the addresses agents dial, the inventory it came from and the deploy
 * dir. init writes it; validate, renew, export and probe read it, so they check
 * what agents will really dial without being told again. Paths in it are
 * relative to its folder, so the folder can move.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { usageError } from "../cli/errors.js";
import { CONFIG_MODE, readInput, writeFileAtomic } from "../fs/files.js";
import { RELEASES, type Release, type Role } from "./release.js";

export const RECORD_FILE = "skycert.json";
export const RECORD_SCHEMA = 1;

export interface RecordHost {
  name: string;
  roles: Role[];
  /** How peers reach it (ansible_host, else its name). */
  address: string;
  /** Its folder: certificate, key, request and skydive.yml. */
  dir: string;
  cert: string;
  key: string;
  /** The subjectAltNames it was issued with, `DNS:name` / `IP:address`. */
  sans: string[];
}

export interface FleetRecord {
  schema: typeof RECORD_SCHEMA;
  skydive: Release;
  /** The CA certificate, in CA mode. */
  ca?: string;
  inventory?: { source: string; kind: "ansible" | "hosts" };
  /** Where the files are on the hosts; their configs name paths there. */
  deployDir?: string;
  /** The `analyzers:` entries agents dial (host:port). */
  analyzers: string[];
  hosts: RecordHost[];
  /** People's client certificates. */
  clients?: { name: string; dir: string }[];
}

export function emptyRecord(skydive: Release): FleetRecord {
  return { schema: RECORD_SCHEMA, skydive, analyzers: [], hosts: [] };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/** The record in `dir`, or undefined when there is none; a damaged one is a usage error naming it. */
export function readRecord(dir: string): FleetRecord | undefined {
  const path = join(dir, RECORD_FILE);
  if (!existsSync(path)) return undefined;
  const bad = (why: string) => usageError(`${path}: ${why}`, "restore it from a backup, or re-run the skycert init commands that made this folder");
  let data: Partial<FleetRecord>;
  try {
    data = JSON.parse(readInput(path, "fleet record").text) as Partial<FleetRecord>;
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode) throw err;
    throw bad(`not JSON (${(err as Error).message})`);
  }
  if (!data || typeof data !== "object") throw bad("not a JSON object");
  if (data.schema !== RECORD_SCHEMA) throw bad(`schema ${String(data.schema)}; this skycert reads schema ${RECORD_SCHEMA}`);
  if (!RELEASES.includes(data.skydive as Release)) throw bad(`skydive is ${JSON.stringify(data.skydive)}, not one of ${RELEASES.join(", ")}`);
  if (!isStrings(data.analyzers) || !Array.isArray(data.hosts)) throw bad("analyzers or hosts is missing");
  for (const h of data.hosts) {
    if (!h || typeof h.name !== "string" || typeof h.dir !== "string" || typeof h.cert !== "string" || typeof h.key !== "string" || !isStrings(h.sans) || !isStrings(h.roles)) {
      throw bad(`a host entry is incomplete (${JSON.stringify(h).slice(0, 80)})`);
    }
  }
  return data as FleetRecord;
}

/** Write the record atomically. Call it holding `dir`'s lock. */
export async function writeRecord(dir: string, record: FleetRecord): Promise<void> {
  await writeFileAtomic(join(dir, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: CONFIG_MODE, force: true });
}

/** The record governing `path` (a config or certificate): in its folder or up to two above it (a fleet host's). */
export function findRecord(path: string): { dir: string; record: FleetRecord } | undefined {
  let dir = dirname(resolve(path));
  for (let i = 0; i < 3; i++) {
    const record = readRecord(dir);
    if (record) return { dir, record };
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  return undefined;
}

export const abs = (dir: string, p: string) => resolve(dir, p);
export const rel = (dir: string, p: string) => relative(dir, p) || ".";
/** A recorded client's certificate, as init client writes it in the client's folder. */
export const clientCert = (dir: string, client: { dir: string }) => join(abs(dir, client.dir), "client.crt");

export interface InventoryChange {
  added: string[];
  removed: string[];
  readdressed: { name: string; from: string; to: string }[];
}

/** What changed between the recorded hosts and an inventory's. */
export function inventoryChange(recorded: readonly { name: string; address: string }[], now: readonly { name: string; address: string }[]): InventoryChange {
  const before = new Map(recorded.map((h) => [h.name, h.address]));
  const after = new Map(now.map((h) => [h.name, h.address]));
  return {
    added: now.filter((h) => !before.has(h.name)).map((h) => h.name),
    removed: recorded.filter((h) => !after.has(h.name)).map((h) => h.name),
    readdressed: now.filter((h) => before.has(h.name) && before.get(h.name) !== h.address).map((h) => ({ name: h.name, from: before.get(h.name)!, to: h.address })),
  };
}
