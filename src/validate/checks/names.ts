/**
 * san-coverage and impersonation, judged by Go: does the analyzer's
 * certificate cover what agents dial (x509.Certificate.VerifyHostname), and
 * does any certificate that is not the analyzer's verify, under the same
 * trust, for an analyzer's name (x509.Certificate.Verify)?
 */
import type { CertFile, DialHost, HostContext } from "../context.js";
import { type Check, check } from "../model.js";

/** One check per dialed host; one remedy per certificate naming every missing name. */
export function checkCoverage(server: CertFile, ctx: HostContext): Check[] {
  const leaf = server.certs[0];
  const m = server.material;
  if (!leaf) return [];
  const results = ctx.hosts.map((h) => ({ h, r: ctx.go.verifyHostname(leaf.pem, h.name) }));
  const missing = results.filter((x) => !x.r.ok).map((x) => x.h.name);
  const remedy = missing.length ? ctx.remedies.forSetting(m, ctx.remedies.renew(m.path, { addSans: missing })) : undefined;
  return results.map(({ h, r }) => {
    const subject = `${m.part} for ${h.name}`;
    const extra = { file: m.path, host: h.name };
    if (r.ok) return check("san-coverage", "pass", subject, `${m.shown} covers ${h.name} (${h.source})`, extra);
    const cn = /(?:^|,)CN=([^,]+)/.exec(leaf.cert.subject)?.[1];
    const note = cn && cn.toLowerCase() === h.name.toLowerCase() ? " (only the Common Name matches, which Go never uses)" : "";
    return check("san-coverage", "fail", subject, `${m.shown} does not cover ${h.name} (${h.source}): ${r.error}${note}`, { ...extra, remedy, go: r.error });
  });
}

/**
 * A certificate that is not the analyzer's but verifies for serverAuth and an
 * analyzer's name under the pool agents trust can serve as the analyzer to
 * every agent: its key holder can impersonate the analyzer.
 */
export function checkImpersonation(candidate: { file: CertFile; whose: string }, roots: CertFile, names: readonly DialHost[], ctx: HostContext): Check[] {
  const leaf = candidate.file.certs[0];
  const m = candidate.file.material;
  if (!leaf || names.length === 0) return [];
  const chain = candidate.file.certs.map((c) => c.pem).join("");
  const covered: string[] = [];
  let go: string | undefined;
  for (const n of names) {
    // Go's Verify checks the name too; a certificate that does not carry it cannot serve for it, whatever its chain.
    const named = ctx.go.verifyHostname(leaf.pem, n.name);
    if (!named.ok) {
      go ??= named.error;
      continue;
    }
    const r = ctx.go.verify({ chain, roots: roots.text, name: n.name, usages: ["serverAuth"], time: ctx.now });
    if (r.ok) covered.push(n.name);
    else go ??= r.error;
  }
  const subject = `${candidate.whose} as the analyzer`;
  if (covered.length) {
    const foreign = names.map((n) => n.name).filter((n) => covered.includes(n));
    const drop = [...leaf.cert.dnsNames, ...leaf.cert.ipAddresses].filter((s) => foreign.some((f) => f.toLowerCase() === s.toLowerCase()));
    return [
      check("impersonation", "fail", subject, `${m.shown} (${candidate.whose}) verifies under ${roots.material.shown} for serverAuth as ${covered.join(", ")}, so its key can serve as the analyzer to every agent${drop.length ? "; renewed without those names, the old certificate still stays valid until it expires (replace the CA if its key may be misused)" : ""}`, {
        file: m.path,
        remedy: drop.length ? ctx.remedies.renew(m.path, { dropSans: drop }) : `re-issue ${m.shown} without the analyzer's names, or give it its own CA`,
      }),
    ];
  }
  return [check("impersonation", "pass", subject, `${m.shown} (${candidate.whose}) cannot serve as the analyzer for ${names.map((n) => n.name).join(", ")}: ${go ?? "refused"}`, { file: m.path, go })];
}
