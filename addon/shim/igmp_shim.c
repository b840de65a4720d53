// igmp_shim: the few socket calls Node lacks, for the IGMP proxy daemon.
//
// Raw IPv4 sockets (IGMP + multicast routing) and rtnetlink sockets: open, set/get
// options, bind to netlink groups, send, receive through a uv_poll on Node's own loop,
// close; unblocking a signal for the main thread; opting out of transparent huge pages; giving
// freed malloc memory back to the kernel. Everything else (struct layouts,
// protocol logic) lives in TypeScript.
//
// Only documented, ABI-stable Node-API (napi_*) and libuv calls are used, so one build
// loads into any Node >= 18. Errors become JS exceptions whose `code` is the errno name
// ("EADDRINUSE"), with `errno` and `syscall` set like Node's own system errors.
// The receiver list is process-global: load this addon on the main thread only.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <uv.h>

#define MAX_DATAGRAM 65536      // largest IPv4 datagram
#define MAX_READS_PER_EVENT 256 // a flood must not starve the rest of the loop

typedef struct receiver {
  uv_poll_t poll; // first member: the handle pointer is the receiver pointer
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
  int closing;
  int batched; // receiveBatch: one callback per readable event
  struct receiver *next;
} receiver;

static receiver *receivers;
static unsigned char datagram[MAX_DATAGRAM];

// receiveBatch's datagrams back to back: before each read at least MAX_DATAGRAM bytes are
// free, so nothing is ever truncated; pages are touched only as far as a batch reaches.
#define BATCH_BYTES (2 * MAX_DATAGRAM)
#define INDEX_WORDS 4 // per datagram: offset, length, ingress ifindex, source IPv4 (host order)
static unsigned char batch[BATCH_BYTES];
static uint32_t batch_index[MAX_READS_PER_EVENT * INDEX_WORDS];

// Builds Error{code, errno, syscall} like Node's system errors.
static napi_value errno_error(napi_env env, const char *syscall, int err) {
  const char *name = strerrorname_np(err);
  char text[192];
  snprintf(text, sizeof text, "%s failed: %s", syscall, strerror(err));
  napi_value code, message, error, number, call;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &number);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &call);
  napi_set_named_property(env, error, "errno", number);
  napi_set_named_property(env, error, "syscall", call);
  return error;
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_throw(env, errno_error(env, syscall, err));
  return NULL;
}

static napi_value type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

// Fetches exactly `count` arguments into argv.
static int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count) {
    type_error(env, "missing arguments");
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value value, int32_t *out) {
  if (napi_get_value_int32(env, value, out) == napi_ok) return 1;
  type_error(env, "expected a number");
  return 0;
}

static int get_bytes(napi_env env, napi_value value, void **data, size_t *length) {
  if (napi_get_buffer_info(env, value, data, length) == napi_ok) return 1;
  type_error(env, "expected a Buffer");
  return 0;
}

static napi_value undefined(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

// socket(domain, type, protocol) -> fd, always non-blocking and close-on-exec.
static napi_value js_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int32_t domain, type, protocol;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &domain) ||
      !get_int(env, argv[1], &type) || !get_int(env, argv[2], &protocol)) return NULL;
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, "socket", errno);
  napi_create_int32(env, fd, &result);
  return result;
}

// setsockopt(fd, level, name, Buffer)
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name;
  void *data;
  size_t length;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) ||
      !get_int(env, argv[2], &name) || !get_bytes(env, argv[3], &data, &length)) return NULL;
  if (setsockopt(fd, level, name, data, (socklen_t)length) < 0) return throw_errno(env, "setsockopt", errno);
  return undefined(env);
}

// getsockopt(fd, level, name, maxLength) -> Buffer of the length the kernel returned.
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int32_t fd, level, name, max;
  unsigned char value[256];
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) ||
      !get_int(env, argv[2], &name) || !get_int(env, argv[3], &max)) return NULL;
  socklen_t length = max < 0 || max > (int32_t)sizeof value ? sizeof value : (socklen_t)max;
  if (getsockopt(fd, level, name, value, &length) < 0) return throw_errno(env, "getsockopt", errno);
  napi_create_buffer_copy(env, length, value, NULL, &result);
  return result;
}

// bindNetlink(fd, groups): subscribe a netlink socket to multicast groups (RTMGRP_* bits).
static napi_value js_bind_netlink(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, groups;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &groups)) return NULL;
  struct sockaddr_nl address = {.nl_family = AF_NETLINK, .nl_groups = (uint32_t)groups};
  if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) return throw_errno(env, "bind", errno);
  return undefined(env);
}

// connectUnix(fd, path): connect an AF_UNIX socket (the daemon's syslog to /dev/log).
static napi_value js_connect_unix(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  size_t length = 0;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd)) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], address.sun_path, sizeof address.sun_path, &length) != napi_ok)
    return type_error(env, "expected a path string");
  if (length == 0 || length >= sizeof address.sun_path - 1) return throw_errno(env, "connect", ENAMETOOLONG);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) return throw_errno(env, "connect", errno);
  return undefined(env);
}

// send(fd, Buffer, destination, ifindex) -> bytes sent. destination is a host-order IPv4
// number, or null for a netlink socket (to the kernel). ifindex > 0 picks the outgoing
// interface per packet through an IP_PKTINFO control message (works with IP_HDRINCL).
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int32_t fd, ifindex;
  void *data;
  size_t length;
  napi_valuetype destination_type;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &length) ||
      !get_int(env, argv[3], &ifindex)) return NULL;
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
  struct sockaddr_in to = {.sin_family = AF_INET};
  union { char buffer[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control;
  napi_typeof(env, argv[2], &destination_type);
  if (destination_type != napi_null && destination_type != napi_undefined) {
    uint32_t destination;
    if (napi_get_value_uint32(env, argv[2], &destination) != napi_ok) return type_error(env, "expected an IPv4 number");
    to.sin_addr.s_addr = htonl(destination);
    message.msg_name = &to;
    message.msg_namelen = sizeof to;
  }
  if (ifindex > 0) {
    memset(&control, 0, sizeof control);
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = IPPROTO_IP;
    header->cmsg_type = IP_PKTINFO;
    header->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pktinfo = {.ipi_ifindex = ifindex};
    memcpy(CMSG_DATA(header), &pktinfo, sizeof pktinfo);
  }
  ssize_t sent = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) return throw_errno(env, "sendmsg", errno);
  napi_create_int64(env, sent, &result);
  return result;
}

// Calls back one receiver's JS function inside the event's callback scope; 0 when it threw
// (the exception is left pending for on_readable to hand on after closing the scope).
static int deliver(receiver *r, napi_value self, size_t argc, napi_value *argv) {
  napi_value callback, ignored;
  napi_get_reference_value(r->env, r->callback, &callback);
  return napi_call_function(r->env, self, callback, argc, argv, &ignored) == napi_ok;
}

// Hands the datagrams read so far to JS as (null, data, index): two Buffers, whatever their number.
static int deliver_batch(receiver *r, napi_value self, size_t used, size_t count) {
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value argv[3];
  napi_get_null(r->env, &argv[0]);
  napi_create_buffer_copy(r->env, used, batch, NULL, &argv[1]);
  napi_create_buffer_copy(r->env, count * INDEX_WORDS * sizeof(uint32_t), batch_index, NULL, &argv[2]);
  int ok = deliver(r, self, 3, argv);
  napi_close_handle_scope(r->env, scope);
  return ok;
}

// receiveBatch's reading: up to MAX_READS_PER_EVENT datagrams, delivered in as few calls as
// fit BATCH_BYTES (one, unless they are large). A flood then costs JS two Buffers per batch,
// not one Buffer and one call per datagram. 0 when the callback threw.
static int read_batches(receiver *r, napi_value self, int status) {
  size_t used = 0, count = 0;
  for (int reads = 0; reads < MAX_READS_PER_EVENT && !r->closing; reads++) {
    if (BATCH_BYTES - used < MAX_DATAGRAM) {
      if (!deliver_batch(r, self, used, count)) return 0;
      used = count = 0;
    }
    struct sockaddr_storage from;
    union { char buffer[CMSG_SPACE(sizeof(struct in_pktinfo)) + 64]; struct cmsghdr align; } control;
    struct iovec iov = {.iov_base = batch + used, .iov_len = MAX_DATAGRAM};
    struct msghdr message = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
    ssize_t length = status < 0 ? -1 : recvmsg(r->fd, &message, MSG_DONTWAIT);
    int err = status < 0 ? -status : errno;
    if (length < 0 && (err == EAGAIN || err == EWOULDBLOCK)) break;
    if (length < 0 && err == EINTR) continue;
    if (length < 0) {
      // What was read goes first; after an error, wait for the next readiness event.
      if (count > 0 && !deliver_batch(r, self, used, count)) return 0;
      napi_handle_scope scope;
      napi_open_handle_scope(r->env, &scope);
      napi_value argv[1] = {errno_error(r->env, "recvmsg", err)};
      int ok = deliver(r, self, 1, argv);
      napi_close_handle_scope(r->env, scope);
      return ok;
    }
    uint32_t ifindex = 0, source = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pktinfo;
        memcpy(&pktinfo, CMSG_DATA(c), sizeof pktinfo);
        ifindex = (uint32_t)pktinfo.ipi_ifindex;
      }
    }
    if (from.ss_family == AF_INET) source = ntohl(((struct sockaddr_in *)&from)->sin_addr.s_addr);
    uint32_t *entry = &batch_index[count * INDEX_WORDS];
    entry[0] = (uint32_t)used;
    entry[1] = (uint32_t)length;
    entry[2] = ifindex;
    entry[3] = source;
    used += (size_t)length;
    count++;
  }
  if (count > 0 && !r->closing) return deliver_batch(r, self, used, count);
  return 1;
}

// Readable: read until EAGAIN (or the per-event bound; level-triggered polling comes back).
// Callback arguments: (null, Buffer, ingressIfindex, sourceIpv4) or (Error).
// One callback scope for the whole batch: Node's per-callback work (async hooks, the
// nextTick and microtask queues) runs once per readable event, not once per datagram,
// which is what a flood of small reports would otherwise cost.
static void on_readable(uv_poll_t *handle, int status, int events) {
  receiver *r = (receiver *)handle;
  (void)events;
  napi_handle_scope outer;
  napi_open_handle_scope(r->env, &outer);
  napi_value self, resource;
  napi_get_global(r->env, &self); // a function call needs an object as receiver, not undefined
  napi_create_object(r->env, &resource);
  napi_callback_scope scope;
  if (napi_open_callback_scope(r->env, resource, r->async, &scope) != napi_ok) {
    napi_close_handle_scope(r->env, outer);
    return;
  }
  int threw = 0;
  if (r->batched) {
    threw = !read_batches(r, self, status);
  } else for (int reads = 0; reads < MAX_READS_PER_EVENT && !r->closing; reads++) {
    struct sockaddr_storage from;
    union { char buffer[CMSG_SPACE(sizeof(struct in_pktinfo)) + 64]; struct cmsghdr align; } control;
    struct iovec iov = {.iov_base = datagram, .iov_len = sizeof datagram};
    struct msghdr message = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
    ssize_t length = status < 0 ? -1 : recvmsg(r->fd, &message, MSG_DONTWAIT);
    int err = status < 0 ? -status : errno;
    if (length < 0 && (err == EAGAIN || err == EWOULDBLOCK)) break;
    if (length < 0 && err == EINTR) continue;

    napi_handle_scope inner;
    napi_open_handle_scope(r->env, &inner);
    napi_value argv[4];
    int ok;
    if (length < 0) {
      argv[0] = errno_error(r->env, "recvmsg", err);
      threw = !deliver(r, self, 1, argv);
      ok = 0; // after an error, wait for the next readiness event
    } else {
      int32_t ifindex = 0;
      uint32_t source = 0;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          struct in_pktinfo pktinfo;
          memcpy(&pktinfo, CMSG_DATA(c), sizeof pktinfo);
          ifindex = pktinfo.ipi_ifindex;
        }
      }
      if (from.ss_family == AF_INET) source = ntohl(((struct sockaddr_in *)&from)->sin_addr.s_addr);
      size_t size = (size_t)length < sizeof datagram ? (size_t)length : sizeof datagram;
      napi_get_null(r->env, &argv[0]);
      napi_create_buffer_copy(r->env, size, datagram, NULL, &argv[1]);
      napi_create_int32(r->env, ifindex, &argv[2]);
      napi_create_uint32(r->env, source, &argv[3]);
      threw = !deliver(r, self, 4, argv);
      ok = !threw;
    }
    napi_close_handle_scope(r->env, inner);
    if (!ok) break;
  }
  // An exception goes to process 'uncaughtException', as from any other callback.
  napi_value exception;
  int pending = threw && napi_get_and_clear_last_exception(r->env, &exception) == napi_ok;
  napi_close_callback_scope(r->env, scope);
  if (pending) napi_fatal_exception(r->env, exception);
  napi_close_handle_scope(r->env, outer);
}

// Starts watching fd for receive (per datagram) or receiveBatch (per readable event); see below.
static napi_value start_receiving(napi_env env, napi_callback_info info, int batched) {
  napi_value argv[2], name;
  int32_t fd;
  napi_valuetype type;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd)) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) return type_error(env, "expected a function");
  for (receiver *r = receivers; r; r = r->next)
    if (r->fd == fd) return throw_errno(env, "receive", EALREADY);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "receive", EINVAL);
  receiver *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "receive", ENOMEM);
  int status = uv_poll_init(loop, &r->poll, fd);
  if (status < 0) {
    free(r);
    return throw_errno(env, "uv_poll_init", -status);
  }
  r->env = env;
  r->fd = fd;
  r->batched = batched;
  napi_create_reference(env, argv[1], 1, &r->callback);
  napi_create_string_utf8(env, "igmp_shim.receive", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);
  r->next = receivers;
  receivers = r;
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  return undefined(env);
}

// receive(fd, callback): callback(null, datagram, ingressIfindex, sourceIpv4) for every datagram, until close(fd).
static napi_value js_receive(napi_env env, napi_callback_info info) { return start_receiving(env, info, 0); }

// receiveBatch(fd, callback): callback(null, data, index) once per readable event (or error):
// the datagrams back to back in data, and per datagram four uint32 in host byte order in
// index (offset in data, length, ingress ifindex, source IPv4), until close(fd).
static napi_value js_receive_batch(napi_env env, napi_callback_info info) { return start_receiving(env, info, 1); }

static void on_poll_closed(uv_handle_t *handle) { free(handle); }

// close(fd): stop receiving first (libuv must not watch a closed fd), then close it.
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  for (receiver **link = &receivers; *link; link = &(*link)->next) {
    receiver *r = *link;
    if (r->fd != fd) continue;
    *link = r->next;
    r->closing = 1; // on_readable may be on the stack (close called from the callback)
    uv_poll_stop(&r->poll);
    napi_delete_reference(env, r->callback);
    napi_async_destroy(env, r->async);
    uv_close((uv_handle_t *)&r->poll, on_poll_closed);
    break;
  }
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return undefined(env);
}

// unblockSignal(signo): lets signo reach the calling (main) thread. Node blocks SIGUSR1
// in its main thread for its inspector's signal thread; the binary runs without that
// thread (--disable-sigusr1), so until this call no thread takes SIGUSR1 and a JS
// handler for it never runs.
static napi_value js_unblock_signal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t signo;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &signo)) return NULL;
  sigset_t set;
  sigemptyset(&set);
  if (sigaddset(&set, signo) < 0) return throw_errno(env, "sigaddset", errno);
  int err = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  if (err != 0) return throw_errno(env, "pthread_sigmask", err);
  return undefined(env);
}

// disableTransparentHugePages() -> undefined. prctl(PR_SET_THP_DISABLE) for this process:
// on a kernel whose transparent huge pages are "always" (IPFire's, Debian's) every 2 MB
// stretch of the V8 heap the daemon touches would be backed by a whole huge page, all of it
// RssAnon. Pages faulted in from now on are small; the setting survives fork and exec.
static napi_value js_disable_transparent_huge_pages(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0) return throw_errno(env, "prctl", errno);
  return undefined(env);
}

// trimMalloc() -> undefined. malloc_trim(0): glibc gives back to the kernel only the free
// memory at the top of its heap; V8's compiler zones and other short-lived buffers leave
// free pages in the middle (about 1.5 MB after a burst of 500 joins), which stay RssAnon
// until this releases them (madvise MADV_DONTNEED on every free page).
static napi_value js_trim_malloc(napi_env env, napi_callback_info info) {
  (void)info;
  malloc_trim(0);
  return undefined(env);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindNetlink", NULL, js_bind_netlink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connectUnix", NULL, js_connect_unix, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, js_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receiveBatch", NULL, js_receive_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unblockSignal", NULL, js_unblock_signal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"disableTransparentHugePages", NULL, js_disable_transparent_huge_pages, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimMalloc", NULL, js_trim_malloc, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
