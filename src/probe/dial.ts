/**
 * One TLS connection to a Skydive API server, as node:tls makes it, watched
 * closely enough to name what went wrong: the bytes the server sent first are
 * kept (a plaintext speaker answers with HTTP, not a TLS record), TLS alerts
 * are told apart from resets, and after the handshake a minimal HTTP request
 * is sent and the first answer read, because TLS 1.3 servers refuse a client
 * certificate (or its absence) after the client's handshake has completed,
 * and the client learns it on its first read.
 *
 * Certificates are not verified here (rejectUnauthorized false): the served
 * chain is returned, and Go judges it (skydive/go-tls.ts).
 */
import { type Socket, connect as netConnect } from "node:net";
import { Duplex } from "node:stream";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { dialEntry } from "../skydive/address.js";

export type ConnErrorKind = "refused" | "timeout" | "unresolved" | "unreachable" | "reset" | "plaintext" | "alert" | "closed" | "tls";

/** `code`: Node's or OpenSSL's (ECONNREFUSED, ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED); `alert`: as OpenSSL names it; `stage`: before TCP connected, during the handshake, or after it (the first read). */
export type ConnError = { kind: ConnErrorKind; message: string; code?: string; alert?: string; stage: "connect" | "handshake" | "read" };

/** `servername` is a DNS name, never an IP: Go's client sends no SNI for an IP. */
export type DialOptions = { host: string; port: number; servername?: string; cert?: string; key?: string; timeoutMs: number; hostHeader: string };

/** `ok`: the handshake completed and the server answered (or closed cleanly) without refusing us; `chain`: DER, leaf first; `answer`: its first line. */
export type DialOutcome = { ok: boolean; handshake: boolean; error?: ConnError; tlsVersion?: string; cipher?: string; chain: Uint8Array[]; answer?: string; ms: number };

const ALERT = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/;
const KINDS: Record<string, ConnErrorKind> = { ECONNREFUSED: "refused", ENOTFOUND: "unresolved", EAI_AGAIN: "unresolved", EAI_NONAME: "unresolved", EHOSTUNREACH: "unreachable", ENETUNREACH: "unreachable", EADDRNOTAVAIL: "unreachable", ECONNRESET: "reset", EPIPE: "reset" };

/** A TLS record starts with a content type 20..23 and a 3.x version. */
const looksLikeTls = (first: Buffer) => first.length === 0 || (first[0]! >= 0x14 && first[0]! <= 0x17 && (first.length < 2 || first[1] === 0x03));

/** The first line of what a plaintext speaker said, safe to print. */
export function firstLine(bytes: Buffer): string {
  return (bytes.toString("latin1").split(/\r?\n/)[0] ?? "").replace(/[^\x20-\x7e]/g, ".").slice(0, 80);
}

function served(sock: TLSSocket): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  try {
    let c = sock.getPeerCertificate(true) as (ReturnType<TLSSocket["getPeerCertificate"]> & { issuerCertificate?: unknown }) | undefined;
    while (c && c.raw && !seen.has(c.fingerprint256)) {
      seen.add(c.fingerprint256);
      out.push(new Uint8Array(c.raw));
      c = c.issuerCertificate as typeof c;
    }
  } catch {
    /* no peer certificate */
  }
  return out;
}

export function dial(o: DialOptions): Promise<DialOutcome> {
  const started = Date.now();
  return new Promise<DialOutcome>((resolvePromise) => {
    let first = Buffer.alloc(0);
    let stage: ConnError["stage"] = "connect";
    let tls: TLSSocket | undefined;
    let handshake = false;
    let chain: Uint8Array[] = [];
    let settled = false;
    const raw: Socket = netConnect({ host: o.host, port: o.port });

    const finish = (outcome: Omit<DialOutcome, "ms" | "chain" | "handshake">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (tls && !handshake && chain.length === 0) chain = served(tls);
      const info = tls && handshake ? { tlsVersion: tls.getProtocol() ?? undefined, cipher: tls.getCipher()?.name } : {};
      tls?.destroy();
      raw.destroy();
      resolvePromise({ ...outcome, ...info, handshake, chain, ms: Date.now() - started });
    };
    const fail = (error: ConnError) => finish({ ok: false, error });
    const plaintext = (code?: string): ConnError | undefined =>
      first.length && !looksLikeTls(first) ? { kind: "plaintext", stage, code, message: `answers without TLS: "${firstLine(first)}"` } : undefined;

    // An idle timeout: the connection fails when it makes no progress (connected, handshake done, bytes received)
    // for timeoutMs. The check waits for the event loop's I/O phase, so progress that arrived while this process
    // was busy (loading Go's module on a loaded machine) is seen before a timeout is declared.
    let progress = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      const at = progress;
      timer = setTimeout(() => setImmediate(() => (settled ? undefined : progress !== at ? arm() : onTimeout())), o.timeoutMs);
    };
    const onTimeout = () => {
      const within = `within ${(o.timeoutMs / 1000).toString()} s`;
      const message = {
        connect: `timeout: no TCP connection ${within} (a firewall dropping packets, or a host that is down)`,
        handshake: `timeout: accepted the connection but sent no TLS answer ${within}`,
        read: `timeout: completed the TLS handshake but did not answer a request ${within}`,
      }[stage];
      fail(plaintext() ?? { kind: "timeout", stage, message });
    };
    arm();

    const classify = (err: NodeJS.ErrnoException): ConnError => {
      const code = err.code;
      const alert = code ? ALERT.exec(code) : null;
      const kind = code ? KINDS[code] : undefined;
      const answered = plaintext(code);
      if (answered) return answered;
      if (alert) {
        const name = alert[1]!.toLowerCase().replace(/_/g, " ");
        return { kind: "alert", stage, code, alert: name, message: `refused the connection with the TLS alert "${name}"${stage === "read" ? " after the handshake" : ""}` };
      }
      if (kind) {
        const message = {
          refused: `connection refused: nothing listens on ${dialEntry(o.host, o.port)}`,
          unresolved: `${o.host} does not resolve (${code})`,
          unreachable: `unreachable (${code})`,
          reset: `reset the connection ${stage === "read" ? "after" : "during"} the TLS handshake`,
        }[kind as "refused" | "unresolved" | "unreachable" | "reset"];
        return { kind, stage, code, message };
      }
      if (/socket disconnected before secure TLS connection/i.test(err.message)) {
        return { kind: "closed", stage, code, message: "closed the connection during the TLS handshake, without an alert" };
      }
      return { kind: "tls", stage, code, message: `TLS error: ${err.message.split("\n")[0]}` };
    };

    raw.once("error", (err: NodeJS.ErrnoException) => fail(classify(err)));
    raw.once("connect", () => {
      stage = "handshake";
      progress++;
      // node:tls reads a JS stream byte for byte like a socket; this one keeps the first bytes for the diagnosis.
      const tap = new Duplex({
        read: () => void raw.resume(),
        write: (chunk: Buffer, _enc, cb) => void raw.write(chunk, cb),
        final(cb) {
          raw.end();
          cb();
        },
        destroy(err, cb) {
          raw.destroy();
          cb(err);
        },
      });
      raw.on("data", (d: Buffer) => {
        progress++;
        if (first.length < 256) first = Buffer.concat([first, d.subarray(0, 256 - first.length)]);
        if (!tap.push(d)) raw.pause();
      });
      raw.on("end", () => tap.push(null));
      raw.on("error", (err) => tap.destroy(err));
      tls = tlsConnect({ socket: tap, servername: o.servername, ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}), rejectUnauthorized: false, minVersion: "TLSv1.2" });
      tls.once("secureConnect", () => {
        handshake = true;
        stage = "read";
        progress++;
        chain = served(tls!);
        tls!.write(`GET /api HTTP/1.1\r\nHost: ${o.hostHeader}\r\nUser-Agent: skycert-probe\r\nConnection: close\r\n\r\n`);
      });
      let answer = "";
      tls.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
        if (answer.includes("\n") || answer.length > 200) finish({ ok: true, answer: firstLine(Buffer.from(answer, "latin1")) });
      });
      tls.once("end", () => {
        if (handshake) finish({ ok: true, ...(answer ? { answer: firstLine(Buffer.from(answer, "latin1")) } : {}) });
      });
      tls.once("close", () => {
        if (!settled) fail(classify(Object.assign(new Error("Client network socket disconnected before secure TLS connection was established"), { code: "ECONNRESET" })));
      });
      tls.once("error", (err: NodeJS.ErrnoException) => fail(classify(err)));
    });
  });
}

/**
 * Whether a server that never answered a ClientHello speaks plain HTTP: a
 * request line and the first line back. Go's net/http waits for a line break,
 * which a ClientHello may not contain.
 */
export function plainHttpAnswer(host: string, port: number, timeoutMs: number, hostHeader: string): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    let got = Buffer.alloc(0);
    const sock = netConnect({ host, port });
    const http = () => (got.subarray(0, 5).toString("latin1") === "HTTP/" ? firstLine(got) : undefined);
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolvePromise(v);
    };
    const timer = setTimeout(() => setImmediate(() => done(undefined)), timeoutMs);
    sock.once("connect", () => sock.write(`GET /api HTTP/1.0\r\nHost: ${hostHeader}\r\n\r\n`));
    sock.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.includes(0x0a) || got.length > 200) done(http());
    });
    sock.once("error", () => done(undefined));
    sock.once("end", () => done(http()));
  });
}
