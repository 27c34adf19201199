/**
 * A new Skydive config written straight from its settings, without loading a
 * YAML library: the keys skycert sets are plain names and its values are paths
 * and booleans, so a conservative rule for plain scalars suffices.
 */

const RESERVED = /^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/;

/** A scalar as YAML: plain when unambiguous, else double-quoted (JSON strings are valid YAML). */
export function yamlScalar(value: string | boolean | number): string {
  if (typeof value !== "string") return String(value);
  return /^[A-Za-z0-9_./+][A-Za-z0-9_./@%+-]*$/.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
}

/** `a.b: v` settings as nested block mappings, in the order given. */
export function yamlFromSettings(settings: Record<string, string | boolean | number>): string {
  const tree = new Map<string, unknown>();
  for (const [dotted, value] of Object.entries(settings)) {
    const parts = dotted.split(".");
    let node = tree;
    for (const part of parts.slice(0, -1)) {
      if (!(node.get(part) instanceof Map)) node.set(part, new Map());
      node = node.get(part) as Map<string, unknown>;
    }
    node.set(parts[parts.length - 1]!, value);
  }
  const lines: string[] = [];
  const walk = (node: Map<string, unknown>, indent: string) => {
    for (const [key, value] of node) {
      if (value instanceof Map) {
        lines.push(`${indent}${key}:`);
        walk(value, `${indent}  `);
      } else lines.push(`${indent}${key}: ${yamlScalar(value as string | boolean | number)}`);
    }
  };
  walk(tree, "");
  return `${lines.join("\n")}\n`;
}
