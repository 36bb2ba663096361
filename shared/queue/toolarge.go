package queue

import (
	"fmt"
	"strings"
)

// TooLargeError is SendBatch's answer when some messages did not fit in
// an SQS message even compressed: every other message was sent, and these
// were not. errors.Is(err, ErrTooLarge) holds.
type TooLargeError struct {
	// Indexes are the positions in the batch of the messages not sent.
	Indexes []int
	// Errs are their Encode errors (ErrTooLarge with the sizes), in the
	// same order.
	Errs []error
}

func (e *TooLargeError) Error() string {
	parts := make([]string, len(e.Indexes))
	for i, idx := range e.Indexes {
		parts[i] = fmt.Sprintf("message %d: %v", idx, e.Errs[i])
	}
	return strings.Join(parts, "; ")
}

// Unwrap gives the Encode errors, so errors.Is finds ErrTooLarge.
func (e *TooLargeError) Unwrap() []error { return e.Errs }

// StringAttributes are m's attributes as a received message carries them
// (without a content encoding), in the form DeadLetter takes: what a
// message that never reached the queue keeps when it is dead-lettered.
func (m *Message) StringAttributes() map[string]string {
	var vals [7]string
	out := make(map[string]string, len(vals))
	for k, v := range attributes(m, "", &vals) {
		out[k] = *v.StringValue
	}
	return out
}
