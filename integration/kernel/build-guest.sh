#!/bin/sh
# build-guest.sh OUT: builds the kernel interop guest into the directory
# OUT: OUT/vmlinuz (Debian's linux-image-amd64 kernel) and OUT/initrd.gz
# (busybox, the sctp module and its dependencies, the virtio-net driver,
# the kernel-side peer kpeer built static against libsctp, the control
# loop ctl, and guest/init).
# Everything comes from the Debian archive through apt; the downloaded
# packages stay in OUT/debs for the next run. Needs: apt-get, dpkg-deb,
# depmod (kmod), busybox-static, gcc and libsctp-dev.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# The kernel: linux-image-amd64 names the current linux-image-X package.
cd "$out/debs"
if ! ls linux-image-[0-9]*.deb >/dev/null 2>&1; then
	apt-get download linux-image-amd64 >/dev/null
	dep=$(dpkg-deb -f linux-image-amd64_*.deb Depends | sed 's/ .*//')
	apt-get download "$dep" >/dev/null
fi
deb=$(ls linux-image-[0-9]*.deb | head -n 1)
rm -rf "$out/kroot"
dpkg-deb -x "$deb" "$out/kroot"
kver=$(ls "$out/kroot/lib/modules")
depmod -b "$out/kroot" "$kver"
cp "$out/kroot/boot/vmlinuz-$kver" "$out/vmlinuz"

# The modules and their dependencies, in load order (modules.dep lists a
# module's dependencies after it, the deepest last).
mods=$out/kroot/lib/modules/$kver
order() {
	line=$(grep "^kernel/[^:]*/$1.ko:" "$mods/modules.dep") || {
		echo "build-guest: module $1 not in $kver" >&2
		exit 1
	}
	for d in $(echo "${line#*:}" | tr ' ' '\n' | tac); do
		echo "$d"
	done
	echo "${line%%:*}"
}
ir=$out/initramfs
rm -rf "$ir"
mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/tmp"
: >"$ir/modules"
for m in virtio_pci virtio_net crc32c_generic sctp; do
	for p in $(order "$m"); do
		b=$(basename "$p")
		grep -qx "$b" "$ir/modules" && continue
		cp "$mods/$p" "$ir/lib/modules/$b"
		echo "$b" >>"$ir/modules"
	done
done

cp /bin/busybox "$ir/bin/busybox"
gcc -O1 -Wall -Wextra -static -o "$ir/bin/kpeer" "$here/guest/peer.c" -lsctp -lpthread
gcc -O1 -Wall -Wextra -static -o "$ir/bin/ctl" "$here/guest/ctl.c"
cp "$here/guest/init" "$ir/init"
chmod +x "$ir/init"
(cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$out/initrd.gz")
echo "$kver" >"$out/kernel-version"
echo "build-guest: kernel $kver, $(wc -l <"$ir/modules") modules, $(du -k "$out/initrd.gz" | cut -f1) KiB initrd"
