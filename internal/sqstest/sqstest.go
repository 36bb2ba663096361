// Package sqstest is an SQS client for tests that sends nowhere: it records
// each message SendMessage and SendMessageBatch would have put on a queue,
// answers as SQS does, and refuses what SQS refuses (a character outside
// its set). It stands in for queue.SendAPI, queue.DeadLetterAPI and the
// sending half of forwarder.SQSAPI.
package sqstest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/sqschars"
)

// Sender records what is sent. The zero value accepts everything.
type Sender struct {
	// Err, when set, fails every call, as an unreachable SQS does.
	Err error
	// Fail, when set, decides for each entry of a batch (by the call's
	// number, from 0, and the entry's body) whether SQS fails it, as a
	// receiver fault that the caller retries.
	Fail func(call int, body string) bool

	mu      sync.Mutex
	sent    []*sqs.SendMessageInput
	batches [][]types.SendMessageBatchRequestEntry
}

// SendMessage records in, unless SQS would refuse it.
func (s *Sender) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	if err := refused(aws.ToString(in.MessageBody), in.MessageAttributes); err != nil {
		return nil, err
	}
	s.sent = append(s.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("m-" + strconv.Itoa(len(s.sent)))}, nil
}

// SendMessageBatch records in's entries, each a success unless Fail fails
// it; SQS refuses the whole call for one entry it cannot hold.
func (s *Sender) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	for _, e := range in.Entries {
		if err := refused(aws.ToString(e.MessageBody), e.MessageAttributes); err != nil {
			return nil, err
		}
	}
	call := len(s.batches)
	s.batches = append(s.batches, in.Entries)
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if s.Fail != nil && s.Fail(call, aws.ToString(e.MessageBody)) {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
		} else {
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

// Sent returns the SendMessage calls recorded, in order.
func (s *Sender) Sent() []*sqs.SendMessageInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sqs.SendMessageInput(nil), s.sent...)
}

// Batches returns the entries of each SendMessageBatch call recorded, in
// order, failed entries included.
func (s *Sender) Batches() [][]types.SendMessageBatchRequestEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]types.SendMessageBatchRequestEntry(nil), s.batches...)
}

// refused is SQS's answer to a message with a character outside its set,
// in the body or an attribute's value.
func refused(body string, attrs map[string]types.MessageAttributeValue) error {
	for k, v := range attrs {
		if i := sqschars.First(aws.ToString(v.StringValue)); i >= 0 {
			return fmt.Errorf("InvalidParameterValue: message attribute %s holds an invalid character at byte %d", k, i)
		}
	}
	if i := sqschars.First(body); i >= 0 {
		return fmt.Errorf("InvalidMessageContents: invalid character at byte %d", i)
	}
	return nil
}
