/**
 * Which of the certificates skycert issues a certificate is, from what it
 * carries (pki/profile.ts makes each kind distinctly) and, when the file sits
 * in a fleet folder, from the fleet record:
 * - the seed's legacy pair: self-signed, CA:TRUE, serverAuth + clientAuth;
 * - a CA: CA:TRUE without the pair's usages;
 * - a fleet host's certificate: a CA-signed leaf with serverAuth + clientAuth
 *   (it serves its host's API and dials with the same key);
 * - a client certificate: clientAuth only (skycert init client).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { readInput } from "../fs/files.js";
import { sha256Fingerprint } from "../pki/keys.js";
import { parsePem } from "../pki/pem.js";
import { lookup, readConfigFile } from "../skydive/config.js";
import { type FleetRecord, abs, findRecord } from "../skydive/record.js";
import { type Role, keysOf } from "../skydive/release.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import type { CertificateItem } from "./items.js";

export type CertRoleKind = "legacy-pair" | "ca" | "host" | "client" | "server-only" | "other";

export interface CertRole {
  kind: CertRoleKind;
  /** In words, for the view. */
  text: string;
  /** The seed's pair: whose it is (from the config beside it, else its CN). */
  legacyRole?: Role;
  /** A fleet host's certificate: the host, from the fleet record. */
  host?: { name: string; roles: Role[]; address: string; fleet: string };
  /** A client certificate listed in the fleet record. */
  client?: { name: string; fleet: string };
}

/** The SHA-256 of the first certificate in a file, or undefined when it cannot be read. */
function fileFingerprint(path: string): string | undefined {
  try {
    const der = parsePem(readInput(path, "certificate", 1024 * 1024).text).blocks.find((b) => b.label === "CERTIFICATE")?.der;
    return der ? sha256Fingerprint(der) : undefined;
  } catch {
    return undefined;
  }
}

/** The fleet host whose certificate this is: by path, else by content (a copy elsewhere in the folder). */
function recordHost(path: string, fingerprint: string, found: { dir: string; record: FleetRecord }) {
  const full = resolve(path);
  const byPath = found.record.hosts.find((h) => abs(found.dir, h.cert) === full);
  if (byPath) return byPath;
  return found.record.hosts.find((h) => fileFingerprint(abs(found.dir, h.cert)) === fingerprint);
}

/** Whose legacy pair: a skydive.yml in its folder or up to two above naming it, else its CN (skydive-analyzer). */
function legacyRole(path: string, subject: string): Role | undefined {
  const full = resolve(path);
  let dir = dirname(full);
  for (let i = 0; i < 3; i++) {
    const cfg = join(dir, CONFIG_FILE);
    if (existsSync(cfg)) {
      try {
        const { data } = readConfigFile(cfg, "config");
        const k = keysOf("legacy");
        const names = (key: string) => {
          const v = lookup(data, key);
          return typeof v === "string" && v !== "" && resolve(dir, v) === full;
        };
        if (names(k.server.cert)) return "analyzer";
        if (names(k.client.cert)) return "agent";
      } catch {
        /* not a readable config: the CN decides */
      }
    }
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  const cn = /(?:^|,)\s*CN=skydive-(analyzer|agent)\s*(?:,|$)/.exec(subject);
  return cn ? (cn[1] as Role) : undefined;
}

export function certRole(item: CertificateItem, path: string | undefined): CertRole {
  const eku = item.extendedKeyUsage?.usages ?? [];
  const server = eku.includes("serverAuth");
  const client = eku.includes("clientAuth");
  const ca = item.basicConstraints?.ca === true;
  if (item.selfSigned && ca && server && client) {
    const role = path ? legacyRole(path, item.subject) : undefined;
    const whose = role === "analyzer" ? "the analyzer pair: every API server serves it, agents trust it" : role === "agent" ? "the agent pair: every process dials with it, servers trust it" : "a self-signed pair";
    return { kind: "legacy-pair", text: `the seed's self-signed pair for legacy Skydive (up to 0.20), ${whose}`, ...(role ? { legacyRole: role } : {}) };
  }
  if (ca) {
    return { kind: "ca", text: `${item.selfSigned ? "a CA" : "an intermediate CA"}: signs the fleet's host and client certificates, and is the tls.ca_cert every host trusts` };
  }
  const found = path ? findRecord(path) : undefined;
  if (server && client && item.selfSigned) {
    return { kind: "other", text: "a self-signed certificate with serverAuth + clientAuth but not CA:TRUE: not the seed's pair (its v3_req has CA:TRUE), nor CA-signed" };
  }
  if (server && client) {
    const h = found ? recordHost(path!, item.fingerprint, found) : undefined;
    if (h && found) {
      return {
        kind: "host",
        text: `a fleet host certificate (serverAuth + clientAuth: serves the API and dials) of ${h.name}, ${h.roles.join(" + ")}, at ${h.address}`,
        host: { name: h.name, roles: h.roles, address: h.address, fleet: found.dir },
      };
    }
    return { kind: "host", text: "a host certificate (serverAuth + clientAuth: serves a Skydive API and dials with the same key)" };
  }
  if (client) {
    const full = path ? resolve(path) : "";
    const c = found?.record.clients?.find((x) => abs(found.dir, x.dir) === dirname(full));
    return {
      kind: "client",
      text: `a client certificate (clientAuth only, as skycert init client makes for skydive client --cert)${c ? ` of ${c.name}` : ""}`,
      ...(c && found ? { client: { name: c.name, fleet: found.dir } } : {}),
    };
  }
  if (server) return { kind: "server-only", text: "a server certificate (serverAuth only): a Skydive process also dials with its certificate, which needs clientAuth" };
  return { kind: "other", text: "none of the roles skycert issues (no serverAuth or clientAuth, not a CA)" };
}
