/**
 * `skycert export k8s`: a kustomize overlay that wires TLS into Skydive's own
 * manifest (core/export-k8s builds the documents).
 *
 * - The analyzer's Secret holds its pair and its trust certificate; the agents'
 *   Secret holds theirs, never the analyzer's key; the CA key goes nowhere.
 * - Agents dial `skydive-analyzer.<ns>.svc:<api port>`, or the first Service
 *   name the analyzer certificate carries; when it carries none, export refuses
 *   with the exact `skycert init analyzer ... --force` that adds it.
 * - CA mode: a DaemonSet runs one pod template on every node and cannot pick a
 *   per-node Secret, so agents share one CA-signed certificate: the config's
 *   tls.client_* pair, issued here through init's own code path when missing.
 * - The source is checked with skycert validate (a real handshake dialing the
 *   chosen name) before anything is written.
 */
import type { KeyObject } from "node:crypto";
import { join, resolve } from "node:path";
import { usageError } from "../core/errors.js";
import { goMatches } from "../core/checks.js";
import { KUSTOMIZATION_FILE, type ManifestInfo, MANIFEST_FILE, MOUNT_PATH, buildOverlay, inspectManifest, namespaceProblem, serviceNames } from "../core/export-k8s.js";
import type { Role, Schema } from "../core/stanza.js";
import { readInput } from "../io/files.js";
import type { PassphraseSource } from "../io/passphrase.js";
import { type ExportSource, type OutDoc, type OutSet, type WrittenFile, material, readAnalyzerCert, readSource, requireCoverage, shown, sourceOf, validateSource, writeBundle } from "./export-source.js";
import { type RoleResult, initRoles } from "./init.js";

export interface ExportK8sOptions {
  cwd: string;
  manifest: string;
  out: string;
  namespace: string;
  from?: string;
  config?: string;
  force: boolean;
  passphrase?: PassphraseSource;
  /** Starts the key of a shared agent certificate, when CA mode needs one (the caller keeps key generation off the import path). */
  agentKey?: () => Promise<KeyObject>;
}

export interface K8sSecret {
  role: Role;
  name: string;
  workload: string;
  container: string;
  files: { key: string; mode: string; source: string }[];
  env: Record<string, string>;
}

export interface ExportK8sResult {
  ok: true;
  kind: "k8s";
  schema: Schema;
  source: { from: string; config: string };
  manifest: string;
  out: string;
  namespace: string;
  mountPath: string;
  dial: { name: string; address: string; setting: "SKYDIVE_ANALYZERS" };
  secrets: K8sSecret[];
  /** Env variables that name a file their pod deliberately does not get. */
  unshipped: Record<Role, string[]>;
  /** The shared agent certificate issued for CA mode, when export made it. */
  issued?: RoleResult;
  files: WrittenFile[];
  notes: string[];
  warnings: string[];
  apply: string[];
}

export async function exportK8s(opts: ExportK8sOptions): Promise<ExportK8sResult> {
  const problem = namespaceProblem(opts.namespace);
  if (problem) throw usageError(`--namespace "${opts.namespace}" ${problem}`);
  const show = (p: string) => shown(opts.cwd, p);
  const manifestPath = resolve(opts.cwd, opts.manifest);
  const manifestText = readInput(manifestPath, "--manifest").text;
  const manifest: ManifestInfo = inspectManifest(manifestText, show(manifestPath));
  const out = resolve(opts.cwd, opts.out);
  if (out === manifestPath) throw usageError("--out names the manifest itself", "choose a folder for the overlay");

  let src: ExportSource = readSource(opts);
  const notes: string[] = [];

  // The name agents dial: the first Service name the analyzer certificate carries.
  const names = serviceNames(manifest.service, opts.namespace);
  const cert = readAnalyzerCert(src);
  const dialName = (cert && names.find((n) => goMatches(cert, n))) ?? names[0]!;
  requireCoverage(src, opts.cwd, cert, [{ name: dialName, why: `the Service name agents dial in namespace ${opts.namespace}` }]);

  // CA mode: one agent certificate for every pod of the DaemonSet.
  let issued: RoleResult | undefined;
  if (src.schema === "tls") {
    const fleet = src.fleet.length;
    if (!src.agent) {
      if (!opts.agentKey) throw new Error("exportK8s: a key source is needed to issue the shared agent certificate");
      const r = await initRoles(
        {
          roles: ["agent"],
          cwd: opts.cwd,
          out: src.from,
          config: src.config,
          bits: 2048,
          days: 365,
          sans: [],
          force: false,
          dryRun: false,
          ca: src.ca,
          schema: "tls",
          passphrase: opts.passphrase,
        },
        [opts.agentKey()],
      );
      issued = r.roles[0];
      src = readSource(opts);
      if (!src.agent) throw new Error("exportK8s: the shared agent pair is not in the config after init");
      notes.push(`Issued a shared agent certificate signed by the CA (${show(src.agent.cert)}, ${issued?.subject}), as skycert init agent --ca ${show(src.ca!)} --out ${show(src.from)} does, and named it in ${show(src.config)}.`);
    }
    notes.push(
      fleet
        ? `CA mode with a fleet: the ${fleet} per-host certificates of ${show(join(src.from, "agents"))} are not used here. A DaemonSet runs one pod template on every node and cannot pick a per-node Secret, so every agent pod presents the shared agent certificate ${show(src.agent!.cert)}, signed by the same CA: the analyzer trusts it as it trusts theirs. The per-host certificates are for hosts deployed with skycert export ansible.`
        : `CA mode: every agent pod presents the shared agent certificate ${show(src.agent!.cert)}, signed by the CA, which both sides trust (tls.ca_cert); the CA key goes nowhere.`,
    );
  }

  const warnings = [...src.warnings, ...(await validateSource({ cwd: opts.cwd, config: src.config, hosts: [dialName], what: "the certificates to export" }))];

  const plan = buildOverlay({ schema: src.schema, namespace: opts.namespace, manifest, dialHost: dialName, source: show(src.config) });
  const sets: OutSet[] = (["analyzer", "agent"] as const).map((role) => {
    const s = plan.secrets[role];
    const dir = join(out, s.dir);
    return { dir, files: s.files.map((f) => ({ path: join(dir, f.name), data: material(sourceOf(src, f.name), f.kind === "key" ? `${role} key` : "certificate"), mode: f.mode })) };
  });
  // kustomization.yaml, which names everything else, is written last: a run killed before it leaves nothing kubectl would apply.
  const docs: OutDoc[] = [{ path: join(out, MANIFEST_FILE), data: manifestText }, ...plan.documents.map((d) => ({ path: join(out, d.name), data: d.text }))].sort(
    (a, b) => Number(a.path === join(out, KUSTOMIZATION_FILE)) - Number(b.path === join(out, KUSTOMIZATION_FILE)),
  );
  const files = await writeBundle(opts.cwd, out, sets, docs, opts.force);

  if (src.schema === "legacy") {
    notes.push(`Legacy cross validation: the analyzer trusts the agent certificate and the agents trust the analyzer certificate. The agents' SKYDIVE_ANALYZER_X509_KEY names the analyzer pods' key path, because older agents switch TLS on only when it is set; the key itself is only in the analyzer's Secret.`);
  }
  const agentWorkload = manifest.workloads.agent;
  if (agentWorkload.hostNetwork) notes.push(`The agents use hostNetwork, so the patch sets dnsPolicy: ClusterFirstWithHostNet for them to resolve ${dialName}.`);
  const probes = [manifest.workloads.analyzer, agentWorkload].filter((w) => w.httpProbes.length).map((w) => `${w.kind} ${w.name}`);
  if (probes.length) notes.push(`The httpGet probes of ${probes.join(" and ")} become tcpSocket probes on the same ports: with TLS those ports ask for a client certificate, which the kubelet cannot present.`);

  const outShown = show(out);
  return {
    ok: true,
    kind: "k8s",
    schema: src.schema,
    source: { from: src.from, config: src.config },
    manifest: manifestPath,
    out,
    namespace: opts.namespace,
    mountPath: MOUNT_PATH,
    dial: { name: dialName, address: plan.dialAddress, setting: "SKYDIVE_ANALYZERS" },
    secrets: (["analyzer", "agent"] as const).map((role) => {
      const s = plan.secrets[role];
      return {
        role,
        name: s.name,
        workload: `${s.workload.kind}/${s.workload.name}`,
        container: s.workload.container,
        files: s.files.map((f) => ({ key: f.name, mode: `0${f.mode.toString(8)}`, source: sourceOf(src, f.name) })),
        env: s.env,
      };
    }),
    unshipped: plan.unshipped,
    ...(issued ? { issued } : {}),
    files,
    notes,
    warnings,
    apply: [
      ...(opts.namespace !== "default" ? [`kubectl create namespace ${opts.namespace}`] : []),
      `kubectl kustomize ${outShown}`,
      `kubectl apply -k ${outShown}`,
    ],
  };
}
