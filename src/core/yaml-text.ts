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

/**
 * The inverse of yamlFromSettings, for configs in exactly that shape (what
 * skycert writes: nested block mappings of plain or double-quoted scalars,
 * blank lines and whole-line comments). Anything else returns undefined and the
 * caller uses the YAML library, so a fleet's hundreds of small stanza files are
 * read without it and every other file is read by it.
 */
export function readSimpleYaml(text: string): Record<string, unknown> | undefined {
  const root: Record<string, unknown> = {};
  const stack: { indent: number; node: Record<string, unknown> }[] = [{ indent: -1, node: root }];
  let pendingParent: { indent: number; node: Record<string, unknown> } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = /^( *)([A-Za-z_][A-Za-z0-9_.-]*):(?: (.*))?$/.exec(line);
    if (!m) return undefined;
    const indent = m[1]!.length;
    if (pendingParent) {
      if (indent <= pendingParent.indent) return undefined; // `key:` with nothing under it is null in YAML
      stack.push({ indent, node: pendingParent.node });
      pendingParent = undefined;
    }
    while (stack.length > 1 && indent < stack[stack.length - 1]!.indent) stack.pop();
    const top = stack[stack.length - 1]!;
    if (indent !== top.indent && !(top.indent === -1 && indent === 0)) return undefined;
    const key = m[2]!;
    if (Object.prototype.hasOwnProperty.call(top.node, key)) return undefined;
    const rest = m[3];
    if (rest === undefined || rest === "") {
      const child: Record<string, unknown> = {};
      top.node[key] = child;
      pendingParent = { indent, node: child };
      continue;
    }
    const value = simpleScalar(rest);
    if (value === undefined) return undefined;
    top.node[key] = value;
  }
  return pendingParent || Object.keys(root).length === 0 ? undefined : root;
}

function simpleScalar(text: string): string | boolean | undefined {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text.startsWith('"')) {
    if (!/^"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"$/.test(text)) return undefined;
    return JSON.parse(text) as string;
  }
  return /^[A-Za-z0-9_./+][A-Za-z0-9_./@%+-]*$/.test(text) && !RESERVED.test(text) ? text : undefined;
}
