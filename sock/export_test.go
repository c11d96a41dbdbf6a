package sock

// WaitPathsConfirmed gives package sock_test the helper of package sock's
// own tests, so that it is written once.
var WaitPathsConfirmed = waitPathsConfirmed

// ReadersRunning is the number of a's stream readers running as
// goroutines (see wakeReaderLocked).
func ReadersRunning(a *Association) int { return int(a.str.readers.Load()) }
