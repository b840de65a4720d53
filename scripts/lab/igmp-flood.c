// The hostile LAN host of the lab: a flood of valid IGMPv3 reports at a given rate, as
// fast as this machine can send them (a TCG-emulated guest included), so a test can prove
// what a flood does to a proxy. Run inside a TV namespace:
//
//   igmp-flood IFNAME RATE_PER_S DURATION_MS GROUP_BASE GROUP_COUNT BIG_EVERY BIG_SOURCES
//
// Report i is an IGMPv3 report to 224.0.0.22 from the interface's address, IP TTL 1 with
// Router Alert (what an RFC 3376 host sends), with one record:
// - CHANGE_TO_EXCLUDE_MODE {} (a join) of group GROUP_BASE + (i mod GROUP_COUNT): the
//   groups cycle, so the first GROUP_COUNT reports are GROUP_COUNT distinct joins and the
//   rest refresh them;
// - every BIG_EVERY-th report (0: never) instead ALLOW_NEW_SOURCES with BIG_SOURCES
//   sources for the same group (4 KB and more: the kernel fragments it).
// Sending is paced to RATE_PER_S (catching up in batches of up to 64 with sendmmsg) and
// ends after DURATION_MS. At the end one JSON line on stdout: what was really sent.
// Exit status 0, or 2 for bad arguments / a socket that cannot be made.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SOURCES 2000
#define MAX_REPORT (8 + 8 + 4 * MAX_SOURCES)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t checksum(const uint8_t *data, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (length & 1) sum += (uint32_t)data[length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void put32(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 24);
  at[1] = (uint8_t)(value >> 16);
  at[2] = (uint8_t)(value >> 8);
  at[3] = (uint8_t)value;
}

/** Writes report `index` into `out`, returns its length. */
static size_t build_report(uint8_t *out, uint64_t index, uint32_t base, uint32_t count, uint64_t big_every,
                           uint32_t big_sources, int *big) {
  uint32_t group = base + (uint32_t)(index % count);
  *big = big_every > 0 && index % big_every == big_every - 1;
  uint32_t sources = *big ? big_sources : 0;
  memset(out, 0, 16);
  out[0] = 0x22; // IGMPv3 membership report
  out[7] = 1;    // one record
  out[8] = *big ? 5 : 4; // ALLOW_NEW_SOURCES : CHANGE_TO_EXCLUDE_MODE
  out[10] = (uint8_t)(sources >> 8);
  out[11] = (uint8_t)sources;
  put32(out + 12, group);
  for (uint32_t s = 0; s < sources; s++) put32(out + 16 + 4 * s, 0xc6336400u + s); // 198.51.100.0 onwards
  size_t length = 16 + 4 * (size_t)sources;
  uint16_t sum = checksum(out, length);
  out[2] = (uint8_t)(sum >> 8);
  out[3] = (uint8_t)sum;
  return length;
}

static int parse_u64(const char *text, uint64_t *value) {
  char *end = NULL;
  errno = 0;
  unsigned long long parsed = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return 0;
  *value = parsed;
  return 1;
}

int main(int argc, char **argv) {
  uint64_t rate, duration_ms, count, big_every, big_sources;
  struct in_addr base_address;
  if (argc != 8 || !parse_u64(argv[2], &rate) || !parse_u64(argv[3], &duration_ms) ||
      inet_pton(AF_INET, argv[4], &base_address) != 1 || !parse_u64(argv[5], &count) ||
      !parse_u64(argv[6], &big_every) || !parse_u64(argv[7], &big_sources) || rate == 0 || rate > 10000000 ||
      duration_ms == 0 || duration_ms > 600000 || count == 0 || count > 1u << 24 || big_sources > MAX_SOURCES) {
    fprintf(stderr, "usage: igmp-flood IFNAME RATE_PER_S DURATION_MS GROUP_BASE GROUP_COUNT BIG_EVERY BIG_SOURCES\n");
    return 2;
  }
  unsigned ifindex = if_nametoindex(argv[1]);
  if (ifindex == 0) {
    fprintf(stderr, "igmp-flood: no interface %s\n", argv[1]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
  if (fd < 0) {
    perror("igmp-flood: socket");
    return 2;
  }
  struct ip_mreqn via = {.imr_ifindex = (int)ifindex};
  const uint8_t router_alert[4] = {0x94, 0x04, 0, 0};
  int one = 1, dont_fragment = IP_PMTUDISC_DONT, send_buffer = 4 << 20, receive_buffer = 0;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &via, sizeof via) != 0 ||
      setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_IP, IP_OPTIONS, router_alert, sizeof router_alert) != 0 ||
      setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont_fragment, sizeof dont_fragment) != 0) {
    perror("igmp-flood: setsockopt");
    return 2;
  }
  // Best effort: a large send buffer (as root past wmem_max) and no use for what comes in.
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send_buffer, sizeof send_buffer);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);

  struct sockaddr_in destination = {.sin_family = AF_INET};
  inet_pton(AF_INET, "224.0.0.22", &destination.sin_addr);
  static uint8_t buffers[BATCH][MAX_REPORT];
  struct iovec iov[BATCH];
  struct mmsghdr messages[BATCH];
  int bigs[BATCH];

  uint32_t base = ntohl(base_address.s_addr);
  uint64_t sent = 0, big_sent = 0, failed = 0, batches = 0, idle_waits = 0;
  int last_errno = 0;
  uint64_t start = now_ns(), end = start + duration_ms * 1000000u, now = start;
  while ((now = now_ns()) < end) {
    uint64_t due = (uint64_t)((long double)(now - start) * rate / 1e9L) + 1;
    if (sent + failed >= due) {
      struct timespec pause = {0, 100000}; // 0.1 ms
      nanosleep(&pause, NULL);
      idle_waits++;
      continue;
    }
    uint64_t wanted = due - sent - failed;
    int n = wanted > BATCH ? BATCH : (int)wanted;
    for (int k = 0; k < n; k++) {
      size_t length = build_report(buffers[k], sent + failed + (uint64_t)k, base, (uint32_t)count, big_every,
                                   (uint32_t)big_sources, &bigs[k]);
      iov[k] = (struct iovec){.iov_base = buffers[k], .iov_len = length};
      messages[k] = (struct mmsghdr){.msg_hdr = {.msg_name = &destination, .msg_namelen = sizeof destination,
                                                  .msg_iov = &iov[k], .msg_iovlen = 1}};
    }
    int done = sendmmsg(fd, messages, (unsigned)n, 0);
    batches++;
    if (done < 0) {
      // The first message failed: count it and go on (ENOBUFS is back-pressure).
      last_errno = errno;
      failed++;
      continue;
    }
    for (int k = 0; k < done; k++) big_sent += (uint64_t)bigs[k];
    sent += (uint64_t)done;
  }
  double seconds = (double)(now - start) / 1e9;
  printf("{\"sent\":%llu,\"bigSent\":%llu,\"failed\":%llu,\"lastErrno\":%d,\"batches\":%llu,\"idleWaits\":%llu,"
         "\"durationMs\":%.1f,\"ratePerS\":%.1f}\n",
         (unsigned long long)sent, (unsigned long long)big_sent, (unsigned long long)failed, last_errno,
         (unsigned long long)batches, (unsigned long long)idle_waits, seconds * 1000, sent / seconds);
  close(fd);
  return 0;
}
