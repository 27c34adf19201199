import { command } from "../cli/invocation.js";
import { type Block, type Cell, shownPath as here } from "../cli/render.js";
import type { FleetRenewResult, FleetStatus } from "./fleet.js";
import type { RenewResult } from "./renew.js";

const KIND_TEXT = { ca: "a CA certificate", "self-signed": "a self-signed certificate", host: "a host certificate", client: "a client certificate" } as const;
const day = (iso: string | undefined) => iso?.slice(0, 10) ?? "";
const warningLines = (warnings: readonly string[]): Block[] => warnings.map((w) => ({ kind: "line", text: `warning: ${w}`, tone: "warn" }));
const restart = (what: string): Block[] => [{ kind: "blank" }, { kind: "line", text: `Skydive reads its certificates when it starts: copy ${what} and restart Skydive there.`, tone: "dim" }];

export function renewView(r: RenewResult): Block[] {
  const { signer: s, key: k } = r;
  const foundBy = s.kind === "ca" && s.found !== "--ca" ? `, found by the ${s.found === "fleet record" ? "fleet record" : "ca/ folder near it"}` : "";
  const keyText = k.kept
    ? `kept: ${k.path ? here(k.path) : "none beside it, not needed"}${k.checked || !k.path ? "" : " (encrypted, not opened)"}, ${k.type}, public key SHA-256 ${k.previousFingerprint}`
    : `new: ${here(k.path!)} (${k.type}, ${r.files.find((f) => f.kind === "key")?.mode ?? "0400"})${k.fingerprint ? `, public key SHA-256 ${k.fingerprint}` : ""} (was ${k.previousFingerprint})`;
  const actions = r.extensions.map((e) => `${e.name}${e.critical ? " (critical)" : ""}${e.action === "carried" || e.action === "derived" ? "" : ` ${e.action}`}`);
  const fields: [string, Cell][] = [
    ["signed by", s.kind === "ca" ? `${s.ca.subject} (${here(s.ca.cert)}${foundBy})${s.changed ? `, was ${s.previousIssuer}` : ""}` : "itself (self-signed)"],
    ["key", keyText],
    ["validity", `${r.days} days`],
    ["SANs", r.sans.after.join(", ") || "(none)"],
  ];
  if (r.sans.source !== "kept") fields.push(["SAN changes", [...r.sans.added.map((n) => `+${n}`), ...r.sans.removed.map((n) => `-${n}`)].join(", ") || `none (from ${r.sans.source})`]);
  if (r.profile) fields.push(["profile", r.profile.from]);
  fields.push([r.profile ? "extensions (derived)" : "extensions", actions.join(", ") || "(none)"]);
  if (r.after.fingerprint) fields.push(["SHA-256", r.after.fingerprint]);
  fields.push(["files", r.files.map((f) => `${here(f.path)} ${f.mode}`).join(", ")]);
  if (r.csr) fields.push(["CSR", `${here(r.csr)}, left as it was`]);
  if (r.fleet && r.fleet.kind !== "ca") fields.push(["fleet record", `${r.fleet.kind} ${r.fleet.entry} in ${here(r.fleet.dir)}/skycert.json${r.fleet.sansUpdated ? "; its SANs updated" : ""}`]);
  const serials: Cell[][] = [
    ["before", r.before.serial, r.before.notBefore, r.before.notAfter],
    [r.dryRun ? "after" : { text: "after", tone: "ok" }, r.after.serial ?? "(new, random)", r.after.notBefore, r.after.notAfter],
  ];
  const blocks: Block[] = [
    { kind: "heading", text: `${r.dryRun ? "Would renew" : "Renewed"} ${here(r.cert)} (${r.subject}), ${KIND_TEXT[r.kind]}` },
    { kind: "table", head: ["", "serial", "not before", "not after"], rows: serials },
    { kind: "blank" },
    { kind: "fields", rows: fields },
  ];
  if (r.trustKept) {
    const kept = r.dryRun ? "keeps" : "kept";
    blocks.push({ kind: "line", text: `The CA ${kept} its key and subject, so every certificate it signed still verifies under the renewed CA certificate: no host needs a new certificate. Give every host the renewed CA certificate (tls.ca_cert) before the old one expires.` });
  }
  blocks.push(...warningLines(r.warnings));
  if (r.dryRun) return blocks;
  blocks.push(...restart("the renewed files to the host"));
  if (r.fleet) blocks.push({ kind: "command", label: "Check the fleet:", text: command("validate", "--fleet", here(r.fleet.dir)) });
  else if (r.config) blocks.push({ kind: "command", label: "Check it:", text: command("validate", ...(here(r.config) === "skydive.yml" ? [] : ["--config", here(r.config)])) });
  else blocks.push({ kind: "command", label: "Look at it:", text: command("inspect", here(r.cert)) });
  return blocks;
}

const TONE: Record<FleetStatus, "ok" | "fail" | "skip" | "dim"> = { renewed: "ok", due: "dim", "not due": "skip", failed: "fail" };

export function fleetView(r: FleetRenewResult): Block[] {
  const { counts: c, dryRun } = r;
  const fleet = here(r.fleet);
  const rows: Cell[][] = r.hosts.map((h) => [
    h.name,
    h.roles.join("+"),
    { text: h.status === "due" ? "would renew" : h.status, tone: TONE[h.status] },
    h.after ? `${day(h.before?.notAfter)} -> ${day(h.after.notAfter)}` : day(h.before?.notAfter),
    h.status === "renewed" || h.status === "due" ? h.key : "",
    h.status === "failed" ? `${h.reason}${h.remedy ? ` (fix: ${h.remedy})` : ""}` : h.status === "not due" ? (h.reason ?? "") : h.sans.join(", "),
  ]);
  const fields: [string, Cell][] = [
    ["certificates", `${dryRun ? `${c.due} to renew` : `${c.renewed} renewed`}, ${c["not due"]} not due, ${c.failed} failed`],
    ["kept", r.rekey ? "subjects, SANs and extensions; every key is new (0400)" : "keys, subjects, SANs and extensions; new serials and validity"],
    ["CA", `${r.ca.subject} (${here(r.ca.cert)}), expires ${r.ca.notAfter ?? "?"}${r.ca.expiresWithinWindow ? ", within the window: not renewed here" : ""}`],
    ["fleet record", here(r.record)],
  ];
  if (!dryRun) fields.push(["time", `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.parallelism} at a time`]);
  const blocks: Block[] = [{ kind: "heading", text: `${dryRun ? `Would renew ${c.due}` : `Renewed ${c.renewed}`} of ${r.hosts.length} certificates of the fleet ${fleet}: those expiring before ${day(r.deadline)} (within ${r.withinDays} days), signed by ${r.ca.subject}` }];
  if (rows.length) blocks.push({ kind: "table", head: ["host", "roles", "status", "expires", "key", "SANs, or reason"], rows }, { kind: "blank" });
  blocks.push({ kind: "fields", rows: fields }, ...warningLines(r.warnings));
  const cmds: Block[] = [];
  if (r.ca.expiresWithinWindow) cmds.push({ kind: "command", label: "Renew the CA (same key):", text: command("renew", here(r.ca.cert)) });
  if (dryRun && c.due) cmds.push({ kind: "command", label: "Renew them:", text: command("renew", "--fleet", fleet, "--within", `${r.withinDays}d`, r.rekey ? "--rekey" : undefined) });
  const failed = r.hosts.find((h) => h.status === "failed");
  if (failed) cmds.push({ kind: "command", label: "Retry one host:", text: command("renew", here(failed.cert)) });
  if (!dryRun && c.renewed) {
    blocks.push(...restart("each renewed host's files to it"));
    cmds.push({ kind: "command", label: "Check the fleet:", text: command("validate", "--fleet", fleet) });
  }
  if (cmds.length) blocks.push({ kind: "blank" }, ...cmds);
  return blocks;
}
