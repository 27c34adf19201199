import { relative } from "node:path";
import type { ExportAnsibleResult } from "../ops/export-ansible.js";
import type { ExportK8sResult } from "../ops/export-k8s.js";
import type { WrittenFile } from "../ops/export-source.js";
import type { Block, Cell } from "../render.js";

const here = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith("..") ? p : rel || ".";
};

const STATUS_TONE = { written: "ok", replaced: "warn", unchanged: "dim" } as const;

function filesTable(files: WrittenFile[]): Block {
  return {
    kind: "table",
    head: ["file", "mode", "status"],
    rows: files.map((f): Cell[] => [here(f.path), { text: f.mode, tone: f.kind === "key" ? "strong" : undefined }, { text: f.status, tone: STATUS_TONE[f.status] }]),
  };
}

function tail(blocks: Block[], r: { notes: string[]; warnings: string[]; apply: string[] }, intro: string): Block[] {
  for (const n of r.notes) blocks.push({ kind: "line", text: `note: ${n}`, tone: "dim" });
  for (const w of r.warnings) blocks.push({ kind: "line", text: `warning: ${w}`, tone: "warn" });
  blocks.push({ kind: "blank" }, { kind: "heading", text: intro });
  for (const cmd of r.apply) blocks.push({ kind: "line", text: `  ${cmd}` });
  return blocks;
}

export function exportK8sView(r: ExportK8sResult): Block[] {
  const changed = r.files.filter((f) => f.status !== "unchanged").length;
  const blocks: Block[] = [
    { kind: "heading", text: `${changed ? "Wrote" : "Unchanged:"} the kustomize overlay ${here(r.out)} (${r.schema} schema, namespace ${r.namespace}, from ${here(r.source.config)})` },
    filesTable(r.files),
    { kind: "blank" },
    {
      kind: "fields",
      rows: [
        ...r.secrets.map((s): [string, string] => [s.name, `-> ${s.workload}, read-only at ${r.mountPath}: ${s.files.map((f) => `${f.key} ${f.mode}`).join(", ")}`]),
        ["agents dial", `${r.dial.address} (${r.dial.setting}), in the analyzer certificate`],
        ["manifest", `${here(r.manifest)} (copied into the overlay)`],
      ],
    },
  ];
  if (r.issued) blocks.push({ kind: "fields", rows: [["issued", `${r.issued.subject}, signed by ${r.issued.issuer}: ${r.issued.files.map((f) => here(f.path)).join(", ")}`]] });
  return tail(blocks, r, "Apply it:");
}

export function exportAnsibleView(r: ExportAnsibleResult): Block[] {
  const changed = r.files.filter((f) => f.status !== "unchanged").length;
  const blocks: Block[] = [
    { kind: "heading", text: `${changed ? "Wrote" : "Unchanged:"} the Ansible playbook ${here(r.playbook)} (${r.schema} schema, from ${here(r.source.config)})` },
    filesTable(r.files),
    { kind: "blank" },
    {
      kind: "table",
      head: ["host", "address", "groups", "files (in skycert_tls_dir)", "skydive_extra_config from"],
      rows: r.hosts.map((h): Cell[] => [
        h.host,
        h.address,
        h.roles.map((role) => (role === "analyzer" ? "analyzers" : "agents")).join(", "),
        `${h.files.join(", ")}${h.agentPair === "fleet" ? " (own pair, fleet)" : ""}`,
        h.hostVars ? here(h.hostVars) : `group_vars/${h.roles[0] === "analyzer" ? "analyzers" : "agents"}.yml`,
      ]),
    },
    { kind: "blank" },
    {
      kind: "fields",
      rows: [
        ["agents dial", `${r.dialed.join(", ")}, in the analyzer certificate`],
        ["inventory", `${here(r.inventory.path)} (${r.inventory.format})`],
      ],
    },
  ];
  return tail(blocks, r, "Apply it (add --become when skycert_tls_dir or skydive_config_file need root):");
}
