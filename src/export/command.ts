import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { skydiveOption, usageSections, withCommonOptions } from "../cli/flags.js";
import type { ExportAnsibleOptions } from "./ansible/export.js";
import type { ExportK8sOptions } from "./k8s/export.js";

type Flags<T> = Omit<T, "cwd" | "force" | "passphrase"> & { force?: boolean; json?: boolean };

function parseNamespace(value: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63) {
    throw new InvalidArgumentError("A namespace is a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit.");
  }
  return value;
}

/** Checked by the work (node:net is not loaded for --help). */
function parseClusterIp(value: string): string {
  if (!/^[0-9a-fA-F.:]+$/.test(value)) throw new InvalidArgumentError("A ClusterIP is an IPv4 or IPv6 address of the cluster's Service range.");
  return value;
}

const SOURCE_HELP = `
Input: the folder skycert init wrote (--from, default .): a legacy folder (its skydive.yml names
analyzer.X509_* and agent.X509_*; --config names another file), or a CA fleet (its skycert.json).
It must pass skycert validate first. Release: --skydive, else the fleet record's, else legacy for a
legacy skydive.yml, else 0.27. Every Skydive process, agents too, serves its API with the server
pair and dials with the client pair: on legacy (up to 0.20) agents need the analyzer's certificate
and key, and the output says what that costs. The CA key is never exported.`;

export function register(program: Command): void {
  const exp = program
    .command("export")
    .summary("deliver the certificates: a kustomize overlay (k8s) or an Ansible playbook (ansible)")
    .description("Deliver the certificates skycert made the way Skydive is deployed: a kustomize overlay on Skydive's Kubernetes manifest, or an Ansible playbook for an inventory's hosts.")
    .helpOption("-h, --help", "show help")
    .addHelpText(
      "after",
      usageSections({
        examples: `
skycert export k8s --manifest skydive.yaml --out overlay --from pki
skycert export ansible --inventory hosts --out deploy --from pki
        `,
      }),
    );

  const k8s = exp
    .command("k8s")
    .summary("write a kustomize overlay wiring TLS into Skydive's manifest")
    .description(
      "Write a kustomize overlay to --out: a copy of the manifest (kustomize refuses resources outside the overlay), one " +
        "generated Secret per workload (a content hash in its name, so renewed certificates roll the pods), mounted read-only " +
        "at /etc/skydive/tls (certificates 0444, keys 0400), SKYDIVE_* variables naming the mounted files as the release loads " +
        "them, agents dialing the analyzer's Service by name (SKYDIVE_ANALYZERS; dnsPolicy ClusterFirstWithHostNet for their " +
        "hostNetwork), httpGet probes turned into tcpSocket.\n\n" +
        "Legacy: both pods get all four files (agent pods hold the analyzer's key). CA fleet: the analyzer pods get one analyzer " +
        "host's certificate and key and the CA certificate; every agent pod one shared agent certificate (a DaemonSet cannot mount " +
        "a per-node Secret), issued by the fleet's CA into <from>/agents/k8s-shared/ when absent.\n\n" +
        "Up to Skydive 0.26 agents resolve the Service name to its ClusterIP and Go verifies that IP: pass --cluster-ip IP, which " +
        "the overlay pins on the Service and the analyzer certificate must carry. From 0.27 the certificate must carry the Service " +
        "name (skydive-analyzer.<namespace>.svc). Otherwise export writes nothing and prints the skycert renew --san that adds it.",
    )
    .requiredOption("--manifest <file>", "Skydive's Kubernetes manifest (contrib/kubernetes/skydive.yaml)")
    .requiredOption("--out <dir>", "the overlay folder to write")
    .option("--namespace <ns>", "namespace of the deployment; agents dial skydive-analyzer.<ns>.svc", parseNamespace, "default")
    .option("--from <dir>", "folder skycert init wrote (default: the folder of --config, else .)")
    .option("--config <file>", "legacy: the config naming the files (default: <from>/skydive.yml)")
    .addOption(skydiveOption("default: the fleet record's, else legacy for a legacy skydive.yml, else 0.27"))
    .option("--cluster-ip <ip>", "pin the analyzer Service's ClusterIP, which agents up to 0.26 verify (required for legacy and 0.21)", parseClusterIp)
    .option("--passphrase-file <file>", "CA fleet, when the agents' shared certificate must be issued: the passphrase of an encrypted CA key (first line)")
    .option("--force", "replace files of the overlay that differ (after a renewal)");
  withCommonOptions(k8s)
    .addHelpText(
      "after",
      `${SOURCE_HELP}
${usageSections({
  examples: `
# Skydive 0.27, a CA fleet (the analyzer certificate carries the Service name):
skycert init ca --out pki
skycert init analyzer --ca pki --hosts analyzer=skydive-analyzer.default.svc --out pki
skycert export k8s --manifest skydive.yaml --out overlay --from pki
kubectl apply -k overlay

# Skydive 0.21 to 0.26: agents verify the Service's ClusterIP, pinned here:
skycert export k8s --manifest skydive.yaml --out overlay --from pki --skydive 0.21 --cluster-ip 10.96.0.50

# Legacy (up to 0.20), the seed's self-signed pairs:
skycert init analyzer agent --san 10.96.0.50 --out pki
skycert export k8s --manifest skydive.yaml --out overlay --from pki --cluster-ip 10.96.0.50 --namespace skydive --json

# After a renewal: the Secrets get new names and the pods roll
skycert renew pki/analyzers/analyzer/analyzer.crt && skycert export k8s --manifest skydive.yaml --out overlay --from pki --force
  `,
  exitCodes: `
Exit codes:
  0  success
  1  failure: the analyzer certificate lacks what agents verify (the renew command is printed), the source
     fails skycert validate, files of the overlay differ without --force, a write failed
  2  usage: bad flag value, no --cluster-ip for legacy or 0.21, unreadable manifest or source`,
})}`,
    )
    .action(async (flags: Flags<ExportK8sOptions> & { passphraseFile?: string }) => {
      const [{ exportK8s }, { exportK8sView }, { render }, { passphraseSource }] = await Promise.all([import("./k8s/export.js"), import("./k8s/view.js"), import("../cli/render.js"), import("../cli/passphrase.js")]);
      const passphrase = passphraseSource(flags.passphraseFile, (p) => resolve(p));
      render(await exportK8s({ ...flags, cwd: process.cwd(), force: Boolean(flags.force), passphrase }), exportK8sView, { json: Boolean(flags.json) });
    });

  const ansible = exp
    .command("ansible")
    .summary("write an Ansible playbook that installs each host's TLS files and settings")
    .description(
      "Write a playbook (ansible.builtin modules only, hosts analyzers:agents) and the files it copies to --out. The inventory " +
        "is read by Ansible itself (ansible-inventory). Per host: the folder skycert_tls_dir (default: the fleet's deploy dir, " +
        "else /etc/skydive/tls) at 0700, its files (keys 0400, certificates 0444, never shown in Ansible's output), and the " +
        "release's TLS settings in the Skydive config at skydive_config_file (default /etc/skydive/skydive.yml), other keys kept. " +
        "skydive_extra_config becomes the inventory's value combined with the same settings, for Skydive's roles skydive_analyzer " +
        "and skydive_agent in the same run. A second run changes nothing.\n\n" +
        "CA fleet (0.21, 0.27): each host gets its own certificate and key and the CA certificate; analyzers require client " +
        "certificates; agents dial the fleet's analyzers. Legacy: every host gets all four files, agents dial the inventory's " +
        "analyzers (ansible_host, else the name; port 8082).",
    )
    .requiredOption("--inventory <file>", "Ansible inventory (INI or YAML) with analyzers and agents groups")
    .requiredOption("--out <dir>", "the folder to write the playbook and its files to")
    .option("--from <dir>", "folder skycert init wrote (default: the folder of --config, else .)")
    .option("--config <file>", "legacy: the config naming the files (default: <from>/skydive.yml)")
    .addOption(skydiveOption("default: the fleet record's, else legacy for a legacy skydive.yml, else 0.27"))
    .option("--force", "replace files in --out that differ (after a renewal)");
  withCommonOptions(ansible)
    .addHelpText(
      "after",
      `${SOURCE_HELP}
${usageSections({
  examples: `
# A CA fleet (Skydive 0.27 by default):
skycert init ca --out pki
skycert init analyzer agent --ca pki --inventory hosts --out pki
skycert export ansible --inventory hosts --out deploy --from pki
ansible-playbook -i hosts deploy/skydive-tls.yml --become

# Per host or group in the inventory: skycert_tls_dir=/opt/skydive/tls skydive_config_file=/opt/skydive/skydive.yml
# Skydive's roles in the same run, with skydive_extra_config carrying the TLS settings:
#   site.yml: - import_playbook: deploy/skydive-tls.yml
#             - import_playbook: skydive/playbook.yml

# Legacy (up to 0.20), the seed's self-signed pairs:
skycert init analyzer agent --san 10.0.0.4 --out pki
skycert export ansible --inventory hosts --out deploy --from pki --json
  `,
  exitCodes: `
Exit codes:
  0  success
  1  failure: a host has no certificate in the fleet (the init command is printed), the source fails
     skycert validate, files in --out differ without --force, a write failed
  2  usage: bad flag value, unreadable inventory (as ansible-inventory reads it) or source`,
})}`,
    )
    .action(async (flags: Flags<ExportAnsibleOptions>) => {
      const [{ exportAnsible }, { exportAnsibleView }, { render }] = await Promise.all([import("./ansible/export.js"), import("./ansible/view.js"), import("../cli/render.js")]);
      render(await exportAnsible({ ...flags, cwd: process.cwd(), force: Boolean(flags.force) }), exportAnsibleView, { json: Boolean(flags.json) });
    });
}
