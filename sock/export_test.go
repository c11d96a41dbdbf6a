package sock

// WaitPathsConfirmed gives package sock_test the helper of package sock's
// own tests, so that it is written once.
var WaitPathsConfirmed = waitPathsConfirmed
