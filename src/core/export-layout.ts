/**
 * What each Skydive process needs where it runs, for both exports: the file
 * names it gets and the settings that point at them (skydive-tls.md).
 *
 * - legacy (strict cross validation): the analyzer gets its pair and the agent
 *   certificate (its trust anchor for agents, `agent.X509_cert`); an agent gets
 *   its pair and the analyzer certificate (`analyzer.X509_cert`). An agent's
 *   config also names `analyzer.X509_key`, because older agents switch TLS on
 *   only when both analyzer keys are set; it names the path the key has on the
 *   analyzer side, and the file is never shipped to an agent.
 * - tls: each side gets its pair and the CA certificate (`tls.ca_cert`); the
 *   analyzer also sets `tls.require_client_cert: true`. The CA key goes nowhere.
 *
 * Pure: no fs, no console.
 */
import { LEGACY_KEYS, type Role, type Schema, type Settings, roleSettings } from "./stanza.js";

export type TlsFileName = "analyzer.crt" | "analyzer.key" | "agent.crt" | "agent.key" | "ca.crt";

export interface ShippedFile {
  name: TlsFileName;
  kind: "crt" | "key";
  /** 0400 for keys, 0444 for certificates. */
  mode: number;
  /** The file's part: the process's own certificate or key, or the certificate it trusts. */
  part: "cert" | "key" | "trust";
}

export const FILE_MODES = { crt: 0o444, key: 0o400 } as const;

const file = (name: TlsFileName, part: ShippedFile["part"]): ShippedFile => {
  const kind = name.endsWith(".key") ? "key" : "crt";
  return { name, kind, mode: FILE_MODES[kind], part };
};

/** The trust certificate of `role`'s process: the other side's certificate (legacy), or the CA's. */
export function trustFile(schema: Schema, role: Role): TlsFileName {
  if (schema === "tls") return "ca.crt";
  return role === "analyzer" ? "agent.crt" : "analyzer.crt";
}

/** The files `role`'s process gets, in order: certificate, key, trust certificate. */
export function shippedFiles(schema: Schema, role: Role): ShippedFile[] {
  return [file(`${role}.crt`, "cert"), file(`${role}.key`, "key"), file(trustFile(schema, role), "trust")];
}

/**
 * The settings of `role`'s process, with `at(name)` the path a file has where
 * the process runs. Flat dotted keys, as Skydive's config and env read them.
 */
export function processSettings(schema: Schema, role: Role, at: (name: TlsFileName) => string): Settings {
  const own = roleSettings(role, schema, { cert: at(`${role}.crt`), key: at(`${role}.key`), ca: schema === "tls" ? at("ca.crt") : undefined });
  if (schema === "tls") return own;
  if (role === "analyzer") return { ...own, [LEGACY_KEYS.agent.cert]: at("agent.crt") };
  // The analyzer key's path on the analyzer side: a switch for older agents, never a file here.
  return { ...own, [LEGACY_KEYS.analyzer.cert]: at("analyzer.crt"), [LEGACY_KEYS.analyzer.key]: at("analyzer.key") };
}

/** Keys of `processSettings` that name a file the process does not get (the legacy analyzer-key switch). */
export function unshippedSettings(schema: Schema, role: Role): string[] {
  return schema === "legacy" && role === "agent" ? [LEGACY_KEYS.analyzer.key] : [];
}

/** `{"a.b": 1, "a.c": 2}` -> `{a: {b: 1, c: 2}}`: the shape a YAML config file has. */
export function nestSettings(settings: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [dotted, value] of Object.entries(settings)) {
    const parts = dotted.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || next === null || typeof next !== "object") node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}
