import { relative } from "node:path";
import type { ExtensionsSummary, InspectItem, InspectResult, KeySummary } from "../ops/inspect.js";
import type { Block, Cell } from "../render.js";

const here = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith("..") ? p : rel || ".";
};

const key = (k: KeySummary) => `${k.type} ${k.curve ?? k.bits ?? ""}`.trim();

function extensionRows(e: ExtensionsSummary): [string, Cell][] {
  const rows: [string, Cell][] = [];
  const crit = (c: boolean) => (c ? " (critical)" : "");
  rows.push(["SANs", e.subjectAltNames.length ? e.subjectAltNames.join(", ") : { text: "none", tone: "warn" }]);
  if (e.keyUsage) rows.push(["key usage", e.keyUsage.usages.join(", ") + crit(e.keyUsage.critical)]);
  if (e.extendedKeyUsage) rows.push(["EKU", e.extendedKeyUsage.usages.join(", ") + crit(e.extendedKeyUsage.critical)]);
  if (e.basicConstraints) {
    rows.push(["basic constraints", `CA:${e.basicConstraints.ca ? "TRUE" : "FALSE"}${e.basicConstraints.pathlen !== null ? `, pathlen:${e.basicConstraints.pathlen}` : ""}${crit(e.basicConstraints.critical)}`]);
  }
  if (e.subjectKeyIdentifier) rows.push(["SKID", e.subjectKeyIdentifier]);
  if (e.authorityKeyIdentifier) rows.push(["AKID", e.authorityKeyIdentifier]);
  const others = e.all.filter((x) => !["subjectAltName", "keyUsage", "extendedKeyUsage", "basicConstraints", "subjectKeyIdentifier", "authorityKeyIdentifier"].includes(x.name));
  if (others.length) rows.push(["other extensions", others.map((x) => `${x.name}${crit(x.critical)}`).join(", ")]);
  return rows;
}

function itemBlocks(item: InspectItem): Block[] {
  const at = item.line ? ` (line ${item.line})` : "";
  switch (item.kind) {
    case "certificate": {
      const tone = item.status === "valid" ? (item.daysLeft < 30 ? "warn" : "ok") : "fail";
      const days = item.status === "expired" ? `expired ${-item.daysLeft} days ago` : item.status === "not yet valid" ? "not yet valid" : `${item.daysLeft}`;
      return [
        { kind: "heading", text: `Certificate${at}: ${item.subject}` },
        {
          kind: "fields",
          rows: [
            ["issuer", `${item.issuer}${item.selfSigned ? " (self-signed)" : ""}`],
            ["serial", item.serial],
            ["validity", `${item.notBefore} to ${item.notAfter}`],
            ["days left", { text: days, tone }],
            ["key", `${key(item.publicKey)} (SHA-256 ${item.publicKey.fingerprint})`],
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
            ["key", `${key(item.publicKey)} (SHA-256 ${item.publicKey.fingerprint})`],
            ["signature", `${item.signatureAlgorithm}, ${item.signatureValid ? "valid" : "INVALID"}`],
            ...extensionRows(item.requestedExtensions).map(([l, v]): [string, Cell] => [`requested ${l}`, v]),
            ["SHA-256", item.fingerprint],
          ],
        },
      ];
    case "private-key":
    case "public-key": {
      const rows: [string, Cell][] = [["format", item.format]];
      if (item.encrypted) rows.push(["encrypted", { text: `yes, ${item.encryption ?? ""}`.replace(/, $/, ""), tone: "strong" }]);
      if (item.publicKey) rows.push(["key", key(item.publicKey)], ["public key SHA-256", item.publicKey.fingerprint]);
      if (item.matches) rows.push(["matches", item.matches.map((m) => here(m)).join(", ")]);
      return [{ kind: "heading", text: `${item.kind === "private-key" ? "Private" : "Public"} key${at}` }, { kind: "fields", rows }];
    }
    case "unsupported":
      return [{ kind: "line", text: `PEM block ${item.label}${at}: not something skycert inspects`, tone: "dim" }];
  }
}

export function inspectView(r: InspectResult): Block[] {
  const blocks: Block[] = [];
  for (const f of r.files) {
    blocks.push({ kind: "line", text: here(f.path), tone: "strong" });
    for (const item of f.items) blocks.push(...itemBlocks(item));
    if (f.error) blocks.push({ kind: "line", text: `error: ${f.error}`, tone: "fail" });
    blocks.push({ kind: "blank" });
  }
  return blocks;
}
