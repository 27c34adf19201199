/**
 * The extension model against OpenSSL: for each section, the seed recipe's
 * `openssl x509 -req -signkey KEY -extfile cnf -extensions ext` and skycert's
 * issuance, with the same key, must print the same X509v3 extensions.
 */
import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCnf } from "../src/pki/cnf.js";
import { CnfError } from "../src/pki/cnf.js";
import { ensure, readExtensionSection } from "../src/pki/extensions.js";
import { commonNameDer, makeCertificate, randomSerial } from "../src/pki/issue.js";
import { toPem } from "../src/pki/pem.js";
import { ok, openssl, scratch } from "./helpers/run.js";

const dir = scratch("skycert-ext-");
const keyPath = join(dir, "k.pem");
ok(openssl(["genrsa", "-out", keyPath, "2048"]));
ok(openssl(["req", "-new", "-key", keyPath, "-subj", "/CN=skydive-analyzer", "-out", join(dir, "r.csr"), "-config", "/dev/null"]));
const key = createPrivateKey(readFileSync(keyPath));

function extensionBlock(certPath: string): string {
  const text = ok(openssl(["x509", "-in", certPath, "-noout", "-text"])).stdout;
  return text.slice(text.indexOf("X509v3 extensions:"), text.indexOf("Signature Algorithm:", text.indexOf("X509v3 extensions:")));
}

function both(name: string, section: string) {
  const cnfPath = join(dir, `${name}.cnf`);
  writeFileSync(cnfPath, `[ext]\n${section}\n`);
  const theirs = join(dir, `${name}.openssl.crt`);
  ok(openssl(["x509", "-req", "-days", "30", "-in", join(dir, "r.csr"), "-signkey", keyPath, "-out", theirs, "-extfile", cnfPath, "-extensions", "ext"]), "openssl x509");
  const cnf = parseCnf(section.startsWith("[") ? section : `[ext]\n${section}\n`, cnfPath);
  const specs = ensure(readExtensionSection(cnf, "ext", { file: cnfPath, line: 1 }), { kind: "subjectKeyIdentifier", critical: false, mode: "hash" });
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const der = makeCertificate({
    subject: commonNameDer("skydive-analyzer"),
    subjectKey: key,
    extensions: specs,
    serial: randomSerial(),
    notBefore: now,
    notAfter: new Date(now.getTime() + 30 * 86400_000),
  });
  const ours = join(dir, `${name}.skycert.crt`);
  writeFileSync(ours, toPem("CERTIFICATE", der));
  return { theirs: extensionBlock(theirs), ours: extensionBlock(ours), oursPath: ours };
}

const sections: [string, string][] = [
  ["seed v3_req", "basicConstraints = CA:TRUE\nkeyUsage = digitalSignature, keyEncipherment, keyCertSign\nextendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = @alt\n[alt]\nDNS.1 = agent.domain.com\nDNS.2 = analyzer.domain.com\nDNS.3 = localhost\nIP.1 = 192.168.1.1\nIP.2 = 192.168.69.14\nIP.3 = 127.0.0.1"],
  ["every keyUsage, critical", "keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly"],
  ["keyUsage long names", "keyUsage = Digital Signature, Certificate Sign, CRL Sign"],
  ["single keyUsage bit", "keyUsage = keyAgreement"],
  ["extendedKeyUsage names, long names and OIDs", "extendedKeyUsage = serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning, ipsecIKE, msCodeInd, TLS Web Server Authentication, 1.3.6.1.4.1.99999.1, anyExtendedKeyUsage"],
  ["basicConstraints critical with pathlen", "basicConstraints = critical, CA:true, pathlen:3"],
  ["basicConstraints CA:FALSE", "basicConstraints = CA:FALSE"],
  ["inline SAN of every type", "subjectAltName = DNS:a.example, DNS:*.wild.example, IP:10.0.0.4, IP:2001:db8::1, IP:::ffff:10.1.2.3, email:ops@example.com, URI:spiffe://skydive/agent"],
  ["critical SAN section", "subjectAltName = critical,@alt\n[alt]\nDNS = x.example\nIP.1 = ::1"],
  ["explicit key identifiers", "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always"],
  ["hex subjectKeyIdentifier", "subjectKeyIdentifier = 01:02:03:04:05"],
  ["Debian v3_ca", "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always,issuer\nbasicConstraints = critical,CA:true"],
];

describe("extensions match openssl x509 -extensions", () => {
  for (const [name, section] of sections) {
    it(name, () => {
      const r = both(name.replace(/\W+/g, "_"), section);
      expect(r.theirs).toContain("X509v3");
      expect(r.ours).toBe(r.theirs);
      // Go and OpenSSL both insist on DER: re-encoding must be the identity.
      const der = ok(openssl(["x509", "-in", r.oursPath, "-outform", "DER"])).stdout;
      expect(der.length).toBeGreaterThan(0);
    });
  }
});

describe("extension errors name the extension and the line", () => {
  const bad: [string, string, RegExp][] = [
    ["unknown extension", "basicConstraints = CA:TRUE\nfrobnicate = yes", /:3: unknown extension name "frobnicate"/],
    ["known but unsupported", "nsComment = hello", /:2: extension nsComment is not supported by skycert/],
    ["unknown key usage", "keyUsage = digitalSignature, signEverything", /keyUsage: unknown usage "signEverything"/],
    ["unknown EKU", "extendedKeyUsage = serverAuth, superAuth", /extendedKeyUsage: unknown usage "superAuth"/],
    ["bad CA value", "basicConstraints = CA:maybe", /CA needs TRUE or FALSE/],
    ["pathlen without CA", "basicConstraints = CA:FALSE, pathlen:1", /pathlen is only allowed with CA:TRUE/],
    ["missing @section", "subjectAltName = @nowhere", /refers to section \[nowhere\], which is not defined/],
    ["bad IP", "subjectAltName = @alt\n[alt]\nIP.1 = 300.1.2.3", /:4: subjectAltName: IP "300\.1\.2\.3" is not an IPv4 or IPv6 address/],
    ["bad DNS", "subjectAltName = DNS:bad_name.example", /DNS name "bad_name\.example" has a label/],
    ["oversized DNS label", `subjectAltName = DNS:${"a".repeat(64)}.example`, /has a label of 64 characters/],
    ["type case matters", "subjectAltName = dns:a.example", /unknown name type "dns"/],
    ["untyped SAN", "subjectAltName = a.example", /"a\.example" has no type/],
    ["empty list item", "keyUsage = digitalSignature,,keyCertSign", /empty name/],
    ["raw DER", "basicConstraints = DER:30:00", /raw DER: values are not supported/],
  ];
  for (const [name, section, message] of bad) {
    it(name, () => {
      const cnf = parseCnf(`[ext]\n${section}\n`, "bad.cnf");
      let caught: unknown;
      try {
        readExtensionSection(cnf, "ext", { file: "bad.cnf", line: 1 });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CnfError);
      expect((caught as Error).message).toMatch(/^bad\.cnf:\d+: /);
      expect((caught as Error).message).toMatch(message);
    });
  }
});
