#!/usr/bin/env node
// Launcher of `tickwire-loadtest` (npx tickwire-loadtest, npm run loadtest): loads tsx, then the
// TypeScript CLI, like every other entry point of this repository that runs from source.
import { register } from "tsx/esm/api";

register();
await import("../cli.ts");
