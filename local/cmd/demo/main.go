// Command demo is `make demo`: it sends WooCommerce's sample order to the
// webhook, signed as WooCommerce signs it, then WooCommerce's ping, and
// prints what the webhook answered. With -bad-signature it also sends the
// order with a wrong signature, which must be refused with 401.
//
// WEBHOOK_URL (default the `make run` webhook) and WEBHOOK_SECRET (default
// the local stack's) say where and with what; flags override them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

const (
	defaultURL = "http://127.0.0.1:3000/woocommerce/webhook"
	// requestTimeout is WooCommerce's own delivery timeout.
	requestTimeout = 60 * time.Second
	// maxAnswer bounds how much of an answer is printed.
	maxAnswer = 512
	// wrongSignature is well-formed but signs nothing.
	wrongSignature = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

func main() {
	env := config.FromOS()
	url := flag.String("url", env.String(config.WebhookURL, defaultURL), "webhook URL (env WEBHOOK_URL)")
	secret := flag.String("secret", env.String(config.WebhookSecret, stack.DefaultWebhookSecret), "webhook secret (env WEBHOOK_SECRET)")
	order := flag.String("order", "", "order JSON file to send (default the repository's "+delivery.SampleOrder+")")
	bad := flag.Bool("bad-signature", false, "also send the order with a wrong signature (expects 401)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), "Usage: make demo ARGS=\"[flags]\"   (or: go -C local run ./cmd/demo [flags])\n\n"+
			"Sends a signed sample order and the ping to the webhook of a running `make run`.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := outbound.CheckURL(*url); err != nil {
		fmt.Fprintln(os.Stderr, "demo: -url:", err)
		os.Exit(2)
	}
	if !demo(*url, *secret, *order, *bad) {
		os.Exit(1)
	}
}

// step is one request and the status it should get.
type step struct {
	name string
	want int
	req  func(ctx context.Context) (*http.Request, error)
}

func demo(url, secret, orderPath string, bad bool) bool {
	body, path, err := readOrder(orderPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return false
	}
	steps := []step{
		{"signed order " + filepath.Base(path), http.StatusOK, func(ctx context.Context) (*http.Request, error) {
			return delivery.Delivery{}.NewRequest(ctx, url, body, secret)
		}},
		{"ping (webhook_id=1)", http.StatusOK, func(ctx context.Context) (*http.Request, error) {
			return delivery.NewPing(ctx, url, 1)
		}},
	}
	if bad {
		steps = append(steps, step{"order with a wrong signature", http.StatusUnauthorized, func(ctx context.Context) (*http.Request, error) {
			return delivery.Delivery{Signature: wrongSignature}.NewRequest(ctx, url, body, secret)
		}})
	}
	client := &http.Client{Timeout: requestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ok := true
	fmt.Printf("Sending to %s\n", url)
	for _, s := range steps {
		status, answer, err := send(client, s)
		mark := "ok"
		if err != nil || status != s.want {
			mark, ok = fmt.Sprintf("UNEXPECTED (want %d)", s.want), false
		}
		if err != nil {
			fmt.Printf("  %-45s error: %v  %s\n", s.name, err, mark)
			continue
		}
		fmt.Printf("  %-45s %d %s  %s\n", s.name, status, answer, mark)
	}
	if !ok {
		fmt.Println("Is `make run` running, and is WEBHOOK_SECRET the same for both?")
	}
	return ok
}

func send(client *http.Client, s step) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := s.req(ctx)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

func readOrder(path string) ([]byte, string, error) {
	if path == "" {
		return delivery.ReadFixture(delivery.SampleOrder)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read order: %w", err)
	}
	return b, path, nil
}
