/** What every init result says of the files it made. */
export type { CnfChoice } from "../pki/cnf.js";

export interface FileResult {
  path: string;
  kind: "key" | "csr" | "crt" | "config" | "p12";
  mode: string;
}
