/**
 * Mutual TLS with what `skycert init` makes, against three real peers: Node's
 * TLS with Skydive's settings (what validate uses), Go's crypto/tls configured
 * as Skydive configures it, and openssl s_server/s_client. The recipe's
 * certificates are held to exactly the same outcomes.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { skydiveHandshake } from "../src/io/handshake.js";
import { goHandshake } from "./helpers/go-peer.js";
import { recipe } from "./helpers/recipe.js";
import { ok, openssl, scratch, skycert } from "./helpers/run.js";

interface Pair {
  crt: string;
  key: string;
}
interface Deployment {
  analyzer: Pair;
  agent: Pair;
}

const dir = scratch("skycert-hs-");
const made: Record<string, Deployment> = {};

beforeAll(() => {
  ok(skycert(["init", "analyzer", "agent", "--out", "skycert"], { cwd: dir }));
  const pair = (base: string, role: string) => ({ crt: join(dir, base, role, `${role}.domain.com.crt`), key: join(dir, base, role, `${role}.domain.com.key`) });
  made.skycert = { analyzer: pair("skycert", "analyzer"), agent: pair("skycert", "agent") };
  recipe(join(dir, "recipe"), "analyzer");
  recipe(join(dir, "recipe"), "agent");
  made.recipe = { analyzer: pair("recipe", "analyzer"), agent: pair("recipe", "agent") };
});

const read = (p: string) => readFileSync(p, "utf8");

/** The legacy schema: each side trusts the other side's self-signed certificate. */
function node(d: Deployment, dial: string) {
  return skydiveHandshake(
    { cert: read(d.analyzer.crt), key: read(d.analyzer.key), trust: [read(d.agent.crt)] },
    { cert: read(d.agent.crt), key: read(d.agent.key), trust: [read(d.analyzer.crt)] },
    dial,
  );
}

function go(d: Deployment, dial: string) {
  return goHandshake({
    serverCert: d.analyzer.crt,
    serverKey: d.analyzer.key,
    clientCa: d.agent.crt,
    clientCert: d.agent.crt,
    clientKey: d.agent.key,
    rootCa: d.analyzer.crt,
    dial,
  });
}

/** openssl s_server as the analyzer (client certificate required), s_client as the agent. */
async function viaOpenssl(d: Deployment, dial: string): Promise<{ ok: boolean; client: string; server: string }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn("openssl", [
    "s_server", "-accept", `127.0.0.1:${port}`, "-naccept", "1", "-cert", d.analyzer.crt, "-key", d.analyzer.key,
    "-CAfile", d.agent.crt, "-Verify", "1", "-verify_return_error", "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256", "-curves", "P-521:P-384:P-256",
  ]);
  let serverOut = "";
  server.stdout.on("data", (b) => (serverOut += b));
  server.stderr.on("data", (b) => (serverOut += b));
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (serverOut.includes("ACCEPT")) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  const verify = /^[0-9.]+$/.test(dial) ? ["-verify_ip", dial] : ["-verify_hostname", dial];
  const client = openssl(["s_client", "-connect", `127.0.0.1:${port}`, "-cert", d.agent.crt, "-key", d.agent.key, "-CAfile", d.analyzer.crt, "-verify_return_error", ...verify], { input: "Q\n" });
  await new Promise((r) => setTimeout(r, 200));
  server.kill();
  return { ok: client.code === 0 && /Verify return code: 0 \(ok\)/.test(client.stdout), client: client.stdout + client.stderr, server: serverOut };
}

describe.each(["skycert", "recipe"])("certificates from %s", (source) => {
  for (const dial of ["127.0.0.1", "analyzer.domain.com", "localhost", "192.168.1.1"]) {
    it(`complete a Skydive handshake when the agent dials ${dial}`, async () => {
      const d = made[source]!;
      const n = await node(d, dial);
      expect(n).toMatchObject({ ok: true });
      const g = go(d, dial);
      expect(g, JSON.stringify(g)).toMatchObject({ ok: true });
      expect(g.cipher).toMatch(/^TLS_(ECDHE_RSA_WITH_AES_(128|256)_GCM_SHA(256|384)|AES_(128|256)_GCM_SHA(256|384))$/);
      const o = await viaOpenssl(d, dial);
      expect(o.ok, o.client).toBe(true);
    });
  }

  for (const dial of ["evil.example", "10.0.0.99", "skydive-analyzer"]) {
    it(`fail when the agent dials ${dial}, which no SAN names (the CN is never used)`, async () => {
      const d = made[source]!;
      const n = await node(d, dial);
      expect(n).toMatchObject({ ok: false, side: "agent" });
      expect(n.ok === false && n.error).toMatch(/not valid for/);
      const g = go(d, dial);
      expect(g.ok).toBe(false);
      expect(g.error).toMatch(/x509: certificate is valid for .*, not|x509: certificate is not valid for any names|doesn't contain any IP SANs|cannot validate certificate for/);
      expect((await viaOpenssl(d, dial)).ok).toBe(false);
    });
  }

  it("fail when the analyzer does not trust the agent's certificate", async () => {
    const d = made[source]!;
    const other = made[source === "skycert" ? "recipe" : "skycert"]!;
    const n = await skydiveHandshake(
      { cert: read(d.analyzer.crt), key: read(d.analyzer.key), trust: [read(other.agent.crt)] },
      { cert: read(d.agent.crt), key: read(d.agent.key), trust: [read(d.analyzer.crt)] },
      "127.0.0.1",
    );
    expect(n).toMatchObject({ ok: false, side: "analyzer" });
    const g = goHandshake({ serverCert: d.analyzer.crt, serverKey: d.analyzer.key, clientCa: other.agent.crt, clientCert: d.agent.crt, clientKey: d.agent.key, rootCa: d.analyzer.crt, dial: "127.0.0.1" });
    expect(g).toMatchObject({ ok: false });
  });
});
