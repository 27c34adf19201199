import { relative } from "node:path";
import type { RenewResult } from "../ops/renew.js";
import type { Block } from "../render.js";

const here = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith("..") ? p : rel || ".";
};

export function renewView(r: RenewResult): Block[] {
  const signer =
    r.signer.kind === "ca"
      ? `${r.signer.ca.subject} (${here(r.signer.ca.cert)}${r.signer.found === "beside the certificate" ? ", found beside it" : ""})${r.signer.changed ? `, was ${r.signer.previousIssuer}` : ""}`
      : "itself (self-signed)";
  const blocks: Block[] = [
    { kind: "heading", text: `${r.dryRun ? "Would renew" : "Renewed"} ${here(r.cert)} (${r.subject})` },
    {
      kind: "table",
      head: ["", "serial", "not before", "not after"],
      rows: [
        ["before", r.before.serial, r.before.notBefore, r.before.notAfter],
        [r.dryRun ? "after" : { text: "after", tone: "ok" }, r.after.serial ?? "(new, random)", r.after.notBefore, r.after.notAfter],
      ],
    },
    { kind: "blank" },
  ];
  const fields: [string, string][] = [
    ["signed by", signer],
    ["key", `${r.key.path ? here(r.key.path) : "not needed"} (${r.key.source}), public key SHA-256 ${r.key.fingerprint}`],
    ["validity", `${r.days} days`],
    ["SANs", r.sans.after.join(", ")],
  ];
  if (r.sans.source !== "kept") {
    fields.push(["SAN changes", [...r.sans.added.map((s) => `+${s}`), ...r.sans.removed.map((s) => `-${s}`)].join(", ") || `none (from ${r.sans.source})`]);
  }
  fields.push(["extensions", r.extensions.map((e) => `${e.name}${e.critical ? " (critical)" : ""}${e.action === "carried" ? "" : ` ${e.action}`}`).join(", ")]);
  if (r.after.fingerprint) fields.push(["SHA-256", r.after.fingerprint]);
  fields.push(["mode", r.mode]);
  blocks.push({ kind: "fields", rows: fields });
  for (const w of r.warnings ?? []) blocks.push({ kind: "line", text: `warning: ${w}`, tone: "warn" });
  return blocks;
}
