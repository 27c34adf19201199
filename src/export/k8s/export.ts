/**
 * `skycert export k8s`: a kustomize overlay that wires TLS into Skydive's own
 * manifest (overlay.ts builds the documents).
 *
 * Every Skydive process, agents too, serves its API with the server pair and
 * dials with the client pair, so:
 * - legacy (up to 0.20): both pods get all four files; the agents' Secret holds
 *   the analyzer's key, which the output says plainly (LEGACY_COST).
 * - tls.* (0.21, 0.27): the analyzer's Secret holds one analyzer host's
 *   certificate and key and the CA certificate; the agents' Secret one shared
 *   agent certificate (a DaemonSet cannot mount a per-node Secret), issued by
 *   the fleet's CA into <from>/agents/k8s-shared/ when absent, and never the
 *   analyzer's key. The CA key goes nowhere.
 * - Up to 0.26 agents resolve the Service name to its ClusterIP and Go verifies
 *   that IP: the Service's clusterIP is pinned (--cluster-ip) and the analyzer
 *   certificate must carry it. From 0.27 the name is verified as written: the
 *   certificate must carry the Service name agents dial.
 * The source passes skycert validate before anything is written.
 */
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { failure, usageError } from "../../cli/errors.js";
import { command } from "../../cli/invocation.js";
import type { PassphraseSource } from "../../cli/passphrase.js";
import { CERT_MODE, KEY_MODE, readInput } from "../../fs/files.js";
import { type GoTls, loadGoTls } from "../../skydive/go-tls.js";
import { type FleetRecord, type RecordHost, abs, readRecord } from "../../skydive/record.js";
import { RELEASE_NAMES, type Release, type Role, dialsResolvedIp } from "../../skydive/release.js";
import { CONFIG_FILE, type Pair } from "../../skydive/settings.js";
import { type OutDoc, type OutSet, type WrittenFile, material, writeBundle } from "../bundle.js";
import { type ExportSource, LEGACY_WARNING, RELEASE_SHORT, type Validation, analyzerHosts, chooseRelease, readSource, sansOf, shown, validateConfig } from "../source.js";
import { KUSTOMIZATION_FILE, MANIFEST_FILE, MOUNT_PATH, ROLES, type SecretFile, buildOverlay, inspectManifest, namespaceProblem, serviceNames } from "./overlay.js";

/** The fleet host whose certificate every agent pod of the DaemonSet presents. */
export const SHARED_AGENT = "k8s-shared";
/** The name it carries: an agent's, never the analyzer's. */
export const SHARED_AGENT_NAME = "skydive-agent";

export interface ExportK8sOptions {
  cwd: string;
  manifest: string;
  out: string;
  namespace: string;
  from?: string;
  config?: string;
  skydive?: Release;
  clusterIp?: string;
  force: boolean;
  passphrase?: PassphraseSource;
}

export interface K8sSecret {
  role: Role;
  name: string;
  workload: string;
  container: string;
  files: { key: string; mode: string; source: string }[];
  env: Record<string, string>;
}

export interface IssuedAgent {
  host: string;
  dir: string;
  cert: string;
  key: string;
  subject: string;
  sans: string[];
  issuer: string;
  notAfter?: string;
  fingerprint?: string;
}

export interface ExportK8sResult {
  ok: true;
  kind: "k8s";
  skydive: Release;
  skydiveName: string;
  skydiveFrom: string;
  source: { kind: "legacy" | "fleet"; from: string; config?: string; analyzerHost?: string; agentHost?: string };
  manifest: string;
  out: string;
  namespace: string;
  mountPath: string;
  /** What agents dial, and what Go verifies in the analyzer's certificate. */
  dial: { name: string; address: string; setting: "SKYDIVE_ANALYZERS"; verified: string; why: string };
  service: { name: string; clusterIp?: string; pinned: boolean };
  secrets: K8sSecret[];
  /** Legacy only: every agent pod holds the analyzer's private key. */
  agentPodsHoldAnalyzerKey: boolean;
  issued?: IssuedAgent;
  validation: Validation[];
  files: WrittenFile[];
  notes: string[];
  warnings: string[];
  apply: string[];
}

interface Chosen {
  analyzer: Pair;
  agent: Pair;
  /** The CA certificate (tls.*). */
  ca?: string;
  analyzerHost?: RecordHost;
  agentHost?: RecordHost;
  dialName: string;
  verified: string;
}

const pem = (path: string, what: string) => readInput(path, what, 1024 * 1024).text;

export async function exportK8s(opts: ExportK8sOptions): Promise<ExportK8sResult> {
  const problem = namespaceProblem(opts.namespace);
  if (problem) throw usageError(`--namespace "${opts.namespace}" ${problem}`);
  if (opts.clusterIp !== undefined && (isIP(opts.clusterIp) === 0 || opts.clusterIp.includes("%"))) {
    throw usageError(`--cluster-ip "${opts.clusterIp}" is not an IPv4 or IPv6 address`, "pass a free address of the cluster's Service range, e.g. --cluster-ip 10.96.0.50");
  }
  const show = (p: string) => shown(opts.cwd, p);
  const manifestPath = resolve(opts.cwd, opts.manifest);
  const manifestText = readInput(manifestPath, "--manifest").text;
  const manifest = inspectManifest(manifestText, show(manifestPath));
  const out = resolve(opts.cwd, opts.out);
  if (out === manifestPath) throw usageError("--out names the manifest itself", "choose a folder for the overlay");

  let src: ExportSource = readSource(opts);
  const { release, from: skydiveFrom } = chooseRelease(src, opts.skydive, opts.cwd);
  const notes: string[] = [];
  const warnings: string[] = [];

  // Up to 0.26 what Go verifies is the Service's ClusterIP: it must be known in advance.
  const clusterIp = opts.clusterIp ?? manifest.clusterIp;
  if (dialsResolvedIp(release) && !clusterIp) {
    throw usageError(
      `${RELEASE_SHORT[release]} resolves the analyzer's Service name to its ClusterIP and Go verifies that IP, which the analyzer certificate must carry; a ClusterIP Kubernetes picks is not known in advance`,
      "pass --cluster-ip IP, a free address of the cluster's Service range (the overlay pins the Service to it), after adding it to the analyzer certificate with skycert renew CERT --san IP",
    );
  }
  if (clusterIp && !dialsResolvedIp(release)) notes.push(`Service ${manifest.service} is pinned to ClusterIP ${clusterIp}; ${RELEASE_SHORT[release]} verifies the Service name as written, so TLS does not need it.`);

  const go = await loadGoTls();
  const names = serviceNames(manifest.service, opts.namespace);
  let chosen = chooseFiles(src, release, names, clusterIp, go, opts.cwd);

  // A fleet: every agent pod presents one shared agent certificate, issued here when the fleet has none.
  let issued: IssuedAgent | undefined;
  if (src.kind === "fleet" && !chosen.agentHost) {
    issued = await issueSharedAgent(src.record, src.from, opts, go, chosen.analyzer.cert);
    src = { ...src, record: readRecord(src.from)! };
    chosen = chooseFiles(src, release, names, clusterIp, go, opts.cwd);
    if (!chosen.agentHost) throw new Error("exportK8s: the shared agent is not in the fleet record after init");
  }
  if (src.kind === "fleet") {
    const others = src.record.hosts.filter((h) => !h.roles.includes("analyzer") && h.name !== SHARED_AGENT).length;
    notes.push(
      `A DaemonSet runs one pod template on every node and cannot mount a per-node Secret, so every agent pod presents the shared agent certificate ${show(chosen.agent.cert)} (fleet host ${SHARED_AGENT}: serverAuth and clientAuth, signed by the fleet's CA, naming no analyzer)${issued ? ", issued now" : ""}.` +
        (others ? ` The ${others} per-host agent certificate${others === 1 ? "" : "s"} of the fleet ${others === 1 ? "is" : "are"} for hosts deployed with skycert export ansible.` : "") +
        " The CA key goes nowhere.",
    );
    const all = analyzerHosts(src.record);
    if (all.length > 1) {
      notes.push(
        `The fleet has ${all.length} analyzer hosts (${all.map((h) => h.name).join(", ")}); Deployment ${manifest.workloads.analyzer.name} mounts one Secret in every replica, so it serves with ${chosen.analyzerHost!.name}'s certificate, the first that carries ${chosen.verified}.`,
      );
    }
  }

  // skycert validate on what ships, dialing what agents will verify.
  const validation: Validation[] = [];
  if (src.kind === "legacy") {
    validation.push(await validateConfig({ cwd: opts.cwd, config: src.config, hosts: [chosen.verified], release, what: "the certificates to export" }));
  } else {
    validation.push(await validateConfig({ cwd: opts.cwd, config: join(abs(src.from, chosen.analyzerHost!.dir), CONFIG_FILE), hosts: [chosen.verified], release, role: "analyzer", what: `analyzer ${chosen.analyzerHost!.name}` }));
    validation.push(await validateConfig({ cwd: opts.cwd, config: join(abs(src.from, chosen.agentHost!.dir), CONFIG_FILE), hosts: [chosen.verified], release, role: "agent", what: `agent ${chosen.agentHost!.name}` }));
  }

  const crt = (name: string, source: string): SecretFile => ({ name, mode: CERT_MODE, source });
  const key = (name: string, source: string): SecretFile => ({ name, mode: KEY_MODE, source });
  const files: Record<Role, SecretFile[]> =
    release === "legacy"
      ? Object.fromEntries(ROLES.map((r) => [r, [crt("analyzer.crt", chosen.analyzer.cert), key("analyzer.key", chosen.analyzer.key), crt("agent.crt", chosen.agent.cert), key("agent.key", chosen.agent.key)]])) as Record<Role, SecretFile[]>
      : {
          analyzer: [crt("analyzer.crt", chosen.analyzer.cert), key("analyzer.key", chosen.analyzer.key), crt("ca.crt", chosen.ca!)],
          agent: [crt("agent.crt", chosen.agent.cert), key("agent.key", chosen.agent.key), crt("ca.crt", chosen.ca!)],
        };
  const pinned = Boolean(opts.clusterIp && opts.clusterIp !== manifest.clusterIp);
  const sourceText = src.kind === "legacy" ? show(src.config) : `the fleet ${show(src.from)}`;
  const plan = buildOverlay({ release, namespace: opts.namespace, manifest, dialName: chosen.dialName, ...(pinned ? { clusterIp: opts.clusterIp } : {}), files, source: sourceText });

  const sets: OutSet[] = ROLES.map((role) => {
    const s = plan.secrets[role];
    const dir = join(out, s.dir);
    return { dir, files: s.files.map((f) => ({ path: join(dir, f.name), data: material(f.source, f.mode === KEY_MODE ? `${role} key` : "certificate"), mode: f.mode })) };
  });
  const docs: OutDoc[] = [{ path: join(out, MANIFEST_FILE), data: manifestText }, ...plan.documents.map((d) => ({ path: join(out, d.name), data: d.text }))];
  if (docs[docs.length - 1]!.path !== join(out, KUSTOMIZATION_FILE)) throw new Error("exportK8s: kustomization.yaml must be written last");
  const written = await writeBundle(opts.cwd, out, sets, docs, opts.force);

  const holdsAnalyzerKey = plan.secrets.agent.files.some((f) => f.source === chosen.analyzer.key);
  if (release === "legacy") {
    warnings.push(`Secret ${plan.secrets.agent.name}, mounted in every agent pod, holds the analyzer's private key (analyzer.key): ${LEGACY_WARNING}`);
  }
  if (manifest.workloads.agent.hostNetwork) notes.push(`The agents use hostNetwork, so the patch sets dnsPolicy: ClusterFirstWithHostNet for them to resolve ${chosen.dialName}.`);
  const probes = ROLES.map((r) => manifest.workloads[r]).filter((w) => w.httpProbes.length).map((w) => `${w.kind} ${w.name}`);
  if (probes.length) notes.push(`The httpGet probes of ${probes.join(" and ")} become tcpSocket probes on the same ports: with TLS those ports ask for a client certificate, which the kubelet cannot present.`);
  if (pinned) notes.push(`Service ${manifest.service} is pinned to ClusterIP ${opts.clusterIp} (${SERVICE_NOTE}).`);

  const outShown = show(out);
  return {
    ok: true,
    kind: "k8s",
    skydive: release,
    skydiveName: RELEASE_NAMES[release],
    skydiveFrom,
    source: {
      kind: src.kind,
      from: src.from,
      ...(src.kind === "legacy" ? { config: src.config } : {}),
      ...(chosen.analyzerHost ? { analyzerHost: chosen.analyzerHost.name } : {}),
      ...(chosen.agentHost ? { agentHost: chosen.agentHost.name } : {}),
    },
    manifest: manifestPath,
    out,
    namespace: opts.namespace,
    mountPath: MOUNT_PATH,
    dial: {
      name: chosen.dialName,
      address: plan.dialAddress,
      setting: "SKYDIVE_ANALYZERS",
      verified: chosen.verified,
      why: dialsResolvedIp(release)
        ? `${RELEASE_SHORT[release]} resolves ${chosen.dialName} to the Service's ClusterIP ${chosen.verified} and verifies that IP`
        : `${RELEASE_SHORT[release]} verifies ${chosen.dialName} as written`,
    },
    service: { name: manifest.service, ...(clusterIp ? { clusterIp } : {}), pinned },
    secrets: ROLES.map((role) => {
      const s = plan.secrets[role];
      return {
        role,
        name: s.name,
        workload: `${s.workload.kind}/${s.workload.name}`,
        container: s.workload.container,
        files: s.files.map((f) => ({ key: f.name, mode: `0${f.mode.toString(8)}`, source: f.source })),
        env: Object.fromEntries(s.env.map((e) => [e.name, e.value])),
      };
    }),
    agentPodsHoldAnalyzerKey: holdsAnalyzerKey,
    ...(issued ? { issued } : {}),
    validation,
    files: written,
    notes,
    warnings,
    apply: [...(opts.namespace !== "default" ? [`kubectl create namespace ${opts.namespace}`] : []), `kubectl kustomize ${outShown}`, `kubectl apply -k ${outShown}`],
  };
}

const SERVICE_NOTE = "a free address of the cluster's Service range; a running Service's ClusterIP cannot change in place, so delete the Service first if it has another";

/**
 * The pairs that ship, the name agents dial, and what Go verifies: the
 * analyzer certificate must carry it, or the export stops with the renew
 * command that adds it (keeping the key and the other names).
 */
function chooseFiles(src: ExportSource, release: Release, names: string[], clusterIp: string | undefined, go: GoTls, cwd: string): Chosen {
  const show = (p: string) => shown(cwd, p);
  const covers = (certPath: string, name: string) => go.verifyHostname(pem(certPath, "analyzer certificate"), name).ok;
  const candidates: { cert: string; key: string; host?: RecordHost }[] =
    src.kind === "legacy" ? [src.analyzer] : analyzerHosts(src.record).map((h) => ({ cert: abs(src.from, h.cert), key: abs(src.from, h.key), host: h }));
  if (candidates.length === 0) {
    const fleet = src as Extract<ExportSource, { kind: "fleet" }>;
    throw failure(`the fleet ${show(fleet.from)} has no analyzer host`, `issue one: ${command("init", "analyzer", "--ca", show(fleet.from), "--hosts", "skydive-analyzer", "--out", show(fleet.from))}`);
  }
  const byIp = dialsResolvedIp(release);
  // What Go verifies: the pinned ClusterIP up to 0.26, else the first Service name the certificate carries.
  const pick = candidates.find((c) => (byIp ? covers(c.cert, clusterIp!) : names.some((n) => covers(c.cert, n))));
  if (!pick) {
    const first = candidates[0]!;
    const need = byIp ? clusterIp! : names[0]!;
    const has = sansOf(go, pem(first.cert, "analyzer certificate")).join(", ") || "no DNS or IP SANs";
    const why = byIp
      ? `${RELEASE_SHORT[release]} agents resolve the analyzer's Service name to its ClusterIP ${need} and Go verifies that IP`
      : `${RELEASE_SHORT[release]} agents dial the Service name ${need}:<api port> and Go verifies it`;
    throw failure(
      `the analyzer certificate ${show(first.cert)}${first.host ? ` (fleet host ${first.host.name})` : ""} does not carry ${byIp ? "IP SAN" : "DNS SAN"} ${need}: ${why}; it has ${has}`,
      `${command("renew", show(first.cert), "--san", need)} (adds the name, keeping the key and the other names), then run this export again`,
    );
  }
  const dialName = names.find((n) => covers(pick.cert, n)) ?? names[0]!;
  const verified = byIp ? clusterIp! : dialName;
  if (src.kind === "legacy") return { analyzer: { cert: pick.cert, key: pick.key }, agent: src.agent, dialName, verified };
  const shared = src.record.hosts.find((h) => h.name === SHARED_AGENT);
  if (shared && shared.roles.includes("analyzer")) {
    throw failure(`the fleet's host ${SHARED_AGENT} is an analyzer, but export k8s keeps that name for the agents' shared certificate`, `rename it in ${show(join(src.from, "skycert.json"))}, or use another --from`);
  }
  return {
    analyzer: { cert: pick.cert, key: pick.key },
    agent: shared ? { cert: abs(src.from, shared.cert), key: abs(src.from, shared.key) } : { cert: "", key: "" },
    ca: src.ca,
    analyzerHost: pick.host,
    ...(shared ? { agentHost: shared } : {}),
    dialName,
    verified,
  };
}

/** One CA-signed agent certificate for every pod of the DaemonSet, through init's own code path. */
async function issueSharedAgent(record: FleetRecord, from: string, opts: ExportK8sOptions, go: GoTls, analyzerCert: string): Promise<IssuedAgent> {
  const { initHosts } = await import("../../init/hosts.js");
  const analyzer = go.parse(pem(analyzerCert, "analyzer certificate")).certificates[0];
  const keyType = analyzer?.ok && analyzer.publicKeyAlgorithm === "ECDSA" ? "ecdsa" : "rsa";
  const r = await initHosts({
    cwd: opts.cwd,
    roles: ["agent"],
    ca: abs(from, record.ca!),
    hosts: [`${SHARED_AGENT}=${SHARED_AGENT_NAME}`],
    ...(record.analyzers.length ? { analyzers: record.analyzers } : {}),
    cnfSans: false,
    out: from,
    key: { type: keyType, bits: 2048 },
    days: 365,
    cn: SHARED_AGENT_NAME,
    sans: [],
    ...(record.deployDir ? { deployDir: record.deployDir } : {}),
    force: false,
    dryRun: false,
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
  });
  const h = r.hosts.find((x) => x.name === SHARED_AGENT);
  if (!h || h.status === "failed") throw failure(`cannot issue the agents' shared certificate in ${shown(opts.cwd, from)}: ${h?.reason ?? "no result"}`, "fix that, then run this export again");
  const crtPath = h.files?.find((f) => f.kind === "crt")?.path ?? "";
  const keyPath = h.files?.find((f) => f.kind === "key")?.path ?? "";
  return {
    host: SHARED_AGENT,
    dir: h.dir,
    cert: crtPath,
    key: keyPath,
    subject: `CN=${SHARED_AGENT_NAME}`,
    sans: h.sans,
    issuer: r.ca.subject,
    ...(h.notAfter ? { notAfter: h.notAfter } : {}),
    ...(h.fingerprint ? { fingerprint: h.fingerprint } : {}),
  };
}
