package queue

import (
	"strings"

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
		if v = strings.ToValidUTF8(v, "?"); v != "" {
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
