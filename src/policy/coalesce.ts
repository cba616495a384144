/**
 * Single-flight with one catch-up: `run` is never executed twice at once. A call while it runs
 * gets the running promise and marks one more run, started when the current one settles, so a
 * change that arrived meanwhile is still picked up (bundle reloads: PolicyStore, the cluster
 * primary's BundleDistributor).
 */
export function coalesced<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let pending = false;
  const call = (): Promise<T> => {
    if (running) {
      pending = true;
      return running;
    }
    running = run().finally(() => {
      running = undefined;
      if (pending) {
        pending = false;
        void call();
      }
    });
    return running;
  };
  return call;
}
