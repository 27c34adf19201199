import { type Block, type Cell, shownPath as here } from "../cli/render.js";
import { EXTENSION_OIDS } from "../pki/oids.js";
import type { ExtensionsSummary, InspectItem, KeySummary } from "./items.js";
import type { InspectResult } from "./inspect.js";

type Row = [string, Cell];
const keyText = (k: KeySummary) => `${k.type} ${k.curve ?? k.bits ?? ""}`.trim();
const crit = (c: boolean) => (c ? " (critical)" : "");

function extensionRows(e: ExtensionsSummary): Row[] {
  const { keyUsage: ku, extendedKeyUsage: eku, basicConstraints: bc } = e;
  const others = e.all.filter((x) => !Object.hasOwn(EXTENSION_OIDS, x.name));
  return [
    // A CA names no host; a leaf without SANs matches no name Go checks.
    ["SANs", e.subjectAltNames.length ? e.subjectAltNames.join(", ") : { text: "none", tone: bc?.ca ? "dim" : "warn" }],
    ...(ku ? [["key usage", ku.usages.join(", ") + crit(ku.critical)] as Row] : []),
    ...(eku ? [["EKU", eku.usages.join(", ") + crit(eku.critical)] as Row] : []),
    ...(bc ? [["basic constraints", `CA:${bc.ca ? "TRUE" : "FALSE"}${bc.pathlen !== null ? `, pathlen:${bc.pathlen}` : ""}${crit(bc.critical)}`] as Row] : []),
    ...(e.subjectKeyIdentifier ? [["SKID", e.subjectKeyIdentifier] as Row] : []),
    ...(e.authorityKeyIdentifier ? [["AKID", e.authorityKeyIdentifier] as Row] : []),
    ...(others.length ? [["other extensions", others.map((x) => `${x.name}${crit(x.critical)}`).join(", ")] as Row] : []),
  ];
}

function itemBlocks(item: InspectItem): Block[] {
  const at = item.line ? ` (line ${item.line})` : "";
  if (item.kind === "unsupported") return [{ kind: "line", text: `PEM block ${item.label}${at}: not something skycert inspects`, tone: "dim" }];
  if (item.kind === "certificate") {
    const days = item.status === "expired" ? `expired ${-item.daysLeft} days ago` : item.status === "not yet valid" ? "not yet valid" : `${item.daysLeft}`;
    const { negative, minimal } = item.serialEncoding;
    const rows: Row[] = [
      ["issuer", `${item.issuer}${item.selfSigned ? " (self-signed)" : ""}`],
      ["version", item.version === null ? "unknown" : String(item.version)],
      ["serial", `${item.serial}${negative ? " (negative: Go refuses it)" : !minimal ? " (not minimally encoded: Go refuses it)" : ""}`],
      ["validity", `${item.notBefore} to ${item.notAfter}`],
      ["days left", { text: days, tone: item.status !== "valid" ? "fail" : item.daysLeft < 30 ? "warn" : "ok" }],
      ["key", `${keyText(item.publicKey)} (public key SHA-256 ${item.publicKey.fingerprint})`],
      ["signature", item.signatureAlgorithm],
      ...extensionRows(item),
      ["SHA-256", item.fingerprint],
    ];
    if (item.role) rows.unshift(["role", { text: item.role.text, tone: "strong" }]);
    return [{ kind: "heading", text: `Certificate${at}: ${item.subject}` }, { kind: "fields", rows }];
  }
  if (item.kind === "request") {
    const rows: Row[] = [
      ["key", `${keyText(item.publicKey)} (public key SHA-256 ${item.publicKey.fingerprint})`],
      ["signature", item.signatureValid ? `${item.signatureAlgorithm}, valid` : { text: `${item.signatureAlgorithm}, INVALID`, tone: "fail" }],
      ...extensionRows(item.requestedExtensions).map(([l, v]): Row => [`requested ${l}`, v]),
      ["SHA-256", item.fingerprint],
    ];
    return [{ kind: "heading", text: `Certificate request${at}: ${item.subject}` }, { kind: "fields", rows }];
  }
  const rows: Row[] = [["format", item.format]];
  if (item.encrypted) rows.push(["encrypted", { text: `yes, ${item.encryption ?? ""}`.replace(/, $/, ""), tone: "strong" }], ["", "not opened: its public key is not known"]);
  if (item.publicKey) rows.push(["key", keyText(item.publicKey)], ["public key SHA-256", item.publicKey.fingerprint]);
  if (item.matches) rows.push(["matches", item.matches.map((m) => here(m)).join(", ")]);
  else if (item.certificate) rows.push(["belongs to", `${here(item.certificate.path)} (${item.certificate.subject}; found ${item.certificate.found})`]);
  else if (item.kind === "private-key" && item.publicKey) rows.push(["belongs to", { text: "no certificate given alongside or found beside it", tone: "dim" }]);
  return [{ kind: "heading", text: `${item.kind === "private-key" ? "Private" : "Public"} key${at}` }, { kind: "fields", rows }];
}

export function inspectView(r: InspectResult): Block[] {
  return r.files.flatMap((f): Block[] => {
    const heading = f.config
      ? `${here(f.path)}: a Skydive config (${f.config.schema} schema${f.config.release ? `, fleet record: Skydive ${f.config.release}` : ""})`
      : f.namedBy
        ? `${here(f.path)}  (${f.namedBy.keys.join(", ")} in ${here(f.namedBy.config)})`
        : here(f.path);
    // A fleet made with --deploy-dir names where the file will be on the host; shown is the copy here.
    const settings = (f.config?.settings ?? []).map((s): Row => [s.fromEnv ? `${s.key} (${s.source})` : s.key, s.value.startsWith("/") && s.value !== s.path ? `${here(s.path)} (${s.value} on the host)` : here(s.path)]);
    return [
      { kind: "line", text: heading, tone: "strong" },
      ...(settings.length ? [{ kind: "fields", rows: settings } as const] : []),
      ...f.items.flatMap(itemBlocks),
      ...(f.error ? [{ kind: "line", text: `error: ${f.error}`, tone: "fail" } as const] : []),
      { kind: "blank" },
    ];
  });
}
