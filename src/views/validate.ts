import type { Status } from "../core/checks.js";
import type { ValidateResult } from "../ops/validate.js";
import type { Block, Cell, Tone } from "../render.js";

const TONE: Record<Status, Tone> = { pass: "ok", warn: "warn", fail: "fail", skip: "skip" };
const WORD: Record<Status, string> = { pass: "PASS", warn: "WARN", fail: "FAIL", skip: "skip" };

/** One table of every check, then what to run for each warning and failure, then the verdict. */
export function validateView(r: ValidateResult): Block[] {
  const blocks: Block[] = [];
  const what = r.role === "both" ? "analyzer and agents" : `${r.role} host`;
  blocks.push({ kind: "heading", text: `Skydive TLS (${r.schema === "legacy" ? "legacy cross validation" : "tls.* with a CA"}), ${what}${r.config ? `, ${r.config}` : ""}` });
  const rows: Cell[][] = r.checks.map((c) => [{ text: WORD[c.status], tone: TONE[c.status] }, c.id, c.subject, c.message]);
  blocks.push({ kind: "table", head: ["status", "check", "subject", "detail"], rows });
  // One line per distinct remedy, failures first, naming the checks it fixes.
  const fixes = new Map<string, { fail: boolean; ids: Set<string>; subjects: Set<string> }>();
  for (const c of r.checks) {
    if ((c.status !== "fail" && c.status !== "warn") || !c.remedy) continue;
    const fix = fixes.get(c.remedy) ?? { fail: false, ids: new Set<string>(), subjects: new Set<string>() };
    fix.fail ||= c.status === "fail";
    fix.ids.add(c.id);
    fix.subjects.add(c.subject);
    fixes.set(c.remedy, fix);
  }
  if (fixes.size) {
    blocks.push({ kind: "blank" });
    blocks.push({ kind: "heading", text: "To fix:" });
    const ordered = [...fixes].sort(([, a], [, b]) => Number(b.fail) - Number(a.fail));
    for (const [remedy, fix] of ordered) {
      blocks.push({ kind: "line", text: `  ${fix.fail ? "FAIL" : "WARN"} ${[...fix.ids].join(", ")} (${[...fix.subjects].join(", ")}): ${remedy}`, tone: fix.fail ? "fail" : "warn" });
    }
  }
  blocks.push({ kind: "blank" });
  const counts = `${r.summary.pass} passed, ${r.summary.warn} warning${r.summary.warn === 1 ? "" : "s"}, ${r.summary.fail} failed, ${r.summary.skip} skipped`;
  blocks.push(
    r.ok
      ? { kind: "line", text: `OK: ${counts}. ${r.role === "both" ? "Skydive will connect" : `The ${r.role} side is ready`}${r.summary.warn ? "; see the warnings." : "."}`, tone: r.summary.warn ? "warn" : "ok" }
      : { kind: "line", text: `NOT OK: ${counts}. Fix the failures before rollout.`, tone: "fail" },
  );
  return blocks;
}
