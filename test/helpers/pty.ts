/**
 * Running skycert on a real pseudo-terminal (Python's pty module), to test what
 * only happens on a terminal: the passphrase prompt with echo off, and the
 * progress bar. Each step waits for text, then types a reply.
 */
import { spawnSync } from "node:child_process";
import { BIN } from "./run.js";

const DRIVER = String.raw`
import json, os, pty, select, signal, sys, time
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
missed = None
for step in steps:
    deadline = time.time() + 60
    while step["expect"].encode() not in out[mark:] and time.time() < deadline:
        if not pump(0.1):
            break
    if step["expect"].encode() not in out[mark:]:
        missed = step["expect"]
        break
    mark = len(out)
    time.sleep(0.05)
    os.write(fd, step["send"].encode())
# A program still waiting for input after the last step (or after a missed
# one) is killed, so the test fails on its output instead of hanging.
deadline = time.time() + 10
done, status = 0, 0
while not done and time.time() < deadline:
    alive = pump(0.5)
    done, status = os.waitpid(pid, os.WNOHANG)
    if not alive and not done:
        done, status = os.waitpid(pid, 0)
if not done:
    os.kill(pid, signal.SIGKILL)
    while pump(0.1):
        pass
    _, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "missed": missed, "output": out.decode("utf8", "replace")}))
`;

export function skycertInPty(args: string[], steps: { expect: string; send: string }[], cwd: string): { code: number; output: string } {
  return inPty([process.execPath, BIN, ...args], steps, cwd);
}

/** Any program on a terminal (an interactive shell, for completion). */
export function inPty(argv: string[], steps: { expect: string; send: string }[], cwd: string, env: NodeJS.ProcessEnv = process.env): { code: number; missed: string | null; output: string } {
  const r = spawnSync("python3", ["-c", DRIVER, JSON.stringify(argv), JSON.stringify(steps), cwd], { encoding: "utf8", timeout: 120_000, env });
  if (r.status !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; missed: string | null; output: string };
}
