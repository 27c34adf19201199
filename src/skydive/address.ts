/**
 * Addresses as Skydive's `analyzers:` entries and skycert's --host write them:
 * `host`, `host:port`, `[v6]:port`, or a bare IPv6 address.
 */
import { isIP } from "node:net";
import { ANALYZER_PORT } from "./settings.js";

export function splitAddress(text: string): { host: string; port?: string } {
  const a = text.trim();
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(a);
  if (bracket) return { host: bracket[1]!, ...(bracket[2] !== undefined ? { port: bracket[2] } : {}) };
  if (isIP(a) === 6) return { host: a };
  const colon = a.lastIndexOf(":");
  return colon >= 0 && a.indexOf(":") === colon ? { host: a.slice(0, colon), port: a.slice(colon + 1) } : { host: a };
}

/** The host an entry names. */
export const hostPart = (text: string) => splitAddress(text).host;

/** `host:port` for an `analyzers:` entry; a bare host gets Skydive's analyzer port. */
export function dialEntry(address: string, port = ANALYZER_PORT): string {
  const { host, port: given } = splitAddress(address);
  const p = given || String(port);
  return isIP(host) === 6 ? `[${host}]:${p}` : `${host}:${p}`;
}
