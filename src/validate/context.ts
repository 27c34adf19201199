/**
 * What the checks of one host share: the files its Skydive release would load
 * (read once, without trusting them), Go's parse of each, and how to show a
 * path. Built by host.ts; read by the checks in checks/.
 */
import { shownPath } from "../cli/render.js";
import type { FileRead } from "../fs/files.js";
import type { RecordHost } from "../skydive/record.js";
import type { Release, Role } from "../skydive/release.js";
import type { GoTls, ParseResult, ParsedCertificateOk } from "../skydive/go-tls.js";
import type { Remedies } from "./remedy.js";

/** The parts of a Skydive host's TLS setup, whatever the release calls them. */
export type Part = "server cert" | "server key" | "client cert" | "client key" | "client CAs" | "roots";

export interface Material {
  part: Part;
  /** The config key Skydive reads it from (`tls.server_cert`, `analyzer.X509_cert`). */
  key: string;
  /** Where the path came from: the key, the SKYDIVE_* variable, or the flag. */
  setting: string;
  fromEnv: boolean;
  path: string;
  shown: string;
  read: FileRead;
}

export interface CertFile {
  material: Material;
  /** Go's parse of the file. */
  parsed: ParseResult;
  /** The certificates Go accepted, in file order, with their PEM. */
  certs: { cert: ParsedCertificateOk; pem: string }[];
  /** The whole file as text (what Go's pools and key pairs read). */
  text: string;
  /** Go refused a certificate after the leaf: peers refuse the chain this file presents. */
  chainRefused?: string;
}

export interface DialHost {
  /** What the client verifies: a name, or the IP a name resolves to (up to Skydive 0.26). */
  name: string;
  /** Why: `--host`, `analyzers: 10.0.0.4:8082`, `analyzer.example resolves to 10.0.0.4`. */
  source: string;
}

export interface HostContext {
  go: GoTls;
  cwd: string;
  release: Release;
  /** undefined: a legacy config, which every host of the fleet loads alike. */
  role: Role | undefined;
  now: Date;
  warnDays: number;
  config?: string;
  /** The host's entry in its fleet record, when it is a fleet host. */
  fleetHost?: RecordHost;
  /** Certificates the fleet record says are not an analyzer's (by path). */
  agentCerts: Map<string, string>;
  hosts: DialHost[];
  remedies: Remedies;
  show: (p: string) => string;
  /** Go's parse of file texts seen before in this run (a fleet's shared CA). */
  parses?: Map<string, ParseResult>;
}

export const shower = (cwd: string) => (p: string) => shownPath(p, cwd);
