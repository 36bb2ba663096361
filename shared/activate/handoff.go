package activate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// HandoffID is the checkpoint document that remembers a handoff.
const HandoffID = "handoff"

// Handoff retries: Logistos may be briefly down; the run is interactive, so
// a few seconds of patience, then a clear error.
const (
	handoffAttempts = 3
	handoffBackoff  = time.Second
)

// HandoffReport says what the handoff step did.
type HandoffReport struct {
	Outcome        string     `json:"outcome"`
	Detail         string     `json:"detail"`
	CredentialsURL string     `json:"credentials_url"`
	HandedOffAt    *time.Time `json:"handed_off_at,omitempty"`
	DurationMS     int64      `json:"duration_ms"`
}

// handoffState is what is remembered of a successful handoff: a hash of
// what was sent and where, never the credentials.
type handoffState struct {
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// handoffHash identifies a handoff: the same shop, key, secret and
// destination hash the same. The secret enters only as its own SHA-256, so
// the stored hash cannot be used to test guesses of it cheaply.
func handoffHash(storeURL string, k wooapi.Key, credentialsURL string) string {
	s := sha256.Sum256([]byte(k.ConsumerSecret))
	h := sha256.Sum256([]byte(storeURL + "\x00" + k.ConsumerKey + "\x00" + hex.EncodeToString(s[:]) + "\x00" + credentialsURL))
	return hex.EncodeToString(h[:])
}

// handoff checks the key against the shop, then posts it to Logistos,
// unless this exact handoff was made before (and ev.Force is not set).
func (h *Handler) handoff(ctx context.Context, log *slog.Logger, shop *wooapi.Client, ev Event) (*HandoffReport, error) {
	start := h.now()
	rep := &HandoffReport{CredentialsURL: h.CredentialsURL}
	defer func() { rep.DurationMS = ms(h.now().Sub(start)) }()
	hash := handoffHash(h.StoreURL, shop.Key, h.CredentialsURL)

	doc, version, err := h.State.Get(ctx, HandoffID)
	if err != nil {
		return h.failHandoff(rep, err)
	}
	var prev handoffState
	if doc != nil {
		_ = json.Unmarshal(doc, &prev) // unreadable: hand off again
	}
	if prev.Hash == hash && !ev.Force {
		rep.Outcome, rep.HandedOffAt = OutcomeAlreadyDone, &prev.At
		rep.Detail = fmt.Sprintf("already handed off at %s; send {\"force\": true} to send the credentials again", prev.At.Format(time.RFC3339))
		log.LogAttrs(ctx, slog.LevelInfo, "handoff skipped", slog.String("outcome", rep.Outcome))
		return rep, nil
	}
	if err := shop.CheckKey(ctx); err != nil {
		return h.failHandoff(rep, err)
	}
	if ev.DryRun {
		rep.Outcome = OutcomeWouldDo
		rep.Detail = "the API key can read orders; would send the store URL and key to " + h.CredentialsURL
		return rep, nil
	}
	cred := logistos.Credentials{StoreURL: h.StoreURL, ConsumerKey: shop.Key.ConsumerKey, ConsumerSecret: shop.Key.ConsumerSecret}
	for attempt := 1; ; attempt++ {
		err = h.Logistos.PostCredentials(ctx, cred)
		if err == nil || attempt == handoffAttempts || !logistos.IsTransient(err) {
			break
		}
		select {
		case <-ctx.Done():
			return h.failHandoff(rep, errors.Join(err, ctx.Err()))
		case <-time.After(handoffBackoff * time.Duration(attempt)):
		}
	}
	if err != nil {
		return h.failHandoff(rep, fmt.Errorf("%w (LOGISTOS_CREDENTIALS_URL %s)", err, h.CredentialsURL))
	}
	at := h.now().UTC()
	rep.Outcome, rep.HandedOffAt = OutcomeDone, &at
	rep.Detail = "the API key works and was handed to Logistos"
	state, _ := json.Marshal(handoffState{Hash: hash, At: at})
	if _, err := h.State.Put(ctx, HandoffID, state, version); err != nil {
		// The handoff itself succeeded; a later run will just send it again.
		log.LogAttrs(ctx, slog.LevelWarn, "handoff not remembered", slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "handoff done", slog.String("outcome", rep.Outcome))
	return rep, nil
}

func (h *Handler) failHandoff(rep *HandoffReport, err error) (*HandoffReport, error) {
	rep.Outcome, rep.Detail = OutcomeFailed, err.Error()
	return rep, err
}
