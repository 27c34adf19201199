/**
 * The native Go judge: test/peers/go-judge (Go, stdlib only), built for this
 * machine with the same Go as go/skydive-tls's WebAssembly (Debian go1.19.8).
 * It reads the files a Skydive host would read, as Skydive reads them, and
 * answers with Go's verdicts and error texts: x509.ParseCertificate per
 * CERTIFICATE block, tls.LoadX509KeyPair, the roots pool from
 * AppendCertsFromPEM, Verify per key usage, VerifyHostname per name.
 *
 * Built once per test process into os.tmpdir() (GOPATH mode, shared GOCACHE,
 * like emulator.ts). Every run goes through tool(), so its output is in the
 * suite's leak scan; the judge prints verdicts only, never what it read.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, tool } from "./run.js";

const GOCACHE = join(tmpdir(), "skycert-gocache");
const goEnv = { ...process.env, GO111MODULE: "off", GOCACHE, GOFLAGS: "" };

let built: string | undefined;

/** The judge binary, built on first use. */
export function judgeBinary(): string {
  if (built && existsSync(built)) return built;
  const out = join(tmpdir(), `skycert-go-judge-${process.pid}`);
  mkdirSync(GOCACHE, { recursive: true });
  execFileSync("go", ["build", "-o", out, "./test/peers/go-judge"], { cwd: ROOT, env: goEnv, stdio: "pipe" });
  built = out;
  return out;
}

export type Usage = "serverAuth" | "clientAuth" | "any";

export interface JudgeRequest {
  id: string;
  /** The host's certificate file: leaf first, then what it sends as intermediates. */
  chain: string;
  /** Its key file: tls.LoadX509KeyPair(chain, key) is judged when given. */
  key?: string;
  /** The trust file (tls.ca_cert). */
  roots: string;
  /** Verification time, RFC 3339 with fractions (Date.toISOString()). */
  time: string;
  usages: Usage[];
  names: string[];
}

/** ok, or the step that refused and Go's text. */
export interface JudgeVerdict {
  ok: boolean;
  /** read | chain (no CERTIFICATE block) | parse | roots (AppendCertsFromPEM false) | time | usage | keyPair | verify */
  stage?: string;
  error?: string;
  chains?: string[][];
}

export interface JudgeBlock {
  line: number;
  headers: boolean;
  ok: boolean;
  error?: string;
}

export interface JudgeFile {
  readError?: string;
  /** Every CERTIFICATE block encoding/pem finds, in order, with x509.ParseCertificate's verdict. */
  blocks: JudgeBlock[];
  /** Blocks of other types. */
  other: number;
  appendCertsOk: boolean;
}

export interface JudgeResponse {
  id: string;
  /** runtime.Version() of the judge. */
  go: string;
  chain: JudgeFile;
  roots: JudgeFile;
  keyPair?: JudgeVerdict;
  verify: Partial<Record<Usage, JudgeVerdict>>;
  hostnames: Record<string, JudgeVerdict>;
  error?: string;
}

/** One run of the judge for all requests; the answers in request order. */
export function judge(requests: readonly JudgeRequest[]): JudgeResponse[] {
  // GODEBUG empty, as in go-tls.ts (its Go runs with an empty environment): no x509sha1=1 or the like.
  const r = tool(judgeBinary(), [], { input: requests.map((q) => JSON.stringify(q)).join("\n") + "\n", env: { GODEBUG: "" }, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.code !== 0) throw new Error(`go-judge exited ${r.code}: ${r.stderr}`);
  const answers = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as JudgeResponse);
  if (answers.length !== requests.length) throw new Error(`go-judge answered ${answers.length} of ${requests.length} requests: ${r.stderr}`);
  answers.forEach((a, i) => {
    if (a.id !== requests[i]!.id) throw new Error(`go-judge answered ${a.id} where ${requests[i]!.id} was asked`);
    if (a.error) throw new Error(`go-judge refused request ${a.id}: ${a.error}`);
  });
  return answers;
}
