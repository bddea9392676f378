// Prints every criterion benchmark's fastest sample, tenth percentile and median per iteration, from
// target/criterion/*/*/new/sample.json. Each sample averages many iterations; on a shared VM whose speed
// changes from one second to the next, the fastest samples are the code's own cost and the median also
// carries the neighbours' load. Usage: node benches/criterion_summary.mjs [target/criterion]
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? "target/criterion";
const format = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);
console.log("benchmark".padEnd(74), "fastest".padStart(10), "p10".padStart(10), "median".padStart(10));
const directories = (dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
for (const group of directories(root)) {
  for (const bench of directories(join(root, group))) {
    const file = join(root, group, bench, "new", "sample.json");
    if (!existsSync(file)) continue;
    const { iters, times } = JSON.parse(readFileSync(file, "utf8"));
    const perIteration = times.map((t, i) => t / iters[i]).sort((a, b) => a - b);
    const at = (q) => perIteration[Math.floor(q * (perIteration.length - 1))];
    console.log(`${group}/${bench}`.slice(0, 74).padEnd(74), format(at(0)).padStart(10), format(at(0.1)).padStart(10), format(at(0.5)).padStart(10));
  }
}
