import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readSimpleYaml, yamlFromSettings, yamlScalar } from "../src/core/yaml-text.js";

describe("new configs written without the YAML library", () => {
  it("nests dotted keys in order", () => {
    expect(yamlFromSettings({ "tls.server_cert": "/a.crt", "tls.require_client_cert": true, "analyzer.X509_key": "/k" })).toBe(
      "tls:\n  server_cert: /a.crt\n  require_client_cert: true\nanalyzer:\n  X509_key: /k\n",
    );
  });

  it("quotes whatever YAML would read as something else", () => {
    for (const v of ["true", "no", "null", "~", "1e3", "0x1f", "012", ".inf", "a: b", "#x", "- x", "", " lead", "tls dir/x", "ünï", "[a]", "*ref", "!tag"]) {
      expect(parse(`k: ${yamlScalar(v)}\n`).k).toBe(v);
    }
  });

  it("every string survives a round trip through a real YAML parser", () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (s, b) => {
        expect(parse(yamlFromSettings({ "a.b": s, "a.c": b }))).toEqual({ a: { b: s, c: b } });
      }),
      { numRuns: 500 },
    );
  });
});

describe("reading configs in skycert's own shape without the YAML library", () => {
  it("reads what yamlFromSettings writes, exactly as a YAML parser does", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6}){0,2}$/), fc.oneof(fc.string(), fc.boolean()), { maxKeys: 6 }), (settings) => {
        const text = yamlFromSettings(settings);
        let expected: unknown;
        try {
          expected = parse(text);
        } catch {
          return; // conflicting paths (a.b and a.b.c): not a config skycert writes
        }
        const ours = readSimpleYaml(text);
        if (ours !== undefined) expect(ours).toEqual(expected);
      }),
      { numRuns: 500 },
    );
    expect(readSimpleYaml("tls:\n  client_cert: /a b/x.crt\n")).toBeUndefined();
    expect(readSimpleYaml(yamlFromSettings({ "tls.client_cert": "/x.crt", "tls.require_client_cert": true }))).toEqual({ tls: { client_cert: "/x.crt", require_client_cert: true } });
  });

  it("defers every other shape to the YAML library rather than guess", () => {
    for (const text of ["a: 1\n", "a: [x]\n", "a:\nb: x\n", "a: x\na: y\n", "a: 'x'\n", "a: &x y\n", "- a\n", "a:\n    b: x\n  c: y\n", "a: x # c\n", "a:\n"]) {
      const ours = readSimpleYaml(text);
      if (ours !== undefined) expect(ours).toEqual(parse(text));
    }
    expect(readSimpleYaml("# skydive\ntls:\n\n  ca_cert: /ca.crt\nanalyzers:\n  x: \"a: b\"\n")).toEqual({ tls: { ca_cert: "/ca.crt" }, analyzers: { x: "a: b" } });
  });
});
