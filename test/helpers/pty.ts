/**
 * Running skycert on a real pseudo-terminal (Python's pty module), to test what
 * only happens on a terminal: the passphrase prompt with echo off, and the
 * progress bar. Each step waits for text, then types a reply.
 */
import { spawnSync } from "node:child_process";
import { BIN } from "./run.js";

const DRIVER = String.raw`
import json, os, pty, select, sys, time
args, steps, cwd = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.chdir(cwd)
    os.environ["NO_COLOR"] = "1"
    os.execvp(args[0], args)
out = b""
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    out += data
    return True
mark = 0
for step in steps:
    deadline = time.time() + 60
    while step["expect"].encode() not in out[mark:] and time.time() < deadline:
        if not pump(0.1):
            break
    if step["expect"].encode() not in out[mark:]:
        break
    mark = len(out)
    time.sleep(0.05)
    os.write(fd, step["send"].encode())
while pump(0.5):
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": out.decode("utf8", "replace")}))
`;

export function skycertInPty(args: string[], steps: { expect: string; send: string }[], cwd: string): { code: number; output: string } {
  const r = spawnSync("python3", ["-c", DRIVER, JSON.stringify([process.execPath, BIN, ...args]), JSON.stringify(steps), cwd], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; output: string };
}
