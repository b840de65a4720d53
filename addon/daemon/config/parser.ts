// igmpproxy.conf -> DaemonConfig. Pure (no I/O), never throws, reports every problem it can
// with file:line:col, and explains legal-but-suspicious lines with warnings.
import { cidrContains, formatCidr, isMulticast, parseIpv4 } from '../net/ipv4.ts';
import type { Cidr } from '../net/ipv4.ts';
import { DiagnosticCollector } from './diagnostics.ts';
import type { LineColumn } from './diagnostics.ts';
import { isKeyword, isPhyintKeyword, isTopLevelKeyword, suggestKeyword } from './keywords.ts';
import { Lexer } from './lexer.ts';
import type { Token } from './lexer.ts';
import type {
  ConfigResult,
  DaemonConfig,
  DownstreamLimits,
  GroupFilter,
  InterfaceRole,
  PhyintConfig,
} from './types.ts';
import { checkInteger, checkInterfaceName, checkNetwork, quote } from './values.ts';
import { errorMessage } from '../error-message.ts';

/** Largest text accepted (characters); a real igmpproxy.conf is a few KiB, and the cap
 * keeps the worst case (every word an altnet) under 0.2 s even before the JIT warms up. */
export const MAX_CONFIG_LENGTH = 256 * 1024;
/** The bounds C igmpproxy 0.4 enforces for hashtablesize. */
export const MAX_HASH_TABLE_SIZE = 536_870_912;
/** The Linux kernel's multicast VIF table size (MAXVIFS). */
export const MAX_VIFS = 32;
const MAX_RATE_LIMIT = 2_147_483_647;
/** C igmpproxy has no stall alarm; 10 s outlasts any channel change and is short enough to matter. */
export const DEFAULT_STALL_ALARM_SECONDS = 10;
/** A day: longer than any outage worth an alarm, short enough to stay a sane timer. */
export const MAX_STALL_ALARM_SECONDS = 86_400;

/** Defaults of the limits (ours; C igmpproxy has none). A TV watches a handful of groups;
 * these leave room for one-TV-many-groups benchmarks (500) while one host cannot take a
 * whole interface's share. IPTV channels have one or two sources each. */
export const DEFAULT_MAX_GROUPS_PER_INTERFACE = 2048;
export const DEFAULT_MAX_GROUPS_PER_HOST = 512;
export const DEFAULT_MAX_SOURCES_PER_GROUP = 64;
/** Upper bounds: state beyond these is no longer small on a 2 GB appliance. */
export const MAX_GROUPS_LIMIT = 65_536;
export const MAX_SOURCES_LIMIT = 1024;

const START: LineColumn = { line: 1, column: 1 };

interface ListEntry {
  readonly cidr: Cidr;
  readonly keyword: Token;
  readonly argument: Token;
}

/** A phyint block while it is being read. */
interface BlockDraft {
  readonly phyint: Token;
  name: string | undefined;
  role: InterfaceRole | undefined;
  roleToken: Token | undefined;
  rateLimit: number;
  rateLimitToken: Token | undefined;
  threshold: number;
  thresholdToken: Token | undefined;
  readonly altnets: ListEntry[];
  readonly filters: ListEntry[];
}

function isMulticastRange(cidr: Cidr): boolean {
  return cidr.prefixLength >= 4 && isMulticast(cidr.network);
}

function overlapsMulticast(cidr: Cidr): boolean {
  return isMulticastRange(cidr) || cidrContains(cidr, 0xe0000000);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

class ConfigParser {
  readonly #diagnostics: DiagnosticCollector;
  readonly #lexer: Lexer;
  #lookahead: Token | undefined | null = null;

  #quickLeave = false;
  #hashTableSize: number | undefined;
  #hashTableToken: Token | undefined;
  #defaultDown = false;
  #rescanVif = false;
  #chroot: string | undefined;
  #chrootToken: Token | undefined;
  #user: string | undefined;
  #userToken: Token | undefined;
  #stallAlarmSeconds: number | null = DEFAULT_STALL_ALARM_SECONDS;
  #stallAlarmToken: Token | undefined;
  #rpFilter: 'auto' | 'keep' = 'auto';
  #rpFilterToken: Token | undefined;
  readonly #limits = {
    groupsPerInterface: DEFAULT_MAX_GROUPS_PER_INTERFACE,
    groupsPerHost: DEFAULT_MAX_GROUPS_PER_HOST,
    sourcesPerGroup: DEFAULT_MAX_SOURCES_PER_GROUP,
  };
  readonly #limitTokens = new Map<string, Token>();
  #requireTtlOne = true;
  #igmpTtlToken: Token | undefined;

  readonly #interfaces: PhyintConfig[] = [];
  readonly #blocksByName = new Map<string, BlockDraft>();
  #firstBlockWithoutRole: BlockDraft | undefined;
  #ignoredUpstream: { readonly block: BlockDraft; readonly first: BlockDraft } | undefined;
  #lateDefaultDownReported = false;

  constructor(text: string, diagnostics: DiagnosticCollector) {
    this.#diagnostics = diagnostics;
    this.#lexer = new Lexer(text, (at, message) => diagnostics.error(at, message));
  }

  run(): DaemonConfig {
    while (!this.#diagnostics.full) {
      const token = this.#peek();
      if (token === undefined) break;
      this.#parseTopLevel(token);
    }
    if (!this.#diagnostics.full) this.#checkWhole();
    this.#noteLexerFindings();
    return {
      file: this.#diagnostics.file,
      quickLeave: this.#quickLeave,
      hashTableSize: this.#hashTableSize,
      defaultDown: this.#defaultDown,
      rescanVif: this.#rescanVif,
      chroot: this.#chroot,
      user: this.#user,
      stallAlarmSeconds: this.#stallAlarmSeconds,
      rpFilter: this.#rpFilter,
      limits: { ...this.#limits },
      requireTtlOne: this.#requireTtlOne,
      interfaces: this.#interfaces,
    };
  }

  #peek(): Token | undefined {
    if (this.#lookahead === null) this.#lookahead = this.#lexer.next();
    return this.#lookahead;
  }

  #advance(): Token | undefined {
    const token = this.#peek();
    this.#lookahead = null;
    return token;
  }

  /** The argument after `keyword`, or undefined (reported) when it is missing. */
  #takeArgument(keyword: Token, what: string): Token | undefined {
    const next = this.#peek();
    if (next === undefined) {
      this.#diagnostics.error(keyword, `\`${keyword.text}\` needs ${what}, but the file ends here`);
      return undefined;
    }
    if (!next.poisoned && isKeyword(next.text)) {
      // Leave the keyword in place: it most likely starts the next statement.
      this.#diagnostics.error(keyword, `\`${keyword.text}\` needs ${what} before \`${next.text}\``);
      return undefined;
    }
    this.#advance();
    return next.poisoned ? undefined : next;
  }

  #reportUnknown(token: Token, inBlock: boolean): void {
    const suggestion = suggestKeyword(token.text);
    if (suggestion !== undefined) {
      const caseOnly = suggestion === token.text.toLowerCase();
      this.#diagnostics.error(
        token,
        caseOnly
          ? `unknown keyword ${quote(token.text)}: keywords are lower case, did you mean \`${suggestion}\`?`
          : `unknown keyword ${quote(token.text)}: did you mean \`${suggestion}\`?`,
      );
    } else if (inBlock && checkNetwork(token.text).ok) {
      this.#diagnostics.error(
        token,
        `unexpected address ${quote(token.text)}: each address needs its own altnet, whitelist or blacklist keyword`,
      );
    } else if (inBlock && /^[0-9]+$/.test(token.text)) {
      this.#diagnostics.error(
        token,
        `unexpected number ${quote(token.text)}: ratelimit and threshold take one value each`,
      );
    } else {
      this.#diagnostics.error(token, `unknown keyword ${quote(token.text)}`);
    }
  }

  #parseTopLevel(token: Token): void {
    if (token.poisoned) {
      this.#advance();
      return;
    }
    switch (token.text) {
      case 'phyint':
        this.#parsePhyint();
        return;
      case 'quickleave':
        this.#advance();
        this.#quickLeave = true;
        return;
      case 'defaultdown':
        this.#advance();
        this.#onDefaultDown(token);
        return;
      case 'rescanvif':
        this.#advance();
        this.#rescanVif = true;
        return;
      case 'hashtablesize':
        this.#parseHashTableSize();
        return;
      case 'chroot':
        this.#parseChroot();
        return;
      case 'user':
        this.#parseUser();
        return;
      case 'stallalarm':
        this.#parseStallAlarm();
        return;
      case 'rpfilter':
        this.#parseRpFilter();
        return;
      case 'maxgroups':
        this.#parseLimit('groupsPerInterface', 'groups per downstream interface', MAX_GROUPS_LIMIT);
        return;
      case 'maxgroupsperhost':
        this.#parseLimit('groupsPerHost', 'groups per receiver', MAX_GROUPS_LIMIT);
        return;
      case 'maxsources':
        this.#parseLimit('sourcesPerGroup', 'sources per group', MAX_SOURCES_LIMIT);
        return;
      case 'igmpttl':
        this.#parseIgmpTtl();
        return;
    }
    if (isPhyintKeyword(token.text)) {
      this.#diagnostics.error(token, `\`${token.text}\` belongs to a phyint block: write it after \`phyint IFNAME\``);
      // Read the stray options as a nameless block so each is not reported again.
      this.#parseBlockBody(this.#newDraft(token));
      return;
    }
    this.#advance();
    this.#reportUnknown(token, false);
  }

  #warnIfRepeated(previous: Token | undefined, current: Token): void {
    if (previous === undefined) return;
    this.#diagnostics.warning(
      current,
      `\`${current.text}\` was already given at line ${previous.line}; this later value wins`,
    );
  }

  #parseHashTableSize(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, `a size in bytes (1 to ${MAX_HASH_TABLE_SIZE})`);
    if (argument === undefined) return;
    const size = checkInteger(argument.text, 1, MAX_HASH_TABLE_SIZE, 'hashtablesize');
    if (!size.ok) {
      this.#diagnostics.error(argument, size.reason);
      return;
    }
    this.#warnIfRepeated(this.#hashTableToken, keyword);
    this.#hashTableSize = size.value;
    this.#hashTableToken = keyword;
  }

  #parseChroot(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, 'a directory');
    if (argument === undefined) return;
    if (!argument.text.startsWith('/')) {
      this.#diagnostics.error(
        argument,
        `chroot needs an absolute directory starting with /, not ${quote(argument.text)}`,
      );
      return;
    }
    this.#warnIfRepeated(this.#chrootToken, keyword);
    this.#chroot = argument.text;
    this.#chrootToken = keyword;
  }

  #parseUser(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, 'a user name');
    if (argument === undefined) return;
    if (/[\x00-\x1f\x7f:/]/.test(argument.text)) {
      this.#diagnostics.error(argument, `${quote(argument.text)} is not a valid user name`);
      return;
    }
    this.#warnIfRepeated(this.#userToken, keyword);
    this.#user = argument.text;
    this.#userToken = keyword;
  }

  #parseStallAlarm(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, `seconds (1 to ${MAX_STALL_ALARM_SECONDS}) or \`off\``);
    if (argument === undefined) return;
    let value: number | null;
    if (argument.text === 'off') {
      value = null;
    } else {
      const seconds = checkInteger(argument.text, 1, MAX_STALL_ALARM_SECONDS, 'stallalarm');
      if (!seconds.ok) {
        this.#diagnostics.error(argument, `${seconds.reason} (or \`off\`)`);
        return;
      }
      value = seconds.value;
    }
    this.#warnIfRepeated(this.#stallAlarmToken, keyword);
    this.#stallAlarmSeconds = value;
    this.#stallAlarmToken = keyword;
  }

  #parseRpFilter(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, '`auto` or `keep`');
    if (argument === undefined) return;
    if (argument.text !== 'auto' && argument.text !== 'keep') {
      this.#diagnostics.error(argument, `rpfilter must be \`auto\` or \`keep\`, not ${quote(argument.text)}`);
      return;
    }
    this.#warnIfRepeated(this.#rpFilterToken, keyword);
    this.#rpFilter = argument.text;
    this.#rpFilterToken = keyword;
  }

  #parseLimit(field: keyof DownstreamLimits, what: string, max: number): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, `a number of ${what} (1 to ${max})`);
    if (argument === undefined) return;
    const value = checkInteger(argument.text, 1, max, keyword.text);
    if (!value.ok) {
      this.#diagnostics.error(argument, value.reason);
      return;
    }
    this.#warnIfRepeated(this.#limitTokens.get(keyword.text), keyword);
    this.#limits[field] = value.value;
    this.#limitTokens.set(keyword.text, keyword);
  }

  #parseIgmpTtl(): void {
    const keyword = this.#advance()!;
    const argument = this.#takeArgument(keyword, '`1` (RFC hosts only) or `any`');
    if (argument === undefined) return;
    if (argument.text !== '1' && argument.text !== 'any') {
      this.#diagnostics.error(
        argument,
        `igmpttl takes \`1\` (only IGMP sent with TTL 1, as RFC hosts do) or \`any\`, not ${quote(argument.text)}`,
      );
      return;
    }
    this.#warnIfRepeated(this.#igmpTtlToken, keyword);
    this.#requireTtlOne = argument.text === '1';
    this.#igmpTtlToken = keyword;
  }

  #onDefaultDown(token: Token): void {
    this.#defaultDown = true;
    const earlier = this.#firstBlockWithoutRole;
    if (earlier === undefined || this.#lateDefaultDownReported) return;
    this.#lateDefaultDownReported = true;
    this.#diagnostics.warning(
      token,
      `defaultdown only affects phyint blocks after it: \`phyint ${earlier.name}\` at line ${earlier.phyint.line} ` +
        'has no role and stays disabled; put defaultdown at the top',
    );
  }

  #newDraft(phyint: Token): BlockDraft {
    return {
      phyint,
      name: undefined,
      role: undefined,
      roleToken: undefined,
      rateLimit: 0,
      rateLimitToken: undefined,
      threshold: 1,
      thresholdToken: undefined,
      altnets: [],
      filters: [],
    };
  }

  #parsePhyint(): void {
    const phyint = this.#advance()!;
    const draft = this.#newDraft(phyint);
    const nameToken = this.#takeArgument(phyint, 'an interface name (as in `phyint eth0 upstream`)');
    if (nameToken !== undefined) {
      const name = checkInterfaceName(nameToken.text);
      if (name.ok) {
        draft.name = name.value;
        this.#warnAboutName(nameToken);
      } else {
        this.#diagnostics.error(nameToken, name.reason);
      }
    }
    this.#parseBlockBody(draft);
    this.#finishBlock(draft);
  }

  #warnAboutName(token: Token): void {
    if (parseIpv4(token.text) !== undefined) {
      this.#diagnostics.warning(
        token,
        `phyint takes an interface name (like eth0 or red0.8), not an address; ${quote(token.text)} matches no interface`,
      );
    } else if (token.text.includes(':')) {
      this.#diagnostics.warning(
        token,
        `${quote(token.text)} looks like an address label; multicast routing works per device, so name the device (${quote(token.text.slice(0, token.text.indexOf(':')))})`,
      );
    }
  }

  /** Options belong to the current block until the next top-level keyword. */
  #parseBlockBody(draft: BlockDraft): void {
    while (!this.#diagnostics.full) {
      const token = this.#peek();
      if (token === undefined || (!token.poisoned && isTopLevelKeyword(token.text))) return;
      this.#advance();
      if (token.poisoned) continue;
      switch (token.text) {
        case 'upstream':
        case 'downstream':
        case 'disabled':
          this.#setRole(draft, token, token.text);
          break;
        case 'ratelimit': {
          const argument = this.#takeArgument(token, 'a rate in kbit/s (0 = no limit)');
          if (argument === undefined) break;
          const rate = checkInteger(argument.text, 0, MAX_RATE_LIMIT, 'ratelimit');
          if (!rate.ok) this.#diagnostics.error(argument, rate.reason);
          else {
            draft.rateLimit = rate.value;
            draft.rateLimitToken = token;
          }
          break;
        }
        case 'threshold': {
          const argument = this.#takeArgument(token, 'a TTL threshold from 1 to 255');
          if (argument === undefined) break;
          const threshold = checkInteger(argument.text, 1, 255, 'threshold');
          if (!threshold.ok) this.#diagnostics.error(argument, threshold.reason);
          else {
            draft.threshold = threshold.value;
            draft.thresholdToken = token;
          }
          break;
        }
        case 'altnet':
        case 'whitelist':
        case 'blacklist': {
          const entry = this.#parseNetworkArgument(token);
          if (entry === undefined) break;
          (token.text === 'altnet' ? draft.altnets : draft.filters).push(entry);
          break;
        }
        default:
          this.#reportUnknown(token, true);
      }
    }
  }

  #setRole(draft: BlockDraft, token: Token, role: InterfaceRole): void {
    const previous = draft.roleToken;
    if (previous !== undefined && previous.text !== role) {
      this.#diagnostics.warning(
        token,
        `\`${role}\` overrides \`${previous.text}\` given at line ${previous.line}:${previous.column}; the last role wins`,
      );
    }
    draft.role = role;
    draft.roleToken = token;
  }

  #parseNetworkArgument(keyword: Token): ListEntry | undefined {
    const argument = this.#takeArgument(keyword, 'a network (A.B.C.D or A.B.C.D/N)');
    if (argument === undefined) return undefined;
    const network = checkNetwork(argument.text);
    if (!network.ok) {
      this.#diagnostics.error(argument, network.reason);
      return undefined;
    }
    const { cidr, written } = network.value;
    if (cidr.network !== written) {
      // C masked these for upstream source checks only, so a whitelist or downstream altnet
      // written this way silently never matched. Here the network always counts.
      this.#diagnostics.warning(
        argument,
        `${quote(argument.text)} has host bits set; it means the network ${formatCidr(cidr)} (write that to silence this)`,
      );
    }
    return { cidr, keyword, argument };
  }

  #finishBlock(draft: BlockDraft): void {
    // As in C, defaultdown counts from where it is written, not for the whole file.
    const role = draft.role ?? (this.#defaultDown ? 'downstream' : 'disabled');
    const name = draft.name;
    if (name === undefined) return;
    if (draft.role === undefined && !this.#defaultDown) this.#firstBlockWithoutRole ??= draft;

    const first = this.#blocksByName.get(name);
    if (first !== undefined) {
      this.#diagnostics.warning(
        draft.phyint,
        `this \`phyint ${name}\` block is ignored: ${name} is already configured at line ${first.phyint.line}, and the first block wins`,
      );
      if (role === 'upstream' && this.#ignoredUpstream === undefined) this.#ignoredUpstream = { block: draft, first };
      return;
    }
    this.#blocksByName.set(name, draft);
    this.#warnAboutBlock(draft, role);

    const groupFilters: GroupFilter[] = draft.filters.map((entry) => ({
      action: entry.keyword.text === 'whitelist' ? 'allow' : 'deny',
      range: entry.cidr,
      location: this.#diagnostics.location(entry.keyword),
    }));
    this.#interfaces.push({
      name,
      role,
      rateLimit: draft.rateLimit,
      threshold: draft.threshold,
      altnets: draft.altnets.map((entry) => entry.cidr),
      groupFilters,
      location: this.#diagnostics.location(draft.phyint),
    });
  }

  /** Legal but probably not what the author meant. */
  #warnAboutBlock(draft: BlockDraft, role: InterfaceRole): void {
    const warn = (at: LineColumn, message: string) => this.#diagnostics.warning(at, message);
    if (role === 'disabled') {
      const option = draft.altnets[0] ?? draft.filters[0];
      if (option !== undefined) {
        warn(option.keyword, `\`${option.keyword.text}\` has no effect: ${draft.name} is disabled`);
      }
      return;
    }
    if (draft.name === 'lo') {
      warn(draft.phyint, 'the loopback interface cannot take part in multicast routing; it is never used');
    }
    for (const altnet of draft.altnets) {
      if (!isMulticastRange(altnet.cidr)) continue;
      const senders = role === 'upstream' ? 'stream sources' : 'hosts that may send joins';
      warn(
        altnet.argument,
        `altnet ${formatCidr(altnet.cidr)} is a multicast range, but altnet lists unicast networks of ${senders}, ` +
          'so it matches nothing; groups are chosen with whitelist/blacklist',
      );
    }
    for (const filter of draft.filters) {
      if (overlapsMulticast(filter.cidr)) continue;
      warn(
        filter.argument,
        `${filter.keyword.text} ${formatCidr(filter.cidr)} is not multicast: whitelist/blacklist select groups ` +
          '(224.0.0.0/4), so this entry matches nothing',
      );
    }
    if (role === 'upstream' && draft.thresholdToken !== undefined && draft.threshold > 1) {
      warn(
        draft.thresholdToken,
        `threshold ${draft.threshold} has no effect on an upstream interface: it applies to forwarding out of downstream interfaces`,
      );
    }
    if (draft.rateLimitToken !== undefined && draft.rateLimit > 0) {
      warn(
        draft.rateLimitToken,
        `ratelimit ${draft.rateLimit} has no effect: Linux does not enforce multicast rate limits`,
      );
    }
  }

  #checkWhole(): void {
    const upstreams = this.#interfaces.filter((i) => i.role === 'upstream');
    const enabled = this.#interfaces.filter((i) => i.role !== 'disabled');
    if (upstreams.length === 0) {
      const ignored = this.#ignoredUpstream;
      const why =
        ignored === undefined
          ? ''
          : ` (\`phyint ${ignored.block.name} upstream\` at line ${ignored.block.phyint.line} is ignored because ` +
            `${ignored.block.name} is already configured at line ${ignored.first.phyint.line})`;
      this.#diagnostics.error(
        START,
        `no upstream interface: mark the interface facing the provider with \`phyint IFNAME upstream\`${why}`,
      );
    } else if (enabled.length === upstreams.length && !this.#defaultDown) {
      this.#diagnostics.warning(
        upstreams[0]!.location,
        'no downstream interface, so nothing will be forwarded: mark the LAN side with `phyint IFNAME downstream`',
      );
    }
    const overLimit = enabled[MAX_VIFS];
    if (overLimit !== undefined) {
      this.#diagnostics.warning(
        overLimit.location,
        `more than ${MAX_VIFS} interfaces are enabled, the kernel's limit of multicast interfaces; ` +
          'those beyond it cannot be used when all exist',
      );
    }
    if (this.#hashTableToken !== undefined && !this.#quickLeave) {
      this.#diagnostics.warning(
        this.#hashTableToken,
        'hashtablesize has no effect without quickleave (C igmpproxy refuses such a file)',
      );
    }
  }

  #noteLexerFindings(): void {
    const notes = this.#lexer.notes;
    if (notes.firstSemicolon !== undefined) {
      const elsewhere = notes.semicolonCount > 1 ? ` (and ${notes.semicolonCount - 1} more in this file)` : '';
      this.#diagnostics.warning(
        notes.firstSemicolon,
        `this \`;\`${elsewhere} is not part of igmpproxy.conf syntax and was ignored; the lines mean the same without it`,
      );
    }
    if (notes.firstInvisibleSpace !== undefined) {
      const elsewhere =
        notes.invisibleSpaceCount > 1 ? ` (and ${notes.invisibleSpaceCount - 1} more in this file)` : '';
      this.#diagnostics.warning(
        notes.firstInvisibleSpace,
        `this non-ASCII blank${elsewhere}, typical of text copied from a web page, was read as a space`,
      );
    }
  }
}

/** Parses igmpproxy.conf text; `file` is only used in diagnostics. Never throws. */
export function parseConfig(text: string, file: string): ConfigResult {
  const diagnostics = new DiagnosticCollector(file);
  let config: DaemonConfig | undefined;
  if (text.length > MAX_CONFIG_LENGTH) {
    diagnostics.error(
      START,
      `the file is ${text.length} characters long; igmpproxy.conf is limited to ${MAX_CONFIG_LENGTH} (256 KiB)`,
    );
  } else {
    try {
      config = new ConfigParser(text, diagnostics).run();
    } catch (error) {
      // A bug here must not take the daemon down with a stack trace instead of a message.
      diagnostics.error(START, `internal error while parsing: ${errorMessage(error)}`);
    }
  }
  diagnostics.finish();
  const warnings = deepFreeze(diagnostics.warnings);
  if (config === undefined || diagnostics.errors.length > 0) {
    return deepFreeze({ ok: false, errors: diagnostics.errors, warnings });
  }
  return deepFreeze({ ok: true, config, warnings });
}
