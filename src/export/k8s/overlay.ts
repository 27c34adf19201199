/**
 * `skycert export k8s`, the pure part: what the overlay patches in Skydive's
 * own manifest (contrib/kubernetes/skydive.yaml), and the overlay's documents:
 * kustomization.yaml (the copied manifest, one generated Secret per workload,
 * the patches) and strategic-merge patches. No fs, no console.
 */
import { LineCounter, isMap, parseAllDocuments } from "yaml";
import { usageError } from "../../cli/errors.js";
import type { Release, Role } from "../../skydive/release.js";
import { type Settings, envName, hostSettings } from "../../skydive/settings.js";
import { RELEASE_SHORT } from "../source.js";
import { yamlText } from "../bundle.js";
import { octal } from "../../fs/files.js";

export const ANALYZER_WORKLOAD = "skydive-analyzer";
export const AGENT_WORKLOAD = "skydive-agent";
export const ANALYZER_SERVICE = "skydive-analyzer";
export const MOUNT_PATH = "/etc/skydive/tls";
export const VOLUME_NAME = "skydive-tls";
export const MANIFEST_FILE = "skydive.yaml";
export const KUSTOMIZATION_FILE = "kustomization.yaml";
export const SECRET_NAMES: Record<Role, string> = { analyzer: "skydive-analyzer-tls", agent: "skydive-agent-tls" };
export const PATCH_FILES: Record<Role, string> = { analyzer: "patch-analyzer.yaml", agent: "patch-agent.yaml" };
export const SERVICE_PATCH_FILE = "patch-service.yaml";
export const SECRETS_DIR = "secrets";
/** Skydive's analyzer port, when the Service names no `api` port. */
export const DEFAULT_API_PORT = 8082;
export const ROLES: readonly Role[] = ["analyzer", "agent"];

type Json = Record<string, unknown>;

export interface ProbeInfo {
  field: "readinessProbe" | "livenessProbe" | "startupProbe";
  port: number | string;
}

export interface WorkloadInfo {
  kind: "Deployment" | "DaemonSet";
  name: string;
  container: string;
  /** httpGet probes, which the patch turns into tcpSocket on the same port. */
  httpProbes: ProbeInfo[];
  hostNetwork: boolean;
}

export interface ManifestInfo {
  file: string;
  service: string;
  apiPort: number;
  /** spec.clusterIP as the manifest sets it, if it does. */
  clusterIp?: string;
  workloads: Record<Role, WorkloadInfo>;
}

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The objects the overlay patches, from Skydive's manifest. */
export function inspectManifest(text: string, file: string): ManifestInfo {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  if (!Array.isArray(docs)) throw usageError(`--manifest ${file}: not a YAML stream`);
  const objects: { o: Json; line: number }[] = [];
  for (const doc of docs) {
    const problem = doc.errors[0];
    if (problem) throw usageError(`--manifest ${file}:${lc.linePos(problem.pos[0]).line}: malformed YAML (${problem.message.split("\n")[0]})`);
    if (doc.contents === null) continue;
    if (!isMap(doc.contents)) throw usageError(`--manifest ${file}:${lc.linePos(doc.contents.range?.[0] ?? 0).line}: a document that is not a Kubernetes object (a mapping)`);
    objects.push({ o: doc.toJS({ maxAliasCount: 100 }) as Json, line: lc.linePos(doc.contents.range?.[0] ?? 0).line });
  }
  const find = (kind: string, name: string) => objects.find(({ o }) => o.kind === kind && obj(o.metadata)?.name === name);
  const remedy = "pass Skydive's manifest (contrib/kubernetes/skydive.yaml), which deploys Service and Deployment skydive-analyzer and DaemonSet skydive-agent";

  const service = find("Service", ANALYZER_SERVICE);
  if (!service) throw usageError(`--manifest ${file}: no Service ${ANALYZER_SERVICE}, which agents dial`, remedy);
  const spec = obj(service.o.spec);
  const ports = list(spec?.ports).map(obj);
  const api = ports.find((p) => p?.name === "api") ?? ports.find((p) => p?.port === DEFAULT_API_PORT && (p?.protocol ?? "TCP") === "TCP");
  const apiPort = typeof api?.port === "number" ? api.port : DEFAULT_API_PORT;
  const clusterIp = typeof spec?.clusterIP === "string" && spec.clusterIP !== "" && spec.clusterIP !== "None" ? spec.clusterIP : undefined;

  const workload = (kind: WorkloadInfo["kind"], name: string): WorkloadInfo => {
    const found = find(kind, name);
    if (!found) throw usageError(`--manifest ${file}: no ${kind} ${name}`, remedy);
    const podSpec = obj(obj(obj(found.o.spec)?.template)?.spec);
    const containers = list(podSpec?.containers).map(obj);
    const container = containers.find((c) => c?.name === name) ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container || typeof container.name !== "string") throw usageError(`--manifest ${file}:${found.line}: ${kind} ${name} has no container named ${name}`, remedy);
    for (const v of list(podSpec?.volumes).map(obj)) {
      if (v?.name === VOLUME_NAME) throw usageError(`--manifest ${file}:${found.line}: ${kind} ${name} already has a volume named ${VOLUME_NAME}`, "rename it: the overlay mounts the TLS Secret under that name");
    }
    for (const m of list(container.volumeMounts).map(obj)) {
      if (typeof m?.mountPath === "string" && (m.mountPath === MOUNT_PATH || MOUNT_PATH.startsWith(`${m.mountPath.replace(/\/$/, "")}/`) || m.mountPath.startsWith(`${MOUNT_PATH}/`))) {
        throw usageError(`--manifest ${file}:${found.line}: container ${String(container.name)} already mounts ${m.mountPath}, where the overlay mounts the TLS files (${MOUNT_PATH})`);
      }
    }
    const httpProbes: ProbeInfo[] = [];
    for (const field of ["readinessProbe", "livenessProbe", "startupProbe"] as const) {
      const port = obj(obj(container[field])?.httpGet)?.port;
      if (typeof port === "number" || typeof port === "string") httpProbes.push({ field, port });
    }
    return { kind, name, container: container.name, httpProbes, hostNetwork: podSpec?.hostNetwork === true };
  };
  return {
    file,
    service: ANALYZER_SERVICE,
    apiPort,
    ...(clusterIp ? { clusterIp } : {}),
    workloads: { analyzer: workload("Deployment", ANALYZER_WORKLOAD), agent: workload("DaemonSet", AGENT_WORKLOAD) },
  };
}

/** DNS-1123 label, as Kubernetes requires of a namespace. */
export function namespaceProblem(ns: string): string | undefined {
  if (ns.length === 0) return "is empty";
  if (ns.length > 63) return "is longer than 63 characters";
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) return "is not a DNS label (lower-case letters, digits and '-', starting and ending with a letter or digit)";
  return undefined;
}

/** The Service names a pod resolves, most explicit first: agents dial the first the analyzer certificate carries. */
export function serviceNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

export interface SecretFile {
  /** The key in the Secret, and the file name under MOUNT_PATH. */
  name: string;
  mode: number;
  /** Where its bytes come from. */
  source: string;
}

export interface SecretPlan {
  role: Role;
  name: string;
  /** Folder of its files, relative to the overlay. */
  dir: string;
  files: SecretFile[];
  workload: WorkloadInfo;
  /** The settings the release loads, with paths under MOUNT_PATH. */
  settings: Settings;
  /** SKYDIVE_* variables set in the workload's container, in order. */
  env: { name: string; value: string }[];
}

export interface OverlayInput {
  release: Release;
  namespace: string;
  manifest: ManifestInfo;
  /** The name agents dial (SKYDIVE_ANALYZERS host). */
  dialName: string;
  /** Pinned on the Service when set. */
  clusterIp?: string;
  /** The files of each workload's Secret. */
  files: Record<Role, SecretFile[]>;
  /** For the comments: where the files come from. */
  source: string;
}

export interface OverlayPlan {
  dialAddress: string;
  secrets: Record<Role, SecretPlan>;
  documents: { name: string; text: string }[];
}

const at = (name: string) => `${MOUNT_PATH}/${name}`;

/** The settings of `role`'s container: what its release loads, naming the mounted files. */
export function containerSettings(release: Release, role: Role, dialAddress: string): Settings {
  const analyzers = role === "agent" ? [dialAddress] : [];
  if (release === "legacy") {
    // Every pod loads both pairs: its API server serves with the analyzer's.
    return hostSettings("legacy", [role], { legacy: { analyzer: { cert: at("analyzer.crt"), key: at("analyzer.key") }, agent: { cert: at("agent.crt"), key: at("agent.key") } } }, analyzers);
  }
  return hostSettings(release, [role], { own: { cert: at(`${role}.crt`), key: at(`${role}.key`) }, ca: at("ca.crt") }, analyzers);
}

/** A setting as an environment value: viper splits a list given in the environment on white space. */
function envValue(v: Settings[string]): string {
  return Array.isArray(v) ? v.join(" ") : String(v);
}

export function buildOverlay(p: OverlayInput): OverlayPlan {
  const { release, namespace, manifest } = p;
  const dialAddress = `${p.dialName}:${manifest.apiPort}`;
  const plan = (role: Role): SecretPlan => {
    const settings = containerSettings(release, role, dialAddress);
    return {
      role,
      name: SECRET_NAMES[role],
      dir: `${SECRETS_DIR}/${role}`,
      files: p.files[role],
      workload: manifest.workloads[role],
      settings,
      env: Object.entries(settings).map(([k, v]) => ({ name: envName(k), value: envValue(v) })),
    };
  };
  const secrets = { analyzer: plan("analyzer"), agent: plan("agent") };
  const patches = [...ROLES.map((role) => PATCH_FILES[role]), ...(p.clusterIp ? [SERVICE_PATCH_FILE] : [])];
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [MANIFEST_FILE],
    secretGenerator: ROLES.map((role) => ({
      name: secrets[role].name,
      type: "Opaque",
      files: secrets[role].files.map((f) => `${f.name}=${secrets[role].dir}/${f.name}`),
    })),
    patches: patches.map((path) => ({ path })),
  };
  const documents = [
    ...ROLES.map((role) => ({ name: PATCH_FILES[role], text: patchText(secrets[role], release, dialAddress, p) })),
    ...(p.clusterIp ? [{ name: SERVICE_PATCH_FILE, text: servicePatchText(manifest.service, p.clusterIp, release, p.dialName) }] : []),
    {
      name: KUSTOMIZATION_FILE,
      text: yamlText(
        kustomization,
        [
          `Written by skycert export k8s from ${p.source}, for ${RELEASE_SHORT[release]}.`,
          `${MANIFEST_FILE} is a copy of ${manifest.file}: kustomize refuses resources outside the overlay.`,
          "The Secrets are generated with a hash of their content in their names, so renewed certificates",
          "(skycert renew, then skycert export k8s --force) roll the pods that mount them.",
          "  kubectl kustomize <this folder>   # render",
          "  kubectl apply -k <this folder>    # apply",
        ].join("\n"),
      ),
    },
  ];
  return { dialAddress, secrets, documents };
}

function servicePatchText(service: string, clusterIp: string, release: Release, dialName: string): string {
  return yamlText(
    { apiVersion: "v1", kind: "Service", metadata: { name: service }, spec: { clusterIP: clusterIp } },
    [
      `Written by skycert export k8s: Service ${service} pinned to ClusterIP ${clusterIp}.`,
      `${RELEASE_SHORT[release]} resolves ${dialName} to its first IP and Go verifies that IP,`,
      "so the analyzer certificate carries it as an IP SAN; a ClusterIP Kubernetes picked would be unknown",
      "in advance. It must be a free address of the cluster's Service range; a Service's ClusterIP cannot",
      "change in place (delete the Service before applying if it already runs with another).",
    ].join("\n"),
  );
}

function patchText(s: SecretPlan, release: Release, dialAddress: string, p: OverlayInput): string {
  const w = s.workload;
  const container: Json = {
    name: w.container,
    env: s.env,
    volumeMounts: [{ name: VOLUME_NAME, mountPath: MOUNT_PATH, readOnly: true }],
  };
  for (const probe of w.httpProbes) container[probe.field] = { httpGet: null, tcpSocket: { port: probe.port } };
  const podSpec: Json = {
    containers: [container],
    volumes: [{ name: VOLUME_NAME, secret: { secretName: s.name, defaultMode: 0o444, items: s.files.map((f) => ({ key: f.name, path: f.name, mode: f.mode })) } }],
  };
  const notes = [
    `Written by skycert export k8s: TLS for ${w.kind} ${w.name}, ${RELEASE_SHORT[release]}.`,
    `Mounts Secret ${s.name} read-only at ${MOUNT_PATH}: ${s.files.map((f) => `${f.name} ${octal(f.mode)}`).join(", ")}`,
    "(modes are decimal in the YAML: 256 = 0400, 292 = 0444).",
    "Every Skydive process, agents too, serves its API with the server pair and dials with the client pair.",
  ];
  if (s.role === "agent") {
    notes.push(`Agents dial ${dialAddress}${p.clusterIp && release !== "0.27" ? `, which resolves to the pinned ClusterIP ${p.clusterIp}, the IP the analyzer certificate carries` : ", a name the analyzer certificate carries"}.`);
    if (w.hostNetwork) {
      podSpec.dnsPolicy = "ClusterFirstWithHostNet";
      notes.push("hostNetwork pods resolve Service names only with dnsPolicy ClusterFirstWithHostNet.");
    }
    if (release === "legacy") notes.push("Skydive up to 0.20 serves every agent's API with the analyzer's own pair: this Secret holds the analyzer's key.");
  }
  if (w.httpProbes.length) {
    notes.push("httpGet probes become tcpSocket probes on the same port: with TLS the port speaks HTTPS and asks for a", "client certificate, which the kubelet's probes cannot present.");
  }
  return yamlText({ apiVersion: "apps/v1", kind: w.kind, metadata: { name: w.name }, spec: { template: { spec: podSpec } } }, notes.join("\n"));
}
