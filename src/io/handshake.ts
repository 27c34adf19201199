/**
 * A real mutual-TLS handshake on loopback with the settings Skydive's Go
 * analyzer uses (skydive-tls.md): TLS >= 1.2, ECDHE with AES-GCM only, curves
 * P-521/P-384/P-256, client certificate required and verified against the
 * analyzer's trust pool. The agent side verifies the analyzer against its own
 * pool and the address it dials, by subjectAltName only, as Go does.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import * as tls from "node:tls";

export const SKYDIVE_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
].join(":");
export const SKYDIVE_CURVES = "P-521:P-384:P-256";

export interface Side {
  cert: string;
  key: string;
  /** PEM certificates this side trusts for its peer. */
  trust: string[];
}

export type HandshakeResult =
  | { ok: true; protocol: string; cipher: string }
  | { ok: false; side: "analyzer" | "agent"; error: string };

/** Go's name check: IP addresses against IP SANs, names against DNS SANs, never the Common Name. */
export function goServerIdentity(dialed: string, certPem: string): string | undefined {
  const cert = new X509Certificate(certPem);
  if (isIP(dialed)) {
    return cert.checkIP(dialed) ? undefined : `x509: certificate is not valid for IP ${dialed}`;
  }
  return cert.checkHost(dialed, { subject: "never", wildcards: true, partialWildcards: false }) ? undefined : `x509: certificate is not valid for ${dialed}`;
}

export async function skydiveHandshake(analyzer: Side, agent: Side, dial: string, timeoutMs = 5000): Promise<HandshakeResult> {
  let server: tls.Server | undefined;
  let client: tls.TLSSocket | undefined;
  try {
    return await new Promise<HandshakeResult>((resolve) => {
      const done = (r: HandshakeResult) => resolve(r);
      const timer = setTimeout(() => done({ ok: false, side: "agent", error: `no handshake within ${timeoutMs} ms` }), timeoutMs);
      timer.unref();
      let serverOk = false;
      let clientOk: { protocol: string; cipher: string } | undefined;
      const settle = () => {
        if (serverOk && clientOk) {
          clearTimeout(timer);
          done({ ok: true, ...clientOk });
        }
      };
      try {
        server = tls.createServer({
          cert: analyzer.cert,
          key: analyzer.key,
          ca: analyzer.trust,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: "TLSv1.2",
          ciphers: SKYDIVE_CIPHERS,
          ecdhCurve: SKYDIVE_CURVES,
          honorCipherOrder: true,
        });
      } catch (err) {
        clearTimeout(timer);
        return done({ ok: false, side: "analyzer", error: tlsMessage(err) });
      }
      server.on("tlsClientError", (err) => {
        clearTimeout(timer);
        done({ ok: false, side: "analyzer", error: `analyzer rejected the agent: ${tlsMessage(err)}` });
      });
      server.on("secureConnection", (socket) => {
        socket.on("error", () => undefined);
        if (!socket.authorized) {
          clearTimeout(timer);
          return done({ ok: false, side: "analyzer", error: `analyzer rejected the agent: ${socket.authorizationError}` });
        }
        socket.end("ok");
        serverOk = true;
        settle();
      });
      server.listen(0, "127.0.0.1", () => {
        const { port } = server!.address() as { port: number };
        try {
          client = tls.connect({
            host: "127.0.0.1",
            port,
            servername: isIP(dial) ? undefined : dial,
            cert: agent.cert,
            key: agent.key,
            ca: agent.trust,
            rejectUnauthorized: true,
            minVersion: "TLSv1.2",
            checkServerIdentity: (_host, peer) => {
              const problem = goServerIdentity(dial, `-----BEGIN CERTIFICATE-----\n${peer.raw.toString("base64")}\n-----END CERTIFICATE-----\n`);
              return problem ? Object.assign(new Error(problem), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }) : undefined;
            },
          });
        } catch (err) {
          clearTimeout(timer);
          return done({ ok: false, side: "agent", error: tlsMessage(err) });
        }
        client.on("error", (err) => {
          clearTimeout(timer);
          done({ ok: false, side: "agent", error: `agent rejected the analyzer: ${tlsMessage(err)}` });
        });
        client.on("secureConnect", () => {
          const c = client!.getCipher();
          clientOk = { protocol: client!.getProtocol() ?? "unknown", cipher: c.standardName ?? c.name };
          client!.on("data", () => undefined);
          settle();
        });
      });
    });
  } finally {
    client?.destroy();
    server?.close();
  }
}

function tlsMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const text = (e?.message ?? String(err)).split("\n")[0]!;
  return e?.code && !text.includes(e.code) ? `${text} (${e.code})` : text;
}
