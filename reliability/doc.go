// Package reliability holds the stack's reliability and security tests:
// a fault suite on a pion vnet under testing/synctest (loss, reordering,
// duplication, jitter, bit flips), hostile input from a hand-driven peer,
// load and resource bounds, and fuzz targets for entry points from the
// wire. It has no non-test code.
package reliability
