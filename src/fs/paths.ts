/** Where skycert's own files are, whether it runs bundled (dist/) or from source (src/ under vitest). */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
export const BUNDLED_CNF = join(PACKAGE_ROOT, "templates", "skydive-openssl.cnf");
