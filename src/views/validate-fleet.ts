import { relative } from "node:path";
import type { Status } from "../core/checks.js";
import type { FleetValidateResult } from "../ops/validate-fleet.js";
import type { Block, Cell, Tone } from "../render.js";

const TONE: Record<Status, Tone> = { pass: "ok", warn: "warn", fail: "fail", skip: "skip" };
const WORD: Record<Status, string> = { pass: "PASS", warn: "WARN", fail: "FAIL", skip: "skip" };

const here = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith("..") ? p : rel || ".";
};

/** One row per host, the fleet-level checks, the analyzer's verdict, then one line per distinct remedy. */
export function fleetValidateView(r: FleetValidateResult): Block[] {
  const blocks: Block[] = [{ kind: "heading", text: `Skydive fleet ${here(r.fleet)}: ${r.hosts.length} agent hosts${r.ca ? `, CA ${here(r.ca.cert)}` : ""}` }];
  const rows: Cell[][] = r.hosts.map((h) => {
    const failed = h.checks.filter((c) => c.status === "fail");
    const warned = h.checks.filter((c) => c.status === "warn");
    const status: Status = failed.length ? "fail" : warned.length ? "warn" : "pass";
    const detail = failed.length ? failed.map((c) => `${c.id}: ${c.message}`)[0]! + (failed.length > 1 ? ` (+${failed.length - 1} more)` : "") : warned.map((c) => c.id).join(", ");
    return [h.host, { text: WORD[status], tone: TONE[status] }, `${h.summary.pass}/${h.summary.warn}/${h.summary.fail}`, detail];
  });
  blocks.push({ kind: "table", head: ["host", "status", "pass/warn/fail", "detail"], rows });
  blocks.push({ kind: "blank" });
  blocks.push({ kind: "table", head: ["status", "check", "detail"], rows: r.fleetChecks.map((c) => [{ text: WORD[c.status], tone: TONE[c.status] }, c.id, c.message]) });
  if (r.analyzer) {
    const a = r.analyzer;
    const failed = [...new Set(a.checks.filter((c) => c.status === "fail").map((c) => c.id))];
    blocks.push({ kind: "blank" });
    blocks.push({
      kind: "line",
      text: `analyzer (${a.config ? here(a.config) : "flags"}): ${a.ok ? "OK" : `NOT OK (${failed.join(", ")})`}: ${a.summary.pass} passed, ${a.summary.warn} warnings, ${a.summary.fail} failed`,
      tone: a.ok ? (a.summary.warn ? "warn" : "ok") : "fail",
    });
  }
  // One line per distinct remedy, failures first, naming the hosts it fixes.
  const fixes = new Map<string, { fail: boolean; who: Set<string> }>();
  const add = (remedy: string | undefined, status: Status, who: string) => {
    if (!remedy || (status !== "fail" && status !== "warn")) return;
    const f = fixes.get(remedy) ?? { fail: false, who: new Set<string>() };
    f.fail ||= status === "fail";
    f.who.add(who);
    fixes.set(remedy, f);
  };
  for (const h of r.hosts) for (const c of h.checks) add(c.remedy, c.status, h.host);
  for (const c of r.fleetChecks) add(c.remedy, c.status, c.id);
  for (const c of r.analyzer?.checks ?? []) add(c.remedy, c.status, "analyzer");
  if (fixes.size) {
    blocks.push({ kind: "blank" }, { kind: "heading", text: "To fix:" });
    for (const [remedy, f] of [...fixes].sort(([, a], [, b]) => Number(b.fail) - Number(a.fail))) {
      const who = [...f.who];
      blocks.push({ kind: "line", text: `  ${f.fail ? "FAIL" : "WARN"} ${who.slice(0, 6).join(", ")}${who.length > 6 ? ` and ${who.length - 6} more` : ""}: ${remedy}`, tone: f.fail ? "fail" : "warn" });
    }
  }
  blocks.push({ kind: "blank" });
  const s = r.summary;
  const counts = `${s.hostsOk} of ${s.hosts} hosts OK; ${s.pass} checks passed, ${s.warn} warnings, ${s.fail} failed, ${s.skip} skipped`;
  blocks.push(r.ok ? { kind: "line", text: `OK: ${counts}. The fleet is ready.`, tone: s.warn ? "warn" : "ok" } : { kind: "line", text: `NOT OK: ${counts}. Fix the failures before rollout.`, tone: "fail" });
  return blocks;
}
