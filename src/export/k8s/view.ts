import type { Block } from "../../cli/render.js";
import { filesTable, here, tail, validationBlocks } from "../view.js";
import type { ExportK8sResult } from "./export.js";

export function exportK8sView(r: ExportK8sResult): Block[] {
  const changed = r.files.filter((f) => f.status !== "unchanged").length;
  const from = r.source.kind === "legacy" ? here(r.source.config!) : `the fleet ${here(r.source.from)}`;
  const blocks: Block[] = [
    { kind: "heading", text: `${changed ? "Wrote" : "Unchanged:"} the kustomize overlay ${here(r.out)} (Skydive ${r.skydive}, namespace ${r.namespace}) from ${from}` },
    filesTable(r.files),
    { kind: "blank" },
    {
      kind: "fields",
      rows: [
        ...r.secrets.map((s): [string, string] => [s.name, `-> ${s.workload}, read-only at ${r.mountPath}: ${s.files.map((f) => `${f.key} ${f.mode}`).join(", ")}`]),
        ["skydive", `${r.skydive}: ${r.skydiveName} (from ${r.skydiveFrom})`],
        ["agents dial", `${r.dial.address} (${r.dial.setting}); ${r.dial.why}, and the analyzer certificate carries it`],
        ...(r.service.clusterIp ? [["ClusterIP", `${r.service.clusterIp}${r.service.pinned ? " (pinned by patch-service.yaml)" : " (set in the manifest)"}`] as [string, string]] : []),
        ...(r.source.analyzerHost ? [["analyzer files", `fleet host ${r.source.analyzerHost}`] as [string, string]] : []),
        ...(r.source.agentHost ? [["agent files", `fleet host ${r.source.agentHost} (shared by every agent pod)`] as [string, string]] : []),
        ["analyzer key", r.agentPodsHoldAnalyzerKey ? { text: "in the agent pods too (legacy: every agent serves its API with it)", tone: "warn" } : "in the analyzer pods only; the CA key in none"],
        ["manifest", `${here(r.manifest)} (copied into the overlay)`],
      ],
    },
  ];
  if (r.issued) {
    blocks.push({ kind: "fields", rows: [["issued", `${r.issued.subject}, ${r.issued.sans.join(", ")}, signed by ${r.issued.issuer}: ${here(r.issued.cert)}, ${here(r.issued.key)}`]] });
  }
  blocks.push({ kind: "blank" }, ...validationBlocks(r.validation));
  blocks.push(...tail(r, "Apply it:"));
  return blocks;
}
