/**
 * validate's results: every check has a stable id (documented in
 * docs/checks.md), a status, a subject, a one-line message naming the file or
 * setting, and on every warning and failure a remedy that works when pasted.
 */
export const CHECK_IDS = [
  "config",
  "tls-enabled",
  "require-client-cert",
  "file-readable",
  "file-mode",
  "pem-parse",
  "key-match",
  "server-pair",
  "key-strength",
  "signature-algorithm",
  "validity",
  "serial",
  "basic-constraints",
  "key-usage",
  "extended-key-usage",
  "san-present",
  "san-coverage",
  "trust",
  "impersonation",
  "handshake",
  "fleet-record",
  "fleet-ca",
  "fleet-serial-unique",
  "fleet-key-unique",
  "fleet-handshake",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];
export type Status = "pass" | "warn" | "fail" | "skip";

export interface Check {
  id: CheckId;
  status: Status;
  subject: string;
  message: string;
  /** One line: a command that fixes it when pasted, or the setting to change. Present on every warn and fail. */
  remedy?: string;
  /** The file the check is about. */
  file?: string;
  /** The address the check is about (san-coverage, handshake). */
  host?: string;
  /** Go's own error text, verbatim, where Go gave the verdict. */
  go?: string;
}

export function check(id: CheckId, status: Status, subject: string, message: string, extra: Partial<Check> = {}): Check {
  const c: Check = { id, status, subject, message };
  for (const k in extra) {
    const v = extra[k as keyof Check];
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  return c;
}

/** In the documented order of ids, each id's own checks in the order they were made. */
export function sortChecks(checks: readonly Check[]): Check[] {
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => CHECK_IDS.indexOf(a.c.id) - CHECK_IDS.indexOf(b.c.id) || a.i - b.i)
    .map(({ c }) => c);
}

export const zero = (): Record<Status, number> => ({ pass: 0, warn: 0, fail: 0, skip: 0 });

export function summarize(checks: readonly Check[]): Record<Status, number> {
  const s = zero();
  for (const c of checks) s[c.status]++;
  return s;
}
