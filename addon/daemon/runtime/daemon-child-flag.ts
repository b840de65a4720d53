// The hidden first argument of the copy the daemon starts of itself to go to the background
// (detach.ts): it tells the copy it is the daemon, with a readiness pipe on fd 3. Its own
// module without imports: the command line parser needs it on the fast path of --version,
// which must not load detach.ts (node:child_process).
export const DAEMON_CHILD_FLAG = '--daemon-child';
