import type { Command } from "commander";
import { dirname, resolve } from "node:path";
import { usageError } from "../cli/errors.js";
import { usageSections, withCommonOptions } from "../cli/flags.js";
import type { Settings } from "../skydive/settings.js";

/** `key=value`: true/false are booleans (tls.require_client_cert), `analyzers` is a comma-separated list. */
export function parseAssignment(text: string): [string, Settings[string]] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw usageError(`"${text}" is not KEY=VALUE`, "write each setting as key=value, e.g. tls.require_client_cert=true");
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(key)) throw usageError(`"${key}" is not a setting name`, "use the dotted name, e.g. tls.server_cert");
  if (key.toLowerCase() === "analyzers") return [key, value.split(",").map((s) => s.trim()).filter(Boolean)];
  if (value === "true" || value === "false") return [key, value === "true"];
  return [key, value];
}

export function register(program: Command): void {
  const config = program.command("config").summary("edit a Skydive config's settings, keeping everything else").description("Edit Skydive configs the way skycert's remedies do.");
  const set = config
    .command("set")
    .summary("set keys in a Skydive config file")
    .description(
      "Set keys in a Skydive YAML config by editing its text: every other key, comment and blank line stays as it was, the " +
        "previous file is kept as FILE.bak, and a malformed file is refused rather than overwritten.",
    )
    .argument("<file>", "the Skydive config (skydive.yml)")
    .argument("<key=value...>", "settings to set; true/false are booleans, analyzers takes host:port,host:port");
  withCommonOptions(set)
    .addHelpText(
      "after",
      usageSections({
        positional: [
          ["file", "the Skydive config to edit (created when missing)"],
          ["key=value", "a dotted key and its value"],
        ],
        examples: `
skycert config set skydive.yml tls.require_client_cert=true
skycert config set /etc/skydive/skydive.yml tls.server_cert=/etc/skydive/tls/agent.crt tls.server_key=/etc/skydive/tls/agent.key
        `,
      }),
    )
    .action(async (file: string, assignments: string[], flags: { json?: boolean }) => {
      const [{ render }, { prepareConfigUpdate, commitConfigUpdate }, { ensureDir, withLock }] = await Promise.all([import("../cli/render.js"), import("../skydive/config.js"), import("../fs/files.js")]);
      const path = resolve(file);
      const settings: Settings = Object.fromEntries(assignments.map(parseAssignment));
      await ensureDir(dirname(path));
      const changed = await withLock(dirname(path), async () => commitConfigUpdate(prepareConfigUpdate(path, settings), false));
      render({ ok: true, config: path, changed, settings }, (r) => [
        { kind: "heading", text: `${r.changed ? "Set" : "Already set"} in ${file}:` },
        { kind: "fields", rows: Object.entries(r.settings).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]) },
      ], { json: Boolean(flags.json) });
    });
}
