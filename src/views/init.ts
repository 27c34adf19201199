import { relative } from "node:path";
import type { CaInitResult, CaSummary } from "../ops/ca.js";
import type { FleetResult } from "../ops/fleet.js";
import type { InitResult } from "../ops/init.js";
import type { Block, Cell } from "../render.js";

const here = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith("..") ? p : rel || ".";
};

function caFields(ca: CaSummary): [string, string][] {
  const rows: [string, string][] = [["CA", `${ca.subject} (${here(ca.cert)})`]];
  if (ca.keyIdentifier) rows.push(["CA key id", ca.keyIdentifier]);
  if (ca.notAfter) rows.push(["CA expires", ca.notAfter]);
  return rows;
}

export function initView(r: InitResult): Block[] {
  const blocks: Block[] = [];
  for (const role of r.roles) {
    const how = r.ca ? `signed by ${r.ca.subject}` : "self-signed";
    blocks.push({ kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the ${role.role} certificate (${role.subject}, ${how})` });
    blocks.push({
      kind: "table",
      head: ["file", "mode"],
      rows: role.files.map((f) => [here(f.path), { text: f.mode, tone: f.kind === "key" ? "strong" : undefined }]),
    });
    const fields: [string, string][] = [["SANs", role.sans.join(", ")]];
    if (role.notAfter) fields.push(["expires", `${role.notAfter} (${role.days} days)`]);
    else fields.push(["validity", `${role.days} days`]);
    if (role.fingerprint) fields.push(["SHA-256", role.fingerprint]);
    fields.push(["key", `RSA ${role.keyBits}`], ["extensions", `[${role.extensionsSection}] of ${r.cnf.source === "bundled template" ? "the bundled template" : here(r.cnf.path)}${r.ca ? ", as a leaf: CA:FALSE, digitalSignature, keyEncipherment" : ""}`]);
    if (r.ca) fields.push(...caFields(r.ca));
    if (r.inventory) fields.push(["from inventory", `${r.inventory.group}: ${r.inventory.addresses.join(", ")}`]);
    blocks.push({ kind: "fields", rows: fields });
    blocks.push({ kind: "blank" });
  }
  const verb = r.dryRun ? "Would set" : r.config.changed ? "Set" : "Already set";
  blocks.push({ kind: "heading", text: `${verb} in ${here(r.config.path)}${r.schema ? ` (${r.schema} schema)` : ""}:` });
  blocks.push({ kind: "fields", rows: Object.entries(r.config.settings).map(([k, v]) => [k, String(v)]) });
  for (const w of r.warnings ?? []) blocks.push({ kind: "line", text: `warning: ${w}`, tone: "warn" });
  if (!r.dryRun) {
    blocks.push({ kind: "blank" });
    blocks.push({ kind: "line", text: `Check it before rollout: skycert validate --config ${here(r.config.path)}`, tone: "dim" });
  }
  return blocks;
}

export function caInitView(r: CaInitResult): Block[] {
  const blocks: Block[] = [
    { kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the CA (${r.ca.subject})` },
    { kind: "table", head: ["file", "mode"], rows: r.files.map((f) => [here(f.path), { text: f.mode, tone: f.kind === "key" ? "strong" : undefined }]) },
  ];
  const fields: [string, string][] = [
    ["key", `RSA ${r.ca.keyBits}${r.ca.encrypted ? ", encrypted (PKCS#8, AES-256-CBC)" : ""}`],
    ["extensions", "basicConstraints CA:TRUE, pathlen:0; keyUsage keyCertSign, cRLSign (critical); subjectKeyIdentifier"],
  ];
  if (r.ca.notAfter) fields.push(["expires", `${r.ca.notAfter} (${r.days} days)`]);
  else fields.push(["validity", `${r.days} days`]);
  if (r.ca.keyIdentifier) fields.push(["key id", r.ca.keyIdentifier]);
  if (r.ca.fingerprint) fields.push(["SHA-256", r.ca.fingerprint]);
  blocks.push({ kind: "fields", rows: fields }, { kind: "blank" });
  const dir = here(r.ca.cert).replace(/\/[^/]+$/, "");
  blocks.push({ kind: "line", text: `Next: skycert init analyzer --ca ${dir} --san ADDRESS, then skycert init agent --ca ${dir} --inventory FILE`, tone: "dim" });
  return blocks;
}

const TONE = { issued: "ok", skipped: "skip", failed: "fail", planned: "dim" } as const;

export function fleetView(r: FleetResult): Block[] {
  const blocks: Block[] = [
    {
      kind: "heading",
      text: `${r.dryRun ? "Would issue" : "Issued"} agent certificates for the ${r.inventory.group} of ${here(r.inventory.path)}, signed by ${r.ca.subject}`,
    },
  ];
  const rows: Cell[][] = r.hosts.map((h) => [
    h.host,
    h.address === h.host ? h.address : `${h.address} (ansible_host)`,
    { text: h.status, tone: TONE[h.status] },
    h.serial ? `${h.serial.slice(0, 16)}…` : "",
    h.notAfter ? h.notAfter.slice(0, 10) : "",
    h.reason ?? here(h.dir),
  ]);
  blocks.push({ kind: "table", head: ["host", "address", "status", "serial", "expires", "folder / reason"], rows });
  blocks.push({ kind: "blank" });
  const c = r.counts;
  const parts = r.dryRun ? [`${c.planned} to issue`] : [`${c.issued} issued`];
  parts.push(`${c.skipped} skipped`, `${c.failed} failed`);
  const fields: [string, string][] = [
    ["hosts", parts.join(", ")],
    ["each folder", "key (0400), CSR and certificate (0444), skydive.yml (tls schema; tls.ca_cert is the CA below)"],
    ...caFields(r.ca),
  ];
  if (!r.dryRun) fields.push(["time", `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.parallelism} keys in flight`]);
  blocks.push({ kind: "fields", rows: fields });
  for (const w of r.warnings ?? []) blocks.push({ kind: "line", text: `warning: ${w}`, tone: "warn" });
  if (c.skipped) blocks.push({ kind: "line", text: `Skipped hosts keep their files; pass --force to re-issue them.`, tone: "dim" });
  if (!r.dryRun && c.failed === 0) {
    blocks.push({ kind: "blank" }, { kind: "line", text: `Check the fleet before rollout: skycert validate --fleet ${here(r.out)}`, tone: "dim" });
  }
  return blocks;
}
