package sock

// must returns v, or panics with err: for wire encoders whose input a test
// knows to fit.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
