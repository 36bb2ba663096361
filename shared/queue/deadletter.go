package queue

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Attributes a message gains when it is dead-lettered, beside its own (SQS
// allows 10 attributes; an order message has at most 7). A copying redrive
// drops every attribute named with AttrFailurePrefix, so a redriven order
// looks as first queued.
const (
	AttrFailurePrefix = "failure-"
	AttrFailureClass  = AttrFailurePrefix + "class"
	AttrFailureReason = AttrFailurePrefix + "reason"
	// AttrFailureDetail is the start of the answer that failed the order. It
	// may echo order data, so it goes to the dead-letter queue, never to logs.
	AttrFailureDetail = AttrFailurePrefix + "detail"
)

// FailurePermanent is the failure class of a message dead-lettered at once
// because no retry can succeed (SQS's own redrive, after maxReceiveCount,
// adds no attributes).
const FailurePermanent = "permanent"

// MaxFailureValueBytes bounds each failure attribute's value.
const MaxFailureValueBytes = 1024

// FailureRoom is what the failure attributes can add to a message at most
// (each one's name, data type and value). Encode keeps it free, so that a
// message sized to the queue's limit can still be dead-lettered with its
// reason.
const FailureRoom = 3*(len(AttrFailurePrefix)+len("String")+MaxFailureValueBytes) + len("class") + len("reason") + len("detail")

// Failure is why a message was dead-lettered.
type Failure struct {
	Class  string // FailurePermanent
	Reason string
	Detail string
}

// DeadLetter returns the SendMessage input that puts a received message on
// the dead-letter queue at dlqURL: its body and its own attributes as they
// were (so it can be redriven as is), plus f's. attrs are the received
// message's String attributes; failure attributes of an earlier dead-lettering
// are replaced.
func DeadLetter(dlqURL, body string, attrs map[string]string, f Failure) *sqs.SendMessageInput {
	out := make(map[string]types.MessageAttributeValue, len(attrs)+3)
	for k, v := range attrs {
		if v != "" && !strings.HasPrefix(k, AttrFailurePrefix) {
			out[k] = types.MessageAttributeValue{DataType: stringType, StringValue: &v}
		}
	}
	put := func(k, v string) {
		if v = sqsText(v); v != "" {
			if len(v) > MaxFailureValueBytes {
				v = strings.ToValidUTF8(v[:MaxFailureValueBytes], "")
			}
			out[k] = types.MessageAttributeValue{DataType: stringType, StringValue: &v}
		}
	}
	put(AttrFailureClass, f.Class)
	put(AttrFailureReason, f.Reason)
	put(AttrFailureDetail, f.Detail)
	return &sqs.SendMessageInput{QueueUrl: &dlqURL, MessageBody: &body, MessageAttributes: out}
}

// sqsText returns s with every character SQS refuses in an attribute value
// written as a Go-style escape (\x00, \x1b, \uFFFE; \xff for each byte of
// invalid UTF-8). A failure's text comes partly from Logistos's answer,
// which may hold anything, and one such character makes SQS refuse the
// whole dead-lettering: the order would then be retried until SQS moved it
// without its reason. Escapes keep what was there readable to whoever reads
// the DLQ.
func sqsText(s string) string {
	if sqsSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !sqsRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !sqsRune(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
