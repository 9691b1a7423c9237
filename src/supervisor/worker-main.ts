// Entry of a worker process forked by the supervisor (supervisor.ts): everything is in worker.ts.
import { workerMain } from "./worker.ts";

workerMain();
