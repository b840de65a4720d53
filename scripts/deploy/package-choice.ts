// Which local package goes to an appliance. Given --package/--meta, that package, whatever
// the appliance. Otherwise the one the build made for the appliance's architecture: the build
// writes dist/<arch>/meta-<name> next to dist/<arch>/<name>-<version>-<release>.ipfire
// (build/index.ts), x86_64 always, aarch64 with `--all`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DeployError } from './errors.ts';
import { loadLocalPackage, type LocalPackage } from './package-info.ts';

/** The architectures the build makes packages for, as `uname -m` names them. */
export const BUILT_ARCHES = ['x86_64', 'aarch64'] as const;
export type BuiltArch = (typeof BUILT_ARCHES)[number];

/** The README's command that leaves a package for arch in dist/. */
export function buildCommandFor(arch: BuiltArch): string {
  return arch === 'x86_64' ? 'bash scripts/dev.sh build' : 'bash scripts/dev.sh build --all';
}

/**
 * The meta file the build wrote for an appliance of applianceArch (`uname -m` as the
 * appliance reported it: remote text, so only the known names ever become part of a path).
 */
export function builtMetaFile(
  distDir: string,
  applianceArch: string,
  name: string,
  exists: (file: string) => boolean = existsSync,
): string {
  const arch = BUILT_ARCHES.find((known) => known === applianceArch);
  if (arch === undefined) {
    throw new DeployError(
      `no package is built for the appliance's architecture ${JSON.stringify(applianceArch)} (the build makes ${BUILT_ARCHES.join(' and ')}; or pass --package and --meta)`,
    );
  }
  const metaFile = path.join(distDir, arch, `meta-${name}`);
  if (!exists(metaFile)) {
    throw new DeployError(`no ${arch} package built: ${metaFile} is missing (build it with: ${buildCommandFor(arch)})`);
  }
  return metaFile;
}

/** Where the package for each appliance comes from. */
export interface PackageSource {
  /** The package's name, as pakfire's db records it (the appliance check asks for it). */
  readonly name: string;
  /** The package for an appliance of this `uname -m`; loaded and checked once per file. */
  forAppliance(applianceArch: string): Promise<LocalPackage>;
}

/** The package given on the command line, for every appliance (the appliance check still compares architectures). */
export function explicitPackage(pkg: LocalPackage): PackageSource {
  return { name: pkg.meta.name, forAppliance: () => Promise.resolve(pkg) };
}

/**
 * The build's package per architecture. Loading hashes the whole .ipfire, so appliances of the
 * same architecture share one load; announce is told of each package once.
 */
export function builtPackages(distDir: string, name: string, announce: (pkg: LocalPackage) => void): PackageSource {
  const loads = new Map<string, Promise<LocalPackage>>();
  return {
    name,
    async forAppliance(applianceArch) {
      const metaFile = builtMetaFile(distDir, applianceArch, name);
      let load = loads.get(metaFile);
      if (load === undefined) {
        load = loadLocalPackage({ packageFile: null, metaFile, defaultName: name }).then((pkg) => {
          if (pkg.meta.name !== name)
            throw new DeployError(`${metaFile} is the meta file of ${JSON.stringify(pkg.meta.name)}, not of ${name}`);
          announce(pkg);
          return pkg;
        });
        loads.set(metaFile, load);
      }
      return load;
    },
  };
}
