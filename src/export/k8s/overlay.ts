/**
 * `skycert export k8s`, the pure part: what the overlay patches in Skydive's
 * own manifest (contrib/kubernetes/skydive.yaml), and the overlay's documents:
 * the copied manifest, kustomization.yaml (one generated Secret per workload,
 * the patches) and strategic-merge patches. No fs, no console.
 */
import { LineCounter, isMap, parseAllDocuments } from "yaml";
import { usageError } from "../../cli/errors.js";
import { octal } from "../../fs/files.js";
import { ROLES, type Release, type Role } from "../../skydive/release.js";
import { ANALYZER_PORT, envName, hostSettings } from "../../skydive/settings.js";
import { yamlText } from "../bundle.js";
import { releaseShort } from "../source.js";

/** Skydive's manifest; each workload's container is named as the workload, and its TLS Secret after it. */
const WORKLOADS = { analyzer: { kind: "Deployment", name: "skydive-analyzer" }, agent: { kind: "DaemonSet", name: "skydive-agent" } } as const;
const SERVICE = "skydive-analyzer";
export const MOUNT_PATH = "/etc/skydive/tls";
const VOLUME = "skydive-tls";
const MANIFEST_FILE = "skydive.yaml";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The objects the overlay patches, from Skydive's manifest. */
export function inspectManifest(text: string, file: string) {
  const lc = new LineCounter();
  const objects: { o: Json; line: number }[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lc, prettyErrors: false })) {
    const problem = doc.errors[0];
    if (problem) throw usageError(`--manifest ${file}:${lc.linePos(problem.pos[0]).line}: malformed YAML (${problem.message.split("\n")[0]})`);
    if (doc.contents === null) continue;
    const line = lc.linePos(doc.contents.range?.[0] ?? 0).line;
    if (!isMap(doc.contents)) throw usageError(`--manifest ${file}:${line}: a document that is not a Kubernetes object (a mapping)`);
    objects.push({ o: doc.toJS({ maxAliasCount: 100 }) as Json, line });
  }
  const find = (kind: string, name: string) => objects.find(({ o }) => o.kind === kind && obj(o.metadata)?.name === name);
  const remedy = "pass Skydive's manifest (contrib/kubernetes/skydive.yaml), which deploys Service and Deployment skydive-analyzer and DaemonSet skydive-agent";

  const service = find("Service", SERVICE);
  if (!service) throw usageError(`--manifest ${file}: no Service ${SERVICE}, which agents dial`, remedy);
  const spec = obj(service.o.spec);
  const ports = list(spec?.ports).map(obj);
  const api = ports.find((p) => p?.name === "api") ?? ports.find((p) => p?.port === ANALYZER_PORT && (p?.protocol ?? "TCP") === "TCP");
  const clusterIp = typeof spec?.clusterIP === "string" && spec.clusterIP !== "" && spec.clusterIP !== "None" ? spec.clusterIP : undefined;

  const workload = (role: Role) => {
    const { kind, name } = WORKLOADS[role];
    const found = find(kind, name);
    if (!found) throw usageError(`--manifest ${file}: no ${kind} ${name}`, remedy);
    const at = `--manifest ${file}:${found.line}`;
    const podSpec = obj(obj(obj(found.o.spec)?.template)?.spec);
    const containers = list(podSpec?.containers).map(obj);
    const container = containers.find((c) => c?.name === name) ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container || typeof container.name !== "string") throw usageError(`${at}: ${kind} ${name} has no container named ${name}`, remedy);
    if (list(podSpec?.volumes).some((v) => obj(v)?.name === VOLUME)) throw usageError(`${at}: ${kind} ${name} already has a volume named ${VOLUME}`, "rename it: the overlay mounts the TLS Secret under that name");
    for (const m of list(container.volumeMounts).map(obj)) {
      if (typeof m?.mountPath === "string" && (m.mountPath === MOUNT_PATH || MOUNT_PATH.startsWith(`${m.mountPath.replace(/\/$/, "")}/`) || m.mountPath.startsWith(`${MOUNT_PATH}/`))) {
        throw usageError(`${at}: container ${container.name} already mounts ${m.mountPath}, where the overlay mounts the TLS files (${MOUNT_PATH})`);
      }
    }
    // httpGet probes become tcpSocket probes on the same port.
    const httpProbes = (["readinessProbe", "livenessProbe", "startupProbe"] as const).flatMap((field) => {
      const port = obj(obj(container[field])?.httpGet)?.port;
      return typeof port === "number" || typeof port === "string" ? [{ field, port }] : [];
    });
    return { kind, name, container: container.name, httpProbes, hostNetwork: podSpec?.hostNetwork === true };
  };
  return { file, text, service: SERVICE, apiPort: typeof api?.port === "number" ? api.port : ANALYZER_PORT, clusterIp, workloads: { analyzer: workload("analyzer"), agent: workload("agent") } };
}

export type ManifestInfo = ReturnType<typeof inspectManifest>;

/** The Service names a pod resolves, most explicit first: agents dial the first the analyzer certificate carries. */
export function serviceNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

/** A key of a Secret (the file name under MOUNT_PATH), and where its bytes come from. */
export type SecretFile = { name: string; mode: number; source: string };

export interface OverlayInput {
  release: Release;
  namespace: string;
  manifest: ManifestInfo;
  /** The name agents dial (SKYDIVE_ANALYZERS host). */
  dialName: string;
  /** Pinned on the Service when set. */
  clusterIp?: string | undefined;
  files: Record<Role, SecretFile[]>;
  /** For the comments: where the files come from. */
  source: string;
}

const at = (name: string) => `${MOUNT_PATH}/${name}`;

/** A workload's Secret, and the SKYDIVE_* variables naming its files as the container's release loads them (legacy pods load both pairs). */
function secretPlan(p: OverlayInput, role: Role, dialAddress: string) {
  const pair = (r: Role) => ({ cert: at(`${r}.crt`), key: at(`${r}.key`) });
  const files = p.release === "legacy" ? { legacy: { analyzer: pair("analyzer"), agent: pair("agent") } } : { own: pair(role), ca: at("ca.crt") };
  const settings = hostSettings(p.release, [role], files, role === "agent" ? [dialAddress] : []);
  // viper splits a list given in the environment on white space.
  const env = Object.entries(settings).map(([k, v]) => ({ name: envName(k), value: Array.isArray(v) ? v.join(" ") : String(v) }));
  return { role, name: `${WORKLOADS[role].name}-tls`, dir: `secrets/${role}`, files: p.files[role], workload: p.manifest.workloads[role], env };
}

export function buildOverlay(p: OverlayInput) {
  const { release, namespace, manifest } = p;
  const dialAddress = `${p.dialName}:${manifest.apiPort}`;
  const secrets = { analyzer: secretPlan(p, "analyzer", dialAddress), agent: secretPlan(p, "agent", dialAddress) };
  const patches = [...ROLES.map((role) => `patch-${role}.yaml`), ...(p.clusterIp ? ["patch-service.yaml"] : [])];
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [MANIFEST_FILE],
    secretGenerator: ROLES.map((role) => ({ name: secrets[role].name, type: "Opaque", files: secrets[role].files.map((f) => `${f.name}=${secrets[role].dir}/${f.name}`) })),
    patches: patches.map((path) => ({ path })),
  };
  const kustomizationNote = [
    `Written by skycert export k8s from ${p.source}, for ${releaseShort(release)}.`,
    `${MANIFEST_FILE} is a copy of ${manifest.file}: kustomize refuses resources outside the overlay.`,
    "The Secrets are generated with a hash of their content in their names, so renewed certificates",
    "(skycert renew, then skycert export k8s --force) roll the pods that mount them.",
    "  kubectl kustomize <this folder>   # render",
    "  kubectl apply -k <this folder>    # apply",
  ];
  // kustomization.yaml last: it names everything else, so a run killed before it leaves nothing kubectl would pick up.
  const documents = [
    { name: MANIFEST_FILE, text: manifest.text },
    ...ROLES.map((role) => ({ name: `patch-${role}.yaml`, text: patchText(secrets[role], release, dialAddress, p) })),
    ...(p.clusterIp ? [{ name: "patch-service.yaml", text: servicePatchText(manifest.service, p.clusterIp, release, p.dialName) }] : []),
    { name: "kustomization.yaml", text: yamlText(kustomization, kustomizationNote.join("\n")) },
  ];
  return { dialAddress, secrets, documents };
}

function servicePatchText(service: string, clusterIp: string, release: Release, dialName: string): string {
  return yamlText(
    { apiVersion: "v1", kind: "Service", metadata: { name: service }, spec: { clusterIP: clusterIp } },
    [
      `Written by skycert export k8s: Service ${service} pinned to ClusterIP ${clusterIp}.`,
      `${releaseShort(release)} resolves ${dialName} to its first IP and Go verifies that IP,`,
      "so the analyzer certificate carries it as an IP SAN; a ClusterIP Kubernetes picked would be unknown",
      "in advance. It must be a free address of the cluster's Service range; a Service's ClusterIP cannot",
      "change in place (delete the Service before applying if it already runs with another).",
    ].join("\n"),
  );
}

function patchText(s: ReturnType<typeof secretPlan>, release: Release, dialAddress: string, p: OverlayInput): string {
  const w = s.workload;
  const container: Json = { name: w.container, env: s.env, volumeMounts: [{ name: VOLUME, mountPath: MOUNT_PATH, readOnly: true }] };
  for (const probe of w.httpProbes) container[probe.field] = { httpGet: null, tcpSocket: { port: probe.port } };
  const podSpec: Json = {
    containers: [container],
    volumes: [{ name: VOLUME, secret: { secretName: s.name, defaultMode: 0o444, items: s.files.map((f) => ({ key: f.name, path: f.name, mode: f.mode })) } }],
  };
  const notes = [
    `Written by skycert export k8s: TLS for ${w.kind} ${w.name}, ${releaseShort(release)}.`,
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
