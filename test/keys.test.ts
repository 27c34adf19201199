/** RSA keys from two primes searched for in parallel: checked by OpenSSL itself. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateRsaKey, privateKeyPem } from "../src/core/keys.js";
import { ok, openssl, scratch } from "./helpers/run.js";

const dir = scratch("skycert-keys-");

/** n, e, d, p, q from `openssl rsa -text`. */
function parts(path: string): Record<string, bigint> {
  const text = ok(openssl(["rsa", "-in", path, "-noout", "-text"])).stdout;
  const out: Record<string, bigint> = {};
  for (const [name, label] of [["n", "modulus"], ["d", "privateExponent"], ["p", "prime1"], ["q", "prime2"]] as const) {
    const m = new RegExp(`${label}:\\n((?:\\s+[0-9a-f:]+\\n)+)`).exec(text)!;
    out[name] = BigInt(`0x${m[1]!.replace(/[\s:]/g, "")}`);
  }
  out.e = BigInt(/publicExponent: (\d+)/.exec(text)![1]!);
  return out;
}

describe("generateRsaKey", () => {
  for (const bits of [2048, 3072, 4096]) {
    it(`makes ${bits}-bit keys that OpenSSL's rsa -check accepts, within FIPS 186-4 B.3.3`, async () => {
      const keys = await Promise.all([generateRsaKey(bits), generateRsaKey(bits)]);
      const seen = new Set<bigint>();
      for (const [i, key] of keys.entries()) {
        const path = join(dir, `k${bits}-${i}.pem`);
        writeFileSync(path, privateKeyPem(key), { mode: 0o600 });
        expect(ok(openssl(["rsa", "-in", path, "-check", "-noout"])).stdout).toContain("RSA key ok");
        const k = parts(path);
        expect(k.n.toString(2)).toHaveLength(bits);
        expect(k.e).toBe(65537n);
        expect(k.p * k.q).toBe(k.n);
        expect((k.p > k.q ? k.p - k.q : k.q - k.p) > 1n << BigInt(bits / 2 - 100)).toBe(true);
        expect(k.d > 1n << BigInt(bits / 2)).toBe(true);
        expect(seen.has(k.n)).toBe(false);
        seen.add(k.n);
      }
    });
  }
});
