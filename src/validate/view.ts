import { prog } from "../cli/invocation.js";
import { type Block, type Cell, type Tone, shownPath } from "../cli/render.js";
import { RELEASE_NAMES } from "../skydive/release.js";
import type { FleetValidateResult } from "./fleet.js";
import type { Check, Status } from "./model.js";
import type { ValidateResult } from "./validate.js";

const TONE: Record<Status, Tone> = { pass: "ok", warn: "warn", fail: "fail", skip: "skip" };
const WORD: Record<Status, string> = { pass: "PASS", warn: "WARN", fail: "FAIL", skip: "skip" };

const here = (p: string) => shownPath(p);

const row = (c: Check): Cell[] => [{ text: WORD[c.status], tone: TONE[c.status] }, c.id, c.subject, c.message];

/** The rows shown: every row with --all, else the warnings, failures and skips, and one line for the passes. */
function rows(checks: Check[], all: boolean): Block[] {
  const shown = all ? checks : checks.filter((c) => c.status !== "pass");
  const out: Block[] = [];
  if (shown.length) out.push({ kind: "table", head: ["status", "check", "subject", "detail"], rows: shown.map(row) });
  if (!all) {
    const passed = checks.filter((c) => c.status === "pass");
    if (passed.length) out.push({ kind: "line", text: `${passed.length} checks passed: ${[...new Set(passed.map((c) => c.id))].join(", ")} (--all shows them)`, tone: "dim" });
  }
  return out;
}

const isCommand = (remedy: string) => remedy.startsWith(`${prog()} `) || /^(chmod|unset|openssl) /.test(remedy);

/** One command per distinct remedy, failures first, naming what it fixes. */
function fixes(items: { remedy?: string; status: Status; who: string }[]): Block[] {
  const byRemedy = new Map<string, { fail: boolean; who: Set<string> }>();
  for (const i of items) {
    if (!i.remedy || (i.status !== "fail" && i.status !== "warn")) continue;
    const f = byRemedy.get(i.remedy) ?? { fail: false, who: new Set<string>() };
    f.fail ||= i.status === "fail";
    f.who.add(i.who);
    byRemedy.set(i.remedy, f);
  }
  if (!byRemedy.size) return [];
  const out: Block[] = [{ kind: "blank" }, { kind: "heading", text: "To fix:" }];
  for (const [remedy, f] of [...byRemedy].sort(([, a], [, b]) => Number(b.fail) - Number(a.fail))) {
    const who = [...f.who];
    out.push({ kind: "line", text: `${f.fail ? "FAIL" : "WARN"} ${who.slice(0, 6).join(", ")}${who.length > 6 ? ` and ${who.length - 6} more` : ""}:`, tone: f.fail ? "fail" : "warn" });
    // A command is printed whole, to paste; advice in words is wrapped like any line.
    if (isCommand(remedy)) out.push({ kind: "command", label: " ", text: remedy });
    else out.push({ kind: "line", text: `  ${remedy}` });
  }
  return out;
}

export function validateView(all: boolean) {
  return (r: ValidateResult): Block[] => {
    const what = r.roles.length === 2 ? "analyzer and agents" : `${r.roles[0]} host`;
    const blocks: Block[] = [{ kind: "heading", text: `${RELEASE_NAMES[r.skydive]}, ${what}${r.config ? `: ${here(r.config)}` : ""}` }];
    blocks.push(...rows(r.checks, all));
    blocks.push(...fixes(r.checks.map((c) => ({ remedy: c.remedy, status: c.status, who: `${c.id} (${c.subject})` }))));
    blocks.push({ kind: "blank" });
    const s = r.summary;
    const counts = `${s.pass} passed, ${s.warn} warning${s.warn === 1 ? "" : "s"}, ${s.fail} failed, ${s.skip} skipped`;
    blocks.push(
      r.ok
        ? { kind: "line", text: `OK: ${counts}. ${r.roles.length === 2 ? "Skydive will connect" : `The ${r.roles[0]} side is ready`}${s.warn ? "; see the warnings." : "."}`, tone: s.warn ? "warn" : "ok" }
        : { kind: "line", text: `NOT OK: ${counts}. Fix the failures before rollout.`, tone: "fail" },
    );
    return blocks;
  };
}

export function fleetView(all: boolean) {
  return (r: FleetValidateResult): Block[] => {
    const blocks: Block[] = [{ kind: "heading", text: `Skydive fleet ${here(r.fleet)}: ${r.hosts.length} hosts, ${RELEASE_NAMES[r.skydive]}${r.ca ? `, CA ${here(r.ca)}` : ""}; agents dial ${r.analyzers.join(", ") || "nothing yet"}` }];
    const hostRows: Cell[][] = r.hosts
      .filter((h) => all || !h.ok || h.summary.warn)
      .map((h) => {
        const failed = h.checks.filter((c) => c.status === "fail");
        const warned = h.checks.filter((c) => c.status === "warn");
        const status: Status = failed.length ? "fail" : warned.length ? "warn" : "pass";
        const first = failed[0] ?? warned[0];
        const detail = first ? `${first.id}: ${first.message}${failed.length + warned.length > 1 ? ` (+${failed.length + warned.length - 1} more)` : ""}` : "";
        return [h.host, h.roles.join("+"), { text: WORD[status], tone: TONE[status] }, detail];
      });
    if (hostRows.length) blocks.push({ kind: "table", head: ["host", "roles", "status", "detail"], rows: hostRows });
    const okHosts = r.hosts.filter((h) => h.ok && !h.summary.warn).length;
    if (!all && okHosts) blocks.push({ kind: "line", text: `${okHosts} hosts passed every check (--all lists them)`, tone: "dim" });
    blocks.push({ kind: "blank" });
    const fleetShown = all ? r.fleetChecks : r.fleetChecks.filter((c) => c.status !== "pass");
    if (fleetShown.length) blocks.push({ kind: "table", head: ["status", "check", "subject", "detail"], rows: fleetShown.map(row) });
    const fleetPassed = r.fleetChecks.filter((c) => c.status === "pass").length;
    if (!all && fleetPassed) blocks.push({ kind: "line", text: `${fleetPassed} fleet checks passed: ${[...new Set(r.fleetChecks.filter((c) => c.status === "pass").map((c) => c.id))].join(", ")}`, tone: "dim" });
    blocks.push(
      ...fixes([
        ...r.hosts.flatMap((h) => h.checks.map((c) => ({ remedy: c.remedy, status: c.status, who: h.host }))),
        ...r.fleetChecks.map((c) => ({ remedy: c.remedy, status: c.status, who: c.id })),
      ]),
    );
    blocks.push({ kind: "blank" });
    const s = r.summary;
    const counts = `${s.hostsOk} of ${s.hosts} hosts OK; ${s.pass} checks passed, ${s.warn} warnings, ${s.fail} failed, ${s.skip} skipped`;
    blocks.push(r.ok ? { kind: "line", text: `OK: ${counts}. The fleet is ready${s.warn ? "; see the warnings." : "."}`, tone: s.warn ? "warn" : "ok" } : { kind: "line", text: `NOT OK: ${counts}. Fix the failures before rollout.`, tone: "fail" });
    return blocks;
  };
}
