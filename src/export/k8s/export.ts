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
import { shownPath } from "../../cli/render.js";
import { CERT_MODE, KEY_MODE, octal, readInput } from "../../fs/files.js";
import { type GoTls, loadGoTls } from "../../skydive/go-tls.js";
import { type FleetRecord, type RecordHost, RECORD_FILE, abs, readRecord } from "../../skydive/record.js";
import { RELEASE_NAMES, ROLES, type Release, type Role, dialsResolvedIp } from "../../skydive/release.js";
import { CONFIG_FILE, LEGACY_COST, LEGACY_WAY_OUT, type Pair } from "../../skydive/settings.js";
import { type OutSet, material, writeBundle } from "../bundle.js";
import { type ExportSource, type Validation, chooseRelease, readSource, releaseShort, validateConfig } from "../source.js";
import { MOUNT_PATH, type SecretFile, buildOverlay, inspectManifest, serviceNames } from "./overlay.js";

/** The fleet host whose certificate every agent pod of the DaemonSet presents, and the name it carries: an agent's, never the analyzer's. */
const SHARED_AGENT = "k8s-shared";
const SHARED_AGENT_NAME = "skydive-agent";

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

export type ExportK8sResult = Awaited<ReturnType<typeof exportK8s>>;

const pem = (path: string) => readInput(path, "analyzer certificate", 1024 * 1024).text;

export async function exportK8s(opts: ExportK8sOptions) {
  if (opts.clusterIp !== undefined && (isIP(opts.clusterIp) === 0 || opts.clusterIp.includes("%"))) {
    throw usageError(`--cluster-ip "${opts.clusterIp}" is not an IPv4 or IPv6 address`, "pass a free address of the cluster's Service range, e.g. --cluster-ip 10.96.0.50");
  }
  const show = (p: string) => shownPath(p, opts.cwd);
  const manifestPath = resolve(opts.cwd, opts.manifest);
  const manifest = inspectManifest(readInput(manifestPath, "--manifest").text, show(manifestPath));
  const out = resolve(opts.cwd, opts.out);
  if (out === manifestPath) throw usageError("--out names the manifest itself", "choose a folder for the overlay");

  let src = readSource(opts);
  const { release, from: skydiveFrom } = chooseRelease(src, opts.skydive, opts.cwd);
  const short = releaseShort(release);
  const notes: string[] = [];

  // Up to 0.26 what Go verifies is the Service's ClusterIP: it must be known in advance.
  const clusterIp = opts.clusterIp ?? manifest.clusterIp;
  if (dialsResolvedIp(release) && !clusterIp) {
    throw usageError(
      `${short} resolves the analyzer's Service name to its ClusterIP and Go verifies that IP, which the analyzer certificate must carry; a ClusterIP Kubernetes picks is not known in advance`,
      "pass --cluster-ip IP, a free address of the cluster's Service range (the overlay pins the Service to it), after adding it to the analyzer certificate with skycert renew CERT --san IP",
    );
  }
  if (clusterIp && !dialsResolvedIp(release)) notes.push(`Service ${manifest.service} is pinned to ClusterIP ${clusterIp}; ${short} verifies the Service name as written, so TLS does not need it.`);

  const go = await loadGoTls();
  const names = serviceNames(manifest.service, opts.namespace);
  let chosen = chooseFiles(src, release, names, clusterIp, go, opts.cwd);

  // A fleet: every agent pod presents one shared agent certificate, issued here when the fleet has none.
  const issued = src.kind === "fleet" && !chosen.agentHost ? await issueSharedAgent(src.record, src.from, opts, go, chosen.analyzer.cert) : undefined;
  if (src.kind === "fleet" && issued) {
    src = { ...src, record: readRecord(src.from)! };
    chosen = chooseFiles(src, release, names, clusterIp, go, opts.cwd);
  }
  if (src.kind === "fleet") {
    const others = src.record.hosts.filter((h) => !h.roles.includes("analyzer") && h.name !== SHARED_AGENT).length;
    notes.push(
      `A DaemonSet runs one pod template on every node and cannot mount a per-node Secret, so every agent pod presents the shared agent certificate ${show(chosen.agent.cert)} (fleet host ${SHARED_AGENT}: serverAuth and clientAuth, signed by the fleet's CA, naming no analyzer)${issued ? ", issued now" : ""}.` +
        (others ? ` The ${others} per-host agent certificate${others === 1 ? "" : "s"} of the fleet ${others === 1 ? "is" : "are"} for hosts deployed with skycert export ansible.` : "") +
        " The CA key goes nowhere.",
    );
    const all = src.record.hosts.filter((h) => h.roles.includes("analyzer"));
    if (all.length > 1) {
      notes.push(
        `The fleet has ${all.length} analyzer hosts (${all.map((h) => h.name).join(", ")}); Deployment ${manifest.workloads.analyzer.name} mounts one Secret in every replica, so it serves with ${chosen.analyzerHost!.name}'s certificate, the first that carries ${chosen.verified}.`,
      );
    }
  }

  // skycert validate on what ships, dialing what agents will verify.
  const validateHost = (h: RecordHost, role: Role) => validateConfig({ cwd: opts.cwd, config: join(abs(src.from, h.dir), CONFIG_FILE), hosts: [chosen.verified], release, role, what: `${role} ${h.name}` });
  const validation: Validation[] =
    src.kind === "legacy"
      ? [await validateConfig({ cwd: opts.cwd, config: src.config, hosts: [chosen.verified], release, what: "the certificates to export" })]
      : [await validateHost(chosen.analyzerHost!, "analyzer"), await validateHost(chosen.agentHost!, "agent")];

  const file = (name: string, mode: number, source: string): SecretFile => ({ name, mode, source });
  const pairFiles = (role: Role) => [file(`${role}.crt`, CERT_MODE, chosen[role].cert), file(`${role}.key`, KEY_MODE, chosen[role].key)];
  // Legacy pods load both pairs; tls.* pods their own pair and the CA certificate.
  const filesOf = (role: Role) => (release === "legacy" ? [...pairFiles("analyzer"), ...pairFiles("agent")] : [...pairFiles(role), file("ca.crt", CERT_MODE, chosen.ca!)]);
  const pinned = Boolean(opts.clusterIp && opts.clusterIp !== manifest.clusterIp);
  const plan = buildOverlay({
    release,
    namespace: opts.namespace,
    manifest,
    dialName: chosen.dialName,
    clusterIp: pinned ? opts.clusterIp : undefined,
    files: { analyzer: filesOf("analyzer"), agent: filesOf("agent") },
    source: src.kind === "legacy" ? show(src.config) : `the fleet ${show(src.from)}`,
  });
  const sets: OutSet[] = ROLES.map((role) => {
    const dir = join(out, plan.secrets[role].dir);
    return { dir, files: plan.secrets[role].files.map((f) => ({ path: join(dir, f.name), data: material(f.source, f.mode === KEY_MODE ? `${role} key` : "certificate"), mode: f.mode })) };
  });
  const written = await writeBundle(opts.cwd, out, sets, plan.documents.map((d) => ({ path: join(out, d.name), data: d.text })), opts.force);

  const warnings = release === "legacy" ? [`Secret ${plan.secrets.agent.name}, mounted in every agent pod, holds the analyzer's private key (analyzer.key): ${LEGACY_COST}; ${LEGACY_WAY_OUT}`] : [];
  if (manifest.workloads.agent.hostNetwork) notes.push(`The agents use hostNetwork, so the patch sets dnsPolicy: ClusterFirstWithHostNet for them to resolve ${chosen.dialName}.`);
  const probes = ROLES.map((r) => manifest.workloads[r]).filter((w) => w.httpProbes.length).map((w) => `${w.kind} ${w.name}`);
  if (probes.length) notes.push(`The httpGet probes of ${probes.join(" and ")} become tcpSocket probes on the same ports: with TLS those ports ask for a client certificate, which the kubelet cannot present.`);
  if (pinned) {
    notes.push(`Service ${manifest.service} is pinned to ClusterIP ${opts.clusterIp} (a free address of the cluster's Service range; a running Service's ClusterIP cannot change in place, so delete the Service first if it has another).`);
  }

  return {
    ok: true,
    kind: "k8s",
    skydive: release,
    skydiveName: RELEASE_NAMES[release],
    skydiveFrom,
    source: { kind: src.kind, from: src.from, config: src.kind === "legacy" ? src.config : undefined, analyzerHost: chosen.analyzerHost?.name, agentHost: chosen.agentHost?.name },
    manifest: manifestPath,
    out,
    namespace: opts.namespace,
    mountPath: MOUNT_PATH,
    dial: {
      name: chosen.dialName,
      address: plan.dialAddress,
      setting: "SKYDIVE_ANALYZERS",
      verified: chosen.verified,
      why: dialsResolvedIp(release) ? `${short} resolves ${chosen.dialName} to the Service's ClusterIP ${chosen.verified} and verifies that IP` : `${short} verifies ${chosen.dialName} as written`,
    },
    service: { name: manifest.service, clusterIp, pinned },
    secrets: ROLES.map((role) => {
      const s = plan.secrets[role];
      const files = s.files.map((f) => ({ key: f.name, mode: octal(f.mode), source: f.source }));
      return { role, name: s.name, workload: `${s.workload.kind}/${s.workload.name}`, container: s.workload.container, files, env: Object.fromEntries(s.env.map((e) => [e.name, e.value])) };
    }),
    agentPodsHoldAnalyzerKey: plan.secrets.agent.files.some((f) => f.source === chosen.analyzer.key),
    issued,
    validation,
    files: written,
    notes,
    warnings,
    apply: [...(opts.namespace !== "default" ? [`kubectl create namespace ${opts.namespace}`] : []), `kubectl kustomize ${show(out)}`, `kubectl apply -k ${show(out)}`],
  };
}

/**
 * The pairs that ship, the name agents dial, and what Go verifies: the
 * analyzer certificate must carry it, or the export stops with the renew
 * command that adds it (keeping the key and the other names).
 */
function chooseFiles(src: ExportSource, release: Release, names: string[], clusterIp: string | undefined, go: GoTls, cwd: string) {
  const show = (p: string) => shownPath(p, cwd);
  const covers = (certPath: string, name: string) => go.verifyHostname(pem(certPath), name).ok;
  const candidates: (Pair & { host?: RecordHost })[] =
    src.kind === "legacy" ? [src.analyzer] : src.record.hosts.filter((h) => h.roles.includes("analyzer")).map((h) => ({ cert: abs(src.from, h.cert), key: abs(src.from, h.key), host: h }));
  if (candidates.length === 0) throw failure(`the fleet ${show(src.from)} has no analyzer host`, `issue one: ${command("init", "analyzer", "--ca", show(src.from), "--hosts", "skydive-analyzer", "--out", show(src.from))}`);
  const byIp = dialsResolvedIp(release);
  // What Go verifies: the pinned ClusterIP up to 0.26, else the first Service name the certificate carries.
  const pick = candidates.find((c) => (byIp ? covers(c.cert, clusterIp!) : names.some((n) => covers(c.cert, n))));
  if (!pick) {
    const first = candidates[0]!;
    const need = byIp ? clusterIp! : names[0]!;
    const parsed = go.parse(pem(first.cert)).certificates[0];
    const has = (parsed?.ok ? [...parsed.dnsNames.map((n) => `DNS:${n}`), ...parsed.ipAddresses.map((ip) => `IP:${ip}`)] : []).join(", ") || "no DNS or IP SANs";
    const why = byIp ? `${releaseShort(release)} agents resolve the analyzer's Service name to its ClusterIP ${need} and Go verifies that IP` : `${releaseShort(release)} agents dial the Service name ${need}:<api port> and Go verifies it`;
    throw failure(
      `the analyzer certificate ${show(first.cert)}${first.host ? ` (fleet host ${first.host.name})` : ""} does not carry ${byIp ? "IP SAN" : "DNS SAN"} ${need}: ${why}; it has ${has}`,
      `${command("renew", show(first.cert), "--san", need)} (adds the name, keeping the key and the other names), then run this export again`,
    );
  }
  const dialName = names.find((n) => covers(pick.cert, n)) ?? names[0]!;
  const shared = src.kind === "fleet" ? src.record.hosts.find((h) => h.name === SHARED_AGENT) : undefined;
  if (shared?.roles.includes("analyzer")) {
    throw failure(`the fleet's host ${SHARED_AGENT} is an analyzer, but export k8s keeps that name for the agents' shared certificate`, `rename it in ${show(join(src.from, RECORD_FILE))}, or use another --from`);
  }
  return {
    analyzer: { cert: pick.cert, key: pick.key },
    agent: src.kind === "legacy" ? src.agent : shared ? { cert: abs(src.from, shared.cert), key: abs(src.from, shared.key) } : { cert: "", key: "" },
    ca: src.kind === "fleet" ? src.ca : undefined,
    analyzerHost: pick.host,
    agentHost: shared,
    dialName,
    verified: byIp ? clusterIp! : dialName,
  };
}

/** One CA-signed agent certificate for every pod of the DaemonSet, through init's own code path. */
async function issueSharedAgent(record: FleetRecord, from: string, opts: ExportK8sOptions, go: GoTls, analyzerCert: string) {
  const { initHosts } = await import("../../init/hosts.js");
  const analyzer = go.parse(pem(analyzerCert)).certificates[0];
  const r = await initHosts({
    cwd: opts.cwd,
    roles: ["agent"],
    ca: abs(from, record.ca!),
    hosts: [`${SHARED_AGENT}=${SHARED_AGENT_NAME}`],
    analyzers: record.analyzers,
    cnfSans: false,
    out: from,
    key: { type: analyzer?.ok && analyzer.publicKeyAlgorithm === "ECDSA" ? "ecdsa" : "rsa", bits: 2048 },
    days: 365,
    cn: SHARED_AGENT_NAME,
    sans: [],
    deployDir: record.deployDir,
    force: false,
    dryRun: false,
    passphrase: opts.passphrase,
  });
  const h = r.hosts.find((x) => x.name === SHARED_AGENT);
  if (!h || h.status === "failed") throw failure(`cannot issue the agents' shared certificate in ${shownPath(from, opts.cwd)}: ${h?.reason ?? "no result"}`, "fix that, then run this export again");
  const path = (kind: "crt" | "key") => h.files?.find((f) => f.kind === kind)?.path ?? "";
  return { host: SHARED_AGENT, dir: h.dir, cert: path("crt"), key: path("key"), subject: `CN=${SHARED_AGENT_NAME}`, sans: h.sans, issuer: r.ca.subject, notAfter: h.notAfter, fingerprint: h.fingerprint };
}
