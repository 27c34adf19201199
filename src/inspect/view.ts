import { type Block, type Cell, shownPath } from "../cli/render.js";
import type { ExtensionsSummary, InspectItem, KeySummary } from "./items.js";
import type { InspectResult, InspectedFile } from "./inspect.js";

const here = (p: string) => shownPath(p);

const keyText = (k: KeySummary) => `${k.type} ${k.curve ?? k.bits ?? ""}`.trim();
const crit = (c: boolean) => (c ? " (critical)" : "");

function extensionRows(e: ExtensionsSummary): [string, Cell][] {
  const rows: [string, Cell][] = [];
  // A CA names no host; a leaf without SANs matches no name Go checks.
  rows.push(["SANs", e.subjectAltNames.length ? e.subjectAltNames.join(", ") : { text: "none", tone: e.basicConstraints?.ca ? "dim" : "warn" }]);
  if (e.keyUsage) rows.push(["key usage", e.keyUsage.usages.join(", ") + crit(e.keyUsage.critical)]);
  if (e.extendedKeyUsage) rows.push(["EKU", e.extendedKeyUsage.usages.join(", ") + crit(e.extendedKeyUsage.critical)]);
  if (e.basicConstraints) {
    rows.push(["basic constraints", `CA:${e.basicConstraints.ca ? "TRUE" : "FALSE"}${e.basicConstraints.pathlen !== null ? `, pathlen:${e.basicConstraints.pathlen}` : ""}${crit(e.basicConstraints.critical)}`]);
  }
  if (e.subjectKeyIdentifier) rows.push(["SKID", e.subjectKeyIdentifier]);
  if (e.authorityKeyIdentifier) rows.push(["AKID", e.authorityKeyIdentifier]);
  const shown = ["subjectAltName", "keyUsage", "extendedKeyUsage", "basicConstraints", "subjectKeyIdentifier", "authorityKeyIdentifier"];
  const others = e.all.filter((x) => !shown.includes(x.name));
  if (others.length) rows.push(["other extensions", others.map((x) => `${x.name}${crit(x.critical)}`).join(", ")]);
  return rows;
}

function itemBlocks(item: InspectItem): Block[] {
  const at = item.line ? ` (line ${item.line})` : "";
  switch (item.kind) {
    case "certificate": {
      const tone = item.status === "valid" ? (item.daysLeft < 30 ? "warn" : "ok") : "fail";
      const days = item.status === "expired" ? `expired ${-item.daysLeft} days ago` : item.status === "not yet valid" ? "not yet valid" : `${item.daysLeft}`;
      const serialNote = item.serialEncoding.negative ? " (negative: Go refuses it)" : !item.serialEncoding.minimal ? " (not minimally encoded: Go refuses it)" : "";
      return [
        { kind: "heading", text: `Certificate${at}: ${item.subject}` },
        {
          kind: "fields",
          rows: [
            ...(item.role ? ([["role", { text: item.role.text, tone: "strong" }]] as [string, Cell][]) : []),
            ["issuer", `${item.issuer}${item.selfSigned ? " (self-signed)" : ""}`],
            ["version", item.version === null ? "unknown" : String(item.version)],
            ["serial", `${item.serial}${serialNote}`],
            ["validity", `${item.notBefore} to ${item.notAfter}`],
            ["days left", { text: days, tone }],
            ["key", `${keyText(item.publicKey)} (public key SHA-256 ${item.publicKey.fingerprint})`],
            ["signature", item.signatureAlgorithm],
            ...extensionRows(item),
            ["SHA-256", item.fingerprint],
          ],
        },
      ];
    }
    case "request":
      return [
        { kind: "heading", text: `Certificate request${at}: ${item.subject}` },
        {
          kind: "fields",
          rows: [
            ["key", `${keyText(item.publicKey)} (public key SHA-256 ${item.publicKey.fingerprint})`],
            ["signature", item.signatureValid ? `${item.signatureAlgorithm}, valid` : { text: `${item.signatureAlgorithm}, INVALID`, tone: "fail" }],
            ...extensionRows(item.requestedExtensions).map(([l, v]): [string, Cell] => [`requested ${l}`, v]),
            ["SHA-256", item.fingerprint],
          ],
        },
      ];
    case "private-key":
    case "public-key": {
      const rows: [string, Cell][] = [["format", item.format]];
      if (item.encrypted) rows.push(["encrypted", { text: `yes, ${item.encryption ?? ""}`.replace(/, $/, ""), tone: "strong" }], ["", "not opened: its public key is not known"]);
      if (item.publicKey) rows.push(["key", keyText(item.publicKey)], ["public key SHA-256", item.publicKey.fingerprint]);
      if (item.matches) rows.push(["matches", item.matches.map((m) => here(m)).join(", ")]);
      else if (item.certificate) rows.push(["belongs to", `${here(item.certificate.path)} (${item.certificate.subject}; found ${item.certificate.found})`]);
      else if (item.kind === "private-key" && item.publicKey) rows.push(["belongs to", { text: "no certificate given alongside or found beside it", tone: "dim" }]);
      return [{ kind: "heading", text: `${item.kind === "private-key" ? "Private" : "Public"} key${at}` }, { kind: "fields", rows }];
    }
    case "unsupported":
      return [{ kind: "line", text: `PEM block ${item.label}${at}: not something skycert inspects`, tone: "dim" }];
  }
}

function fileHeading(f: InspectedFile): string {
  if (f.config) return `${here(f.path)}: a Skydive config (${f.config.schema} schema${f.config.release ? `, fleet record: Skydive ${f.config.release}` : ""})`;
  if (f.namedBy) return `${here(f.path)}  (${f.namedBy.keys.join(", ")} in ${here(f.namedBy.config)})`;
  return here(f.path);
}

export function inspectView(r: InspectResult): Block[] {
  const blocks: Block[] = [];
  for (const f of r.files) {
    blocks.push({ kind: "line", text: fileHeading(f), tone: "strong" });
    if (f.config?.settings.length) {
      blocks.push({
        kind: "fields",
        rows: f.config.settings.map((s): [string, Cell] => [
          s.fromEnv ? `${s.key} (${s.source})` : s.key,
          // A fleet made with --deploy-dir names where the file will be on the host; shown is the copy here.
          s.value.startsWith("/") && s.value !== s.path ? `${here(s.path)} (${s.value} on the host)` : here(s.path),
        ]),
      });
    }
    for (const item of f.items) blocks.push(...itemBlocks(item));
    if (f.error) blocks.push({ kind: "line", text: `error: ${f.error}`, tone: "fail" });
    blocks.push({ kind: "blank" });
  }
  return blocks;
}
