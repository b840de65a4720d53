// Version of this build. The build (build/bundle.ts) replaces the two globals with
// constants from package.json through esbuild's `define`; run from source, they are
// undeclared and the development values apply.
declare const __IGMPPROXY_VERSION__: string | undefined;
declare const __IGMPPROXY_RELEASE__: number | undefined;

export const VERSION: string = typeof __IGMPPROXY_VERSION__ === 'string' ? __IGMPPROXY_VERSION__ : '0.0.0-dev';
export const RELEASE: number = typeof __IGMPPROXY_RELEASE__ === 'number' ? __IGMPPROXY_RELEASE__ : 0;
