/**
 * Go's x509 Certificate.Verify, as Skydive's analyzer and agents call it: the
 * one implementation of "would Go trust this", for validate's trust check
 * (certificates read by certinfo.ts) and validate --fleet's (read by the DER
 * walker). Pure: signatures are checked with crypto.verify over the TBS bytes.
 */
import { type KeyObject, constants, createPublicKey, verify } from "node:crypto";
import type { CertInfo } from "./certinfo.js";
import { EKU_ANY, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, SIGNATURE_ALGORITHMS } from "./oids.js";
import { isoDay } from "./time.js";
import { type SignedParts, type Tlv, children, oidText, signedParts, tlv } from "./x509-raw.js";

/** The parts of a certificate Go's verifier reads; certinfo's CertInfo and the walker's RawCertificate both are one. */
export type TrustCert = Pick<CertInfo, "der" | "subject" | "subjectDer" | "issuer" | "issuerDer" | "notBefore" | "notAfter" | "version" | "basicConstraints" | "keyUsage" | "extendedKeyUsage"> & {
  signature: Pick<CertInfo["signature"], "name" | "hash">;
  publicKey: Pick<CertInfo["publicKey"], "spki">;
  extensions: Pick<CertInfo["extensions"][number], "oid" | "name" | "critical">[];
  /** Its signed parts, when the reader already has them (the DER walker does). */
  signed?: SignedParts;
};

export type Usage = "serverAuth" | "clientAuth";
export const USAGE_OID: Record<Usage, string> = { serverAuth: EKU_SERVER_AUTH, clientAuth: EKU_CLIENT_AUTH };
export const WEAK_HASHES = new Set(["MD5", "SHA-1"]);

/** Extensions Go's verifier understands when critical; any other critical one fails verification. */
const GO_HANDLED_CRITICAL = new Set(["2.5.29.15", "2.5.29.19", "2.5.29.17", "2.5.29.30", "2.5.29.31", "2.5.29.35", "2.5.29.37", "2.5.29.32", "2.5.29.14", "1.3.6.1.5.5.7.1.1"]);

export interface GoVerifyResult {
  ok: boolean;
  chain?: TrustCert[];
  error?: string;
}

export const sameDer = (a: TrustCert, b: TrustCert) => Buffer.compare(a.der, b.der) === 0;
export const cn = (c: TrustCert) => /(?:^|,\s*)CN=([^,]+)/.exec(c.subject)?.[1] ?? (c.subject || "(empty subject)");

function timeProblem(c: TrustCert, now: Date): string | undefined {
  if (c.notBefore && now.getTime() < c.notBefore.getTime()) return `x509: certificate "${cn(c)}" is not valid before ${isoDay(c.notBefore)}`;
  if (c.notAfter && now.getTime() > c.notAfter.getTime()) return `x509: certificate "${cn(c)}" has expired (${isoDay(c.notAfter)})`;
  return undefined;
}

function unhandledCritical(c: TrustCert): string | undefined {
  const e = c.extensions.find((x) => x.critical && !GO_HANDLED_CRITICAL.has(x.oid));
  return e ? `x509: unhandled critical extension ${e.name} in "${cn(c)}"` : undefined;
}

/** Go's CheckSignatureFrom: the parent must be allowed to sign, the algorithm one Go accepts, the signature good. */
function signatureProblem(child: TrustCert, parent: TrustCert): string | undefined {
  if ((parent.version === 3 && !parent.basicConstraints) || (parent.basicConstraints && !parent.basicConstraints.ca)) {
    return `x509: "${cn(parent)}" is not a CA (basicConstraints CA:TRUE missing), so it cannot sign "${cn(child)}"`;
  }
  if (parent.keyUsage && !parent.keyUsage.usages.includes("keyCertSign")) return `x509: "${cn(parent)}" has keyUsage without keyCertSign, so it cannot sign "${cn(child)}"`;
  if (child.signature.hash && WEAK_HASHES.has(child.signature.hash)) return `x509: cannot verify signature: insecure algorithm ${child.signature.name} on "${cn(child)}"`;
  try {
    const signed = child.signed ?? signedParts(child.der);
    if (!signed.algorithmsAgree) return `x509: "${cn(child)}" names two different signature algorithms (inner and outer)`;
    const scheme = goScheme(signed);
    if (!scheme) return `x509: cannot verify signature: algorithm unimplemented (${child.signature.name} on "${cn(child)}")`;
    const key = publicKey(parent.publicKey.spki);
    if (key.asymmetricKeyType !== scheme.key) return `x509: "${cn(child)}" is signed with ${child.signature.name}, but the key of "${cn(parent)}" is ${key.asymmetricKeyType}`;
    const ok = verify(scheme.hash, signed.tbs, scheme.saltLength === undefined ? key : { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, signed.signature);
    return ok ? undefined : `x509: "${cn(child)}" is not signed by the key of "${cn(parent)}" (crypto/rsa: verification error)`;
  } catch (err) {
    return `x509: cannot verify the signature of "${cn(child)}": ${(err as Error).message.split("\n")[0]}`;
  }
}

/** A CA's key, imported once however many certificates it signed (a fleet's hosts share one). */
const keys = new WeakMap<Uint8Array, KeyObject>();
function publicKey(spki: Uint8Array): KeyObject {
  let key = keys.get(spki);
  if (!key) keys.set(spki, (key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.length), format: "der", type: "spki" })));
  return key;
}

const SHA2: Record<string, { hash: string; bytes: number }> = {
  "2.16.840.1.101.3.4.2.1": { hash: "sha256", bytes: 32 },
  "2.16.840.1.101.3.4.2.2": { hash: "sha384", bytes: 48 },
  "2.16.840.1.101.3.4.2.3": { hash: "sha512", bytes: 64 },
};

const RSASSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";

/** How Go's checkSignature verifies the algorithm (the weak ones are refused before): RSA PKCS#1 v1.5, PSS, ECDSA, Ed25519; not DSA. */
function goScheme(signed: SignedParts): { key: string; hash: string | null; saltLength?: number } | undefined {
  if (signed.signatureOid === RSASSA_PSS) {
    const pss = pssParams(signed.signatureParams);
    return pss ? { key: "rsa", hash: pss.hash, saltLength: pss.bytes } : undefined;
  }
  const alg = SIGNATURE_ALGORITHMS[signed.signatureOid];
  if (!alg || alg.key === "dsa" || (alg.hash === undefined && alg.key !== "ed25519")) return undefined;
  return { key: alg.key, hash: alg.hash ? alg.hash.replace("-", "").toLowerCase() : null };
}

/** An AlgorithmIdentifier's OID when its parameters are absent or NULL, as Go requires of the hashes in PSS parameters. */
function plainAlgorithm(der: Uint8Array, t: Tlv | undefined): string | undefined {
  if (!t || t.tag !== 0x30) return undefined;
  const [oid, params, extra] = children(der, t);
  if (!oid || oid.tag !== 0x06 || extra || (params && !(params.tag === 0x05 && params.end === params.body))) return undefined;
  return oidText(der.subarray(oid.body, oid.end));
}

/** RSASSA-PSS parameters in the three shapes Go accepts: SHA-256/384/512, MGF1 with the same hash, salt as long as the hash, trailer 1. */
function pssParams(params: Uint8Array): { hash: string; bytes: number } | undefined {
  if (params.length === 0) return undefined;
  const fields = children(params, tlv(params, 0));
  const explicit = (n: number) => {
    const f = fields.find((t) => t.tag === (0xa0 | n));
    return f ? children(params, f)[0] : undefined;
  };
  const hash = plainAlgorithm(params, explicit(0));
  const sha = hash ? SHA2[hash] : undefined;
  const mgf = explicit(1);
  const [mgfOid, mgfParams] = mgf?.tag === 0x30 ? children(params, mgf) : [];
  const mgf1 = mgfOid?.tag === 0x06 && oidText(params.subarray(mgfOid.body, mgfOid.end)) === MGF1;
  const salt = explicit(2);
  const saltLength = salt?.tag === 0x02 ? params.subarray(salt.body, salt.end).reduce((n, b) => n * 256 + b, 0) : 20;
  const trailer = explicit(3);
  const trailerOk = !trailer || (trailer.tag === 0x02 && trailer.end - trailer.body === 1 && params[trailer.body] === 1);
  return sha && mgf1 && plainAlgorithm(params, mgfParams) === hash && saltLength === sha.bytes && trailerOk ? sha : undefined;
}

/** Go's checkChainForKeyUsage: every certificate that carries an EKU must allow the usage. */
function ekuProblem(chain: TrustCert[], usage: Usage): string | undefined {
  for (const c of chain) {
    const eku = c.extendedKeyUsage;
    if (!eku || eku.oids.includes(EKU_ANY)) continue;
    if (!eku.oids.includes(USAGE_OID[usage])) return `x509: certificate specifies an incompatible key usage ("${cn(c)}" has ${eku.names.join(", ") || "no usage"}, not ${usage})`;
  }
  return undefined;
}

/**
 * Go's `Verify(VerifyOptions{Roots: pool, Intermediates: presented[1:], KeyUsages: [usage]})`
 * on `presented[0]`. A leaf that is itself in the pool is trusted as it is (legacy cross
 * validation); its constraints as an anchor are basic-constraints' and key-usage's concern.
 */
export function goVerify(presented: TrustCert[], pool: TrustCert[], usage: Usage, now: Date): GoVerifyResult {
  const leaf = presented[0];
  if (!leaf) return { ok: false, error: "no certificate" };
  if (pool.length === 0) return { ok: false, error: "the trust pool holds no usable certificate" };
  const leafProblem = timeProblem(leaf, now) ?? unhandledCritical(leaf);
  if (leafProblem) return { ok: false, error: leafProblem };
  const intermediates = presented.slice(1);
  let lastError: string | undefined;
  const chains: TrustCert[][] = [];
  // Go's maxChainSignatureChecks: hostile pools of look-alike CAs cannot make this explode.
  let budget = 100;
  const build = (chain: TrustCert[]): void => {
    const c = chain[chain.length - 1]!;
    if (pool.some((r) => sameDer(r, c))) {
      chains.push(chain);
      return;
    }
    if (chain.length > 10) return;
    const candidates = [...pool.map((r) => ({ cert: r, root: true })), ...intermediates.map((i) => ({ cert: i, root: false }))].filter(
      (p) => !chain.some((x) => sameDer(x, p.cert)) && c.issuerDer !== undefined && Buffer.compare(p.cert.subjectDer, c.issuerDer) === 0,
    );
    for (const p of candidates) {
      if (--budget < 0) {
        lastError = "x509: signature check attempts limit reached while verifying certificate chain";
        return;
      }
      const problem =
        signatureProblem(c, p.cert) ??
        timeProblem(p.cert, now) ??
        unhandledCritical(p.cert) ??
        (p.cert.basicConstraints?.pathlen !== undefined && chain.length - 1 > p.cert.basicConstraints.pathlen ? `x509: too many intermediates for path length constraint of "${cn(p.cert)}"` : undefined);
      if (problem) {
        lastError = problem;
        continue;
      }
      if (p.root) chains.push([...chain, p.cert]);
      else build([...chain, p.cert]);
    }
  };
  build([leaf]);
  if (chains.length === 0) {
    return { ok: false, error: lastError ?? `x509: certificate signed by unknown authority ("${cn(leaf)}" is issued by ${leaf.issuer || "(empty)"}, which is not in the pool)` };
  }
  let usageError: string | undefined;
  for (const chain of chains) {
    const problem = ekuProblem(chain, usage);
    if (!problem) return { ok: true, chain };
    usageError = problem;
  }
  return { ok: false, error: usageError };
}
