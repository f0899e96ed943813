package domain

// Hand-written checks of identifier syntax. They replace regular expressions
// compiled at package init: every function links this package, and compiling
// patterns with counted repeats at start cost part of every cold start.

// alnum reports an ASCII letter or digit.
func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// allOf reports whether every byte of s is alphanumeric or in extra.
func allOf(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && !containsByte(extra, c) {
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// validProjectID: ^[A-Za-z0-9_-]{1,64}$
func validProjectID(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && allOf(s, "_-")
}

// validInfoKey: ^[A-Za-z0-9\-_:.# ]{1,255}$
func validInfoKey(s string) bool {
	return len(s) >= 1 && len(s) <= 255 && allOf(s, "-_:.# ")
}

// validParamKey: ^[A-Za-z0-9\-_:. ]+(#[A-Za-z0-9\-_:.#/ ]*)?$ — a resource
// type, optionally "#<resource id>"; only the id may hold "/" (ids may be
// ARNs).
func validParamKey(s string) bool {
	typ, id, hasID := s, "", false
	for i := 0; i < len(s); i++ {
		if s[i] == '#' {
			typ, id, hasID = s[:i], s[i+1:], true
			break
		}
	}
	if typ == "" || !allOf(typ, "-_:. ") {
		return false
	}
	return !hasID || allOf(id, "-_:.#/ ")
}
