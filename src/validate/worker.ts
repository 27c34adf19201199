/**
 * A worker thread of validate --fleet (fleet.ts judgeHosts): its own Go
 * instance, judging the batches of hosts the main thread hands it with the
 * same judgeHost. Results cross as structured clones.
 */
import { parentPort, workerData } from "node:worker_threads";
import { goTlsModule, loadGoTls } from "../skydive/go-tls.js";
import { type FleetJob, judgeHost } from "./fleet.js";

const { job, module } = workerData as { job: FleetJob; module: unknown };
const port = parentPort!;
await goTlsModule(module);
const go = await loadGoTls();
const shared = { reads: new Map(), parses: new Map() };
port.on("message", async ([from, to]: [number, number]) => {
  try {
    const judged = [];
    for (let i = from; i < to; i++) judged.push(await judgeHost(job, i, go, shared));
    port.postMessage({ from, judged });
  } catch (err) {
    port.postMessage({ error: (err as Error).message, stack: (err as Error).stack });
  }
});
port.postMessage({ ready: true });
