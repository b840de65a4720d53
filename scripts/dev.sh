#!/bin/bash
# One entry point for a fresh machine: installs what the task needs (Debian packages with
# apt-get when run as root, npm packages from the lockfile), then builds or tests.
#   bash scripts/dev.sh build [--all]   dist/<arch>/: igmpproxy, igmpproxy-<ver>-<rel>.ipfire, meta-igmpproxy
#   bash scripts/dev.sh test            the whole test suite (root: namespace tests run too;
#                                       on a kernel without multicast routing those suites
#                                       run in the test VM, scripts/vm/)
#   bash scripts/dev.sh bench           the benchmark against Debian's C igmpproxy
#   bash scripts/dev.sh test-aarch64    builds dist/aarch64/igmpproxy (as build --all does)
#                                       and checks that it forwards multicast in an
#                                       emulated aarch64 VM
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages per task; only missing ones are installed.
build_packages=(gcc libc6-dev linux-libc-dev xz-utils tar git)
# libc6-dev-arm64-cross: the arm64 libc headers, which --no-install-recommends leaves out
# (the aarch64 shim needs them: bits/wordsize.h).
cross_packages=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
test_packages=(iproute2 iptables shellcheck openssh-server openssh-client util-linux procps tcpdump igmpproxy strace)
# The web page's tests (test/helpers/ipfire-wui.ts): Apache with CGI and TLS, headless
# Chromium (driven by puppeteer-core), and the Perl modules IPFire's header.pl loads.
wui_packages=(apache2 apache2-utils openssl curl chromium libcgi-pm-perl libhtml-parser-perl librrds-perl libnetwork-ipv4addr-perl)
# The test VM (scripts/vm/): Debian's kernel has CONFIG_IP_MROUTE=y and its modules land on
# this disk, where the guest (which runs on this machine's root) loads them.
vm_packages=(qemu-system-x86 linux-image-amd64 busybox-static kmod)
bench_packages=(igmpproxy)
# The emulated aarch64 VM (scripts/vm/aarch64.ts): mmdebstrap extracts its arm64 root
# (kernel included), depmod indexes its modules, qemu-user lists its busybox applets.
aarch64_vm_packages=(qemu-system-arm mmdebstrap kmod qemu-user-static)

missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

ensure_debs() {
  local missing
  mapfile -t missing < <(missing_debs "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: missing Debian packages (install them as root): ${missing[*]}" >&2
    return 0
  fi
  echo "dev.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_npm() {
  # npm ci whenever the lockfile changed since the last install (stamp = its sha256).
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.lockfile-sha256 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund
    printf '%s\n' "$want" > node_modules/.lockfile-sha256
  fi
}

phase() {
  echo "dev.sh: phase \"$1\" took $((SECONDS - $2)) s"
}

task=${1:-}
shift || true
case "$task" in
  build)
    ensure_debs "${build_packages[@]}" "${cross_packages[@]}"
    ensure_npm
    npm run build -- "$@"
    ;;
  test)
    phase_start=$SECONDS
    ensure_debs "${build_packages[@]}" "${cross_packages[@]}" "${test_packages[@]}" "${wui_packages[@]}" "${vm_packages[@]}"
    ensure_npm
    phase "install" "$phase_start"
    phase_start=$SECONDS
    npm run typecheck
    phase "type check" "$phase_start"
    # The README's build first: it must work, and the package tests run the scripts
    # against the real single binary it leaves in dist/x86_64/.
    phase_start=$SECONDS
    npm run build
    # Downloads belong here, not in a test: the aarch64 Node runtime for the binary tests.
    node scripts/node24.mjs build/runtime-tarball.ts
    phase "build" "$phase_start"
    # Prints each phase's time and the plain "Tests: N passed, N failed, N skipped" line CI reads.
    npm test -- "$@"
    ;;
  bench)
    ensure_debs "${build_packages[@]}" "${test_packages[@]}" "${vm_packages[@]}" "${bench_packages[@]}"
    ensure_npm
    npm run bench -- "$@"
    ;;
  test-aarch64)
    ensure_debs "${build_packages[@]}" "${cross_packages[@]}" "${aarch64_vm_packages[@]}"
    ensure_npm
    npm run build -- --arch aarch64 --skip-package --skip-xz
    npm run test:aarch64 -- "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh build|test|bench|test-aarch64 [ARGS...]" >&2
    exit 2
    ;;
esac
