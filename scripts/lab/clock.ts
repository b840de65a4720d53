// One clock for the whole lab: CLOCK_MONOTONIC through process.hrtime, in milliseconds.
// Network namespaces do not change it, so a timestamp taken by the isp program, a tv
// program and the controlling test process can be compared directly (the lab checks
// that at start-up, see IptvLab). Event times are taken where the event happens, not
// when its JSON line is read, so pipe latency does not enter the measurements.
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
