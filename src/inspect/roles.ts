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
import { dirname, join, resolve } from "node:path";
import { firstCertificate } from "../pki/read.js";
import { lookup, readConfigFile } from "../skydive/config.js";
import { abs, findRecord } from "../skydive/record.js";
import { type Role, keysOf } from "../skydive/release.js";
import { CONFIG_FILE } from "../skydive/settings.js";
import type { CertificateItem } from "./items.js";

export interface CertRole {
  kind: "legacy-pair" | "ca" | "host" | "client" | "server-only" | "other";
  text: string;
  /** The seed's pair: whose it is (from the config beside it, else its CN). */
  legacyRole?: Role;
  /** A fleet host's certificate: the host, from the fleet record. */
  host?: { name: string; roles: Role[]; address: string; fleet: string };
  /** A client certificate listed in the fleet record. */
  client?: { name: string; fleet: string };
}

/** Whose legacy pair: a skydive.yml in its folder or up to two above naming it, else its CN (skydive-analyzer). */
function legacyRole(path: string, subject: string): Role | undefined {
  const { server, client } = keysOf("legacy");
  for (let dir = dirname(path), i = 0; i < 3; i++, dir = dirname(dir)) {
    try {
      const { data } = readConfigFile(join(dir, CONFIG_FILE), "config");
      const names = (key: string, v = lookup(data, key)) => typeof v === "string" && v !== "" && resolve(dir, v) === path;
      if (names(server.cert)) return "analyzer";
      if (names(client.cert)) return "agent";
    } catch {
      /* none here, or not a readable config: the CN decides */
    }
    if (dirname(dir) === dir) break;
  }
  return /(?:^|,)\s*CN=skydive-(analyzer|agent)\s*(?:,|$)/.exec(subject)?.[1] as Role | undefined;
}

export function certRole(item: CertificateItem, path: string): CertRole {
  const eku = item.extendedKeyUsage?.usages ?? [];
  const server = eku.includes("serverAuth");
  const client = eku.includes("clientAuth");
  if (item.selfSigned && item.basicConstraints?.ca && server && client) {
    const role = legacyRole(path, item.subject);
    const whose = role === "analyzer" ? "the analyzer pair: every API server serves it, agents trust it" : role === "agent" ? "the agent pair: every process dials with it, servers trust it" : "a self-signed pair";
    return { kind: "legacy-pair", text: `the seed's self-signed pair for legacy Skydive (up to 0.20), ${whose}`, legacyRole: role };
  }
  if (item.basicConstraints?.ca) {
    return { kind: "ca", text: `${item.selfSigned ? "a CA" : "an intermediate CA"}: signs the fleet's host and client certificates, and is the tls.ca_cert every host trusts` };
  }
  const found = findRecord(path);
  if (server && client && item.selfSigned) {
    return { kind: "other", text: "a self-signed certificate with serverAuth + clientAuth but not CA:TRUE: not the seed's pair (its v3_req has CA:TRUE), nor CA-signed" };
  }
  if (server && client) {
    // The fleet host whose certificate this is: by path, else by content (a copy elsewhere in the folder).
    const hosts = found?.record.hosts ?? [];
    const h = hosts.find((x) => abs(found!.dir, x.cert) === path) ?? hosts.find((x) => firstCertificate(abs(found!.dir, x.cert))?.fingerprint === item.fingerprint);
    if (!h) return { kind: "host", text: "a host certificate (serverAuth + clientAuth: serves a Skydive API and dials with the same key)" };
    const text = `a fleet host certificate (serverAuth + clientAuth: serves the API and dials) of ${h.name}, ${h.roles.join(" + ")}, at ${h.address}`;
    return { kind: "host", text, host: { name: h.name, roles: h.roles, address: h.address, fleet: found!.dir } };
  }
  if (client) {
    const c = found?.record.clients?.find((x) => abs(found.dir, x.dir) === dirname(path));
    const text = `a client certificate (clientAuth only, as skycert init client makes for skydive client --cert)${c ? ` of ${c.name}` : ""}`;
    return { kind: "client", text, client: c && { name: c.name, fleet: found!.dir } };
  }
  if (server) return { kind: "server-only", text: "a server certificate (serverAuth only): a Skydive process also dials with its certificate, which needs clientAuth" };
  return { kind: "other", text: "none of the roles skycert issues (no serverAuth or clientAuth, not a CA)" };
}
