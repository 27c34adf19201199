/**
 * Where a certificate stands in a fleet record: which recorded host or client
 * it is, which CA the fleet names, what agents dial. Renew reads it to find
 * the signer, to refuse giving an agent an analyzer's name, and to keep the
 * recorded SANs in step with the certificate.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { withLock } from "../fs/lock.js";
import { type FleetRecord, type RecordHost, abs, findRecord, readRecord, writeRecord } from "../skydive/record.js";

export interface Membership {
  dir: string;
  record: FleetRecord;
  host?: RecordHost;
  client?: { name: string; dir: string };
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** The client certificate's path in a client folder, as init client writes it. */
export const clientCert = (recordDir: string, client: { dir: string }) => join(abs(recordDir, client.dir), "client.crt");

/** The record governing `certPath` and the entry that names it; a damaged record becomes a warning. */
export function membership(certPath: string, warnings: string[], known?: { dir: string; record: FleetRecord }): Membership | undefined {
  let found: { dir: string; record: FleetRecord } | undefined = known;
  if (!found) {
    try {
      found = findRecord(certPath);
    } catch (err) {
      warnings.push(`${(err as Error).message}: the fleet record was not used`);
      return undefined;
    }
  }
  if (!found) return undefined;
  const me = real(certPath);
  const host = found.record.hosts.find((h) => real(abs(found.dir, h.cert)) === me);
  const client = host ? undefined : found.record.clients?.find((c) => real(clientCert(found.dir, c)) === me);
  return { ...found, ...(host ? { host } : {}), ...(client ? { client } : {}) };
}

/** Record the SANs a host's certificate now carries, under the record folder's lock (read again there). */
export async function recordSans(recordDir: string, hostName: string, sans: string[]): Promise<boolean> {
  return withLock(recordDir, async () => {
    const record = readRecord(recordDir);
    const host = record?.hosts.find((h) => h.name === hostName);
    if (!record || !host) return false;
    if (host.sans.join("\n") === sans.join("\n")) return false;
    host.sans = sans;
    await writeRecord(recordDir, record);
    return true;
  });
}
