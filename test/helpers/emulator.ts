/**
 * A Skydive process as a test peer: test/peers/skydive-emulator (Go, stdlib
 * only), which copies Skydive's TLS code release family by release family
 * (legacy = v0.20, 0.21 = v0.21..v0.26, 0.27 = v0.27, v0.28). Whether Skydive
 * would load a config skycert wrote is decided by that code, not by skycert's
 * own model of it.
 *
 * Built once per test process into os.tmpdir(). Every run goes through tool()
 * or recordStreams(), so its output is in the suite's leak scan; the emulator
 * never prints key material.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT, tool } from "./run.js";
import { recordStreams } from "./streams.js";

const GOCACHE = join(tmpdir(), "skycert-gocache");
const goEnv = { ...process.env, GO111MODULE: "off", GOCACHE, GOFLAGS: "" };

let built: string | undefined;

/** The emulator binary, built on first use (GOPATH mode, like go-peer.ts). */
export function emulatorBinary(): string {
  if (built && existsSync(built)) return built;
  const out = join(tmpdir(), `skycert-skydive-emulator-${process.pid}`);
  mkdirSync(GOCACHE, { recursive: true });
  execFileSync("go", ["build", "-o", out, "./test/peers/skydive-emulator"], { cwd: ROOT, env: goEnv, stdio: "pipe" });
  built = out;
  return out;
}

// ---------------------------------------------------------------------------
// Settings and environment, in the emulator's form
// ---------------------------------------------------------------------------

export type SettingValue = string | number | boolean | null | SettingValue[];
/** A host's settings: dotted, lower-cased keys (`tls.ca_cert`), lists kept. */
export type Settings = Record<string, SettingValue>;
/** An environment: a name → value object, or a Kubernetes container's `env:` list. */
export type Env = Record<string, string> | ReadonlyArray<{ name: string; value?: string }>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Nested maps → dotted lower-cased keys, as viper finds them; lists and scalars kept. */
export function flattenSettings(tree: unknown, prefix = "", out: Settings = {}): Settings {
  if (!isPlainObject(tree)) return out;
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k.toLowerCase()}` : k.toLowerCase();
    if (isPlainObject(v)) flattenSettings(v, key, out);
    else out[key] = v as SettingValue;
  }
  return out;
}

/** A skydive.yml's text in the emulator's form. */
export function flattenSkydiveYaml(text: string): Settings {
  return flattenSettings(parse(text) ?? {});
}

/** An environment as a name → value object (a Kubernetes `env:` list's entries without `value` are left out). */
export function envObject(env: Env | undefined): Record<string, string> {
  if (!env) return {};
  if (Array.isArray(env)) {
    const out: Record<string, string> = {};
    for (const e of env as ReadonlyArray<{ name: string; value?: string }>) if (typeof e.value === "string") out[e.name] = e.value;
    return out;
  }
  return { ...(env as Record<string, string>) };
}

// ---------------------------------------------------------------------------
// What the emulator answers
// ---------------------------------------------------------------------------

export type Role = "agent" | "analyzer";

/** One `analyzers:` entry as the process dials it. */
export interface Target {
  entry: string;
  /** ws:// or wss://, with the resolved IP (up to v0.26) or the name as written (v0.27). */
  url: string;
  /** The name Go verifies in the analyzer's certificate; "" without TLS. */
  serverName: string;
}

/** `check`: the TLS part of a process's start-up. */
export interface Startup {
  release: string;
  family: "legacy" | "0.21" | "0.27";
  role: Role;
  /** config.IsTLSEnabled() */
  tlsEnabled: boolean;
  started: boolean;
  startError: string;
  /** The process's API server serves TLS. */
  serverTLS: boolean;
  /** ... and refuses clients without a certificate (v0.27 `tls.require_client_cert`). */
  requireClientCert: boolean;
  /** Outgoing connections use TLS (wss://). */
  clientTLS: boolean;
  /** ... and carry a client certificate. */
  clientCert: boolean;
  /** The client config failed to load: fatal for agents and v0.27 analyzers, logged at connect time by analyzers up to v0.26. */
  clientError: string;
  clientLoadedAtStart: boolean;
  analyzers: Target[];
}

/** `dial`: the process's connection to one analyzer. */
export interface DialResult {
  started: boolean;
  startError?: string;
  entry: string;
  url: string;
  tls: boolean;
  ok: boolean;
  error: string;
  serverName: string;
  version: string;
  cipher: string;
  serverSubject: string;
  clientCertRequested: boolean;
  /** Subject of the certificate the client sent; "" when it sent none. */
  clientCertSent: string;
  status: number;
}

/** What the API server saw of one connection. */
export interface ConnLog {
  tls: boolean;
  /** Subject of the client's certificate; null when it sent none. */
  peer: string | null;
  error?: string;
}

export interface PairResult {
  release: string;
  /** The client got its 200 and the server saw no error. */
  ok: boolean;
  server: Startup;
  client: Startup;
  dial: DialResult;
  serverConn: ConnLog | null;
}

// ---------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------

export interface HostSpec {
  role: Role;
  settings: Settings;
  /** SKYDIVE_* variables (other names are ignored by the emulator). */
  env?: Env;
}

export interface Common {
  /** legacy | 0.20 | 0.21 … 0.26 | 0.27 | 0.28 (a leading "v" and a patch number are accepted). */
  release: string;
  /** Absolute path prefix as configured → folder it is read from here, e.g. { "/etc/skydive/tls": dir }. */
  mounts?: Record<string, string>;
  /** What the host's resolver answers: name → IP; "*" for any other name. */
  resolve?: Record<string, string>;
}

let scratchDir: string | undefined;
let files = 0;

function jsonFile(what: string, value: unknown): string {
  if (!scratchDir) {
    const dir = mkdtempSync(join(tmpdir(), "skycert-emulator-"));
    scratchDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const path = join(scratchDir, `${++files}-${what}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

function commonArgs(o: Common): string[] {
  const args = ["-release", o.release];
  for (const [from, to] of Object.entries(o.mounts ?? {})) args.push("-mount", `${from}=${to}`);
  for (const [name, ip] of Object.entries(o.resolve ?? {})) args.push("-resolve", `${name}=${ip}`);
  return args;
}

/** A host's flags; its environment is only what the test gives it (-process-env=false: not the test run's SKYDIVE_*). */
function hostArgs(h: HostSpec, prefix = ""): string[] {
  const p = prefix ? `${prefix}-` : "";
  const args = [`-${p}role`, h.role, `-${p}settings`, jsonFile(`${p}settings`, h.settings), `-${p}env`, jsonFile(`${p}env`, envObject(h.env))];
  return prefix ? args : [...args, "-process-env=false"];
}

function runJson<T>(args: string[]): T {
  const r = tool(emulatorBinary(), args, { timeout: 30_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`skydive-emulator ${args[0]} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(line) as T;
}

/** `check`: would this host's process start, and with which TLS. */
export function checkStartup(o: Common & HostSpec): Startup {
  return runJson<Startup>(["check", ...commonArgs(o), ...hostArgs(o)]);
}

/** `dial`: the host's process connecting to `analyzer` (an `analyzers:` entry; default the first), really reaching `connect`. */
export function dialAnalyzer(o: Common & HostSpec & { connect: string; analyzer?: string; noClientCert?: boolean }): DialResult {
  const args = ["dial", ...commonArgs(o), ...hostArgs(o), "-connect", o.connect];
  if (o.analyzer) args.push("-analyzer", o.analyzer);
  if (o.noClientCert) args.push("-no-client-cert");
  return runJson<DialResult>(args);
}

/** `pair`: a server host and a client host in one run; the client dials `analyzer` on the server. */
export function pairHandshake(o: Common & { server: HostSpec; client: HostSpec; analyzer?: string; noClientCert?: boolean }): PairResult {
  const args = ["pair", ...commonArgs(o), ...hostArgs(o.server, "server"), ...hostArgs(o.client, "client")];
  if (o.analyzer) args.push("-analyzer", o.analyzer);
  if (o.noClientCert) args.push("-no-client-cert");
  return runJson<PairResult>(args);
}

export interface ApiServer {
  started: boolean;
  startError?: string;
  /** 127.0.0.1:PORT */
  addr: string;
  tls: boolean;
  requireClientCert: boolean;
  /** The connections logged so far. */
  connections(): ConnLog[];
  /** Closes its stdin, waits for it to exit; the connections it logged. */
  stop(): Promise<ConnLog[]>;
}

/**
 * `serve`: the host's API server, as its release starts it, until stop(). The
 * child ends when its stdin closes, so a test that dies without stop() does
 * not leave it behind once the worker exits.
 */
export function serveApi(o: Common & HostSpec & { listen?: string }): Promise<ApiServer> {
  const args = ["serve", ...commonArgs(o), ...hostArgs(o)];
  if (o.listen) args.push("-listen", o.listen);
  const bin = emulatorBinary();
  const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const conns: ConnLog[] = [];
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    pending += d;
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      if (line.startsWith("{")) conns.push(JSON.parse(line) as ConnLog);
    }
  });
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  let recorded = false;
  const record = () => {
    if (!recorded) recordStreams([bin, ...args], stdout, stderr);
    recorded = true;
  };
  return new Promise<ApiServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`skydive-emulator serve printed nothing in 10 s: ${stderr}`));
    }, 10_000);
    const onData = () => {
      const nl = stdout.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      const first = JSON.parse(stdout.slice(0, nl)) as { started: boolean; startError?: string; addr?: string; tls: boolean; requireClientCert: boolean };
      const stop = async () => {
        child.stdin.end();
        const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(kill);
        record();
        return conns;
      };
      if (!first.started) void stop();
      resolve({ started: first.started, startError: first.startError, addr: first.addr ?? "", tls: first.tls, requireClientCert: first.requireClientCert, connections: () => [...conns], stop });
    };
    child.stdout.on("data", onData);
    void exited.then((code) => {
      if (stdout.includes("\n")) return;
      clearTimeout(timer);
      record();
      reject(new Error(`skydive-emulator serve exited ${code}: ${stderr}`));
    });
  });
}
