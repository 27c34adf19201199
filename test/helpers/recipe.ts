/**
 * The seed's OpenSSL recipe, run for real: the reference skycert must match,
 * and the source of fixtures for validate (with the variants operators get wrong).
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SEED_CNF, ok, sh } from "./run.js";

export interface RecipeOptions {
  bits?: number;
  days?: number;
  /** Extra `openssl x509` flags, e.g. ["-sha1"]. */
  x509Flags?: string[];
  cnf?: string;
  extensions?: string;
}

/** genrsa, chmod 400, req, x509 -req -signkey -extensions v3_req, chmod 444: `dir/<role>/<role>.domain.com.*`. */
export function recipe(dir: string, role: "analyzer" | "agent", opts: RecipeOptions = {}): { key: string; csr: string; crt: string } {
  mkdirSync(dir, { recursive: true });
  const cnf = join(dir, "skydive-openssl.cnf");
  copyFileSync(opts.cnf ?? SEED_CNF, cnf);
  mkdirSync(join(dir, role), { recursive: true });
  const stem = `${role}/${role}.domain.com`;
  ok(
    sh(
      `set +o pipefail  # the seed pipes yes into openssl, which closes the pipe early
openssl genrsa -out ${stem}.key ${opts.bits ?? 2048} 2>/dev/null
chmod 400 ${stem}.key
openssl req -new -key ${stem}.key -out ${stem}.csr -subj "/CN=skydive-${role}" -config skydive-openssl.cnf
yes '' | openssl x509 -req -days ${opts.days ?? 365} -signkey ${stem}.key -in ${stem}.csr -out ${stem}.crt -extfile skydive-openssl.cnf -extensions ${opts.extensions ?? "v3_req"} ${(opts.x509Flags ?? []).join(" ")} 2>/dev/null
chmod 444 ${stem}.crt`,
      { cwd: dir },
    ),
    "recipe",
  );
  return { key: join(dir, `${stem}.key`), csr: join(dir, `${stem}.csr`), crt: join(dir, `${stem}.crt`) };
}
