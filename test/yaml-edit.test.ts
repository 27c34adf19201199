import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { editYaml } from "../src/core/yaml-edit.js";

const S = { "analyzer.X509_cert": "/a.crt", "analyzer.X509_key": "/a.key" };

describe("editing skydive.yml as text", () => {
  it("creates the keys in an empty file", () => {
    expect(editYaml("", S, "f")).toBe("analyzer:\n  X509_cert: /a.crt\n  X509_key: /a.key\n");
  });

  it("adds under an existing mapping without touching other bytes", () => {
    const src = "# top\nanalyzer:   # the analyzer\n  listen: \"0.0.0.0:8082\"   # keep me\n\n  auth:\n    api: {}\nagent:\n  listen: 1\n";
    const out = editYaml(src, S, "f");
    expect(out).toBe("# top\nanalyzer:   # the analyzer\n  listen: \"0.0.0.0:8082\"   # keep me\n\n  auth:\n    api: {}\n  X509_cert: /a.crt\n  X509_key: /a.key\nagent:\n  listen: 1\n");
  });

  it("fills a key whose value is empty (only comments under it)", () => {
    const src = "tls:\n  # client_cert: /etc/ssl/certs/agent.crt\n\nhttp:\n  x: 1\n";
    const out = editYaml(src, { "tls.client_cert": "/c.crt", "tls.require_client_cert": true }, "f");
    expect(out).toContain("tls:\n  client_cert: /c.crt\n  require_client_cert: true\n  # client_cert: /etc/ssl/certs/agent.crt\n");
    expect(parse(out)).toEqual({ tls: { client_cert: "/c.crt", require_client_cert: true }, http: { x: 1 } });
  });

  it("replaces an existing value in place, matching the key case-insensitively", () => {
    const src = "Analyzer:\n  x509_CERT: '/old.crt' # old\n";
    expect(editYaml(src, { "analyzer.X509_cert": "/new.crt" }, "f")).toBe("Analyzer:\n  x509_CERT: /new.crt # old\n");
  });

  it("quotes values that need it", () => {
    const out = editYaml("", { "agent.X509_cert": "/tls dir/#1: a.crt" }, "f");
    expect(parse(out).agent.X509_cert).toBe("/tls dir/#1: a.crt");
  });

  it("handles flow mappings by re-printing, without losing keys", () => {
    const out = editYaml("analyzer: {listen: 1}\n", S, "f");
    expect(parse(out)).toEqual({ analyzer: { listen: 1, X509_cert: "/a.crt", X509_key: "/a.key" } });
  });

  it("refuses malformed YAML and wrong types, naming the file and line", () => {
    expect(() => editYaml("a: [\n", S, "sky.yml")).toThrow(/^sky\.yml:\d+: malformed YAML/);
    expect(() => editYaml("analyzer: on\n", S, "sky.yml")).toThrow(/sky\.yml: analyzer is a value, not a mapping/);
    expect(() => editYaml("analyzer:\n  - x\n", S, "sky.yml")).toThrow(/analyzer is a list, not a mapping/);
    expect(() => editYaml("- a\n- b\n", S, "sky.yml")).toThrow(/top level is not a mapping/);
  });
});
