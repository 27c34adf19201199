import type { Block, Cell } from "../../cli/render.js";
import { filesTable, here, tail, validationBlocks } from "../view.js";
import type { ExportAnsibleResult } from "./export.js";

export function exportAnsibleView(r: ExportAnsibleResult): Block[] {
  const changed = r.files.filter((f) => f.status !== "unchanged").length;
  const from = r.source.kind === "legacy" ? here(r.source.config!) : `the fleet ${here(r.source.from)}`;
  return [
    { kind: "heading", text: `${changed ? "Wrote" : "Unchanged:"} the Ansible playbook ${here(r.playbook)} (Skydive ${r.skydive}) from ${from}` },
    filesTable(r.files),
    { kind: "blank" },
    {
      kind: "table",
      head: ["host", "address", "groups", "files (in skycert_tls_dir)"],
      rows: r.hosts.map((h): Cell[] => [
        h.host,
        h.address,
        h.roles.map((role) => (role === "analyzer" ? "analyzers" : "agents")).join(", "),
        { text: `${h.files.map((f) => `${f.name} ${f.mode}`).join(", ")}${h.holdsAnalyzerKey && !h.roles.includes("analyzer") ? " (the analyzer's key)" : ""}`, tone: h.holdsAnalyzerKey && !h.roles.includes("analyzer") ? "warn" : undefined },
      ]),
    },
    { kind: "blank" },
    {
      kind: "fields",
      rows: [
        ["skydive", `${r.skydive}: ${r.skydiveName} (from ${r.skydiveFrom})`],
        ["agents dial", r.dialed.length ? r.dialed.join(", ") : "(no analyzer)"],
        ["skycert_tls_dir", `default ${r.tlsDir}`],
        ["skydive_config_file", `default ${r.configFile}, updated in place (other keys kept, a backup beside it)`],
        ["skydive_extra_config", "the inventory's value combined with the TLS settings (set_fact), for Skydive's roles in the same run"],
        ["inventory", here(r.inventory)],
      ],
    },
    { kind: "blank" },
    ...validationBlocks(r.validation),
    ...tail(r, "Apply it (add --become when skycert_tls_dir or skydive_config_file need root):"),
  ];
}
