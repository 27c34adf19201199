import { relative } from "node:path";
import type { InitResult } from "../ops/init.js";
import type { Block } from "../render.js";

export function initView(r: InitResult): Block[] {
  const here = (p: string) => {
    const rel = relative(process.cwd(), p);
    return rel.startsWith("..") ? p : rel || ".";
  };
  const blocks: Block[] = [];
  for (const role of r.roles) {
    blocks.push({ kind: "heading", text: `${r.dryRun ? "Would make" : "Made"} the ${role.role} certificate (${role.subject})` });
    blocks.push({
      kind: "table",
      head: ["file", "mode"],
      rows: role.files.map((f) => [here(f.path), { text: f.mode, tone: f.kind === "key" ? "strong" : undefined }]),
    });
    const fields: [string, string][] = [["SANs", role.sans.join(", ")]];
    if (role.notAfter) fields.push(["expires", `${role.notAfter} (${role.days} days)`]);
    else fields.push(["validity", `${role.days} days`]);
    if (role.fingerprint) fields.push(["SHA-256", role.fingerprint]);
    fields.push(["key", `RSA ${role.keyBits}`], ["extensions", `[${role.extensionsSection}] of ${r.cnf.source === "bundled template" ? "the bundled template" : here(r.cnf.path)}`]);
    blocks.push({ kind: "fields", rows: fields });
    blocks.push({ kind: "blank" });
  }
  const verb = r.dryRun ? "Would set" : r.config.changed ? "Set" : "Already set";
  blocks.push({ kind: "heading", text: `${verb} in ${here(r.config.path)}:` });
  blocks.push({ kind: "fields", rows: Object.entries(r.config.settings).map(([k, v]) => [k, String(v)]) });
  if (!r.dryRun) {
    blocks.push({ kind: "blank" });
    blocks.push({ kind: "line", text: `Check it before rollout: skycert validate --config ${here(r.config.path)}`, tone: "dim" });
  }
  return blocks;
}
