// What the reverse-path filter makes of the streams arriving on an upstream, as diagnose
// sees it: which sources to ask the kernel about (gather.ts asks, RTM_GETROUTE through
// kernel/route-lookup.ts, the same question the daemon asks), and the verdict from the
// kernel's rules in net/reverse-path.ts. Pure.
import type { DaemonConfig } from '../config/types.ts';
import { formatCidr, parseIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import { effectiveRpFilter, probeAddress, reversePathDrops } from '../net/reverse-path.ts';
import type { StatusDocument } from '../runtime/status.ts';

/** A source to check: the address asked for, and how to name it (an altnet by its network). */
export interface SourceToCheck {
  readonly address: Ipv4;
  readonly label: string;
}

/** The kernel's answers: address asked for -> the interface its route leaves by, null when there is none. */
export type RoutesBack = ReadonlyMap<Ipv4, string | null>;

/**
 * Where streams on `upstream` come from: its altnets (each by its probe address, as the
 * daemon asks), the sources of the kernel routes it feeds and the sources refused on it.
 */
export function streamSources(
  config: DaemonConfig | undefined,
  status: StatusDocument | undefined,
  upstream: string,
): SourceToCheck[] {
  const sources = new Map<Ipv4, SourceToCheck>();
  for (const altnet of config?.interfaces.find((i) => i.name === upstream)?.altnets ?? []) {
    const address = probeAddress(altnet);
    if (!sources.has(address)) sources.set(address, { address, label: formatCidr(altnet) });
  }
  const add = (text: string) => {
    const address = parseIpv4(text);
    if (address !== undefined && !sources.has(address)) sources.set(address, { address, label: text });
  };
  for (const route of status?.kernelRoutes ?? []) if (route.input === upstream) add(route.source);
  for (const refused of status?.proxy.upstreams.find((u) => u.name === upstream)?.refusedSources ?? [])
    add(refused.source);
  return [...sources.values()].sort((a, b) => a.address - b.address);
}

export interface ReversePathVerdict {
  /** The value in force: max(all, interface). */
  readonly mode: number;
  /** Sources the kernel drops on this upstream (their labels), with where their route goes instead. */
  readonly dropped: readonly { readonly source: string; readonly routesVia: string | undefined }[];
}

/** What rp_filter does to streams from `sources` arriving on `upstream`. */
export function reversePathVerdict(input: {
  upstream: string;
  all: number;
  own: number;
  routesBack: RoutesBack;
  sources: readonly SourceToCheck[];
}): ReversePathVerdict {
  const mode = effectiveRpFilter(input.all, input.own);
  const dropped: { source: string; routesVia: string | undefined }[] = [];
  for (const source of input.sources) {
    // Not asked (a source gather did not know of) is not judged: "no answer" is not "no route".
    if (!input.routesBack.has(source.address)) continue;
    const via = input.routesBack.get(source.address) ?? undefined;
    if (reversePathDrops(mode, input.upstream, via)) dropped.push({ source: source.label, routesVia: via });
  }
  return { mode, dropped };
}
