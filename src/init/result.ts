/** What init's runs take alike, and what every init result says of the files it made. */
import type { KeySpec } from "../pki/keys.js";
import type { San } from "../pki/san.js";
import type { Role } from "../skydive/release.js";
export type { CnfChoice } from "../pki/cnf.js";

export interface FileResult {
  path: string;
  kind: "key" | "csr" | "crt" | "config" | "p12";
  mode: string;
}

/** The flags a run that issues role certificates takes (self-signed pairs, CA fleets). */
export interface IssueOptions {
  cwd: string;
  roles: Role[];
  cnf?: string;
  out: string;
  key: KeySpec;
  days: number;
  cn?: string;
  sans: San[];
  extensions?: string;
  stem?: string;
  force: boolean;
  dryRun: boolean;
}
