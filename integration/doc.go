// Package integration holds end-to-end tests that need more than the Go
// toolchain: interoperability with usrsctp (a small C peer in
// usrsctp-peer/peer.c, built by the tests with the system C compiler) and
// wire checks decoded by tshark.
//
// They are behind the "interop" build tag, so `go test ./...` does not run
// them. To run them (Debian/Ubuntu, as root for the capture on lo and the
// second loopback address of the multi-homed tests):
//
//	apt-get install -y libusrsctp-dev tshark
//	go test -tags interop -count=1 -v ./integration/
//
// A test skips with a message saying what is missing when cc, usrsctp.h,
// libusrsctp, tshark, the permission to capture on lo or the permission to
// add 127.0.0.2 to lo is not there. INTEROP_MULTIHOME_CONFIRM=1 (or a
// duration such as 40s, the time allowed) also asserts that heartbeats
// confirm both paths of a multi-homed association.
//
// See docs/INTEROP.md.
package integration
