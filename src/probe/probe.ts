/**
 * `skycert probe`: live TLS probes of running Skydive API servers. Each
 * address is dialed with node:tls the way a Skydive client would reach it
 * (with the client pair of a host, when one is known), the chain it serves is
 * judged by Go (skydive/go-tls.ts verify: the trust file, serverAuth, the name
 * dialed, or up to Skydive 0.26 the IP that name resolves to), a second
 * connection without any client certificate tells whether the server requires
 * one, and the certificate served is compared with the one on disk.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { command } from "../cli/invocation.js";
import { shownPath } from "../cli/render.js";
import { toPem } from "../pki/pem.js";
import { readCertificate } from "../pki/read.js";
import type { GoFailure, GoTls } from "../skydive/go-tls.js";
import { dialsResolvedIp } from "../skydive/release.js";
import { type ConnError, type DialOutcome, dial, plainHttpAnswer } from "./dial.js";
import { type Target, type TargetOptions, buildTargets } from "./targets.js";

export type Verdict = "good" | "bad" | "unknown";

/**
 * `id`: expired, not-yet-valid, untrusted, wrong-name, rejected, plaintext, refused, timeout, unresolved, unreachable, reset,
 * tls-error, client-cert-refused, not-on-disk, unjudged, expires-soon, client-cert-not-required; `go`: Go's error verbatim;
 * `remedy`: a command to paste; `hint`: what to do, in words, when no skycert command does it.
 */
export type Problem = { id: string; severity: "bad" | "warn"; message: string; go?: string; remedy?: string; hint?: string };
export type ProbeResult = Awaited<ReturnType<typeof probeOne>>;
export type ProbeReport = Awaited<ReturnType<typeof probe>>;
export type ProbeOptions = TargetOptions & { timeoutMs: number; concurrency: number; now?: Date };

/** Run `fn` over `items`, at most `limit` at a time, results in order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The alerts a server sends when it refuses a client for its certificate (or for having none). */
const REFUSED_CLIENT = new Set(["certificate required", "bad certificate", "handshake failure", "unknown ca", "unsupported certificate", "certificate unknown", "access denied"]);
const refusedForCertificate = (o: DialOutcome) => o.error?.kind === "alert" && REFUSED_CLIENT.has(o.error.alert ?? "");

/** Whether a connection was answered or refused for its (missing) certificate; null: neither. */
function anonymousVerdict(o: DialOutcome): boolean | null {
  if (o.ok) return false;
  if (refusedForCertificate(o)) return true;
  // Go closes a TLS 1.2 connection it refuses with an alert; a reset right after the handshake is the same refusal.
  if (o.handshake && (o.error?.kind === "reset" || o.error?.kind === "closed")) return true;
  return null;
}

/** Fingerprints as openssl x509 -fingerprint -sha256 prints them. */
function chainEntry(der: Uint8Array) {
  try {
    const c = readCertificate(der);
    return { subject: c.subject, issuer: c.issuer ?? "", notAfter: c.notAfter!.toISOString(), fingerprint: c.fingerprint };
  } catch (err) {
    return { subject: `(unreadable: ${(err as Error).message})`, issuer: "", notAfter: "", fingerprint: "" };
  }
}

type Judge = { go: GoTls; now: Date; timeoutMs: number; show: (p: string) => string };

async function probeOne(t: Target, { go: goTls, now, timeoutMs, show }: Judge) {
  const problems: Problem[] = [];
  const add = (severity: Problem["severity"]) => (id: string, message: string, extra: Partial<Problem> = {}) => problems.push({ id, severity, message, ...extra });
  const [bad, warn] = [add("bad"), add("warn")];
  const validateRemedy = t.fleetHost ? command("validate", "--fleet", show(t.fleetHost.fleet)) : t.config ? command("validate", "--config", show(t.config)) : undefined;
  const fixOr = (hint: string): Partial<Problem> => (validateRemedy ? { remedy: validateRemedy } : { hint });

  // Up to Skydive 0.26 every analyzers: entry is resolved to its first IP, and Go verifies that IP.
  const resolved = !dialsResolvedIp(t.release) || isIP(t.name) !== 0 ? undefined : await dnsLookup(t.name).then(
    ({ address }) => ({ name: t.name, ip: address }),
    () => void bad("unresolved", `${t.name} does not resolve here, and Skydive ${t.release} resolves every analyzers: entry before dialing`),
  );
  const verifiedName = resolved?.ip ?? t.name;
  const servername = isIP(verifiedName) === 0 ? verifiedName : undefined;
  const base = { host: t.host, port: t.port, timeoutMs, hostHeader: t.port === 443 ? t.name : `${t.name}:${t.port}`, servername };

  const first = await dial({ ...base, cert: t.client?.cert.text, key: t.client?.key.text });
  const reachedTls = first.handshake || first.error?.kind === "alert" || first.error?.kind === "closed" || (first.error?.kind === "reset" && first.error.stage !== "connect");
  const anonymous = !t.client ? first : reachedTls ? await dial(base) : undefined;

  // A server that never answered a ClientHello may speak plain HTTP (Go's net/http waits for a line break).
  if (first.error?.kind === "timeout" && first.error.stage === "handshake") {
    const answer = await plainHttpAnswer(t.host, t.port, timeoutMs, base.hostHeader);
    if (answer) first.error = { kind: "plaintext", stage: "handshake", message: `${t.address} answers without TLS: "${answer}"` };
  }

  const chainDer = first.chain.length ? first.chain : (anonymous?.chain ?? []);
  const chain = chainDer.map(chainEntry);
  const leaf = chain[0];
  const daysLeft = leaf?.notAfter ? Math.floor((Date.parse(leaf.notAfter) - now.getTime()) / 86_400_000) : undefined;

  const conn = first.error && !first.handshake && !refusedForCertificate(first) ? first.error : undefined;
  if (conn) {
    const hints: Partial<Record<ConnError["kind"], string>> = {
      refused: `start Skydive on ${t.host}, or check the port it listens on (${t.api === "agent" ? "agent.listen, default 127.0.0.1:8081" : "analyzer.listen, default 127.0.0.1:8082"}: loopback only unless set)`,
      timeout: `check that ${t.address} is reachable from here (firewall, routing), then rerun with a longer --timeout`,
      plaintext: "TLS is off on that server: check its tls.* (legacy: analyzer.X509_*) settings; Skydive 0.21 to 0.26 turn TLS off silently when any of the five tls.* keys is missing",
      unresolved: `check the name ${t.host}, or probe its IP address`,
      unreachable: `check the route to ${t.host}`,
    };
    const id = conn.kind === "tls" ? "tls-error" : conn.kind === "alert" ? "tls-alert" : conn.kind;
    bad(id, conn.message, { hint: hints[conn.kind], remedy: conn.kind === "plaintext" ? validateRemedy : undefined });
  }

  // Go's verdict on the served chain, for serverAuth and the name dialed (or the IP it resolves to); none without a trust file.
  let go: { ok: true; chains: string[][] } | Pick<GoFailure, "ok" | "error" | "errorType" | "reason"> | undefined;
  const diskSame = t.disk && leaf?.fingerprint ? leaf.fingerprint === t.disk.fingerprint : null;
  const diskShown = t.disk && show(t.disk.path);
  if (chainDer.length && t.trust) {
    const r = goTls.verify({ chain: chainDer.map((d) => toPem("CERTIFICATE", d)).join(""), roots: t.trust.text, name: verifiedName, usages: ["serverAuth"], time: now });
    go = r.ok ? { ok: true, chains: r.chains } : { ok: false, error: r.error, errorType: r.errorType || undefined, reason: r.reason || undefined };
    // The disk copy is the one to fix when it is what runs, or when it has the same fault.
    const installOr = (diskFine: (pem: string) => boolean, installHint: string, renew: string, noDisk: string): Partial<Problem> =>
      !t.disk ? { hint: noDisk } : diskSame === false && diskFine(t.disk.pem) ? { hint: installHint } : { remedy: renew };
    if (!r.ok && r.errorType === "HostnameError") {
      const via = resolved ? ` (Skydive ${t.release} verifies the IP ${resolved.name} resolves to, ${resolved.ip})` : "";
      const fix = installOr(
        (pem) => goTls.verifyHostname(pem, verifiedName).ok,
        `${diskShown} already carries ${verifiedName}: install it on ${t.host} and restart Skydive`,
        command("renew", diskShown!, "--san", verifiedName),
        `renew the certificate ${t.host} serves with ${verifiedName} among its SANs (skycert renew CERT --san ${verifiedName}), or dial a name it carries`,
      );
      bad("wrong-name", `Go refuses the certificate for ${verifiedName}${via}: ${r.error}`, { go: r.error, ...fix });
    } else if (!r.ok && r.reason === "Expired") {
      const notYet = leaf && Date.parse(leaf.notAfter) > now.getTime();
      const fix = installOr(
        (pem) => {
          const v = goTls.verify({ chain: pem, roots: t.trust!.text, usages: ["serverAuth"], time: now });
          return v.ok || v.reason !== "Expired";
        },
        `${diskShown} is valid: install it on ${t.host} and restart Skydive`,
        command("renew", diskShown!),
        "renew the certificate that server serves (skycert renew CERT), install it and restart Skydive",
      );
      bad(notYet ? "not-yet-valid" : "expired", `${notYet ? "not yet valid" : `expired${daysLeft !== undefined ? ` ${-daysLeft} days ago` : ""}`}: ${r.error}`, { go: r.error, ...fix });
    } else if (!r.ok && r.errorType === "UnknownAuthorityError") {
      bad("untrusted", `not signed by the CA of ${show(t.trust.path)} (${t.trust.from}): ${r.error}`, { go: r.error, ...fixOr("pass the CA that signed it with --ca, or reissue the server's certificate from the fleet's CA") });
    } else if (!r.ok) {
      bad("rejected", `Go refuses the chain for serverAuth: ${r.error}`, { go: r.error, remedy: t.disk && command("renew", diskShown!, "--profile") });
    }
  } else if (chainDer.length) {
    warn("unjudged", "not judged: no trust file to verify the chain against", { hint: "pass --ca CA_CERT, --config (its tls.ca_cert) or --fleet DIR" });
  }
  if (daysLeft !== undefined && daysLeft >= 0 && daysLeft < 30 && go?.ok) warn("expires-soon", `expires in ${daysLeft} days`, { remedy: t.disk && command("renew", diskShown!) });

  if (t.disk && leaf?.fingerprint && diskSame === false) {
    bad("not-on-disk", `serves ${leaf.subject} (SHA-256 ${leaf.fingerprint.slice(0, 23)}...), not ${diskShown} (${t.disk.from}, SHA-256 ${t.disk.fingerprint.slice(0, 23)}...)`, {
      hint: `install ${diskShown} on ${t.host} and restart Skydive there (Skydive reads its certificate at start-up only)`,
    });
  }

  // Client certificates: ours accepted? a connection without one refused?
  const required = anonymous ? anonymousVerdict(anonymous) : null;
  let accepted: boolean | undefined;
  if (t.client && (first.handshake || refusedForCertificate(first))) {
    accepted = first.ok;
    if (!first.ok && refusedForCertificate(first)) {
      bad("client-cert-refused", `the server refuses the client certificate ${show(t.client.cert.path)} (${t.client.cert.from}): TLS alert "${first.error!.alert}"`, fixOr("dial with a certificate the server's CA signed (--cert/--key), or check its tls.ca_cert"));
    } else if (!first.ok && first.error && !conn) {
      bad(first.error.kind === "timeout" ? "timeout" : "tls-error", first.error.message);
    }
  }
  if (!t.client && first.handshake && !first.ok && required) {
    warn("client-cert-required", "the server requires a client certificate, and none is known here", { hint: "pass --cert/--key, --config, or --fleet DIR" });
  }
  if (t.expectRequire?.value && required === false) {
    warn("client-cert-not-required", `accepts clients without a certificate, though ${t.expectRequire.from} requires one: the server runs another config, or a Skydive older than 0.27`, {
      hint: t.config ? `restart Skydive on ${t.host} with ${show(t.config)}` : "restart Skydive with tls.require_client_cert: true (Skydive 0.27 or later)",
    });
  }

  const verdict: Verdict = problems.some((p) => p.severity === "bad") ? "bad" : chainDer.length && t.trust && go?.ok ? "good" : "unknown";
  const firstBad = problems.find((p) => p.severity === "bad") ?? problems.find((p) => p.id === "unjudged");
  const proved = [
    `${leaf?.subject} (by ${leaf?.issuer}) trusted for ${verifiedName}${resolved ? ` (${resolved.name} resolves to it)` : ""}`,
    `${daysLeft} days left`,
    required === true ? "client certificate required" : required === false ? "no client certificate required" : undefined,
    diskSame === true ? "same as on disk" : undefined,
  ];
  return {
    address: t.address, host: t.host, port: t.port, api: t.api, name: t.name, verifiedName, resolved, release: t.release, releaseFrom: t.releaseFrom, fleetHost: t.fleetHost,
    verdict,
    reason: verdict === "good" ? proved.filter(Boolean).join(", ") : (firstBad?.message ?? "nothing to judge"),
    problems,
    connection: { ok: first.handshake, tlsVersion: first.tlsVersion || anonymous?.tlsVersion, cipher: first.cipher || anonymous?.cipher, ms: first.ms, error: first.error, answer: first.answer || undefined },
    chain,
    daysLeft,
    go,
    trust: t.trust && { path: t.trust.path, from: t.trust.from },
    clientCert: {
      path: t.client?.cert.path, from: t.client?.cert.from, accepted, required, expected: t.expectRequire?.value, expectedFrom: t.expectRequire?.from,
      anonymous: anonymous && (anonymous.ok ? `answered${anonymous.answer ? ` "${anonymous.answer}"` : ""}` : (anonymous.error?.message ?? "failed")),
    },
    disk: t.disk && { path: t.disk.path, fingerprint: t.disk.fingerprint, from: t.disk.from, same: diskSame },
  };
}

export async function probe(o: ProbeOptions, loadGo: () => Promise<GoTls>) {
  const targets = await buildTargets(o);
  const judge: Judge = { go: await loadGo(), now: o.now ?? new Date(), timeoutMs: o.timeoutMs, show: (p) => shownPath(p, o.cwd) };
  const probes = await pool(targets, o.concurrency, (t) => probeOne(t, judge));
  const counts: Record<Verdict, number> = { good: 0, bad: 0, unknown: 0 };
  for (const p of probes) counts[p.verdict]++;
  return { ok: counts.bad === 0 && counts.unknown === 0, counts, probes };
}
