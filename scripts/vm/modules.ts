// Which kernel modules to load, in which order, to get a set of features: read from the
// installed kernel's modules.dep (what depmod wrote), so no dependency list is
// hand-kept here. A module built into the kernel (modules.builtin) needs no loading.

/** Parsed modules.dep: module name -> { file relative to /lib/modules/<ver>, its direct deps }. */
export interface ModuleIndex {
  readonly modules: ReadonlyMap<string, { readonly file: string; readonly depends: readonly string[] }>;
  readonly builtin: ReadonlySet<string>;
}

/** "kernel/net/9p/9pnet_virtio.ko" -> "9pnet_virtio" (the kernel treats - and _ alike). */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|zst|gz))?$/, '');
  return base.replaceAll('-', '_');
}

export function parseModuleIndex(modulesDep: string, modulesBuiltin = ''): ModuleIndex {
  const modules = new Map<string, { file: string; depends: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon).trim();
    const depends = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((f) => f !== '')
      .map(moduleName);
    modules.set(moduleName(file), { file, depends });
  }
  const builtin = new Set(
    modulesBuiltin
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map(moduleName),
  );
  return { modules, builtin };
}

/**
 * The module files to insmod, dependencies before dependents, each once. Throws when a
 * wanted module is neither a module nor built in (the kernel cannot provide it).
 */
export function loadOrder(index: ModuleIndex, wanted: readonly string[]): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, wantedBy: string): void => {
    const key = moduleName(name);
    if (done.has(key) || index.builtin.has(key)) return;
    const entry = index.modules.get(key);
    if (entry === undefined)
      throw new Error(`kernel module ${key} (needed by ${wantedBy}) is neither a module nor built in`);
    if (visiting.has(key)) throw new Error(`kernel modules depend on each other in a cycle at ${key}`);
    visiting.add(key);
    for (const dependency of entry.depends) visit(dependency, key);
    visiting.delete(key);
    done.add(key);
    order.push(entry.file);
  };
  for (const name of wanted) visit(name, 'the test VM');
  return order;
}
