/**
 * Writing an export's output folder with fs/files: certificates and keys in
 * sets that appear together (keys 0400 from creation, never through a
 * symlink), documents atomically; a file that exists with other content (or
 * mode) is replaced only with --force, identical files are left alone (so a
 * second export changes nothing), and the document that names everything else
 * (kustomization.yaml, the playbook) is written last: a run killed before it
 * leaves nothing kubectl or ansible-playbook would pick up.
 */
import { lstatSync } from "node:fs";
import { dirname } from "node:path";
import { Document } from "yaml";
import { failure } from "../cli/errors.js";
import { shownPath } from "../cli/render.js";
import { CONFIG_MODE, type FileSpec, ensureDir, octal, readInput, recover, sameContent, tidy, withLock, writeFileAtomic, writeSet } from "../fs/files.js";

/** A folder whose files appear together (writeSet), and a document. */
export type OutSet = { dir: string; files: FileSpec[] };
export type OutDoc = { path: string; data: string };
export type WrittenFile = { path: string; mode: string; kind: "key" | "crt" | "yaml"; status: "written" | "replaced" | "unchanged" };

function state(path: string, data: string | Uint8Array, mode: number | undefined): "none" | "same" | "differs" {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return "none";
  if (!st.isFile()) return "differs";
  if (mode !== undefined && (st.mode & 0o777) !== mode) return "differs";
  return sameContent(path, typeof data === "string" ? Buffer.from(data) : data) ? "same" : "differs";
}

/** Write `sets`, then `docs` in order (the last one names the others). */
export async function writeBundle(cwd: string, out: string, sets: OutSet[], docs: OutDoc[], force: boolean): Promise<WrittenFile[]> {
  const setState = sets.map((s) => s.files.map((f) => state(f.path, f.data, f.mode)));
  const docState = docs.map((d) => state(d.path, d.data, undefined));
  const differing = [...sets.flatMap((s, i) => s.files.filter((_, j) => setState[i]![j] === "differs").map((f) => f.path)), ...docs.filter((_, i) => docState[i] === "differs").map((d) => d.path)];
  if (differing.length && !force) {
    const list = differing.slice(0, 4).map((p) => shownPath(p, cwd)).join(", ");
    throw failure(
      `${differing.length} file${differing.length === 1 ? "" : "s"} of ${shownPath(out, cwd)} exist and differ from what the export writes (${list}${differing.length > 4 ? ", ..." : ""})`,
      "pass --force to replace them (renewed certificates need it), or choose another --out",
    );
  }
  await ensureDir(out);
  await withLock(out, async () => {
    // What killed runs left, in every folder the bundle writes in, whether or not it changes this time.
    for (const dir of new Set([out, ...sets.map((s) => dirname(s.dir)), ...docs.map((d) => dirname(d.path))])) recover(dir);
    for (const [i, s] of sets.entries()) await (setState[i]!.every((st) => st === "same") ? tidy(s.dir) : writeSet(s.dir, s.files, { force: true }));
    for (const [i, d] of docs.entries()) if (docState[i] !== "same") await writeFileAtomic(d.path, d.data, { mode: CONFIG_MODE, force: true, exactMode: true });
  });
  const status = (st: "none" | "same" | "differs") => (st === "none" ? "written" : st === "same" ? "unchanged" : "replaced");
  return [
    ...sets.flatMap((s, i) => s.files.map((f, j): WrittenFile => ({ path: f.path, mode: octal(f.mode), kind: f.mode === 0o400 ? "key" : "crt", status: status(setState[i]![j]!) }))),
    ...docs.map((d, i): WrittenFile => ({ path: d.path, mode: octal(CONFIG_MODE), kind: "yaml", status: status(docState[i]!) })),
  ];
}

/** The bytes of a file that ships (a key stays in memory, never printed). */
export function material(path: string, label: string): Buffer {
  return readInput(path, label, 1024 * 1024).bytes;
}

/** A YAML document with a comment on top, as both exports write theirs. */
export function yamlText(value: unknown, comment: string): string {
  const doc = new Document(value);
  doc.commentBefore = comment.replace(/^(?=.)/gm, " ");
  return doc.toString({ lineWidth: 0 });
}
