// Package config reads the functions' settings from the environment: the
// variable names, their defaults and what a valid value is. It is the only
// package that reads the environment, and it imports nothing of this
// project but outbound's URL rules, so that every binary can use it
// without linking anything else.
//
// Every problem is collected, so that a function that cannot start says at
// once everything that is wrong, in one log line that names each variable.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// Env reads variables through Lookup and remembers what was wrong with them.
type Env struct {
	// Lookup returns a variable's value and whether it is set; os.LookupEnv by default.
	Lookup func(name string) (string, bool)
	errs   []error
	read   []string
}

// Read returns the names of the variables read so far, in order: what a
// function's configuration consists of, for checking the template against.
func (e *Env) Read() []string { return e.read }

// FromOS reads the process environment.
func FromOS() *Env { return &Env{Lookup: os.LookupEnv} }

// FromMap reads a fixed set of variables, for tests and local runners.
func FromMap(m map[string]string) *Env {
	return &Env{Lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) get(name string) string {
	if !slices.Contains(e.read, name) {
		e.read = append(e.read, name)
	}
	v, _ := e.Lookup(name)
	return strings.TrimSpace(v)
}

func (e *Env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

// String returns the variable, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v := e.get(name); v != "" {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset or empty.
func (e *Env) Required(name string) string {
	v := e.get(name)
	if v == "" {
		e.fail(name, "is required but not set")
	}
	return v
}

// URL returns the variable as an absolute http(s) URL without a trailing
// slash, or def when unset. Use it for URLs that only name something, such
// as the shop in a payload.
func (e *Env) URL(name, def string, required bool) string {
	return e.url(name, def, required, false)
}

// SecureURL is URL for endpoints that will receive orders or credentials:
// https only, with plain http accepted for loopback hosts (local runs).
func (e *Env) SecureURL(name, def string, required bool) string {
	return e.url(name, def, required, true)
}

func (e *Env) url(name, def string, required, secure bool) string {
	v := e.String(name, def)
	if v == "" {
		if required {
			e.fail(name, "is required but not set")
		}
		return ""
	}
	check := outbound.CheckURL
	if secure {
		check = outbound.CheckSecureURL
	}
	if err := check(v); err != nil {
		e.fail(name, "%v", err)
		return ""
	}
	return strings.TrimRight(v, "/")
}

// Int returns the variable as an integer in [min, max], or def when unset.
func (e *Env) Int(name string, def, min, max int) int {
	v := e.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.fail(name, "%q is not a whole number between %d and %d", v, min, max)
		return def
	}
	return n
}

// Bool returns the variable as true or false, or def when unset. Only
// those two words are accepted: a switch set to "yes" or "1" should stop
// the function rather than be guessed at.
func (e *Env) Bool(name string, def bool) bool {
	switch v := e.get(name); v {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	default:
		e.fail(name, "%q is not true or false", v)
		return def
	}
}

// Duration returns the variable as a Go duration ("30s") in [min, max], or def when unset.
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	v := e.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		e.fail(name, "%q is not a duration between %s and %s (e.g. \"30s\")", v, min, max)
		return def
	}
	return d
}

// List returns the variable split on commas, blanks dropped, or def when unset.
func (e *Env) List(name, def string) []string {
	v := e.String(name, def)
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		e.fail(name, "is empty; give a comma-separated list")
	}
	return out
}

// OneOf records an error unless exactly one of the named variables is set: for
// the secret pattern "a Secrets Manager ARN, or the literal for local runs".
func (e *Env) OneOf(names ...string) string {
	var set []string
	for _, n := range names {
		if e.get(n) != "" {
			set = append(set, n)
		}
	}
	if len(set) == 1 {
		return set[0]
	}
	if len(set) == 0 {
		e.fail(strings.Join(names, " or "), "one is required but none is set")
	} else {
		e.fail(strings.Join(set, " and "), "set only one of them")
	}
	return ""
}

// Err returns every problem found so far joined into one error, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return errors.New("configuration: " + strings.Join(msgs, "; "))
}
