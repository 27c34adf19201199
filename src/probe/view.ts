import { type Block, type Cell, type Tone, shownPath } from "../cli/render.js";
import type { ProbeReport, ProbeResult, Verdict } from "./probe.js";

const TONES: Record<Verdict, Tone> = { good: "ok", bad: "fail", unknown: "warn" };

const who = (p: ProbeResult) => (p.fleetHost ? `${p.fleetHost.name}${p.api ? ` ${p.api} API` : ""}` : p.api ? `${p.api} API` : "-");

/** What was seen, in a line under the row: chain, TLS, client certificates. */
function detail(p: ProbeResult): string | undefined {
  const parts = [
    p.chain.length && `served ${p.chain.map((c) => c.subject).join(" <- ")} (issuer ${p.chain[p.chain.length - 1]!.issuer})`,
    p.connection.tlsVersion && `${p.connection.tlsVersion} ${p.connection.cipher ?? ""}`.trim(),
    p.resolved && `Skydive ${p.release} verifies the IP ${p.resolved.name} resolves to (${p.resolved.ip})`,
    p.clientCert.required !== null && (p.clientCert.required ? "requires a client certificate" : "accepts clients without a certificate"),
    p.disk && p.disk.same !== null && `${p.disk.same ? "the certificate on disk" : "not the certificate on disk"}, ${shownPath(p.disk.path)}`,
  ].filter(Boolean);
  return parts.length ? parts.join("; ") : undefined;
}

export function probeView(r: ProbeReport): Block[] {
  const releases = [...new Set(r.probes.map((p) => `Skydive ${p.release} (from ${p.releaseFrom})`))];
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
  return [
    { kind: "heading", text: `Probed ${r.probes.length} address${r.probes.length === 1 ? "" : "es"} with the client rules of ${releases.join("; ")}` },
    { kind: "table", head: ["address", "host", "verdict", "reason"], rows: r.probes.map((p): Cell[] => [p.address, who(p), { text: p.verdict, tone: TONES[p.verdict] }, p.reason]) },
    ...(notes.length ? [{ kind: "blank" } as const, ...notes] : []),
    { kind: "blank" },
    { kind: "line", text: `${r.counts.good} good, ${r.counts.bad} bad, ${r.counts.unknown} not judged`, tone: r.ok ? "ok" : "fail" },
  ];
}
