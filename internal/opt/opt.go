// Package opt implements the one rule every Switchboard options struct
// follows for numbers: 0 means the default, a negative value turns the
// feature off (0 after resolution), anything else is taken as given.
package opt

// Number is what an option field can be (time.Duration included).
type Number interface {
	~int | ~int32 | ~int64 | ~float64
}

// Or resolves v against its default def: def when v is 0, 0 (off) when v
// is negative, v otherwise.
func Or[T Number](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// OrMin is Or for options that cannot be turned off: a negative v, like
// 0, means def.
func OrMin[T Number](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
