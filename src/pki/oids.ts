/**
 * Extension and usage names with their OIDs, as OpenSSL's object table spells
 * them. A module of its own so readers that only compare OIDs (validate's
 * checks, validate --fleet) do not load the extension encoder.
 */

export const KEY_USAGES = [
  { name: "digitalSignature", long: "Digital Signature" },
  { name: "nonRepudiation", long: "Non Repudiation" },
  { name: "keyEncipherment", long: "Key Encipherment" },
  { name: "dataEncipherment", long: "Data Encipherment" },
  { name: "keyAgreement", long: "Key Agreement" },
  { name: "keyCertSign", long: "Certificate Sign" },
  { name: "cRLSign", long: "CRL Sign" },
  { name: "encipherOnly", long: "Encipher Only" },
  { name: "decipherOnly", long: "Decipher Only" },
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number]["name"];

/** extendedKeyUsage short names, long names and OIDs as OpenSSL's object table spells them. */
export const EXTENDED_KEY_USAGES: readonly { name: string; long: string; oid: string }[] = [
  { name: "serverAuth", long: "TLS Web Server Authentication", oid: "1.3.6.1.5.5.7.3.1" },
  { name: "clientAuth", long: "TLS Web Client Authentication", oid: "1.3.6.1.5.5.7.3.2" },
  { name: "codeSigning", long: "Code Signing", oid: "1.3.6.1.5.5.7.3.3" },
  { name: "emailProtection", long: "E-mail Protection", oid: "1.3.6.1.5.5.7.3.4" },
  { name: "ipsecEndSystem", long: "IPSec End System", oid: "1.3.6.1.5.5.7.3.5" },
  { name: "ipsecTunnel", long: "IPSec Tunnel", oid: "1.3.6.1.5.5.7.3.6" },
  { name: "ipsecUser", long: "IPSec User", oid: "1.3.6.1.5.5.7.3.7" },
  { name: "timeStamping", long: "Time Stamping", oid: "1.3.6.1.5.5.7.3.8" },
  { name: "OCSPSigning", long: "OCSP Signing", oid: "1.3.6.1.5.5.7.3.9" },
  { name: "ipsecIKE", long: "ipsec Internet Key Exchange", oid: "1.3.6.1.5.5.7.3.17" },
  { name: "msCodeInd", long: "Microsoft Individual Code Signing", oid: "1.3.6.1.4.1.311.2.1.21" },
  { name: "msCodeCom", long: "Microsoft Commercial Code Signing", oid: "1.3.6.1.4.1.311.2.1.22" },
  { name: "msCTLSign", long: "Microsoft Trust List Signing", oid: "1.3.6.1.4.1.311.10.3.1" },
  { name: "msSGC", long: "Microsoft Server Gated Crypto", oid: "1.3.6.1.4.1.311.10.3.3" },
  { name: "msEFS", long: "Microsoft Encrypted File System", oid: "1.3.6.1.4.1.311.10.3.4" },
  { name: "nsSGC", long: "Netscape Server Gated Crypto", oid: "2.16.840.1.113730.4.1" },
  { name: "anyExtendedKeyUsage", long: "Any Extended Key Usage", oid: "2.5.29.37.0" },
];
export const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
export const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
export const EKU_ANY = "2.5.29.37.0";

export const EXTENSION_OIDS = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extendedKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
} as const;

/** Signature algorithms by OID, named as OpenSSL prints them, with their digest as WebCrypto names it. */
const RSA = "1.2.840.113549.1.1.";
const ECDSA = "1.2.840.10045.4.";
export const SIGNATURE_ALGORITHMS: Record<string, { name: string; hash: string | undefined }> = Object.fromEntries(
  (
    [
      [`${RSA}4`, "md5WithRSAEncryption", "MD5"], [`${RSA}5`, "sha1WithRSAEncryption", "SHA-1"], [`${RSA}11`, "sha256WithRSAEncryption", "SHA-256"],
      [`${RSA}12`, "sha384WithRSAEncryption", "SHA-384"], [`${RSA}13`, "sha512WithRSAEncryption", "SHA-512"], [`${RSA}10`, "rsassaPss", undefined],
      [`${ECDSA}1`, "ecdsa-with-SHA1", "SHA-1"], [`${ECDSA}3.2`, "ecdsa-with-SHA256", "SHA-256"], [`${ECDSA}3.3`, "ecdsa-with-SHA384", "SHA-384"],
      [`${ECDSA}3.4`, "ecdsa-with-SHA512", "SHA-512"], ["1.2.840.10040.4.3", "dsa-with-SHA1", "SHA-1"], ["1.3.101.112", "ED25519", undefined],
    ] as const
  ).map(([oid, name, hash]) => [oid, { name, hash }]),
);
