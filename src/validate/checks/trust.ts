/**
 * trust, extended-key-usage and handshake: Go's verdicts. Each pair's chain is
 * verified as its peers verify it (x509.Certificate.Verify against the pool
 * they load, for the usage they check), and a real crypto/tls handshake runs
 * with the settings of the host's Skydive release.
 */
import type { GoFailure, HandshakeResult } from "../../skydive/go-tls.js";
import type { CertFile, HostContext } from "../context.js";
import { type Check, check } from "../model.js";

export interface TrustSide {
  which: "server" | "client";
  presented: CertFile;
  /** The pool the peers verify it against. */
  pool: CertFile;
}

const usageOf = (which: TrustSide["which"]) => (which === "server" ? "serverAuth" : "clientAuth");

function remedyFor(side: TrustSide, f: GoFailure, ctx: HostContext): string {
  const m = side.presented.material;
  if (f.reason === "Expired") return ctx.remedies.forSetting(m, ctx.remedies.renew(m.path));
  if (f.reason === "IncompatibleUsage") return ctx.remedies.renew(m.path, { profile: true });
  if (f.errorType === "UnknownAuthorityError") {
    return ctx.remedies.forSetting(side.pool.material, ctx.remedies.forSetting(m, `${ctx.remedies.renew(m.path)} --ca CA_DIR --change-ca, with the CA of ${side.pool.material.shown}; or set ${side.pool.material.key} to the CA that signed ${m.shown}`));
  }
  if (f.reason === "NotAuthorizedToSign") return `the CA in ${side.pool.material.shown} is not a CA (CA:TRUE): make one with skycert init ca, and issue from it`;
  return ctx.remedies.renew(m.path, { profile: true });
}

export function checkTrust(side: TrustSide, ctx: HostContext): Check[] {
  const usage = usageOf(side.which);
  const m = side.presented.material;
  const subject = `${side.which} pair`;
  const chain = side.presented.certs.map((c) => c.pem).join("");
  if (side.presented.chainRefused) {
    return [check("trust", "fail", subject, `${m.shown}: its peers refuse the chain it presents, which Go cannot parse: ${side.presented.chainRefused}`, { file: m.path, go: side.presented.chainRefused, remedy: `remove the certificate Go refuses from ${m.shown}, or replace it with one Go reads` })];
  }
  const r = ctx.go.verify({ chain, roots: side.pool.text, usages: [usage], time: ctx.now });
  const extra = { file: m.path };
  const leaf = side.presented.certs[0]!.cert;
  const eku = leaf.extKeyUsage.length ? leaf.extKeyUsage.join(", ") : "no extendedKeyUsage (any usage)";
  if (r.ok) {
    return [
      check("trust", "pass", subject, `${m.shown} verifies under ${side.pool.material.shown} (${side.pool.material.setting}) for ${usage}: ${r.chains[0]!.join(" <- ")}`, extra),
      check("extended-key-usage", "pass", subject, `${m.shown}: ${eku}; Go accepts the chain for ${usage}`, extra),
    ];
  }
  const out = [
    check("trust", "fail", subject, `${m.shown} does not verify under ${side.pool.material.shown} (${side.pool.material.setting}) for ${usage}: ${r.error}`, { ...extra, go: r.error, remedy: remedyFor(side, r, ctx) }),
  ];
  out.push(
    r.reason === "IncompatibleUsage"
      ? check("extended-key-usage", "fail", subject, `${m.shown}: ${eku}; Go refuses the chain for ${usage}: ${r.error}`, { ...extra, go: r.error, remedy: ctx.remedies.renew(m.path, { profile: true }) })
      : check("extended-key-usage", "pass", subject, `${m.shown}: ${eku}`, extra),
  );
  return out;
}

export interface HandshakeInput {
  server: { cert: CertFile; key: string; clientCAs: CertFile; requireClientCert: boolean };
  client: { cert: CertFile; key: string; roots: CertFile };
}

function describe(r: HandshakeResult): string {
  if (r.setup) return `Skydive would not start: ${r.setupError}`;
  const sides = [r.serverError ? `server: ${r.serverError}` : "", r.clientError ? `client: ${r.clientError}` : ""].filter(Boolean);
  return sides.join("; ") || "failed";
}

/** The dialing side's handshake to the serving side, for each host it dials. */
export async function checkHandshakes(input: HandshakeInput, ctx: HostContext, otherFailures: boolean): Promise<Check[]> {
  const out: Check[] = [];
  for (const host of ctx.hosts) {
    const subject = `client -> server ${host.name}`;
    let r: HandshakeResult;
    try {
      r = await ctx.go.handshake({
        release: ctx.release,
        server: { cert: input.server.cert.text, key: input.server.key, clientCAs: input.server.clientCAs.text, requireClientCert: input.server.requireClientCert },
        client: { cert: input.client.cert.text, key: input.client.key, roots: input.client.roots.text },
        serverName: host.name,
        time: ctx.now,
      });
    } catch (err) {
      r = { ok: false, clientCertPresented: false, serverError: (err as Error).message.split("\n")[0] };
    }
    if (r.ok) {
      out.push(check("handshake", "pass", subject, `Go's crypto/tls with Skydive ${ctx.release}'s settings, dialing ${host.name}: ${r.version}, ${r.cipher}${r.clientCertPresented ? ", client certificate verified" : ", no client certificate sent"}`, { host: host.name }));
      continue;
    }
    const go = describe(r);
    out.push(
      check("handshake", "fail", subject, `Go's crypto/tls with Skydive ${ctx.release}'s settings, dialing ${host.name}: ${go}`, {
        host: host.name,
        go,
        remedy: otherFailures ? "fix the other failed checks: the handshake shows their effect with Go's own TLS" : "no other check explains it: compare with openssl s_server/s_client on these files, and report it",
      }),
    );
  }
  return out;
}
