/**
 * Watches the bundle path and asks for a reload when it changes. Editors and build tools replace
 * files by rename, so the parent directory is watched (a watch on the file itself would go stale),
 * and bursts of events are debounced into one reload. The store skips bundles whose bytes did not
 * change, so a spurious event costs one read and hash.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface BundleWatcher {
  close(): void;
}

export function watchBundle(
  bundlePath: string,
  debounceMs: number,
  onChange: () => void,
  onError: (error: Error) => void,
): BundleWatcher {
  const absolute = path.resolve(bundlePath);
  const directory = path.dirname(absolute);
  const base = path.basename(absolute);
  let timer: NodeJS.Timeout | undefined;
  const trigger = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  const add = (target: string, options: { recursive?: boolean }, filter?: (name: string | null) => boolean) => {
    try {
      const watcher = watch(target, { persistent: false, ...options }, (_event, name) => {
        if (!filter || filter(name)) trigger();
      });
      watcher.on('error', onError);
      watchers.push(watcher);
    } catch (error) {
      onError(error as Error);
    }
  };
  // The bundle's own directory entry (file replaced, created, or a bundle directory renamed in).
  add(directory, {}, (name) => name === null || name === base);
  // Inside a directory bundle, any file.
  if (statSync(absolute, { throwIfNoEntry: false })?.isDirectory()) add(absolute, { recursive: true });

  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
