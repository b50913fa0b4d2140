// Package redact keeps secrets (the debugging server's password, the KDNET
// key) out of everything kdlaunch prints or writes: terminal, logs,
// transcript, summary and errors.
package redact

import (
	"sort"
	"strings"
)

// Mask is what a secret is replaced with.
const Mask = "***"

// Redactor replaces every known secret in a string. The zero value and nil
// redact nothing.
type Redactor struct {
	r *strings.Replacer
}

// New returns a Redactor for the given secrets; empty ones are ignored.
// Longer secrets are replaced first so that one secret containing another is
// masked whole.
func New(secrets ...string) *Redactor {
	var s []string
	for _, v := range secrets {
		if v != "" {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return &Redactor{}
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	pairs := make([]string, 0, 2*len(s))
	for _, v := range s {
		pairs = append(pairs, v, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret masked.
func (x *Redactor) String(s string) string {
	if x == nil || x.r == nil {
		return s
	}
	return x.r.Replace(s)
}

// Wrap returns err with every secret masked in its text. The result
// unwraps to err, so errors.Is and errors.As see the original error and its
// type; only Error() is masked. nil stays nil.
func (x *Redactor) Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &MaskedError{msg: x.String(err.Error()), err: err}
}

// MaskedError is an error whose text has its secrets masked; Unwrap gives
// the original.
type MaskedError struct {
	msg string
	err error
}

func (e *MaskedError) Error() string { return e.msg }

// Unwrap returns the original, unmasked error.
func (e *MaskedError) Unwrap() error { return e.err }
