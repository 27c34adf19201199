/**
 * `skycert export k8s`: `kubectl kustomize` renders the overlay on Skydive's own
 * manifest and the test walks the rendered objects: every SKYDIVE_* path is a
 * key of a Secret mounted read-only in that container (keys 0400), which pods
 * can reach which keys, what agents dial and what Go verifies there. Then, per
 * release family, the Skydive emulator (test/helpers/emulator.ts, Go written
 * from Skydive's source) runs the rendered containers' environment with the
 * overlay's Secret files mounted at /etc/skydive/tls: both processes start with
 * TLS on and the agent connects to the analyzer, dialing SKYDIVE_ANALYZERS (the
 * Service name resolved to the pinned ClusterIP up to 0.26).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { checkStartup, dialAnalyzer, envObject, serveApi } from "./helpers/emulator.js";
import { SHARED, ok, oneLine, openssl, scratch, skycert, tool } from "./helpers/run.js";
import { registerSecret } from "./helpers/streams.js";
import { snapshot } from "./helpers/tree.js";

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const MOUNT = "/etc/skydive/tls";
const CLUSTER_IP = "10.96.0.50";
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
/** Remedies spelled as a user on the PATH would paste them. */
const run = (args: string[], cwd: string) => skycert(args, { cwd, env: { SKYCERT_PROG: "skycert" } });
const exportK8s = (cwd: string, ...args: string[]) => run(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki", ...args], cwd);

type Obj = Record<string, any>;
type Role = "analyzer" | "agent";

function renderOverlay(cwd: string, overlay: string): Obj[] {
  const r = ok(tool("kubectl", ["kustomize", overlay], { cwd }), "kubectl kustomize");
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
  // kubectl folds long base64 values over several lines: the data itself has no blanks.
  for (const o of objects) if (o.kind === "Secret") for (const k of Object.keys(o.data ?? {})) o.data[k] = String(o.data[k]).replace(/\s+/g, "");
  return objects;
}

const b64 = (p: string) => readFileSync(p).toString("base64");

interface Walked {
  /** env name -> the Secret data (base64) it resolves to, per role. */
  files: Record<Role, Record<string, string>>;
  env: Record<Role, Record<string, string>>;
  envList: Record<Role, { name: string; value?: string }[]>;
  secretsOf: Record<Role, Obj[]>;
  unresolved: Record<Role, string[]>;
  podSpec: Record<Role, Obj>;
}

/** For each Skydive container, resolve every env value that names a file through its mounts, volumes and Secrets. */
function walk(objects: Obj[], namespace: string): Walked {
  const secrets = objects.filter((o) => o.kind === "Secret");
  for (const o of objects) if (o.kind !== "ClusterRoleBinding") expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
  const out: Walked = { files: { analyzer: {}, agent: {} }, env: { analyzer: {}, agent: {} }, envList: { analyzer: [], agent: [] }, secretsOf: { analyzer: [], agent: [] }, unresolved: { analyzer: [], agent: [] }, podSpec: { analyzer: {}, agent: {} } };
  for (const [role, kind, name] of [["analyzer", "Deployment", "skydive-analyzer"], ["agent", "DaemonSet", "skydive-agent"]] as const) {
    const w = objects.find((o) => o.kind === kind && o.metadata.name === name);
    expect(w, `${kind}/${name}`).toBeDefined();
    const spec = w!.spec.template.spec as Obj;
    out.podSpec[role] = spec;
    const container = spec.containers.find((c: Obj) => c.name === name) as Obj;
    out.envList[role] = container.env;
    // Every Secret the pod can reach: volumes (plain and projected), env and envFrom references.
    const reachable = new Set<string>();
    for (const v of spec.volumes ?? []) {
      if (v.secret) reachable.add(v.secret.secretName);
      for (const s of v.projected?.sources ?? []) if (s.secret) reachable.add(s.secret.name);
    }
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) reachable.add(e.valueFrom.secretKeyRef.name);
      for (const e of c.envFrom ?? []) if (e.secretRef) reachable.add(e.secretRef.name);
    }
    out.secretsOf[role] = [...reachable].map((n) => {
      const s = secrets.find((x) => x.metadata.name === n);
      expect(s, `Secret ${n} referenced by ${kind}/${name} is rendered`).toBeDefined();
      return s!;
    });
    for (const e of container.env ?? []) {
      if (!e.name.startsWith("SKYDIVE_") || typeof e.value !== "string") continue;
      out.env[role][e.name] = e.value;
      if (!e.value.startsWith("/") || !/^SKYDIVE_(ANALYZER_X509|AGENT_X509|TLS)_/.test(e.name)) continue;
      const mount = (container.volumeMounts ?? []).find((m: Obj) => e.value.startsWith(`${m.mountPath}/`));
      const volume = mount && spec.volumes.find((v: Obj) => v.name === mount.name);
      const rel = mount ? e.value.slice(mount.mountPath.length + 1) : "";
      const item = volume?.secret?.items?.find((i: Obj) => i.path === rel);
      if (!item) {
        out.unresolved[role].push(e.name);
        continue;
      }
      expect(mount.readOnly, `${e.name}: mount ${mount.mountPath} is read-only`).toBe(true);
      const secret = secrets.find((s) => s.metadata.name === volume.secret.secretName)!;
      expect(secret.data[item.key], `${e.name}: key ${item.key} of ${secret.metadata.name}`).toBeDefined();
      expect(item.mode ?? volume.secret.defaultMode, `${e.name} file mode`).toBe(item.key.endsWith(".key") ? 0o400 : 0o444);
      out.files[role][e.name] = secret.data[item.key];
    }
    // Probes that need no client certificate, on the analyzer's API port and the agent's.
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      expect(container[probe].httpGet, `${name} ${probe}`).toBeUndefined();
      expect(container[probe].tcpSocket.port).toBe(role === "analyzer" ? 8082 : 8081);
    }
  }
  return out;
}

/** The DNS and IP SANs of a certificate held (base64 PEM) in a rendered Secret, read by openssl. */
function sansOf(cwd: string, base64Pem: string): string[] {
  const path = join(cwd, `san-${Math.random().toString(36).slice(2)}.crt`);
  writeFileSync(path, Buffer.from(base64Pem, "base64"));
  const text = ok(openssl(["x509", "-in", path, "-noout", "-ext", "subjectAltName"])).stdout;
  return [...text.matchAll(/(DNS|IP Address):([^,\s]+)/g)].map((m) => m[2]!);
}

const allSecretData = (objects: Obj[]) => objects.filter((o) => o.kind === "Secret").flatMap((s) => Object.values(s.data as Record<string, string>));
const secretHolds = (secrets: Obj[], file: string) => secrets.some((s) => Object.values(s.data as Record<string, string>).includes(b64(file)));

/**
 * The rendered containers in the emulator: the analyzer's API server with its
 * Secret's files mounted, the agent's start-up with its own, and the agent
 * dialing its SKYDIVE_ANALYZERS entry (with and without its certificate).
 */
async function emulate(release: string, dir: string, walked: Walked, resolve?: Record<string, string>) {
  const common = { release, ...(resolve ? { resolve } : {}) };
  const analyzer = { ...common, role: "analyzer" as const, settings: {}, env: envObject(walked.envList.analyzer), mounts: { [MOUNT]: join(dir, "overlay", "secrets", "analyzer") } };
  const agent = { ...common, role: "agent" as const, settings: {}, env: envObject(walked.envList.agent), mounts: { [MOUNT]: join(dir, "overlay", "secrets", "agent") } };
  const entry = walked.env.agent.SKYDIVE_ANALYZERS!;
  const agentStart = checkStartup(agent);
  const api = await serveApi(analyzer);
  try {
    const dial = dialAnalyzer({ ...agent, analyzer: entry, connect: api.addr });
    const anonymous = dialAnalyzer({ ...agent, analyzer: entry, connect: api.addr, noClientCert: true });
    return { api, agentStart, dial, anonymous, conns: await api.stop() };
  } finally {
    await api.stop();
  }
}

describe("legacy (up to 0.20): self-signed pairs, the ClusterIP pinned", () => {
  const dir = scratch("skycert-export-k8s-legacy-");
  const pki = join(dir, "pki");
  const a = { crt: join(pki, "analyzer", "analyzer.domain.com.crt"), key: join(pki, "analyzer", "analyzer.domain.com.key") };
  const g = { crt: join(pki, "agent", "agent.domain.com.crt"), key: join(pki, "agent", "agent.domain.com.key") };
  let noIp: ReturnType<typeof skycert>;
  let refusal: ReturnType<typeof skycert>;
  let untouched: boolean;
  let result: any;
  let objects: Obj[];
  let walked: Walked;

  beforeAll(() => {
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa"], dir), "init");
    const tree = snapshot(dir);
    noIp = exportK8s(dir);
    refusal = exportK8s(dir, "--cluster-ip", CLUSTER_IP);
    untouched = JSON.stringify(snapshot(dir)) === JSON.stringify(tree);
    // What the printed renew --san does (renew keeps the key): here the pairs are made again with the IP.
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa", "--san", CLUSTER_IP, "--force"], dir), "init with the ClusterIP");
    result = JSON.parse(ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP, "--json"), "export k8s").stdout);
    objects = renderOverlay(dir, "overlay");
    walked = walk(objects, "default");
  });

  it("refuses without --cluster-ip: Skydive up to 0.26 verifies the ClusterIP (exit 2)", () => {
    const line = oneLine(noIp, 2);
    expect(line).toContain("--cluster-ip");
    expect(line).toContain("verifies that IP");
  });

  it("refuses when the analyzer certificate lacks the ClusterIP, with the renew command that adds it", () => {
    expect(refusal.stdout).toBe("");
    const line = oneLine(refusal, 1);
    expect(line).toContain("does not carry IP SAN 10.96.0.50");
    expect(line).toContain(`(fix: skycert renew pki/analyzer/analyzer.domain.com.crt --san ${CLUSTER_IP} `);
    // Neither refusal wrote anything (no overlay, nothing in pki).
    expect(untouched).toBe(true);
  });

  it("records the release and says what legacy costs, in the JSON and in the view", () => {
    expect(result).toMatchObject({ ok: true, kind: "k8s", skydive: "legacy", namespace: "default", agentPodsHoldAnalyzerKey: true });
    expect(result.skydiveFrom).toContain("skycert.json");
    expect(result.dial).toMatchObject({ name: "skydive-analyzer.default.svc", address: "skydive-analyzer.default.svc:8082", setting: "SKYDIVE_ANALYZERS", verified: CLUSTER_IP });
    expect(result.service).toEqual({ name: "skydive-analyzer", clusterIp: CLUSTER_IP, pinned: true });
    const warnings = result.warnings.join(" ");
    expect(warnings).toContain("every agent host holds the analyzer's private key");
    expect(warnings).toContain("the way out: a CA");
    expect(result.apply).toContain("kubectl apply -k overlay");
    const view = ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP)).stdout;
    expect(view).toContain("Unchanged: the kustomize overlay overlay (Skydive legacy");
    expect(view).toContain("every agent host holds the analyzer's private key");
    expect(view).toContain("the way out: a CA");
    expect(view).toContain("in the agent pods too");
  });

  it("wrote the overlay: the manifest copied in, keys 0400, certificates 0444, the Service patch", () => {
    expect(readFileSync(join(dir, "overlay", "skydive.yaml"), "utf8")).toBe(readFileSync(MANIFEST, "utf8"));
    for (const role of ["analyzer", "agent"]) {
      expect(mode(join(dir, "overlay", "secrets", role, "analyzer.key"))).toBe("400");
      expect(mode(join(dir, "overlay", "secrets", role, "agent.key"))).toBe("400");
      expect(mode(join(dir, "overlay", "secrets", role, "analyzer.crt"))).toBe("444");
    }
    const k = parseYaml(readFileSync(join(dir, "overlay", "kustomization.yaml"), "utf8"));
    expect(k.resources).toEqual(["skydive.yaml"]);
    expect(k.secretGenerator.map((s: Obj) => s.name)).toEqual(["skydive-analyzer-tls", "skydive-agent-tls"]);
    expect(k.patches.map((p: Obj) => p.path)).toEqual(["patch-analyzer.yaml", "patch-agent.yaml", "patch-service.yaml"]);
    expect(objects.find((o) => o.kind === "Service")!.spec.clusterIP).toBe(CLUSTER_IP);
  });

  it("both pods get all four files, every env path a mounted Secret key with the right content", () => {
    const four = ["SKYDIVE_AGENT_X509_CERT", "SKYDIVE_AGENT_X509_KEY", "SKYDIVE_ANALYZER_X509_CERT", "SKYDIVE_ANALYZER_X509_KEY"];
    for (const role of ["analyzer", "agent"] as const) {
      expect(Object.keys(walked.files[role]).sort(), role).toEqual(four);
      expect(walked.files[role].SKYDIVE_ANALYZER_X509_CERT).toBe(b64(a.crt));
      expect(walked.files[role].SKYDIVE_AGENT_X509_CERT).toBe(b64(g.crt));
      // Key material compared as booleans, so that a failure never prints it.
      expect(walked.files[role].SKYDIVE_ANALYZER_X509_KEY === b64(a.key), role).toBe(true);
      expect(walked.files[role].SKYDIVE_AGENT_X509_KEY === b64(g.key), role).toBe(true);
    }
    expect(walked.unresolved).toEqual({ analyzer: [], agent: [] });
  });

  it("the agent pods hold the analyzer's key, as Skydive up to 0.20 needs", () => {
    expect(walked.secretsOf.agent.map((s) => s.metadata.name)).toEqual([expect.stringMatching(/^skydive-agent-tls-[a-z0-9]+$/)]);
    expect(secretHolds(walked.secretsOf.agent, a.key)).toBe(true);
    expect(result.secrets.find((s: Obj) => s.role === "agent").files.map((f: Obj) => f.key)).toContain("analyzer.key");
  });

  it("agents dial the Service name, which resolves to the pinned ClusterIP the certificate carries; hostNetwork DNS", () => {
    expect(walked.env.agent.SKYDIVE_ANALYZERS).toBe("skydive-analyzer.default.svc:8082");
    expect(sansOf(dir, walked.files.analyzer.SKYDIVE_ANALYZER_X509_CERT!)).toContain(CLUSTER_IP);
    expect(walked.podSpec.agent.hostNetwork).toBe(true);
    expect(walked.podSpec.agent.dnsPolicy).toBe("ClusterFirstWithHostNet");
  });

  it("emulator: both rendered containers start with TLS and the agent connects, verifying the ClusterIP", async () => {
    const r = await emulate("legacy", dir, walked, { "skydive-analyzer.default.svc": CLUSTER_IP });
    expect(r.api).toMatchObject({ started: true, tls: true });
    expect(r.agentStart).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true });
    expect(r.dial.error).toBe("");
    expect(r.dial).toMatchObject({ ok: true, tls: true, serverName: CLUSTER_IP, clientCertSent: "CN=skydive-agent", status: 200 });
    expect(r.conns.some((c) => c.tls && c.peer === "CN=skydive-agent")).toBe(true);
  });

  it("a second run changes nothing; new certificates need --force and rename the Secrets (pods roll)", () => {
    const again = ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP, "--json"));
    expect(JSON.parse(again.stdout).files.every((f: Obj) => f.status === "unchanged")).toBe(true);
    const before = walked.secretsOf.agent[0]!.metadata.name;
    ok(run(["init", "analyzer", "agent", "--out", "pki", "--key-type", "ecdsa", "--san", CLUSTER_IP, "--force"], dir), "re-issue");
    const tree = snapshot(join(dir, "overlay"));
    const refused = exportK8s(dir, "--cluster-ip", CLUSTER_IP);
    expect(oneLine(refused, 1)).toMatch(/exist and differ .*--force/);
    expect(snapshot(join(dir, "overlay"))).toEqual(tree);
    const forced = ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP, "--force"));
    expect(forced.stdout).toContain("replaced");
    expect(forced.stdout).toContain("kubectl apply -k overlay");
    const after = walk(renderOverlay(dir, "overlay"), "default");
    expect(after.secretsOf.agent[0]!.metadata.name).not.toBe(before);
    expect(after.files.agent.SKYDIVE_ANALYZER_X509_CERT).toBe(b64(a.crt));
  });
});

describe("0.21 (0.21 to 0.26): a CA fleet, the ClusterIP pinned, a shared agent certificate", () => {
  const dir = scratch("skycert-export-k8s-021-");
  const pki = join(dir, "pki");
  const ca = { crt: join(pki, "ca", "skydive-ca.crt"), key: join(pki, "ca", "skydive-ca.key") };
  const analyzer = { crt: join(pki, "analyzers", "analyzer", "analyzer.crt"), key: join(pki, "analyzers", "analyzer", "analyzer.key") };
  const shared = { crt: join(pki, "agents", "k8s-shared", "agent.crt"), key: join(pki, "agents", "k8s-shared", "agent.key") };
  let noIp: ReturnType<typeof skycert>;
  let result: any;
  let objects: Obj[];
  let walked: Walked;

  beforeAll(() => {
    ok(run(["init", "ca", "--out", "pki", "--key-type", "ecdsa", "--skydive", "0.21"], dir), "init ca");
    ok(run(["init", "analyzer", "--ca", "pki", "--hosts", `analyzer=${CLUSTER_IP}`, "--out", "pki", "--key-type", "ecdsa"], dir), "init analyzer");
    ok(run(["init", "agent", "--ca", "pki", "--hosts", "node-a=10.0.1.21,node-b=10.0.1.22", "--out", "pki", "--key-type", "ecdsa"], dir), "fleet agents");
    noIp = exportK8s(dir);
    result = JSON.parse(ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP, "--json"), "export k8s").stdout);
    objects = renderOverlay(dir, "overlay");
    walked = walk(objects, "default");
  });

  it("takes the release from the fleet record and needs --cluster-ip", () => {
    expect(oneLine(noIp, 2)).toContain("--cluster-ip");
    expect(result).toMatchObject({ skydive: "0.21", service: { clusterIp: CLUSTER_IP, pinned: true }, dial: { verified: CLUSTER_IP, address: "skydive-analyzer.default.svc:8082" }, agentPodsHoldAnalyzerKey: false });
    expect(result.skydiveFrom).toContain("skycert.json");
  });

  it("issues one shared agent certificate through init, signed by the fleet's CA, naming no analyzer, and says why", () => {
    expect(result.issued).toMatchObject({ host: "k8s-shared", subject: "CN=skydive-agent", sans: ["DNS:k8s-shared", "DNS:skydive-agent"] });
    expect(ok(openssl(["verify", "-CAfile", ca.crt, shared.crt])).stdout).toBe(`${shared.crt}: OK\n`);
    expect(ok(openssl(["x509", "-in", shared.crt, "-noout", "-ext", "extendedKeyUsage"])).stdout).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(mode(shared.key)).toBe("400");
    const record = JSON.parse(readFileSync(join(pki, "skycert.json"), "utf8"));
    expect(record.hosts.find((h: Obj) => h.name === "k8s-shared")).toMatchObject({ roles: ["agent"], cert: "agents/k8s-shared/agent.crt" });
    const notes = result.notes.join(" ");
    expect(notes).toContain("cannot mount a per-node Secret");
    expect(notes).toContain("The 2 per-host agent certificates of the fleet are for hosts deployed with skycert export ansible");
    expect(result.validation.map((v: Obj) => v.what)).toEqual(["analyzer analyzer", "agent k8s-shared"]);
  });

  it("every pod gets all five tls.* keys naming its own mounted files; analyzers require client certificates", () => {
    const five = ["SKYDIVE_TLS_CA_CERT", "SKYDIVE_TLS_CLIENT_CERT", "SKYDIVE_TLS_CLIENT_KEY", "SKYDIVE_TLS_SERVER_CERT", "SKYDIVE_TLS_SERVER_KEY"];
    expect(Object.keys(walked.files.analyzer).sort()).toEqual(five);
    expect(Object.keys(walked.files.agent).sort()).toEqual(five);
    expect(walked.files.analyzer.SKYDIVE_TLS_SERVER_CERT).toBe(b64(analyzer.crt));
    expect(walked.files.analyzer.SKYDIVE_TLS_CLIENT_CERT).toBe(b64(analyzer.crt));
    expect(walked.files.analyzer.SKYDIVE_TLS_SERVER_KEY === b64(analyzer.key)).toBe(true);
    expect(walked.files.agent.SKYDIVE_TLS_SERVER_CERT).toBe(b64(shared.crt));
    expect(walked.files.agent.SKYDIVE_TLS_CLIENT_KEY === b64(shared.key)).toBe(true);
    expect(walked.files.agent.SKYDIVE_TLS_CA_CERT).toBe(b64(ca.crt));
    expect(walked.env.analyzer.SKYDIVE_TLS_REQUIRE_CLIENT_CERT).toBe("true");
    expect(walked.env.agent.SKYDIVE_ANALYZERS).toBe("skydive-analyzer.default.svc:8082");
    expect(walked.unresolved).toEqual({ analyzer: [], agent: [] });
    expect(sansOf(dir, walked.files.analyzer.SKYDIVE_TLS_SERVER_CERT!)).toContain(CLUSTER_IP);
  });

  it("no pod can see the CA key; the agent pods never hold the analyzer key", () => {
    expect(allSecretData(objects).includes(b64(ca.key))).toBe(false);
    expect(secretHolds(walked.secretsOf.agent, analyzer.key)).toBe(false);
    expect(secretHolds(walked.secretsOf.analyzer, analyzer.key)).toBe(true);
  });

  it("emulator: both containers start with TLS, the agent connects verifying the ClusterIP; 0.21 accepts an agent without a certificate", async () => {
    const r = await emulate("0.21", dir, walked, { "skydive-analyzer.default.svc": CLUSTER_IP });
    expect(r.api).toMatchObject({ started: true, tls: true, requireClientCert: false });
    expect(r.agentStart).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true });
    expect(r.dial.error).toBe("");
    expect(r.dial).toMatchObject({ ok: true, serverName: CLUSTER_IP, clientCertSent: "CN=skydive-agent" });
    expect(r.anonymous).toMatchObject({ ok: true, clientCertSent: "" });
  });

  it("a second run issues nothing and changes nothing", () => {
    const again = JSON.parse(ok(exportK8s(dir, "--cluster-ip", CLUSTER_IP, "--json")).stdout);
    expect(again.issued).toBeUndefined();
    expect(again.files.every((f: Obj) => f.status === "unchanged")).toBe(true);
  });
});

describe("0.27: a CA fleet with an encrypted CA key and two analyzers, in another namespace", () => {
  const dir = scratch("skycert-export-k8s-027-");
  const pki = join(dir, "pki");
  const passphrase = registerSecret("k8s-export-ca-passphrase");
  const ca = { crt: join(pki, "ca", "skydive-ca.crt"), key: join(pki, "ca", "skydive-ca.key") };
  const analyzer = { crt: join(pki, "analyzers", "analyzer", "analyzer.crt"), key: join(pki, "analyzers", "analyzer", "analyzer.key") };
  let noPassphrase: ReturnType<typeof skycert>;
  let untouched: boolean;
  let result: any;
  let objects: Obj[];
  let walked: Walked;

  beforeAll(() => {
    writeFileSync(join(dir, "pass"), `${passphrase}\n`);
    ok(run(["init", "ca", "--out", "pki", "--key-type", "ecdsa", "--encrypt", "--passphrase-file", "pass"], dir), "init ca");
    ok(run(["init", "analyzer", "--ca", "pki", "--hosts", "analyzer=skydive-analyzer.skydive.svc,analyzer2=10.0.0.5", "--out", "pki", "--key-type", "ecdsa", "--passphrase-file", "pass"], dir), "init analyzer");
    const tree = snapshot(dir);
    noPassphrase = exportK8s(dir, "--namespace", "skydive");
    untouched = JSON.stringify(snapshot(dir)) === JSON.stringify(tree);
    result = JSON.parse(ok(exportK8s(dir, "--namespace", "skydive", "--passphrase-file", "pass", "--json"), "export k8s").stdout);
    objects = renderOverlay(dir, "overlay");
    walked = walk(objects, "skydive");
  });

  it("an encrypted CA key needs --passphrase-file to issue the shared agent certificate; nothing is written without it", () => {
    expect(oneLine(noPassphrase, 2)).toContain("--passphrase-file");
    // No overlay, no half-issued agent: the tree is as it was before the refused run.
    expect(untouched).toBe(true);
    expect(result.issued).toMatchObject({ host: "k8s-shared", issuer: "CN=skydive-ca" });
  });

  it("takes 0.27 from the record; says which analyzer's certificate the Deployment serves and why", () => {
    expect(result).toMatchObject({ skydive: "0.27", namespace: "skydive", source: { kind: "fleet", analyzerHost: "analyzer", agentHost: "k8s-shared" }, service: { pinned: false } });
    expect(result.notes.join(" ")).toContain("The fleet has 2 analyzer hosts (analyzer, analyzer2)");
    expect(result.notes.join(" ")).toContain("serves with analyzer's certificate, the first that carries skydive-analyzer.skydive.svc");
  });

  it("agents dial skydive-analyzer.skydive.svc:8082, which the analyzer certificate carries", () => {
    expect(result.dial).toMatchObject({ name: "skydive-analyzer.skydive.svc", verified: "skydive-analyzer.skydive.svc" });
    expect(walked.env.agent.SKYDIVE_ANALYZERS).toBe("skydive-analyzer.skydive.svc:8082");
    expect(sansOf(dir, walked.files.analyzer.SKYDIVE_TLS_SERVER_CERT!)).toContain("skydive-analyzer.skydive.svc");
    expect(result.apply[0]).toBe("kubectl create namespace skydive");
    expect(objects.find((o) => o.kind === "ClusterRoleBinding")!.subjects[0].namespace).toBe("skydive");
    expect(objects.find((o) => o.kind === "Service")!.spec.clusterIP).toBeUndefined();
  });

  it("no pod can see the CA key; the agent pods never hold the analyzer key", () => {
    expect(allSecretData(objects).includes(b64(ca.key))).toBe(false);
    expect(secretHolds(walked.secretsOf.agent, analyzer.key)).toBe(false);
    expect(result.agentPodsHoldAnalyzerKey).toBe(false);
    expect(result.warnings).toEqual([]);
  });

  it("emulator: both containers start with TLS, the agent connects verifying the name; without a certificate it is refused", async () => {
    const r = await emulate("0.27", dir, walked);
    expect(r.api).toMatchObject({ started: true, tls: true, requireClientCert: true });
    expect(r.agentStart).toMatchObject({ started: true, tlsEnabled: true, serverTLS: true, clientTLS: true, clientCert: true });
    expect(r.dial.error).toBe("");
    expect(r.dial).toMatchObject({ ok: true, serverName: "skydive-analyzer.skydive.svc", clientCertSent: "CN=skydive-agent" });
    expect(r.anonymous.ok).toBe(false);
    expect(r.conns.some((c) => (c.error ?? "").includes("client didn't provide a certificate"))).toBe(true);
  });

  it("refuses a namespace whose Service name the certificate lacks, with the renew --san command", () => {
    const r = run(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay2", "--from", "pki", "--namespace", "other"], dir);
    const line = oneLine(r, 1);
    expect(line).toContain("does not carry DNS SAN skydive-analyzer.other.svc");
    expect(line).toContain("(fix: skycert renew pki/analyzers/analyzer/analyzer.crt --san skydive-analyzer.other.svc ");
    expect(existsSync(join(dir, "overlay2"))).toBe(false);
  });
});

describe("usage", () => {
  const dir = scratch("skycert-export-k8s-usage-");
  beforeAll(() => {
    ok(run(["init", "analyzer", "agent", "--san", CLUSTER_IP, "--out", "pki", "--key-type", "ecdsa"], dir), "init");
    writeFileSync(join(dir, "no-daemonset.yaml"), readFileSync(MANIFEST, "utf8").replace("kind: DaemonSet", "kind: StatefulSet"));
  });

  it("needs --manifest and --out (exit 2)", () => {
    const r = run(["export", "k8s", "--out", "o", "--from", "pki"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--manifest");
  });

  it("refuses a namespace that is not a DNS label, or a ClusterIP that is not an IP (exit 2)", () => {
    expect(oneLine(run(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "pki", "--namespace", "Bad_NS"], dir), 2)).toContain("--namespace");
    expect(oneLine(run(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "pki", "--cluster-ip", "10.96.0.500"], dir), 2)).toContain("--cluster-ip");
  });

  it("refuses a release the source cannot serve (exit 2)", () => {
    expect(oneLine(run(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "pki", "--skydive", "0.27"], dir), 2)).toContain("--skydive 0.27");
  });

  it("names a manifest without Skydive's DaemonSet (exit 2)", () => {
    expect(oneLine(run(["export", "k8s", "--manifest", "no-daemonset.yaml", "--out", "o", "--from", "pki", "--cluster-ip", CLUSTER_IP], dir), 2)).toContain("no-daemonset.yaml: no DaemonSet skydive-agent");
  });

  it("names a missing source config (exit 2)", () => {
    expect(oneLine(run(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "nowhere"], dir), 2)).toContain("nowhere/skydive.yml: no such file");
  });

  it("documents itself", () => {
    const r = ok(run(["export", "k8s", "--help"], dir));
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain("Exit codes:");
    expect(r.stdout).toContain("kubectl apply -k overlay");
    expect(r.stdout).toContain("--cluster-ip");
    expect(run(["export"], dir).code).toBe(2);
  });
});
