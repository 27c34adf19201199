import { dirname } from "node:path";
import { command } from "../cli/invocation.js";
import { type Block, type Cell, shownPath } from "../cli/render.js";
import type { CaSummary } from "../pki/ca.js";
import { RELEASE_NAMES } from "../skydive/release.js";
import type { CaInitResult } from "./ca.js";
import type { ClientResult } from "./client.js";
import type { HostsResult } from "./hosts.js";
import type { FileResult } from "./result.js";
import type { SelfSignedResult } from "./selfsigned.js";

const here = (p: string) => shownPath(p);

const fileTable = (files: FileResult[]): Block => ({
  kind: "table",
  head: ["file", "mode"],
  rows: files.map((f) => [here(f.path), { text: f.mode, tone: f.kind === "key" || f.kind === "p12" ? "strong" : undefined }]),
});

function caFields(ca: CaSummary): [string, string][] {
  const rows: [string, string][] = [["CA", `${ca.subject} (${here(ca.cert)})`]];
  if (ca.keyIdentifier) rows.push(["CA key id", ca.keyIdentifier]);
  if (ca.notAfter) rows.push(["CA expires", ca.notAfter]);
  return rows;
}

const warningLines = (warnings: readonly string[]): Block[] => warnings.map((w) => ({ kind: "line", text: `warning: ${w}`, tone: "warn" }));

export function selfSignedView(r: SelfSignedResult): Block[] {
  const blocks: Block[] = [];
  for (const role of r.roles) {
    blocks.push({ kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the ${role.role} certificate (${role.subject}, self-signed)` }, fileTable(role.files));
    const fields: [string, string][] = [["SANs", role.sans.join(", ")]];
    fields.push(role.notAfter ? ["expires", `${role.notAfter} (${role.days} days)`] : ["validity", `${role.days} days`]);
    if (role.fingerprint) fields.push(["SHA-256", role.fingerprint]);
    fields.push(["key", role.key], ["extensions", `[${role.extensionsSection}] of ${r.cnf.source === "bundled template" ? "the bundled template" : here(r.cnf.path)}`]);
    blocks.push({ kind: "fields", rows: fields }, { kind: "blank" });
  }
  const verb = r.dryRun ? "Would set" : r.config.changed ? "Set" : "Already set";
  blocks.push({ kind: "heading", text: `${verb} in ${here(r.config.path)}, for ${RELEASE_NAMES.legacy}; every host, agents too, loads both pairs:` });
  blocks.push({ kind: "fields", rows: Object.entries(r.config.settings).map(([k, v]) => [k, String(v)]) });
  blocks.push(...warningLines(r.warnings));
  if (!r.dryRun) {
    const missing = r.missing;
    const config = here(r.config.path);
    blocks.push({ kind: "blank" });
    if (missing.length) blocks.push({ kind: "command", label: "Next:", text: command("init", ...missing, ...outArgs(r.config.path)) });
    blocks.push({ kind: "command", label: missing.length ? "Then check it:" : "Check it before rollout:", text: command("validate", ...(config === "skydive.yml" ? [] : ["--config", config])) });
  }
  return blocks;
}

/** `--out DIR` when the config is not in the working folder. */
function outArgs(configPath: string): string[] {
  const dir = here(dirname(configPath));
  return dir === "." ? [] : ["--out", dir];
}

export function caView(r: CaInitResult): Block[] {
  const blocks: Block[] = [{ kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the CA (${r.ca.subject}), for ${RELEASE_NAMES[r.skydive]}` }, fileTable(r.files)];
  const fields: [string, string][] = [
    ["key", `${r.ca.keyType ?? `RSA ${r.ca.keyBits}`}${r.ca.encrypted ? ", encrypted (PKCS#8, AES-256-CBC)" : ""}`],
    ["extensions", "basicConstraints CA:TRUE, pathlen:0; keyUsage keyCertSign, cRLSign (critical); subjectKeyIdentifier"],
  ];
  fields.push(r.ca.notAfter ? ["expires", `${r.ca.notAfter} (${r.days} days)`] : ["validity", `${r.days} days`]);
  if (r.ca.keyIdentifier) fields.push(["key id", r.ca.keyIdentifier]);
  if (r.ca.fingerprint) fields.push(["SHA-256", r.ca.fingerprint]);
  fields.push(["fleet record", `${here(r.out)}/skycert.json (Skydive ${r.skydive}; --skydive to choose)`]);
  blocks.push({ kind: "fields", rows: fields }, { kind: "blank" });
  const out = here(r.out);
  blocks.push({ kind: "command", label: "Next:", text: command("init", "analyzer", "agent", "--ca", out, "--inventory", "INVENTORY", ...(out === "." ? [] : ["--out", out])) });
  return blocks;
}

const TONE = { issued: "ok", skipped: "skip", failed: "fail", planned: "dim" } as const;

export function hostsView(r: HostsResult): Block[] {
  const source = r.source.kind === "ansible" ? `the inventory ${here(r.source.path!)}` : r.source.kind === "hosts" ? "--hosts" : "--san";
  const blocks: Block[] = [{ kind: "heading", text: `${r.dryRun ? "Would issue" : "Issued"} host certificates from ${source}, signed by ${r.ca.subject}, for ${RELEASE_NAMES[r.skydive]}` }];
  const rows: Cell[][] = r.hosts.map((h) => [
    h.name,
    h.roles.join("+"),
    { text: h.status, tone: TONE[h.status] },
    h.notAfter ? h.notAfter.slice(0, 10) : "",
    h.reason ?? `${here(h.dir)}: ${h.sans.join(", ")}`,
  ]);
  blocks.push({ kind: "table", head: ["host", "roles", "status", "expires", "folder: SANs, or reason"], rows }, { kind: "blank" });
  const c = r.counts;
  const fields: [string, string][] = [
    ["hosts", [r.dryRun ? `${c.planned} to issue` : `${c.issued} issued`, `${c.skipped} skipped`, `${c.failed} failed`].join(", ")],
    ["each folder", "key (0400), CSR and certificate (0444, serverAuth + clientAuth), skydive.yml (all five tls.* keys)"],
    ["agents dial", r.analyzers.length ? r.analyzers.join(", ") : "(no analyzer known yet)"],
    ...caFields(r.ca),
    ["fleet record", here(r.record)],
  ];
  if (r.deployDir) fields.push(["on the hosts", `${r.deployDir}: copy each host's folder there, with the CA certificate`]);
  if (r.changes) {
    const ch = r.changes;
    fields.push(["inventory changes", ch.added.length + ch.removed.length + ch.readdressed.length ? `added ${ch.added.join(", ") || "none"}; removed ${ch.removed.join(", ") || "none"}; re-addressed ${ch.readdressed.map((x) => `${x.name} ${x.from} -> ${x.to}`).join(", ") || "none"}` : "none"]);
  }
  if (r.configsUpdated.length) fields.push(["configs updated", r.configsUpdated.map(here).join(", ")]);
  if (!r.dryRun) fields.push(["time", `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.parallelism} hosts at a time`]);
  blocks.push({ kind: "fields", rows: fields });
  blocks.push(...warningLines(r.warnings));
  if (c.skipped) blocks.push({ kind: "line", text: "Skipped hosts keep their files and keys; renew them with skycert renew, or pass --force to re-issue them with new keys.", tone: "dim" });
  if (!r.dryRun && c.failed === 0) blocks.push({ kind: "blank" }, { kind: "command", label: "Check the fleet before rollout:", text: command("validate", "--fleet", here(r.out)) });
  return blocks;
}

export function clientView(r: ClientResult): Block[] {
  const blocks: Block[] = [{ kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the client certificate ${r.subject} (clientAuth only), signed by ${r.ca.subject}` }, fileTable(r.files)];
  const fields: [string, string][] = [];
  if (r.notAfter) fields.push(["expires", r.notAfter]);
  blocks.push({ kind: "fields", rows: [...fields, ...caFields(r.ca)] }, { kind: "blank" });
  blocks.push({ kind: "command", label: "Use it:", text: r.usage });
  return blocks;
}
