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
import { shownPath } from "../cli/render.js";
import { command } from "../cli/invocation.js";
import { toPem } from "../pki/pem.js";
import { readCertificate } from "../pki/read.js";
import type { GoTls } from "../skydive/go-tls.js";
import { type Release, type Role, dialsResolvedIp } from "../skydive/release.js";
import { type ConnError, type DialOutcome, dial, plainHttpAnswer } from "./dial.js";
import { type Target, type TargetOptions, buildTargets } from "./targets.js";

export type Verdict = "good" | "bad" | "unknown";

export interface Problem {
  /** expired, not-yet-valid, untrusted, wrong-name, rejected, plaintext, refused, timeout, unresolved, unreachable, reset, tls-error, client-cert-refused, not-on-disk, unjudged, expires-soon, client-cert-not-required */
  id: string;
  severity: "bad" | "warn";
  message: string;
  /** Go's error, verbatim, when Go gave the verdict. */
  go?: string;
  /** A command to paste (built with cli/invocation.ts command()). */
  remedy?: string;
  /** What to do, in words, when no skycert command does it. */
  hint?: string;
}

export interface ChainEntry {
  subject: string;
  issuer: string;
  notAfter: string;
  /** SHA-256 of the DER, colon-separated (as openssl x509 -fingerprint -sha256). */
  fingerprint: string;
}

export interface ProbeResult {
  address: string;
  host: string;
  port: number;
  api?: Role;
  /** The name a Skydive client dials. */
  name: string;
  /** What Go verified: the name, or (up to Skydive 0.26) the IP it resolves to. */
  verifiedName: string;
  resolved?: { name: string; ip: string };
  release: Release;
  releaseFrom: string;
  fleetHost?: { name: string; roles: Role[]; fleet: string };
  verdict: Verdict;
  /** The verdict in one sentence: the first problem, or what was proved. */
  reason: string;
  problems: Problem[];
  connection: { ok: boolean; tlsVersion?: string; cipher?: string; ms: number; error?: ConnError; answer?: string };
  chain: ChainEntry[];
  daysLeft?: number;
  /** Go's x509 Verify of the served chain (absent when nothing was served or no trust file is known). */
  go?: { ok: boolean; error?: string; errorType?: string; reason?: string; chains?: string[][] };
  trust?: { path: string; from: string };
  clientCert: {
    /** The pair dialed with; absent when none is known. */
    path?: string;
    from?: string;
    /** The server accepted the connection with it. */
    accepted?: boolean;
    /** A connection without any client certificate was refused (null: could not tell). */
    required: boolean | null;
    /** What the server's config says it should do (tls.require_client_cert, Skydive 0.27). */
    expected?: boolean;
    expectedFrom?: string;
    /** How the anonymous connection ended. */
    anonymous?: string;
  };
  disk?: { path: string; fingerprint: string; from: string; same: boolean | null };
}

export interface ProbeReport {
  ok: boolean;
  counts: { good: number; bad: number; unknown: number };
  probes: ProbeResult[];
}

export interface ProbeOptions extends TargetOptions {
  timeoutMs: number;
  concurrency: number;
  now?: Date;
}

const show = (cwd: string, p: string) => shownPath(p, cwd);

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

interface Judge {
  go: GoTls;
  cwd: string;
  now: Date;
  timeoutMs: number;
}

async function probeOne(t: Target, j: Judge): Promise<ProbeResult> {
  const problems: Problem[] = [];
  const bad = (id: string, message: string, extra: Partial<Problem> = {}) => problems.push({ id, severity: "bad", message, ...extra });
  const warn = (id: string, message: string, extra: Partial<Problem> = {}) => problems.push({ id, severity: "warn", message, ...extra });
  const validateRemedy = t.fleetHost ? command("validate", "--fleet", show(j.cwd, t.fleetHost.fleet)) : t.config ? command("validate", "--config", show(j.cwd, t.config)) : undefined;

  // Up to Skydive 0.26 every analyzers: entry is resolved to its first IP, and Go verifies that IP.
  let verifiedName = t.name;
  let resolved: ProbeResult["resolved"];
  if (dialsResolvedIp(t.release) && isIP(t.name) === 0) {
    try {
      const { address } = await dnsLookup(t.name);
      verifiedName = address;
      resolved = { name: t.name, ip: address };
    } catch {
      bad("unresolved", `${t.name} does not resolve here, and Skydive ${t.release} resolves every analyzers: entry before dialing`);
    }
  }
  const servername = isIP(verifiedName) === 0 ? verifiedName : undefined;
  const base = { host: t.host, port: t.port, timeoutMs: j.timeoutMs, hostHeader: t.port === 443 ? t.name : `${t.name}:${t.port}`, ...(servername ? { servername } : {}) };

  const first = await dial({ ...base, ...(t.client ? { cert: t.client.cert.text, key: t.client.key.text } : {}) });
  let anonymous: DialOutcome | undefined = t.client ? undefined : first;
  const reachedTls = first.handshake || first.error?.kind === "alert" || first.error?.kind === "closed" || (first.error?.kind === "reset" && first.error.stage !== "connect");
  if (t.client && reachedTls) anonymous = await dial(base);

  // A server that never answered a ClientHello may speak plain HTTP (Go's net/http waits for a line break).
  if (first.error?.kind === "timeout" && first.error.stage === "handshake") {
    const answer = await plainHttpAnswer(t.host, t.port, j.timeoutMs, base.hostHeader);
    if (answer) first.error = { kind: "plaintext", stage: "handshake", message: `${t.address} answers without TLS: "${answer}"` };
  }

  const chainDer = first.chain.length ? first.chain : (anonymous?.chain ?? []);
  const chain: ChainEntry[] = [];
  for (const der of chainDer) {
    try {
      const c = readCertificate(der);
      chain.push({ subject: c.subject, issuer: c.issuer ?? "", notAfter: c.notAfter!.toISOString(), fingerprint: c.fingerprint });
    } catch (err) {
      chain.push({ subject: `(unreadable: ${(err as Error).message})`, issuer: "", notAfter: "", fingerprint: "" });
    }
  }
  const leaf = chain[0];
  const daysLeft = leaf?.notAfter ? Math.floor((Date.parse(leaf.notAfter) - j.now.getTime()) / 86_400_000) : undefined;

  // What the connection says, plainly.
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
    bad(id, conn.message, { ...(hints[conn.kind] ? { hint: hints[conn.kind]! } : {}), ...(conn.kind === "plaintext" && validateRemedy ? { remedy: validateRemedy } : {}) });
  }

  // Go's verdict on the served chain, for serverAuth and the name dialed (or the IP it resolves to).
  let go: ProbeResult["go"];
  const diskSame = t.disk && leaf?.fingerprint ? leaf.fingerprint === t.disk.fingerprint : null;
  const diskShown = t.disk ? show(j.cwd, t.disk.path) : undefined;
  if (chainDer.length && t.trust) {
    const chainPem = chainDer.map((d) => toPem("CERTIFICATE", d)).join("");
    const r = j.go.verify({ chain: chainPem, roots: t.trust.text, name: verifiedName, usages: ["serverAuth"], time: j.now });
    if (r.ok) go = { ok: true, chains: r.chains };
    else {
      go = { ok: false, error: r.error, ...(r.errorType ? { errorType: r.errorType } : {}), ...(r.reason ? { reason: r.reason } : {}) };
      const via = resolved ? ` (Skydive ${t.release} verifies the IP ${resolved.name} resolves to, ${resolved.ip})` : "";
      // The disk copy is the one to fix when it is what runs, or when it has the same fault.
      const diskHas = (fix: (pem: string) => boolean) => t.disk !== undefined && fix(t.disk.pem);
      if (r.errorType === "HostnameError") {
        const diskCarries = diskHas((pem) => j.go.verifyHostname(pem, verifiedName).ok);
        const fix: Partial<Problem> = t.disk
          ? diskSame === false && diskCarries
            ? { hint: `${diskShown} already carries ${verifiedName}: install it on ${t.host} and restart Skydive` }
            : { remedy: command("renew", diskShown!, "--san", verifiedName) }
          : { hint: `renew the certificate ${t.host} serves with ${verifiedName} among its SANs (skycert renew CERT --san ${verifiedName}), or dial a name it carries` };
        bad("wrong-name", `Go refuses the certificate for ${verifiedName}${via}: ${r.error}`, { go: r.error, ...fix });
      } else if (r.reason === "Expired") {
        const notYet = leaf && Date.parse(leaf.notAfter) > j.now.getTime();
        const diskValid = diskHas((pem) => {
          const v = j.go.verify({ chain: pem, roots: t.trust!.text, usages: ["serverAuth"], time: j.now });
          return v.ok || v.reason !== "Expired";
        });
        const fix: Partial<Problem> = t.disk
          ? diskSame === false && diskValid
            ? { hint: `${diskShown} is valid: install it on ${t.host} and restart Skydive` }
            : { remedy: command("renew", diskShown!) }
          : { hint: "renew the certificate that server serves (skycert renew CERT), install it and restart Skydive" };
        bad(notYet ? "not-yet-valid" : "expired", `${notYet ? "not yet valid" : `expired${daysLeft !== undefined ? ` ${-daysLeft} days ago` : ""}`}: ${r.error}`, { go: r.error, ...fix });
      } else if (r.errorType === "UnknownAuthorityError") {
        bad("untrusted", `not signed by the CA of ${show(j.cwd, t.trust.path)} (${t.trust.from}): ${r.error}`, { go: r.error, ...(validateRemedy ? { remedy: validateRemedy } : { hint: "pass the CA that signed it with --ca, or reissue the server's certificate from the fleet's CA" }) });
      } else {
        bad("rejected", `Go refuses the chain for serverAuth: ${r.error}`, { go: r.error, ...(t.disk ? { remedy: command("renew", diskShown!, "--profile") } : {}) });
      }
    }
  } else if (chainDer.length) {
    problems.push({ id: "unjudged", severity: "warn", message: "not judged: no trust file to verify the chain against", hint: "pass --ca CA_CERT, --config (its tls.ca_cert) or --fleet DIR" });
  }
  if (daysLeft !== undefined && daysLeft >= 0 && daysLeft < 30 && go?.ok) {
    warn("expires-soon", `expires in ${daysLeft} days`, t.disk ? { remedy: command("renew", diskShown!) } : {});
  }

  // What is on disk.
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
      bad("client-cert-refused", `the server refuses the client certificate ${show(j.cwd, t.client.cert.path)} (${t.client.cert.from}): TLS alert "${first.error!.alert}"`, {
        ...(validateRemedy ? { remedy: validateRemedy } : { hint: "dial with a certificate the server's CA signed (--cert/--key), or check its tls.ca_cert" }),
      });
    } else if (!first.ok && first.error && !conn) {
      bad(first.error.kind === "timeout" ? "timeout" : "tls-error", first.error.message);
    }
  }
  if (!t.client && first.handshake && !first.ok && required) {
    warn("client-cert-required", "the server requires a client certificate, and none is known here", { hint: "pass --cert/--key, --config, or --fleet DIR" });
  }
  if (t.expectRequire?.value && required === false) {
    warn("client-cert-not-required", `accepts clients without a certificate, though ${t.expectRequire.from} requires one: the server runs another config, or a Skydive older than 0.27`, {
      hint: t.config ? `restart Skydive on ${t.host} with ${show(j.cwd, t.config)}` : "restart Skydive with tls.require_client_cert: true (Skydive 0.27 or later)",
    });
  }

  const verdict: Verdict = problems.some((p) => p.severity === "bad") ? "bad" : chainDer.length && t.trust && go?.ok ? "good" : "unknown";
  const firstBad = problems.find((p) => p.severity === "bad") ?? problems.find((p) => p.id === "unjudged");
  const reason =
    verdict === "good"
      ? [
          `${leaf!.subject} (by ${leaf!.issuer}) trusted for ${verifiedName}${resolved ? ` (${resolved.name} resolves to it)` : ""}`,
          `${daysLeft} days left`,
          required === true ? "client certificate required" : required === false ? "no client certificate required" : undefined,
          diskSame === true ? "same as on disk" : undefined,
        ].filter(Boolean).join(", ")
      : (firstBad?.message ?? "nothing to judge");
  return {
    address: t.address,
    host: t.host,
    port: t.port,
    ...(t.api ? { api: t.api } : {}),
    name: t.name,
    verifiedName,
    ...(resolved ? { resolved } : {}),
    release: t.release,
    releaseFrom: t.releaseFrom,
    ...(t.fleetHost ? { fleetHost: { name: t.fleetHost.name, roles: t.fleetHost.roles, fleet: t.fleetHost.fleet } } : {}),
    verdict,
    reason,
    problems,
    connection: {
      ok: first.handshake,
      ...(first.tlsVersion ? { tlsVersion: first.tlsVersion } : anonymous?.tlsVersion ? { tlsVersion: anonymous.tlsVersion } : {}),
      ...(first.cipher ? { cipher: first.cipher } : anonymous?.cipher ? { cipher: anonymous.cipher } : {}),
      ms: first.ms,
      ...(first.error ? { error: first.error } : {}),
      ...(first.answer ? { answer: first.answer } : {}),
    },
    chain,
    ...(daysLeft !== undefined ? { daysLeft } : {}),
    ...(go ? { go } : {}),
    ...(t.trust ? { trust: { path: t.trust.path, from: t.trust.from } } : {}),
    clientCert: {
      ...(t.client ? { path: t.client.cert.path, from: t.client.cert.from } : {}),
      ...(accepted !== undefined ? { accepted } : {}),
      required,
      ...(t.expectRequire ? { expected: t.expectRequire.value, expectedFrom: t.expectRequire.from } : {}),
      ...(anonymous ? { anonymous: anonymous.ok ? `answered${anonymous.answer ? ` "${anonymous.answer}"` : ""}` : (anonymous.error?.message ?? "failed") } : {}),
    },
    ...(t.disk ? { disk: { path: t.disk.path, fingerprint: t.disk.fingerprint, from: t.disk.from, same: diskSame } } : {}),
  };
}

export async function probe(o: ProbeOptions, loadGo: () => Promise<GoTls>): Promise<ProbeReport> {
  const targets = buildTargets(o);
  const go = await loadGo();
  const j: Judge = { go, cwd: o.cwd, now: o.now ?? new Date(), timeoutMs: o.timeoutMs };
  const probes = await pool(targets, o.concurrency, (t) => probeOne(t, j));
  const counts = { good: 0, bad: 0, unknown: 0 };
  for (const p of probes) counts[p.verdict]++;
  return { ok: counts.bad === 0 && counts.unknown === 0, counts, probes };
}
