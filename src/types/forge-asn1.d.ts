// node-forge's ASN.1 module on its own: skycert uses forge only to DER-encode
// what it issues, so it loads lib/asn1.js rather than the whole library.
declare module "node-forge/lib/asn1.js" {
  import type { asn1 } from "node-forge";
  const asn1Module: typeof asn1;
  export default asn1Module;
}
