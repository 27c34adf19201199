import { type Block, type Cell, type Tone, shownPath } from "../cli/render.js";
import type { ProbeReport, ProbeResult, Verdict } from "./probe.js";

const here = (p: string) => shownPath(p);

const TONES: Record<Verdict, Tone> = { good: "ok", bad: "fail", unknown: "warn" };

function who(p: ProbeResult): string {
  if (p.fleetHost) return `${p.fleetHost.name}${p.api ? ` ${p.api} API` : ""}`;
  return p.api ? `${p.api} API` : "-";
}

/** What was seen, in a line under the row: chain, TLS, client certificates. */
function detail(p: ProbeResult): string | undefined {
  const parts: string[] = [];
  if (p.chain.length) parts.push(`served ${p.chain.map((c) => c.subject).join(" <- ")} (issuer ${p.chain[p.chain.length - 1]!.issuer})`);
  if (p.connection.tlsVersion) parts.push(`${p.connection.tlsVersion} ${p.connection.cipher ?? ""}`.trim());
  if (p.resolved) parts.push(`Skydive ${p.release} verifies the IP ${p.resolved.name} resolves to (${p.resolved.ip})`);
  if (p.clientCert.required !== null) parts.push(p.clientCert.required ? "requires a client certificate" : "accepts clients without a certificate");
  if (p.disk && p.disk.same !== null) parts.push(`${p.disk.same ? "the certificate on disk" : "not the certificate on disk"}, ${here(p.disk.path)}`);
  return parts.length ? parts.join("; ") : undefined;
}

export function probeView(r: ProbeReport): Block[] {
  const blocks: Block[] = [];
  const releases = [...new Set(r.probes.map((p) => `Skydive ${p.release} (from ${p.releaseFrom})`))];
  blocks.push({ kind: "heading", text: `Probed ${r.probes.length} address${r.probes.length === 1 ? "" : "es"} with the client rules of ${releases.join("; ")}` });
  blocks.push({
    kind: "table",
    head: ["address", "host", "verdict", "reason"],
    rows: r.probes.map((p): Cell[] => [p.address, who(p), { text: p.verdict, tone: TONES[p.verdict] }, p.reason]),
  });
  const notes: Block[] = [];
  for (const p of r.probes) {
    const d = detail(p);
    if (!d && !p.problems.length) continue;
    notes.push({ kind: "line", text: `${p.address}${p.fleetHost ? ` (${p.fleetHost.name})` : ""}`, tone: "strong" });
    const rows: [string, Cell][] = d ? [["seen", { text: d, tone: "dim" }]] : [];
    const commands: Block[] = [];
    for (const x of p.problems) {
      if (x.message !== p.reason) rows.push([`${x.severity} (${x.id})`, { text: x.message, tone: x.severity === "bad" ? "fail" : "warn" }]);
      if (x.hint) rows.push([`fix (${x.id})`, x.hint]);
      if (x.remedy) commands.push({ kind: "command", label: `  To fix (${x.id}):`, text: x.remedy });
    }
    if (rows.length) notes.push({ kind: "fields", rows });
    notes.push(...commands);
  }
  if (notes.length) blocks.push({ kind: "blank" }, ...notes);
  blocks.push({ kind: "blank" }, { kind: "line", text: `${r.counts.good} good, ${r.counts.bad} bad, ${r.counts.unknown} not judged`, tone: r.ok ? "ok" : "fail" });
  return blocks;
}
