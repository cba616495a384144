// node bench/eval-thread-start.mjs <distRoot> <bundle.tar.gz>: CPU and RSS one evaluation thread (spare off) adds to a
// process that already holds the policy inline, from its creation until it has evaluated once. Run
// it for two dist/ trees (e.g. a git worktree of an older commit, built) to compare.
const [root, bundlePath] = process.argv.slice(2);
const { readBundle } = await import(`${root}/policy/bundle.js`);
const { EvalThreads } = await import(`${root}/policy/eval-threads.js`);
const { WasmPolicy } = await import(`${root}/policy/evaluator.js`);
const bundle = await readBundle(bundlePath, { maxBytes: 1 << 26 });
const opts = { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 }, print: () => undefined };
await WasmPolicy.load(bundle, opts); // main-thread instance, as serve has
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 200));
const rss = () => process.memoryUsage().rss / 2 ** 20;
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const rss0 = rss(), cpu0 = cpu(), t0 = performance.now();
const threads = new EvalThreads({ timeoutMs: 1000, spare: false });
const policy = await WasmPolicy.load(bundle, { ...opts, evalThreads: threads });
await policy.evaluateOffThread('{}');
const ms = performance.now() - t0, cpuMs = cpu() - cpu0;
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify({ mainRssMiB: +rss0.toFixed(1), threadCpuMs: Math.round(cpuMs), wallMs: Math.round(ms), threadRssMiB: +(rss() - rss0).toFixed(1) }));
await threads.close();
