/**
 * Token verification cost (issue 13): `TokenVerifier.verify` (jose's jwtVerify plus the `tw` claim
 * parse) per algorithm, and jose's bare `jwtVerify` with the same key as the reference, same tokens,
 * same run, order alternating.
 *
 * Reported per variant: verifications per second of wall time, and per CPU-second of this process
 * (user + system, every thread: WebCrypto runs signature checks on libuv's thread pool, so wall rate
 * with several in flight can exceed one core's; verifications per CPU-second is the cost on one core).
 *
 *   cd bench && node --import tsx jwt-verify.ts [--duration-ms 2000] [--rounds 5] [--concurrency 16] [--smoke]
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportSPKI, generateKeyPair, jwtVerify, type CryptoKey } from "jose";
import { AUTH_DEFAULTS, createTokenVerifier, type TokenVerifier } from "../src/auth/index.ts";
import { parseOptions } from "./lib/args.ts";
import { BENCH_DIR, infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "jwt-verify: TokenVerifier.verify vs bare jose jwtVerify, HS256 / ES256 / RS256 / EdDSA",
  { durationMs: 2000, rounds: 5, concurrency: 16, tokens: 256 },
  { durationMs: 100, rounds: 1, tokens: 16 },
  {
    durationMs: { help: "length of one timed round per variant, ms" },
    rounds: { help: "timed rounds (variant order alternates)" },
    concurrency: { help: "verifications in flight (1 = strictly sequential)" },
    tokens: { help: "distinct tokens per algorithm, verified in turn" },
  },
);

const ALGORITHMS = ["HS256", "ES256", "RS256", "EdDSA"] as const;
const SECRET = new TextEncoder().encode("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz");
const dir = mkdtempSync(join(tmpdir(), "tickwire-jwt-bench-"));

interface Variant {
  readonly name: string;
  readonly alg: string;
  readonly verify: (token: string) => Promise<boolean>;
  readonly tokens: readonly string[];
}

async function variantsFor(alg: (typeof ALGORITHMS)[number]): Promise<Variant[]> {
  let signingKey: CryptoKey | Uint8Array;
  let verifier: TokenVerifier;
  let rawKey: CryptoKey | Uint8Array;
  const config = { mode: "jwt" as const, ...AUTH_DEFAULTS, jwtAlgorithms: [alg] };
  if (alg === "HS256") {
    signingKey = SECRET;
    rawKey = SECRET;
    verifier = await createTokenVerifier({ ...config, jwtSecretFile: write("secret", SECRET) });
  } else {
    const pair = await generateKeyPair(alg, { extractable: true });
    signingKey = pair.privateKey;
    rawKey = pair.publicKey;
    verifier = await createTokenVerifier({
      ...config,
      jwtPublicKeyFile: write(`${alg}.pem`, await exportSPKI(pair.publicKey)),
    });
  }
  const nowSec = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(
    Array.from({ length: opts.tokens }, (_, i) =>
      new SignJWT({ tw: { topics: ["xnas.>", `binance.S${i}.quote`], maxHz: 4 } })
        .setProtectedHeader({ alg, typ: "JWT" })
        .setSubject(`user-${i}`)
        .setIssuedAt(nowSec)
        .setExpirationTime(nowSec + 24 * 3600)
        .sign(signingKey),
    ),
  );
  return [
    { name: `TokenVerifier.verify ${alg}`, alg, tokens, verify: async (t) => (await verifier.verify(t)).ok },
    {
      name: `jose jwtVerify ${alg} (reference)`,
      alg,
      tokens,
      verify: async (t) => (await jwtVerify(t, rawKey, { algorithms: [alg] })).payload.sub !== undefined,
    },
  ];
}

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface Round {
  readonly perSecond: number;
  readonly perCpuSecond: number;
}

async function timeRound(v: Variant, durationMs: number): Promise<Round> {
  let count = 0;
  let next = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const ok = await v.verify(v.tokens[next++ % v.tokens.length]!);
      if (!ok) throw new Error(`${v.name}: a valid token was refused`);
      count++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const wallSec = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  return { perSecond: count / wallSec, perCpuSecond: count / cpuSec };
}

const info = runInfo();
console.log(
  `jwt-verify: ${JSON.stringify({ durationMs: opts.durationMs, rounds: opts.rounds, concurrency: opts.concurrency, tokens: opts.tokens })}`,
);
try {
  const variants = (await Promise.all(ALGORITHMS.map(variantsFor))).flat();
  for (const v of variants) assert.equal(await v.verify(v.tokens[0]!), true, v.name);
  for (const v of variants) await timeRound(v, Math.min(opts.durationMs, 300)); // warm-up

  const rounds = new Map<string, Round[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < opts.rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) rounds.get(v.name)!.push(await timeRound(v, opts.durationMs));
  }
  const results = variants.map((v) => {
    const r = rounds.get(v.name)!;
    return {
      variant: v.name,
      alg: v.alg,
      perSecondMedian: median(r.map((x) => x.perSecond)),
      perCpuSecondMedian: median(r.map((x) => x.perCpuSecond)),
      cpuMicrosPerVerify: 1e6 / median(r.map((x) => x.perCpuSecond)),
      rounds: r,
    };
  });
  for (const r of results) {
    console.log(
      `${r.variant.padEnd(36)} ${int(r.perSecondMedian).padStart(9)} /s wall, ${int(r.perCpuSecondMedian).padStart(9)} /CPU-s (${r.cpuMicrosPerVerify.toFixed(1)} µs CPU each)`,
    );
  }
  const markdown = [
    `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
    "",
    infoMarkdown(info),
    `- parameters: ${opts.tokens} distinct tokens per algorithm (tw claim with 2 patterns and maxHz), ` +
      `${opts.concurrency} verifications in flight, ${opts.rounds} rounds × ${opts.durationMs} ms per variant ` +
      "(order alternating) after a warm-up; RS256 with a 2048-bit key; ES256 on P-256",
    "",
    table(
      [
        "variant",
        "verifications/s (wall, median)",
        "verifications per CPU-second (median)",
        "µs CPU per verification",
      ],
      results.map((r) => [
        r.variant,
        int(r.perSecondMedian),
        int(r.perCpuSecondMedian),
        r.cpuMicrosPerVerify.toFixed(1),
      ]),
    ),
    "",
    "CPU time is the whole process's (main thread and libuv's thread pool, where WebCrypto verifies), so " +
      "verifications per CPU-second is what one core sustains; the wall rate can exceed it with several in flight.",
  ].join("\n");
  const files = writeResults(
    opts.resultsDir,
    "jwt-verify",
    "Token verification cost",
    { info, opts, results },
    markdown,
  );
  console.log(
    `results: ${files.markdown.startsWith(BENCH_DIR) ? files.markdown.slice(BENCH_DIR.length + 1) : files.markdown}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
