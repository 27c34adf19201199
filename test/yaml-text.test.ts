import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { yamlFromSettings, yamlScalar } from "../src/core/yaml-text.js";

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
