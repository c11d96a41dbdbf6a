#!/bin/sh
# run.sh [go test flags]: runs the kernel interop suite (integration/kernel)
# as root. It installs what the suite needs from Debian's packages, builds
# the guest (build-guest.sh) into $USOCK_GUEST_DIR (default
# /var/cache/usock-kernel), makes a network namespace with two tap
# devices (10.9.1.1/24 and 10.9.2.1/24; the guest is .2 on each) and runs
# the tests inside it, so that no packet leaves the namespace. tshark
# captures every tap into $USOCK_GUEST_DIR/capture.pcapng for the wire
# checks. USOCK_NETNS names the namespace (default usock-kernel).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${USOCK_GUEST_DIR:-/var/cache/usock-kernel}
ns=${USOCK_NETNS:-usock-kernel} # another name lets two runs share a machine, each with its own USOCK_GUEST_DIR

need=""
command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86"
[ -x /bin/busybox ] || need="$need busybox-static"
[ -f /usr/include/netinet/sctp.h ] || need="$need libsctp-dev"
command -v depmod >/dev/null || need="$need kmod"
command -v tshark >/dev/null || need="$need tshark"
command -v gcc >/dev/null || need="$need gcc"
if [ -n "$need" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
"$here/build-guest.sh" "$dir"

cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
}
cleanup
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
for i in 0 1; do
	ip -n "$ns" tuntap add dev "tap$i" mode tap
	ip -n "$ns" link set "tap$i" up
	ip -n "$ns" addr add "10.9.$((i + 1)).1/24" dev "tap$i"
done

# The blackhole a cut path's packets are redirected into (tc mirred; this
# host has no netem, gact nor nftables): a veth whose peer is down.
ip -n "$ns" link add bh0 type veth peer name bh1
ip -n "$ns" link set bh0 up

cd "$root"
go test -tags kernel -c -o "$dir/kernel.test" ./integration/kernel
cd "$here"
USOCK_GUEST_DIR=$dir ip netns exec "$ns" "$dir/kernel.test" -test.count=1 "$@"
