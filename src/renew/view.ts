import { command } from "../cli/invocation.js";
import { type Block, type Cell, shownPath } from "../cli/render.js";
import type { FleetRenewResult, FleetStatus } from "./fleet.js";
import type { RenewResult } from "./renew.js";

const here = (p: string) => shownPath(p);

const KIND_TEXT = { ca: "a CA certificate", "self-signed": "a self-signed certificate", host: "a host certificate", client: "a client certificate" } as const;
const day = (iso: string | undefined) => (iso ? iso.slice(0, 10) : "");
const warningLines = (warnings: readonly string[]): Block[] => warnings.map((w) => ({ kind: "line", text: `warning: ${w}`, tone: "warn" }));

export function renewView(r: RenewResult): Block[] {
  const signer =
    r.signer.kind === "ca"
      ? `${r.signer.ca.subject} (${here(r.signer.ca.cert)}${r.signer.found === "--ca" ? "" : `, found by the ${r.signer.found === "fleet record" ? "fleet record" : "ca/ folder near it"}`})${r.signer.changed ? `, was ${r.signer.previousIssuer}` : ""}`
      : "itself (self-signed)";
  const blocks: Block[] = [
    { kind: "heading", text: `${r.dryRun ? "Would renew" : "Renewed"} ${here(r.cert)} (${r.subject}), ${KIND_TEXT[r.kind]}` },
    {
      kind: "table",
      head: ["", "serial", "not before", "not after"],
      rows: [
        ["before", r.before.serial, r.before.notBefore, r.before.notAfter],
        [r.dryRun ? "after" : { text: "after", tone: "ok" }, r.after.serial ?? "(new, random)", r.after.notBefore, r.after.notAfter],
      ],
    },
    { kind: "blank" },
  ];
  const keyText = r.key.kept
    ? `kept: ${r.key.path ? here(r.key.path) : "none beside it, not needed"}${r.key.checked ? "" : r.key.path ? " (encrypted, not opened)" : ""}, ${r.key.type}, public key SHA-256 ${r.key.previousFingerprint}`
    : `new: ${here(r.key.path!)} (${r.key.type}, ${r.files.find((f) => f.kind === "key")?.mode ?? "0400"})${r.key.fingerprint ? `, public key SHA-256 ${r.key.fingerprint}` : ""} (was ${r.key.previousFingerprint})`;
  const fields: [string, Cell][] = [
    ["signed by", signer],
    ["key", keyText],
    ["validity", `${r.days} days`],
    ["SANs", r.sans.after.join(", ") || "(none)"],
  ];
  if (r.sans.source !== "kept") {
    fields.push(["SAN changes", [...r.sans.added.map((s) => `+${s}`), ...r.sans.removed.map((s) => `-${s}`)].join(", ") || `none (from ${r.sans.source})`]);
  }
  if (r.profile) fields.push(["profile", r.profile.from]);
  const actions = r.extensions.map((e) => `${e.name}${e.critical ? " (critical)" : ""}${e.action === "carried" || e.action === "derived" ? "" : ` ${e.action}`}`);
  fields.push([r.profile ? "extensions (derived)" : "extensions", actions.join(", ") || "(none)"]);
  if (r.after.fingerprint) fields.push(["SHA-256", r.after.fingerprint]);
  fields.push(["files", r.files.map((f) => `${here(f.path)} ${f.mode}`).join(", ")]);
  if (r.csr) fields.push(["CSR", `${here(r.csr)}, left as it was`]);
  if (r.fleet && r.fleet.kind !== "ca") {
    fields.push(["fleet record", `${r.fleet.kind} ${r.fleet.entry} in ${here(r.fleet.dir)}/skycert.json${r.fleet.sansUpdated ? "; its SANs updated" : ""}`]);
  }
  blocks.push({ kind: "fields", rows: fields });
  if (r.trustKept) {
    blocks.push({
      kind: "line",
      text: `The CA ${r.dryRun ? "keeps" : "kept"} its key and subject, so every certificate it signed still verifies under the renewed CA certificate: no host needs a new certificate. Give every host the renewed CA certificate (tls.ca_cert) before the old one expires.`,
    });
  }
  blocks.push(...warningLines(r.warnings));
  if (r.dryRun) return blocks;
  blocks.push({ kind: "blank" }, { kind: "line", text: "Skydive reads its certificates when it starts: copy the renewed files to the host and restart Skydive there.", tone: "dim" });
  if (r.fleet) blocks.push({ kind: "command", label: "Check the fleet:", text: command("validate", "--fleet", here(r.fleet.dir)) });
  else if (r.config) blocks.push({ kind: "command", label: "Check it:", text: command("validate", ...(here(r.config) === "skydive.yml" ? [] : ["--config", here(r.config)])) });
  else blocks.push({ kind: "command", label: "Look at it:", text: command("inspect", here(r.cert)) });
  return blocks;
}

const TONE: Record<FleetStatus, "ok" | "fail" | "skip" | "dim"> = { renewed: "ok", due: "dim", "not due": "skip", failed: "fail" };

export function fleetView(r: FleetRenewResult): Block[] {
  const c = r.counts;
  const subject = r.dryRun
    ? `Would renew ${c.due} of ${r.hosts.length} certificates of the fleet ${here(r.fleet)}`
    : `Renewed ${c.renewed} of ${r.hosts.length} certificates of the fleet ${here(r.fleet)}`;
  const blocks: Block[] = [{ kind: "heading", text: `${subject}: those expiring before ${day(r.deadline)} (within ${r.withinDays} days), signed by ${r.ca.subject}` }];
  const rows: Cell[][] = r.hosts.map((h) => [
    h.name,
    h.roles.join("+"),
    { text: h.status === "due" ? "would renew" : h.status, tone: TONE[h.status] },
    h.after ? `${day(h.before?.notAfter)} -> ${day(h.after.notAfter)}` : day(h.before?.notAfter),
    h.status === "renewed" || h.status === "due" ? (h.key === "new" ? "new" : "kept") : "",
    h.status === "failed" ? `${h.reason}${h.remedy ? ` (fix: ${h.remedy})` : ""}` : h.status === "not due" ? (h.reason ?? "") : h.sans.join(", "),
  ]);
  if (rows.length) blocks.push({ kind: "table", head: ["host", "roles", "status", "expires", "key", "SANs, or reason"], rows }, { kind: "blank" });
  const fields: [string, Cell][] = [
    ["certificates", [r.dryRun ? `${c.due} to renew` : `${c.renewed} renewed`, `${c["not due"]} not due`, `${c.failed} failed`].join(", ")],
    ["kept", r.rekey ? "subjects, SANs and extensions; every key is new (0400)" : "keys, subjects, SANs and extensions; new serials and validity"],
    ["CA", `${r.ca.subject} (${here(r.ca.cert)}), expires ${r.ca.notAfter ?? "?"}${r.ca.expiresWithinWindow ? ", within the window: not renewed here" : ""}`],
    ["fleet record", here(r.record)],
  ];
  if (!r.dryRun) fields.push(["time", `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.parallelism} at a time`]);
  blocks.push({ kind: "fields", rows: fields });
  blocks.push(...warningLines(r.warnings));
  const fleet = here(r.fleet);
  const cmds: Block[] = [];
  if (r.ca.expiresWithinWindow) cmds.push({ kind: "command", label: "Renew the CA (same key):", text: command("renew", here(r.ca.cert)) });
  if (r.dryRun && c.due) cmds.push({ kind: "command", label: "Renew them:", text: command("renew", "--fleet", fleet, "--within", `${r.withinDays}d`, r.rekey ? "--rekey" : undefined) });
  const failed = r.hosts.filter((h) => h.status === "failed");
  if (failed.length) cmds.push({ kind: "command", label: "Retry one host:", text: command("renew", here(failed[0]!.cert)) });
  if (!r.dryRun && c.renewed) {
    blocks.push({ kind: "blank" }, { kind: "line", text: "Skydive reads its certificates when it starts: copy each renewed host's files to it and restart Skydive there.", tone: "dim" });
    cmds.push({ kind: "command", label: "Check the fleet:", text: command("validate", "--fleet", fleet) });
  }
  if (cmds.length) blocks.push({ kind: "blank" }, ...cmds);
  return blocks;
}
