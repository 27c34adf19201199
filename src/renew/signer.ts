/**
 * Who renews a certificate: a self-signed one signs itself again; a CA-signed
 * one is renewed by the CA that issued it, found as `--ca DIR`, else the CA
 * the fleet record names, else a `ca/` folder beside the certificate or up to
 * three levels above. A candidate is the CA only when its key verifies the
 * certificate's signature: a folder that merely looks right is never used.
 */
import { type KeyObject, X509Certificate, createPublicKey } from "node:crypto";
import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { failure, usageError } from "../cli/errors.js";
import { CA_FOLDER, type LoadedCa, findCaCert, loadCa } from "../pki/ca.js";
import { colonHex } from "../pki/keys.js";
import { type CertInfo, firstCertificate } from "../pki/read.js";

export type CaFound = "--ca" | "fleet record" | "beside the certificate";

export function signedBy(certPem: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(certPem).verify(key);
  } catch {
    return false;
  }
}

export const spkiKey = (info: CertInfo) => createPublicKey({ key: Buffer.from(info.publicKey.spki), format: "der", type: "spki" });

export const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);

/** `ca/` folders beside the certificate and up to three levels above it. */
function nearbyCaFolders(certPath: string): string[] {
  const out: string[] = [];
  for (let dir = dirname(certPath), i = 0; i < 4; i++, dir = dirname(dir)) {
    const candidate = join(dir, CA_FOLDER);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) out.push(candidate);
    if (dirname(dir) === dir) break;
  }
  return out;
}

const issuedBy = (info: CertInfo) => `${info.issuer}${info.authorityKeyIdentifier ? ` (key id ${colonHex(Buffer.from(info.authorityKeyIdentifier, "hex"))})` : ""}`;

/**
 * The CA that signed `certPem`, from the fleet record's CA then the nearby
 * `ca/` folders. Why the one that signed it cannot be used (an expired CA, a
 * key others can read) is the answer, not a reason to keep looking.
 */
export async function findIssuingCa(certPath: string, certPem: string, info: CertInfo, cwd: string, recordCa: string | undefined): Promise<{ ca: LoadedCa; found: CaFound }> {
  const seen = new Set<string>();
  const candidates = [{ spec: recordCa, found: "fleet record" as const }, ...nearbyCaFolders(certPath).map((spec) => ({ spec, found: "beside the certificate" as const }))];
  for (const { spec, found } of candidates) {
    if (!spec) continue;
    let caCert: string;
    try {
      caCert = findCaCert(spec, cwd);
    } catch {
      continue; // not a CA folder: keep looking
    }
    if (seen.has(real(caCert))) continue;
    seen.add(real(caCert));
    const caInfo = firstCertificate(caCert);
    if (caInfo && signedBy(certPem, spkiKey(caInfo))) return { ca: await loadCa(caCert, cwd, { needKey: false }), found };
  }
  if (recordCa) {
    throw failure(
      `${certPath} was issued by ${issuedBy(info)}, not by the fleet's CA ${recordCa}, and no CA folder near it signed it`,
      `pass --ca DIR with the CA that issued it, or move it to the fleet's CA: --ca ${recordCa} --change-ca`,
    );
  }
  throw usageError(`${certPath} was issued by ${issuedBy(info)}, and no CA folder near it signed it`, "pass --ca DIR with the CA that issued it");
}

/** A CA given with --ca (or the fleet's) that did not sign the certificate: refused unless --change-ca. */
export function otherCaError(certPath: string, info: CertInfo, ca: LoadedCa): Error {
  return failure(
    `${certPath} was issued by ${issuedBy(info)}, not by the CA ${ca.certPath} (key id ${colonHex(ca.keyIdentifier)})`,
    "pass --ca with the CA that issued it, or add --change-ca to move it to this CA (its peers must then trust this CA)",
  );
}
