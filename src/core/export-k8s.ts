/**
 * `skycert export k8s`, the pure part: read Skydive's Kubernetes manifest for
 * what the overlay patches, and build the overlay's YAML documents
 * (kustomization with secretGenerator, strategic-merge patches).
 *
 * Pure: no fs, no console. The caller reads the manifest and writes the files.
 */
import { Document, LineCounter, isMap, parseAllDocuments } from "yaml";
import { usageError } from "./errors.js";
import { type ShippedFile, type TlsFileName, processSettings, shippedFiles, unshippedSettings } from "./export-layout.js";
import { type Role, type Schema, envName } from "./stanza.js";

export const ANALYZER_WORKLOAD = "skydive-analyzer";
export const AGENT_WORKLOAD = "skydive-agent";
export const ANALYZER_SERVICE = "skydive-analyzer";
export const MOUNT_PATH = "/etc/skydive/tls";
export const VOLUME_NAME = "skydive-tls";
export const MANIFEST_FILE = "skydive.yaml";
export const KUSTOMIZATION_FILE = "kustomization.yaml";
export const SECRET_NAMES: Record<Role, string> = { analyzer: "skydive-analyzer-tls", agent: "skydive-agent-tls" };
export const PATCH_FILES: Record<Role, string> = { analyzer: "patch-analyzer.yaml", agent: "patch-agent.yaml" };
export const SECRETS_DIR = "secrets";
/** Skydive's default analyzer port, when the Service names no `api` port. */
export const DEFAULT_API_PORT = 8082;

type Json = Record<string, unknown>;

export interface ProbeInfo {
  field: "readinessProbe" | "livenessProbe" | "startupProbe";
  port: number | string;
}

export interface WorkloadInfo {
  kind: "Deployment" | "DaemonSet";
  name: string;
  container: string;
  /** Probes that use httpGet, which the patch turns into tcpSocket on the same port. */
  httpProbes: ProbeInfo[];
  hostNetwork: boolean;
  dnsPolicy: string | undefined;
}

export interface ManifestInfo {
  file: string;
  service: string;
  apiPort: number;
  workloads: Record<Role, WorkloadInfo>;
}

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The objects the overlay patches, from Skydive's manifest (`contrib/kubernetes/skydive.yaml`). */
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
  const ports = list(obj(service.o.spec)?.ports).map(obj);
  const api = ports.find((p) => p?.name === "api") ?? ports.find((p) => p?.port === DEFAULT_API_PORT && (p?.protocol ?? "TCP") === "TCP");
  const apiPort = typeof api?.port === "number" ? api.port : DEFAULT_API_PORT;

  const workload = (kind: WorkloadInfo["kind"], name: string): WorkloadInfo => {
    const found = find(kind, name);
    if (!found) throw usageError(`--manifest ${file}: no ${kind} ${name}`, remedy);
    const podSpec = obj(obj(obj(found.o.spec)?.template)?.spec);
    const containers = list(podSpec?.containers).map(obj);
    const container = containers.find((c) => c?.name === name) ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container || typeof container.name !== "string") {
      throw usageError(`--manifest ${file}:${found.line}: ${kind} ${name} has no container named ${name}`, remedy);
    }
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
    return {
      kind,
      name,
      container: container.name,
      httpProbes,
      hostNetwork: podSpec?.hostNetwork === true,
      dnsPolicy: typeof podSpec?.dnsPolicy === "string" ? podSpec.dnsPolicy : undefined,
    };
  };
  return {
    file,
    service: ANALYZER_SERVICE,
    apiPort,
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

/**
 * The Service names a pod in the cluster resolves, most explicit first: the
 * one the agents dial is the first the analyzer certificate carries.
 */
export function serviceNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

export interface SecretPlan {
  role: Role;
  name: string;
  /** Folder of its files, relative to the overlay. */
  dir: string;
  files: ShippedFile[];
  workload: WorkloadInfo;
  /** SKYDIVE_* variables set in the workload's container: name -> value. */
  env: Record<string, string>;
}

export interface OverlayPlan {
  namespace: string;
  dialHost: string;
  dialAddress: string;
  secrets: Record<Role, SecretPlan>;
  /** Env variables that name a file their pod deliberately does not get (the legacy analyzer-key switch). */
  unshipped: Record<Role, string[]>;
  documents: { name: string; text: string }[];
}

const octal = (mode: number) => `0${mode.toString(8)}`;

function yamlText(value: unknown, comment: string): string {
  const doc = new Document(value);
  doc.commentBefore = comment
    .split("\n")
    .map((l) => (l ? ` ${l}` : ""))
    .join("\n");
  return doc.toString({ lineWidth: 0 });
}

/**
 * The overlay: kustomization.yaml (the copied manifest, one generated Secret per
 * role, the patches) and one strategic-merge patch per workload.
 */
export function buildOverlay(p: { schema: Schema; namespace: string; manifest: ManifestInfo; dialHost: string; source: string }): OverlayPlan {
  const { schema, namespace, manifest } = p;
  const dialAddress = `${p.dialHost}:${manifest.apiPort}`;
  const at = (name: TlsFileName) => `${MOUNT_PATH}/${name}`;
  const plan = (role: Role): SecretPlan => {
    const settings = processSettings(schema, role, at);
    const env: Record<string, string> = {};
    if (role === "agent") env.SKYDIVE_ANALYZERS = dialAddress;
    for (const [k, v] of Object.entries(settings)) env[envName(k)] = String(v);
    return { role, name: SECRET_NAMES[role], dir: `${SECRETS_DIR}/${role}`, files: shippedFiles(schema, role), workload: manifest.workloads[role], env };
  };
  const secrets = { analyzer: plan("analyzer"), agent: plan("agent") };
  const unshipped = { analyzer: unshippedSettings(schema, "analyzer").map(envName), agent: unshippedSettings(schema, "agent").map(envName) };

  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [MANIFEST_FILE],
    secretGenerator: (["analyzer", "agent"] as const).map((role) => ({
      name: secrets[role].name,
      type: "Opaque",
      files: secrets[role].files.map((f) => `${f.name}=${secrets[role].dir}/${f.name}`),
    })),
    patches: (["analyzer", "agent"] as const).map((role) => ({ path: PATCH_FILES[role] })),
  };
  const documents = [
    {
      name: KUSTOMIZATION_FILE,
      text: yamlText(
        kustomization,
        [
          `Written by skycert export k8s from ${p.source} (${schema} schema).`,
          `${MANIFEST_FILE} is a copy of ${manifest.file}: kustomize refuses resources outside the overlay.`,
          "The Secrets are generated with a content hash in their names, so renewed certificates",
          "(skycert renew, then skycert export k8s --force) roll the pods that mount them.",
          "  kubectl kustomize <this folder>   # render",
          "  kubectl apply -k <this folder>    # apply",
        ].join("\n"),
      ),
    },
    ...(["analyzer", "agent"] as const).map((role) => ({ name: PATCH_FILES[role], text: patchText(secrets[role], schema, role, dialAddress) })),
  ];
  return { namespace, dialHost: p.dialHost, dialAddress, secrets, unshipped, documents };
}

function patchText(s: SecretPlan, schema: Schema, role: Role, dialAddress: string): string {
  const w = s.workload;
  const container: Json = {
    name: w.container,
    env: Object.entries(s.env).map(([name, value]) => ({ name, value })),
    volumeMounts: [{ name: VOLUME_NAME, mountPath: MOUNT_PATH, readOnly: true }],
  };
  for (const probe of w.httpProbes) container[probe.field] = { httpGet: null, tcpSocket: { port: probe.port } };
  const podSpec: Json = {
    containers: [container],
    volumes: [
      {
        name: VOLUME_NAME,
        secret: {
          secretName: s.name,
          defaultMode: 0o444,
          items: s.files.map((f) => ({ key: f.name, path: f.name, mode: f.mode })),
        },
      },
    ],
  };
  const notes = [
    `Written by skycert export k8s: TLS for ${w.kind} ${w.name} (${schema} schema).`,
    `Mounts Secret ${s.name} read-only at ${MOUNT_PATH}: ${s.files.map((f) => `${f.name} ${octal(f.mode)}`).join(", ")}`,
    "(modes are decimal in the YAML: 256 = 0400, 292 = 0444).",
  ];
  if (role === "agent") {
    notes.push(`Agents dial ${dialAddress}, a name the analyzer certificate carries, not the Service's ClusterIP.`);
    if (w.hostNetwork) {
      podSpec.dnsPolicy = "ClusterFirstWithHostNet";
      notes.push("hostNetwork pods resolve Service names only with dnsPolicy ClusterFirstWithHostNet.");
    }
    if (schema === "legacy") notes.push(`SKYDIVE_ANALYZER_X509_KEY names the analyzer pods' key path (older agents switch TLS on only when it is set); the key itself is not in this pod.`);
  }
  if (w.httpProbes.length) {
    notes.push("httpGet probes become tcpSocket probes on the same port: with TLS the port speaks HTTPS and asks for a", "client certificate, which the kubelet's probes cannot present.");
  }
  return yamlText({ apiVersion: "apps/v1", kind: w.kind, metadata: { name: w.name }, spec: { template: { spec: podSpec } } }, notes.join("\n"));
}
