// The CLI's entry point: bin/skycert imports the bundle built from this file.
import { main } from "./program.js";

void main();
