import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { EXIT_CODES, withCommonOptions } from "./flags.js";
import { collectHosts } from "./validate.js";
import { flushStdout } from "../io/stdout.js";

interface SourceFlags {
  from?: string;
  config?: string;
  force?: boolean;
  json?: boolean;
}

interface K8sFlags extends SourceFlags {
  manifest: string;
  out: string;
  namespace: string;
  passphraseFile?: string;
}

interface AnsibleFlags extends SourceFlags {
  inventory: string;
  out: string;
  host?: string[];
}

function parseNamespace(value: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63) {
    throw new InvalidArgumentError("A namespace is a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit.");
  }
  return value;
}

const SOURCE_HELP = `
Input: the files skycert init made, named by <from>/skydive.yml (--from, default .; --config
to name another file): legacy analyzer.X509_*/agent.X509_* or tls.* with a CA, and a fleet's
<from>/agents/<host>/ folders (init agent --ca --inventory). They are checked with skycert
validate before anything is written; the CA key is never exported.`;

export function register(program: Command): void {
  const exp = program
    .command("export")
    .summary("deliver the certificates: a kustomize overlay (k8s) or an Ansible playbook (ansible)")
    .description("Deliver the certificates skycert made the way Skydive is deployed: a kustomize overlay on Skydive's Kubernetes manifest, or an Ansible playbook for the inventory's hosts.")
    .helpOption("-h, --help", "show help")
    .addHelpText(
      "after",
      `
Examples:
  skycert export k8s --manifest skydive.yaml --out overlay --from pki
  skycert export ansible --inventory hosts.multiple --out deploy --from pki
${EXIT_CODES}`,
    );

  const k8s = exp
    .command("k8s")
    .summary("write a kustomize overlay wiring TLS into Skydive's manifest")
    .description(
      "Write a kustomize overlay to --out: a copy of the manifest (kustomize refuses resources outside the overlay), " +
        "one generated Secret for the analyzer (its pair and trust certificate) and one for the agents (theirs; never the " +
        "analyzer key), mounted read-only at /etc/skydive/tls with keys at 0400, SKYDIVE_* variables naming the mounted " +
        "files, and agents dialing the analyzer by its Service DNS name (skydive-analyzer.<namespace>.svc), which the " +
        "analyzer certificate must carry: otherwise export refuses and prints the skycert init command that adds it. " +
        "Secret names carry a content hash, so renewed certificates roll the pods. In CA mode the agents share one " +
        "CA-signed certificate (a DaemonSet cannot pick a per-node Secret), issued here when the config has none.",
    )
    .requiredOption("--manifest <file>", "Skydive's Kubernetes manifest (contrib/kubernetes/skydive.yaml)")
    .requiredOption("--out <dir>", "the overlay folder to write")
    .option("--namespace <ns>", "namespace of the deployment; agents dial skydive-analyzer.<ns>.svc", parseNamespace, "default")
    .option("--from <dir>", "folder skycert init wrote to (default: the folder of --config, else .)")
    .option("--config <file>", "the config naming the files (default: <from>/skydive.yml)")
    .option("--passphrase-file <file>", "CA mode, when a shared agent certificate must be issued: the passphrase of an encrypted CA key")
    .option("--force", "replace files of the overlay that differ (after a renewal)");
  withCommonOptions(k8s)
    .addHelpText(
      "after",
      `${SOURCE_HELP}

Examples:
  skycert init analyzer agent --san skydive-analyzer.default.svc --out pki
  skycert export k8s --manifest skydive.yaml --out overlay --from pki
  kubectl apply -k overlay

  skycert export k8s --manifest skydive.yaml --out overlay --from pki --namespace skydive --json
  skycert renew pki/analyzer/analyzer.domain.com.crt && skycert export k8s --manifest skydive.yaml --out overlay --from pki --force
${EXIT_CODES}
  Exit 1 also when the analyzer certificate lacks the name agents dial (the fix is printed).`,
    )
    .action(async (flags: K8sFlags) => {
      const [{ exportK8s }, { exportK8sView }, { render }, { passphraseSource }, { generateRsaKey }] = await Promise.all([
        import("../ops/export-k8s.js"),
        import("../views/export.js"),
        import("../render.js"),
        import("../io/passphrase.js"),
        import("../core/keys.js"),
      ]);
      const result = await exportK8s({
        cwd: process.cwd(),
        manifest: flags.manifest,
        out: flags.out,
        namespace: flags.namespace,
        from: flags.from,
        config: flags.config,
        force: Boolean(flags.force),
        passphrase: passphraseSource(flags.passphraseFile, (p) => resolve(p)),
        agentKey: () => generateRsaKey(2048),
      });
      render(result, exportK8sView, { json: Boolean(flags.json) });
      await flushStdout();
    });

  const ansible = exp
    .command("ansible")
    .summary("write an Ansible playbook that installs the TLS files and settings on each host")
    .description(
      "Write a playbook (ansible.builtin modules only) to --out with the files it copies: analyzers get the analyzer " +
        "pair and trust certificate, agents their own pair (a fleet's per-host pair when there is one) and trust " +
        "certificate, into skycert_tls_dir (default /etc/skydive/tls; folder 0700, keys 0400, certificates 0444). It sets " +
        "the TLS keys in the Skydive config at skydive_config_file (default /etc/skydive/skydive.yml), keeping its other " +
        "keys, and writes group_vars (and host_vars where needed) carrying the same keys in skydive_extra_config, merged " +
        "with what the inventory sets, for Skydive's own roles. Both variables can be set per host or group. A second " +
        "run changes nothing.",
    )
    .requiredOption("--inventory <file>", "Ansible inventory (INI or YAML) with analyzers and agents groups")
    .requiredOption("--out <dir>", "the folder to write the playbook, files and vars to")
    .option("--from <dir>", "folder skycert init wrote to (default: the folder of --config, else .)")
    .option("--config <file>", "the config naming the files (default: <from>/skydive.yml)")
    .option("--host <address>", "an address agents dial (repeatable; default: each analyzer host's ansible_host, else its name)", collectHosts)
    .option("--force", "replace files in --out that differ (after a renewal)");
  withCommonOptions(ansible)
    .addHelpText(
      "after",
      `${SOURCE_HELP}

Examples:
  skycert init analyzer agent --san 10.0.0.4 --out pki
  skycert export ansible --inventory hosts.multiple --out deploy --from pki
  ansible-playbook -i hosts.multiple deploy/skydive-tls.yml --become

  skycert init ca --out pki && skycert init analyzer --ca pki --inventory hosts.multiple --out pki
  skycert init agent --ca pki --inventory hosts.multiple --out pki
  skycert export ansible --inventory hosts.multiple --out deploy --from pki --json
${EXIT_CODES}
  Exit 1 also when the analyzer certificate lacks an analyzer host's address (the fix is printed).`,
    )
    .action(async (flags: AnsibleFlags) => {
      const [{ exportAnsible }, { exportAnsibleView }, { render }] = await Promise.all([import("../ops/export-ansible.js"), import("../views/export.js"), import("../render.js")]);
      const result = await exportAnsible({
        cwd: process.cwd(),
        inventory: flags.inventory,
        out: flags.out,
        from: flags.from,
        config: flags.config,
        hosts: flags.host ?? [],
        force: Boolean(flags.force),
      });
      render(result, exportAnsibleView, { json: Boolean(flags.json) });
      await flushStdout();
    });
}
