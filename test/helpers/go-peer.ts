/**
 * Skydive's own TLS stack as a test peer: test/peers/skydive-handshake.go,
 * built once per run with the Go toolchain (.ci/run installs golang-go).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./run.js";

const SOURCE = join(ROOT, "test", "peers", "skydive-handshake.go");
const env = { ...process.env, GO111MODULE: "off", GOCACHE: join(tmpdir(), "skycert-gocache"), GOFLAGS: "" };

let built: string | undefined;

export function goPeer(): string {
  if (built && existsSync(built)) return built;
  const out = join(tmpdir(), `skycert-go-peer-${process.pid}`);
  mkdirSync(join(tmpdir(), "skycert-gocache"), { recursive: true });
  execFileSync("go", ["build", "-o", out, SOURCE], { env, stdio: "pipe" });
  built = out;
  return out;
}

export interface GoHandshake {
  ok: boolean;
  side?: string;
  error?: string;
  version?: string;
  cipher?: string;
}

export function goHandshake(files: {
  serverCert: string;
  serverKey: string;
  clientCa: string;
  clientCert: string;
  clientKey: string;
  rootCa: string;
  dial: string;
}): GoHandshake {
  const r = spawnSync(
    goPeer(),
    ["-server-cert", files.serverCert, "-server-key", files.serverKey, "-client-ca", files.clientCa, "-client-cert", files.clientCert, "-client-key", files.clientKey, "-root-ca", files.rootCa, "-dial", files.dial],
    { encoding: "utf8", timeout: 20_000 },
  );
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as GoHandshake;
}
