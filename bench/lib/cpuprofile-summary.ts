/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self and inclusive time per function,
 * optionally only for samples under a given function (e.g. the publisher turn or the hub flush).
 *
 *   node --import tsx lib/cpuprofile-summary.ts PROFILE.cpuprofile [--top 30] [--under NAME]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: "string" }, under: { type: "string" } },
  allowPositionals: true,
});
const file = positionals[0];
if (file === undefined) {
  process.stderr.write("usage: cpuprofile-summary.ts PROFILE.cpuprofile [--top N] [--under FUNCTION]\n");
  process.exit(2);
}
const top = Number(values.top ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

const keyOf = (frame: CallFrame): string => {
  const where =
    frame.url === ""
      ? ""
      : ` ${frame.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/")}:${frame.lineNumber + 1}`;
  return `${frame.functionName === "" ? "(anonymous)" : frame.functionName}${where}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let inScope = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const stack: CallFrame[] = [];
  for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    stack.push(byId.get(id)!.callFrame);
  }
  if (values.under !== undefined && !stack.some((f) => f.functionName === values.under)) continue;
  inScope += dt;
  const leaf = stack[0];
  if (leaf !== undefined) self.set(keyOf(leaf), (self.get(keyOf(leaf)) ?? 0) + dt);
  for (const key of new Set(stack.map(keyOf))) inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`);
  }
};
process.stdout.write(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled` +
    (values.under !== undefined
      ? `; under ${values.under}: ${(inScope / 1000).toFixed(0)} ms (${pct(inScope)})`
      : "") +
    "\n",
);
print("self time (share of all samples)", self);
print("inclusive time (share of all samples)", inclusive);
