/**
 * subjectAltName entries: what a peer dials must be here, because Go never
 * falls back to the Common Name. An address is an IP SAN exactly when
 * net.isIP accepts it; anything else must be a valid DNS name.
 */
import { isIP } from "node:net";

export type SanType = "DNS" | "IP" | "email" | "URI";

export interface San {
  readonly type: SanType;
  /** Canonical text: lower-case DNS, compressed IPv6. */
  readonly value: string;
}

/** IP when net.isIP says so, else DNS: the classification `--san` and inventories use. */
export function classifyAddress(address: string): "IP" | "DNS" {
  return isIP(address) !== 0 ? "IP" : "DNS";
}

/** Why `name` is not a usable DNS SAN, or undefined when it is. */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (/\s/.test(name)) return "contains whitespace";
  if (name.length > 253) return `is ${name.length} characters long (at most 253)`;
  const labels = name.split(".");
  if (labels.some((l) => l === "")) return "has an empty label (leading, trailing or double dot)";
  const wildcards = labels.filter((l) => l.includes("*")).length;
  if (wildcards > 1) return "has more than one wildcard";
  if (wildcards === 1 && labels[0] !== "*") return "has a wildcard that is not the whole leftmost label";
  if (labels[0] === "*" && labels.length < 3) return "has a wildcard directly above a top-level domain";
  for (const label of labels) {
    if (label === "*") continue;
    if (label.length > 63) return `has a label of ${label.length} characters (at most 63)`;
    if (!/^[A-Za-z0-9-]+$/.test(label)) return `has a label "${label}" with characters other than letters, digits and hyphens`;
    if (label.startsWith("-") || label.endsWith("-")) return `has a label "${label}" that starts or ends with a hyphen`;
  }
  // WHATWG URL's "ends in a number": inet_aton and URL parsers read 0x7f.1 or 10.0x1 as IPv4.
  if (/^([0-9]+|0x[0-9a-f]*)$/i.test(labels[labels.length - 1]!)) return "looks like an IP address but is not a valid one";
  return undefined;
}

/** Why `address` cannot be an IP SAN, or undefined. */
export function ipProblem(address: string): string | undefined {
  if (isIP(address) === 0) return "is not an IPv4 or IPv6 address";
  if (address.includes("%")) return "has an IPv6 zone, which a certificate cannot carry";
  return undefined;
}

/** 4 or 16 octets, as an IP SAN carries them. */
export function ipToBytes(address: string): Uint8Array {
  if (isIP(address) === 4) return new Uint8Array(address.split(".").map(Number));
  let text = address;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail = text.slice(lastColon + 1).split(".").map(Number);
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const hi = parse(head);
  const lo = parse(rest);
  const groups = rest === undefined ? hi : [...hi, ...new Array(8 - hi.length - lo.length).fill(0), ...lo];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** IPv4 dotted, IPv6 in RFC 5952 form. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) return Buffer.from(bytes).toString("hex");
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** A validated SAN from an address (`--san`, an inventory host): IP if it parses as one, else DNS. */
export function sanFromAddress(address: string): { san?: San; problem?: string } {
  if (classifyAddress(address) === "IP") {
    const problem = ipProblem(address);
    return problem ? { problem } : { san: { type: "IP", value: bytesToIp(ipToBytes(address)) } };
  }
  const problem = dnsNameProblem(address);
  return problem ? { problem } : { san: { type: "DNS", value: address.toLowerCase() } };
}

/** Identity for de-duplication: DNS names compare case-insensitively, IPs by their octets. */
export function sanKey(san: San): string {
  return `${san.type}:${san.type === "DNS" ? san.value.toLowerCase() : san.value}`;
}

export function mergeSans(...lists: (readonly San[])[]): San[] {
  const seen = new Set<string>();
  const out: San[] = [];
  for (const list of lists) {
    for (const san of list) {
      const key = sanKey(san);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(san);
      }
    }
  }
  return out;
}

export function formatSan(san: San): string {
  return `${san.type}:${san.value}`;
}
