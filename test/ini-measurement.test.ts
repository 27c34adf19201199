/**
 * Why skycert does not parse with the `ini` package: what it does with the two
 * syntaxes skycert reads, pinned so the README's claim stays true.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "ini";
import { describe, expect, it } from "vitest";
import { parseCnf } from "../src/core/cnf.js";
import { SHARED } from "./helpers/run.js";

describe("ini is not faithful to OpenSSL or Ansible syntax", () => {
  it("mis-reads OpenSSL configs that OpenSSL (and skycert) read correctly", () => {
    const text = '[ v3_req ] # extensions\nkeyUsage = digitalSignature # trailing\nuri = "https://a.example/#x"\nsemi = a;b\n[ca.default]\ndir = ./demoCA\n';
    const theirs = parse(text);
    expect(Object.keys(theirs)).toContain("[ v3_req ]"); // a header with a trailing comment became a key
    expect(theirs.semi).toBe("a"); // `;` cut the value
    expect(theirs.ca).toEqual({ default: { dir: "./demoCA" } }); // a dotted section name nested
    const ours = parseCnf(text, "t.cnf");
    expect(ours.sections.get("v3_req")!.entries.map((e) => [e.name, e.value])).toEqual([
      ["keyUsage", "digitalSignature"], ["uri", "https://a.example/#x"], ["semi", "a;b"],
    ]);
    expect(ours.sections.get("ca.default")!.entries[0]!.value).toBe("./demoCA");
  });

  it("mis-reads Ansible host lines", () => {
    const inv = parse(readFileSync(join(SHARED, "skydive", "inventory-hosts.localhost.extra"), "utf8"));
    expect(inv.analyzers).toEqual({ "localhost ansible_connection": "local" });
  });
});
