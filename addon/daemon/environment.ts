// Environment variables that steer Node, OpenSSL or the dynamic loader have no business
// in a root daemon. The build bakes Node options into the binary that make Node ignore
// NODE_OPTIONS and the OpenSSL/ICU paths from the environment; the few NODE_* variables
// Node still reads act before this code runs or lazily later. The lazy ones are removed
// here, first thing, so they also never reach programs the daemon starts.
//
// No static imports: main.ts runs this before every command, --version included, and
// node:v8 alone costs a few ms of start-up; it is fetched only when it is needed.

/** Variable name patterns that steer Node, OpenSSL or the dynamic loader. */
const RUNTIME_VARIABLE = /^(NODE_|OPENSSL_|SSL_CERT_|LD_|UV_)/;

/**
 * Removes runtime-steering variables from this process's environment. Returns their
 * names so the caller may log that they were ignored. NODE_V8_COVERAGE would make Node
 * write coverage files as root at exit; stopping the collection prevents that.
 */
export function dropRuntimeEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  const dropped = Object.keys(env).filter((name) => RUNTIME_VARIABLE.test(name));
  if (dropped.includes('NODE_V8_COVERAGE')) process.getBuiltinModule('node:v8').stopCoverage();
  for (const name of dropped) delete env[name];
  return dropped.sort();
}
