/**
 * `skycert export k8s`: `kubectl kustomize` renders the overlay on Skydive's own
 * manifest and the test walks the rendered objects: every SKYDIVE_* path is a
 * key of a Secret mounted read-only in that container (keys at 0400), the
 * agents' pods cannot reach the analyzer's key (nor any pod the CA's), and the
 * name agents dial is in the analyzer certificate's SANs, read by openssl from
 * the rendered Secret. Legacy and CA mode (with a fleet), the refusal and its
 * exact fix, re-runs and renewals.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { BIN, SHARED, ok, oneLine, openssl, scratch, sh, skycert, tool } from "./helpers/run.js";

const MANIFEST = join(SHARED, "skydive", "kubernetes-skydive.yaml");
const CONTAINER_INVENTORY = join(SHARED, "skydive", "inventory-hosts.multiple.container");
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

type Obj = Record<string, any>;

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
  files: Record<"analyzer" | "agent", Record<string, string>>;
  env: Record<"analyzer" | "agent", Record<string, string>>;
  secretsOf: Record<"analyzer" | "agent", Obj[]>;
  unresolved: Record<"analyzer" | "agent", string[]>;
  podSpec: Record<"analyzer" | "agent", Obj>;
}

/**
 * Walk the rendered objects: for each Skydive container, resolve every env
 * value that is a path through its volumeMounts, volumes and Secrets.
 */
function walk(objects: Obj[], namespace: string): Walked {
  const secrets = objects.filter((o) => o.kind === "Secret");
  for (const o of objects) if (o.kind !== "ClusterRoleBinding") expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
  const out: Walked = { files: { analyzer: {}, agent: {} }, env: { analyzer: {}, agent: {} }, secretsOf: { analyzer: [], agent: [] }, unresolved: { analyzer: [], agent: [] }, podSpec: { analyzer: {}, agent: {} } };
  for (const [role, kind, name] of [["analyzer", "Deployment", "skydive-analyzer"], ["agent", "DaemonSet", "skydive-agent"]] as const) {
    const w = objects.find((o) => o.kind === kind && o.metadata.name === name);
    expect(w, `${kind}/${name}`).toBeDefined();
    const spec = w!.spec.template.spec as Obj;
    out.podSpec[role] = spec;
    const container = spec.containers.find((c: Obj) => c.name === name) as Obj;
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
      // The settings that name certificate and key files, in both schemas (others, like the manifest's runc paths, are not files of ours).
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
      expect(secret, `${e.name}: Secret ${volume.secret.secretName}`).toBeDefined();
      expect(secret.data[item.key], `${e.name}: key ${item.key} of ${secret.metadata.name}`).toBeDefined();
      expect(item.mode ?? volume.secret.defaultMode, `${e.name} file mode`).toBe(item.key.endsWith(".key") ? 0o400 : 0o444);
      out.files[role][e.name] = secret.data[item.key];
    }
    // The analyzer's API port and the agent's: probes that do not need a client certificate.
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

/** Every data value of every Secret: what a cluster would hold. */
const allSecretData = (objects: Obj[]) => objects.filter((o) => o.kind === "Secret").flatMap((s) => Object.values(s.data as Record<string, string>));

describe("legacy schema (self-signed pairs, cross validation)", () => {
  const dir = scratch("skycert-export-k8s-legacy-");
  const pki = join(dir, "pki");
  const a = { crt: join(pki, "analyzer", "analyzer.domain.com.crt"), key: join(pki, "analyzer", "analyzer.domain.com.key") };
  const g = { crt: join(pki, "agent", "agent.domain.com.crt"), key: join(pki, "agent", "agent.domain.com.key") };
  let refusal: ReturnType<typeof skycert>;
  let walked: Walked;
  let objects: Obj[];
  let result: any;

  beforeAll(() => {
    ok(skycert(["init", "analyzer", "agent", "--out", "pki"], { cwd: dir }), "init");
    refusal = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki"], { cwd: dir });
  });

  it("refuses when the analyzer certificate lacks the name agents dial, with the exact init command", () => {
    expect(refusal.code).toBe(1);
    expect(refusal.stdout).toBe("");
    expect(refusal.stderr.trim().split("\n")).toHaveLength(1);
    expect(refusal.stderr).toContain("does not carry skydive-analyzer.default.svc");
    expect(refusal.stderr).toContain("run skycert init analyzer --san skydive-analyzer.default.svc --out pki --force, then export again");
    expect(() => readdirSync(join(dir, "overlay"))).toThrow();
  });

  it("exports once the printed command has been run", () => {
    const command = /run (skycert init [^\n]*?--force), then export again/.exec(refusal.stderr)![1]!;
    ok(sh(`"${process.execPath}" "${BIN}" ${command.replace(/^skycert /, "")}`, { cwd: dir }), "the printed command");
    const r = ok(skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki", "--json"], { cwd: dir }), "export k8s");
    result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ ok: true, kind: "k8s", schema: "legacy", namespace: "default", dial: { address: "skydive-analyzer.default.svc:8082" } });
    expect(result.apply).toContain("kubectl apply -k overlay");
    objects = renderOverlay(dir, "overlay");
    walked = walk(objects, "default");
  });

  it("wrote the overlay: the manifest copied in, keys 0400, certificates 0444", () => {
    expect(readFileSync(join(dir, "overlay", "skydive.yaml"), "utf8")).toBe(readFileSync(MANIFEST, "utf8"));
    expect(mode(join(dir, "overlay", "secrets", "analyzer", "analyzer.key"))).toBe("400");
    expect(mode(join(dir, "overlay", "secrets", "agent", "agent.key"))).toBe("400");
    expect(mode(join(dir, "overlay", "secrets", "agent", "analyzer.crt"))).toBe("444");
    const k = parseYaml(readFileSync(join(dir, "overlay", "kustomization.yaml"), "utf8"));
    expect(k.resources).toEqual(["skydive.yaml"]);
    expect(k.secretGenerator.map((s: Obj) => s.name)).toEqual(["skydive-analyzer-tls", "skydive-agent-tls"]);
  });

  it("every env path is a mounted Secret key with the right content", () => {
    expect(Object.keys(walked.files.analyzer).sort()).toEqual(["SKYDIVE_AGENT_X509_CERT", "SKYDIVE_ANALYZER_X509_CERT", "SKYDIVE_ANALYZER_X509_KEY"]);
    expect(walked.files.analyzer.SKYDIVE_ANALYZER_X509_CERT).toBe(b64(a.crt));
    expect(walked.files.analyzer.SKYDIVE_AGENT_X509_CERT).toBe(b64(g.crt));
    // Key material is compared as a boolean, so that a failure never prints it.
    expect(walked.files.analyzer.SKYDIVE_ANALYZER_X509_KEY === b64(a.key)).toBe(true);
    expect(Object.keys(walked.files.agent).sort()).toEqual(["SKYDIVE_AGENT_X509_CERT", "SKYDIVE_AGENT_X509_KEY", "SKYDIVE_ANALYZER_X509_CERT"]);
    expect(walked.files.agent.SKYDIVE_AGENT_X509_CERT === b64(g.crt) && walked.files.agent.SKYDIVE_AGENT_X509_KEY === b64(g.key)).toBe(true);
    expect(walked.files.agent.SKYDIVE_ANALYZER_X509_CERT).toBe(b64(a.crt));
    expect(walked.unresolved.analyzer).toEqual([]);
    // The one exception: older agents switch TLS on only when analyzer.X509_key is set, so it names the
    // analyzer pods' path; it must not resolve to anything in the agent pod.
    expect(walked.unresolved.agent).toEqual(["SKYDIVE_ANALYZER_X509_KEY"]);
    expect(walked.env.agent.SKYDIVE_ANALYZER_X509_KEY).toBe(walked.env.analyzer.SKYDIVE_ANALYZER_X509_KEY);
  });

  it("the agents' pods cannot see the analyzer key", () => {
    const analyzerKey = b64(a.key);
    expect(walked.secretsOf.agent.map((s) => s.metadata.name)).toEqual([expect.stringMatching(/^skydive-agent-tls-[a-z0-9]+$/)]);
    for (const s of walked.secretsOf.agent) {
      expect(Object.keys(s.data)).not.toContain("analyzer.key");
      expect(Object.values(s.data).includes(analyzerKey)).toBe(false);
    }
    expect(walked.secretsOf.analyzer.map((s) => s.metadata.name)).toEqual([expect.stringMatching(/^skydive-analyzer-tls-[a-z0-9]+$/)]);
  });

  it("agents dial a Service DNS name that the analyzer certificate carries, with hostNetwork DNS", () => {
    const dialed = walked.env.agent.SKYDIVE_ANALYZERS!;
    expect(dialed).toBe("skydive-analyzer.default.svc:8082");
    expect(sansOf(dir, walked.files.analyzer.SKYDIVE_ANALYZER_X509_CERT!)).toContain(dialed.split(":")[0]);
    expect(walked.podSpec.agent.hostNetwork).toBe(true);
    expect(walked.podSpec.agent.dnsPolicy).toBe("ClusterFirstWithHostNet");
    expect(objects.find((o) => o.kind === "Service")!.metadata.name).toBe("skydive-analyzer");
  });

  it("a second run changes nothing; a renewal needs --force and renames the Secrets (pods roll)", () => {
    const again = ok(skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki", "--json"], { cwd: dir }));
    expect(JSON.parse(again.stdout).files.every((f: Obj) => f.status === "unchanged")).toBe(true);
    const before = walked.secretsOf.agent[0]!.metadata.name;
    ok(skycert(["renew", a.crt], { cwd: dir }), "renew");
    const refused = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exist and differ .*--force/);
    const forced = ok(skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki", "--force"], { cwd: dir }));
    expect(forced.stdout).toContain("replaced");
    expect(forced.stdout).toContain("kubectl apply -k overlay");
    const after = walk(renderOverlay(dir, "overlay"), "default");
    expect(after.secretsOf.agent[0]!.metadata.name).not.toBe(before);
    expect(after.files.agent.SKYDIVE_ANALYZER_X509_CERT).toBe(b64(a.crt));
  });
});

describe("CA mode with a fleet, in another namespace", () => {
  const dir = scratch("skycert-export-k8s-ca-");
  const pki = join(dir, "pki");
  const ca = { crt: join(pki, "ca", "skydive-ca.crt"), key: join(pki, "ca", "skydive-ca.key") };
  let result: any;
  let objects: Obj[];
  let walked: Walked;

  beforeAll(() => {
    ok(skycert(["init", "ca", "--out", "pki", "--bits", "2048"], { cwd: dir }), "init ca");
    ok(skycert(["init", "analyzer", "--ca", "pki", "--san", "skydive-analyzer.skydive.svc", "--out", "pki"], { cwd: dir }), "init analyzer --ca");
    ok(skycert(["init", "agent", "--ca", "pki", "--inventory", CONTAINER_INVENTORY, "--out", "pki"], { cwd: dir }), "fleet");
    const r = ok(skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay", "--from", "pki", "--namespace", "skydive", "--json"], { cwd: dir }), "export k8s");
    result = JSON.parse(r.stdout);
    objects = renderOverlay(dir, "overlay");
    walked = walk(objects, "skydive");
  });

  it("issues a shared CA-signed agent certificate through init, and says why", () => {
    expect(result.schema).toBe("tls");
    expect(result.issued).toMatchObject({ role: "agent", subject: "CN=skydive-agent", issuer: "CN=skydive-ca" });
    const shared = join(pki, "agent", "agent.domain.com.crt");
    expect(ok(openssl(["verify", "-CAfile", ca.crt, shared])).stdout).toBe(`${shared}: OK\n`);
    expect(mode(join(pki, "agent", "agent.domain.com.key"))).toBe("400");
    expect(parseYaml(readFileSync(join(pki, "skydive.yml"), "utf8")).tls).toMatchObject({ client_cert: shared, ca_cert: ca.crt });
    const notes = result.notes.join(" ");
    expect(notes).toContain("DaemonSet runs one pod template on every node and cannot pick a per-node Secret");
    expect(notes).toContain("2 per-host certificates");
    // What landed is what skycert validate passes, dialing the name the agents dial.
    ok(skycert(["validate", "--config", "pki/skydive.yml", "--host", "skydive-analyzer.skydive.svc"], { cwd: dir }), "validate");
  });

  it("every env path is a mounted Secret key; both sides trust the CA certificate", () => {
    const sharedCrt = join(pki, "agent", "agent.domain.com.crt");
    expect(Object.keys(walked.files.analyzer).sort()).toEqual(["SKYDIVE_TLS_CA_CERT", "SKYDIVE_TLS_SERVER_CERT", "SKYDIVE_TLS_SERVER_KEY"]);
    expect(walked.files.analyzer.SKYDIVE_TLS_SERVER_CERT).toBe(b64(join(pki, "analyzer", "analyzer.domain.com.crt")));
    expect(walked.files.analyzer.SKYDIVE_TLS_SERVER_KEY === b64(join(pki, "analyzer", "analyzer.domain.com.key"))).toBe(true);
    expect(walked.files.analyzer.SKYDIVE_TLS_CA_CERT).toBe(b64(ca.crt));
    expect(walked.env.analyzer.SKYDIVE_TLS_REQUIRE_CLIENT_CERT).toBe("true");
    expect(Object.keys(walked.files.agent).sort()).toEqual(["SKYDIVE_TLS_CA_CERT", "SKYDIVE_TLS_CLIENT_CERT", "SKYDIVE_TLS_CLIENT_KEY"]);
    expect(walked.files.agent.SKYDIVE_TLS_CLIENT_CERT).toBe(b64(sharedCrt));
    expect(walked.files.agent.SKYDIVE_TLS_CLIENT_KEY === b64(join(pki, "agent", "agent.domain.com.key"))).toBe(true);
    expect(walked.files.agent.SKYDIVE_TLS_CA_CERT).toBe(b64(ca.crt));
    expect(walked.unresolved).toEqual({ analyzer: [], agent: [] });
  });

  it("no pod can see the CA key, and the agents' pods cannot see the analyzer key", () => {
    const data = allSecretData(objects);
    expect(data.includes(b64(ca.key))).toBe(false);
    const analyzerKey = b64(join(pki, "analyzer", "analyzer.domain.com.key"));
    for (const s of walked.secretsOf.agent) expect(Object.values(s.data).includes(analyzerKey)).toBe(false);
  });

  it("agents dial skydive-analyzer.skydive.svc:8082, which the analyzer certificate carries", () => {
    expect(walked.env.agent.SKYDIVE_ANALYZERS).toBe("skydive-analyzer.skydive.svc:8082");
    expect(sansOf(dir, walked.files.analyzer.SKYDIVE_TLS_SERVER_CERT!)).toContain("skydive-analyzer.skydive.svc");
    expect(result.apply[0]).toBe("kubectl create namespace skydive");
    // The ServiceAccount binding follows the namespace.
    expect(objects.find((o) => o.kind === "ClusterRoleBinding")!.subjects[0].namespace).toBe("skydive");
  });

  it("the refusal in CA mode names init --ca", () => {
    const r = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "overlay2", "--from", "pki", "--namespace", "other"], { cwd: dir });
    expect(r.code).toBe(1);
    // The certificate's extra name is kept: --san lists what the cnf does not give it.
    expect(r.stderr).toContain("run skycert init analyzer --ca pki/ca --san skydive-analyzer.skydive.svc,skydive-analyzer.other.svc --out pki --force, then export again");
    expect(r.stderr).toContain("--out pki --force");
  });
});

describe("usage", () => {
  const dir = scratch("skycert-export-k8s-usage-");
  beforeAll(() => {
    ok(skycert(["init", "analyzer", "agent", "--san", "skydive-analyzer.default.svc", "--out", "pki"], { cwd: dir }), "init");
    writeFileSync(join(dir, "no-daemonset.yaml"), readFileSync(MANIFEST, "utf8").replace("kind: DaemonSet", "kind: StatefulSet"));
  });

  it("needs --manifest and --out (exit 2)", () => {
    const r = skycert(["export", "k8s", "--out", "o", "--from", "pki"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--manifest");
  });

  it("refuses a namespace that is not a DNS label (exit 2)", () => {
    const r = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "pki", "--namespace", "Bad_NS"], { cwd: dir });
    expect(oneLine(r, 2)).toContain("--namespace");
  });

  it("names a manifest without Skydive's DaemonSet (exit 2)", () => {
    const r = skycert(["export", "k8s", "--manifest", "no-daemonset.yaml", "--out", "o", "--from", "pki"], { cwd: dir });
    expect(oneLine(r, 2)).toContain("no-daemonset.yaml: no DaemonSet skydive-agent");
  });

  it("names a missing source config (exit 2)", () => {
    const r = skycert(["export", "k8s", "--manifest", MANIFEST, "--out", "o", "--from", "nowhere"], { cwd: dir });
    expect(oneLine(r, 2)).toContain("nowhere/skydive.yml: no such file");
  });

  it("documents itself", () => {
    const r = ok(skycert(["export", "k8s", "--help"], { cwd: dir }));
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain("Exit codes:");
    expect(r.stdout).toContain("kubectl apply -k overlay");
    expect(skycert(["export"], { cwd: dir }).code).toBe(2);
  });
});
